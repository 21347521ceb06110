"""Request -> TaskGraph, in one fixed shape per step, so every plan looks the same to the runtime.

A swap step (ids of step k > 1 carry the prefix `s<k>_`):

    price_<in>, price_<out> [, price_<condition tokens>]      (after the previous step's last task)
    [amount]                                                 resolve_amount: dollars, % of balance, all, previous output
    risk_1 -> swap_1 -> [wait_2 -> price_*_r2 ->] risk_2 -> swap_2 -> ...   (parts / schedule rounds, in order)

A question step: its read tasks, then `answer` (composed in code, printed and logged).
Every derived amount is computed at run time by a task from recorded inputs; nothing here
computes money except the equal split of an amount written in tokens.
"""
from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Collection, Sequence

from defai_swarm.core.errors import SwarmError
from defai_swarm.intent import IntentSlots, PriceCondition, QueryStep, Request, SwapStep
from defai_swarm.taskgraph import (AnswerTask, CheckRiskTask, Condition, ReadBalanceTask, ReadPriceTask, ReadQuoteTask,
                             ResolveAmountTask, SwapTask, Task, TaskGraph, WaitBlocksTask)

PART_DECIMALS = 18


class PlanBuildError(SwarmError, ValueError):
    """The request cannot become a task graph (e.g. an amount not divisible into equal parts)."""


def part_amount(amount: Decimal, parts: int) -> Decimal:
    """amount / parts exactly, with at most 18 decimal places; PlanBuildError otherwise."""
    with localcontext(prec=80):
        part = amount / parts
        exact = part * parts == amount and part == part.quantize(Decimal(1).scaleb(-PART_DECIMALS))
    if not exact:
        with localcontext(prec=80):
            floor = (amount / parts).quantize(Decimal(1).scaleb(-PART_DECIMALS), rounding="ROUND_DOWN")
            last = amount - floor * (parts - 1)
        raise PlanBuildError(f"{amount} cannot be split into {parts} equal parts exactly "
                             f"(at most {PART_DECIMALS} decimal places); it could mean: {parts} parts of {floor} "
                             f"(leaving {amount - floor * parts} unspent) | {parts - 1} parts of {floor} and one of "
                             f"{last}; say which, or pick an amount that divides")
    return part


def price_task_id(symbol: str, prefix: str = "", suffix: str = "") -> str:
    return f"{prefix}price_{symbol.lower()}{suffix}"


def build_task_graph(intent_text: str, slots: IntentSlots, *, default_slippage_bps: int = 50) -> TaskGraph:
    """The task graph for one exact-input swap in slot form; `max_slippage_bps=None` takes the default."""
    if slots.recipient is not None:
        raise PlanBuildError("a recipient other than the wallet itself is never planned")
    return build_request_graph(intent_text, Request.from_slots(slots), default_slippage_bps=default_slippage_bps)


def build_request_graph(intent_text: str, request: Request, *, default_slippage_bps: int = 50,
                        symbols: Sequence[str] = (), gas_reserve: Decimal = Decimal("0.01"),
                        native: Collection[str] = ()) -> TaskGraph:
    """The task graph for a whole request; `symbols` lists the registry for 'every balance', `native` the symbol(s)
    of the chain's native coin (the registry's native token: 'all' of it keeps `gas_reserve` back for fees)."""
    native = frozenset(s.upper() for s in native)
    tasks: list[Task] = []
    after: tuple[str, ...] = ()  # the previous step's last task(s): the next step starts after them
    prev_swaps: tuple[str, ...] = ()
    for k, step in enumerate(request.steps, 1):
        prefix = "" if k == 1 else f"s{k}_"
        if isinstance(step, QueryStep):
            new = _question(step, prefix, after, symbols)
        else:
            if step.recipient is not None:
                raise PlanBuildError("a recipient other than the wallet itself is never planned")
            new = _swap(step, prefix, after, prev_swaps, default_slippage_bps, gas_reserve, native)
            prev_swaps = tuple(t.id for t in new if isinstance(t, SwapTask))
        tasks += new
        after = (new[-1].id,)
    return TaskGraph(intent=intent_text, tasks=tuple(tasks))


