"""Slots -> TaskGraph, in one fixed shape, so every plan looks the same to the runtime.

    price_<in>, price_<out> [, price_<condition base>]
    risk_1 -> swap_1 -> risk_2 -> swap_2 -> ... (parts run one after another)
"""
from __future__ import annotations

from decimal import Decimal, localcontext

from swarm.intent import IntentSlots
from swarm.taskgraph import CheckRiskTask, Condition, ReadPriceTask, SwapTask, TaskGraph

PART_DECIMALS = 18


class PlanBuildError(ValueError):
    """The slots cannot become a task graph (e.g. an amount not divisible into equal parts)."""


def part_amount(amount: Decimal, parts: int) -> Decimal:
    """amount / parts exactly, with at most 18 decimal places; PlanBuildError otherwise."""
    with localcontext(prec=80):
        part = amount / parts
        exact = part * parts == amount and part == part.quantize(Decimal(1).scaleb(-PART_DECIMALS))
    if not exact:
        raise PlanBuildError(f"{amount} cannot be split into {parts} equal parts exactly "
                             f"(at most {PART_DECIMALS} decimal places)")
    return part


def price_task_id(symbol: str) -> str:
    return f"price_{symbol.lower()}"


def build_task_graph(intent_text: str, slots: IntentSlots, *, default_slippage_bps: int = 50) -> TaskGraph:
    """The task graph for `slots`; `max_slippage_bps=None` takes `default_slippage_bps`."""
    if slots.recipient is not None:
        raise PlanBuildError("a recipient other than the wallet itself is never planned")
    part = part_amount(slots.amount_in, slots.parts)
    p_in, p_out = price_task_id(slots.token_in), price_task_id(slots.token_out)
    tasks: list = [ReadPriceTask(id=p_in, base=slots.token_in), ReadPriceTask(id=p_out, base=slots.token_out)]
    condition = None
    if slots.condition is not None:
        c = slots.condition
        source = price_task_id(c.base)
        if source not in (p_in, p_out):
            tasks.append(ReadPriceTask(id=source, base=c.base))
        condition = Condition(base=c.base, quote=c.quote, op=c.op, threshold=c.threshold, source_task=source)
    prices = tuple(t.id for t in tasks)
    slippage = slots.max_slippage_bps if slots.max_slippage_bps is not None else default_slippage_bps
    for i in range(1, slots.parts + 1):
        deps = prices + ((f"swap_{i - 1}",) if i > 1 else ())
        tasks.append(CheckRiskTask(id=f"risk_{i}", swap_task=f"swap_{i}", depends_on=deps))
        tasks.append(SwapTask(id=f"swap_{i}", token_in=slots.token_in, token_out=slots.token_out, amount_in=part,
                              max_slippage_bps=slippage, condition=condition, price_tasks=(p_in, p_out),
                              risk_task=f"risk_{i}", depends_on=(f"risk_{i}",)))
    return TaskGraph(intent=intent_text, tasks=tuple(tasks))