def _question(step: QueryStep, prefix: str, after: tuple[str, ...], symbols: Sequence[str]) -> list[Task]:
    reads: list[Task] = []
    if step.kind == "price":
        reads.append(ReadPriceTask(id=price_task_id(step.token, prefix), base=step.token, depends_on=after))
        if step.quote != "USD":
            reads.append(ReadPriceTask(id=price_task_id(step.quote, prefix), base=step.quote, depends_on=after))
    elif step.kind == "balance":
        tokens = list(symbols) if step.token == "*" else [step.token]
        if not tokens:
            raise PlanBuildError("no tokens known to list balances of")
        reads += [ReadBalanceTask(id=f"{prefix}balance_{t.lower()}", token=t, depends_on=after) for t in tokens]
    else:
        assert step.token_out is not None and step.amount is not None
        reads.append(ReadQuoteTask(id=f"{prefix}quote", token_in=step.token, token_out=step.token_out,
                                   amount_in=step.amount, depends_on=after))
    ids = tuple(t.id for t in reads)
    return reads + [AnswerTask(id=f"{prefix}answer", question=step.describe(), sources=ids, depends_on=ids)]


def _condition(c: PriceCondition, reads: dict[str, str], suffix: str) -> Condition:
    return Condition(base=c.base, quote=c.quote, op=c.op, threshold=c.threshold, source_task=reads[c.base + suffix],
                     quote_task=reads[c.quote + suffix] if c.quote != "USD" else None)


def _swap(step: SwapStep, prefix: str, after: tuple[str, ...], prev_swaps: tuple[str, ...], default_bps: int,
          gas_reserve: Decimal, native: frozenset[str]) -> list[Task]:
    tasks: list[Task] = []
    needed = [step.token_in, step.token_out]
    for c in step.conditions:
        needed += [c.base] + ([c.quote] if c.quote != "USD" else [])
    needed = list(dict.fromkeys(needed))
    reads: dict[str, str] = {}

    def read_prices(suffix: str, deps: tuple[str, ...]) -> tuple[str, ...]:
        for sym in needed:
            tid = price_task_id(sym, prefix, suffix)
            tasks.append(ReadPriceTask(id=tid, base=sym, depends_on=deps))
            reads[sym + suffix] = tid
        return tuple(reads[sym + suffix] for sym in needed)

    prices = read_prices("", after)
    amount = step.amount
    fixed_in = fixed_out = None
    amount_task = None
    if amount.kind == "tokens":
        assert amount.value is not None
        fixed_in = part_amount(amount.value, step.parts)
    elif amount.kind == "exact_out":
        assert amount.value is not None
        fixed_out = part_amount(amount.value, step.parts)
    else:
        if amount.kind == "previous" and not prev_swaps:
            raise PlanBuildError("'it' needs a previous swap")
        amount_task = f"{prefix}amount"
        deps = prices + (prev_swaps if amount.kind == "previous" else ())
        tasks.append(ResolveAmountTask(
            id=amount_task, mode=amount.kind, token_in=step.token_in, value=amount.value, parts=step.parts,
            price_task=reads[step.token_in] if amount.kind == "usd" else None,
            previous_swaps=prev_swaps if amount.kind == "previous" else (),
            gas_reserve=gas_reserve if amount.kind == "all" and step.token_in.upper() in native else Decimal(0),
            depends_on=tuple(dict.fromkeys(deps))))
    slippage = step.max_slippage_bps if step.max_slippage_bps is not None else default_bps
    for i in range(1, step.parts + 1):
        suffix = ""
        deps = prices
        if step.every_blocks is not None and i > 1:  # a schedule: wait, then read every price again
            wait = WaitBlocksTask(id=f"{prefix}wait_{i}", blocks=step.every_blocks, depends_on=(f"{prefix}swap_{i - 1}",))
            tasks.append(wait)
            suffix = f"_r{i}"
            deps = read_prices(suffix, (wait.id,))
        deps = deps + ((amount_task,) if amount_task else ()) + ((f"{prefix}swap_{i - 1}",) if i > 1 else ())
        if step.every_blocks is not None and i > 1:
            deps += (f"{prefix}wait_{i}",)  # a failed wait refuses the round
        conds = [_condition(c, reads, suffix) for c in step.conditions]
        risk, swap = f"{prefix}risk_{i}", f"{prefix}swap_{i}"
        tasks.append(CheckRiskTask(id=risk, swap_task=swap, depends_on=tuple(dict.fromkeys(deps))))
        tasks.append(SwapTask(id=swap, token_in=step.token_in, token_out=step.token_out, amount_in=fixed_in,
                              amount_task=amount_task, amount_out=fixed_out, max_slippage_bps=slippage,
                              condition=conds[0] if conds else None, conditions=tuple(conds[1:]),
                              combine=step.combine if len(conds) > 1 else None, price_tasks=(reads[step.token_in + suffix],
                                                                 reads[step.token_out + suffix]),
                              risk_task=risk, depends_on=(risk,)))
    return tasks


__all__ = ["PART_DECIMALS", "PlanBuildError", "build_request_graph", "build_task_graph", "part_amount",
           "price_task_id"]
