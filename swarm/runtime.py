"""Compile a TaskGraph into a LangGraph StateGraph and run it with narrow agents.

One node per task; edges are the task dependencies (a node waits for all of
its dependencies), so independent tasks run in parallel. State is checkpointed
in SQLite after every step; side effects are made idempotent by the outbox and
the spend ledger, so a killed run resumes without repeating a sent transaction.
"""
from __future__ import annotations

import operator
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Callable, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from agents.price_reader import PriceReader, PriceReading, PriceUnavailable
from agents.risk import RiskChecker, RiskPolicy, SwapCheckInput
from agents.swap_executor import SwapExecutor
from swarm.faults import fault_point
from swarm.store import RunStore
from swarm.taskgraph import CheckRiskTask, ReadBalanceTask, ReadPriceTask, SwapTask, TaskGraph
from tools.evm import erc20
from tools.evm.errors import EvmToolError
from tools.evm.probe import sell_back_probe
from tools.evm.tokens import TokenRegistry
from tools.evm.uniswap import UniswapV2

Recorder = Callable[[str, str, dict], None]  # (run_id, kind, payload): the audit log's append


def merge_results(left: dict, right: dict) -> dict:
    return {**left, **right}


class RunState(TypedDict, total=False):
    run_id: str
    results: Annotated[dict[str, dict], merge_results]
    trace: Annotated[list[dict], operator.add]


@dataclass
class AgentContext:
    """Everything the agents use; built once per Swarm."""

    registry: TokenRegistry
    uniswap: UniswapV2
    prices: PriceReader
    risk: RiskChecker
    executor: SwapExecutor
    store: RunStore
    policy: RiskPolicy
    record: Recorder

    @property
    def wallet(self) -> str:
        return self.executor.wallet


def state_safe(value: Any) -> Any:
    """Checkpoints are msgpack (64-bit ints): token amounts in base units travel as decimal strings."""
    if isinstance(value, dict):
        return {k: state_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [state_safe(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return str(value)
    return value


def _timed(task_id: str, fn: Callable[[], dict]) -> dict:
    start = time.time()
    result = state_safe(fn())
    return {"results": {task_id: result}, "trace": [{"task": task_id, "start": start, "end": time.time(),
                                                     "status": result["status"]}]}


class Runtime:
    def __init__(self, ctx: AgentContext, checkpointer):
        self.ctx, self.checkpointer = ctx, checkpointer

    def compile(self, plan: TaskGraph):
        builder = StateGraph(RunState)
        dependents = {t.id: 0 for t in plan.tasks}
        for task in plan.tasks:
            builder.add_node(task.id, self._node(plan, task))
            if task.depends_on:
                builder.add_edge(list(task.depends_on) if len(task.depends_on) > 1 else task.depends_on[0], task.id)
            else:
                builder.add_edge(START, task.id)
            for dep in task.depends_on:
                dependents[dep] += 1
        for tid, n in dependents.items():
            if n == 0:
                builder.add_edge(tid, END)
        return builder.compile(checkpointer=self.checkpointer)

    def _node(self, plan: TaskGraph, task):
        handlers = {ReadPriceTask: self._read_price, ReadBalanceTask: self._read_balance,
                    CheckRiskTask: self._check_risk, SwapTask: self._swap}
        handler = handlers[type(task)]

        def node(state: RunState) -> dict:
            out = _timed(task.id, lambda: handler(plan, task, state))
            self.ctx.record(state["run_id"], task.kind, {"task": task.id, **out["results"][task.id]})
            fault_point(f"after_task:{task.id}")
            return out
        return node

    # -- agents -------------------------------------------------------------------------------------
    def _read_price(self, plan: TaskGraph, task: ReadPriceTask, state: RunState) -> dict:
        try:
            reading = self.ctx.prices.read(task.base, task.quote)
        except (PriceUnavailable, EvmToolError) as exc:
            return {"status": "failed", "reason": str(exc)}
        return {"status": "ok", "reading": reading.model_dump(mode="json")}

    def _read_balance(self, plan: TaskGraph, task: ReadBalanceTask, state: RunState) -> dict:
        token = self.ctx.registry.resolve(task.token)
        raw = erc20.balance_of(self.ctx.uniswap.w3, token, self.ctx.wallet)
        return {"status": "ok", "token": token.symbol, "raw": str(raw), "amount": str(token.from_base(raw))}

    def _check_risk(self, plan: TaskGraph, task: CheckRiskTask, state: RunState) -> dict:
        tasks = plan.by_id()
        swap: SwapTask = tasks[task.swap_task]
        results = state.get("results", {})
        for dep in task.depends_on:
            prior = results.get(dep, {})
            if isinstance(tasks.get(dep), SwapTask) and prior.get("status") != "confirmed":
                return {"status": "skipped", "reason": f"previous part {dep} did not complete ({prior.get('status')})"}
        failed = [f"{pid}: {results.get(pid, {}).get('reason', 'missing')}" for pid in swap.price_tasks
                  + ((swap.condition.source_task,) if swap.condition else ())
                  if results.get(pid, {}).get("status") != "ok"]
        if failed:
            return {"status": "refused", "reason": "price unavailable, refusing to trade blind: " + "; ".join(failed)}
        if swap.condition is not None:
            median = Decimal(results[swap.condition.source_task]["reading"]["median"])
            holds = swap.condition.evaluate(median)
            self.ctx.record(state["run_id"], "condition", {"task": swap.id, "source_task": swap.condition.source_task,
                                                            "condition": swap.condition.model_dump(mode="json"),
                                                            "describe": swap.condition.describe(),
                                                            "price": str(median), "holds": holds})
            if not holds:
                return {"status": "skipped", "reason": f"condition {swap.condition.describe()} not met "
                                                       f"(median {median:.2f}): nothing to do"}
        return self._decide(state["run_id"], task, swap, results)

    def _decide(self, run_id: str, task: CheckRiskTask, swap: SwapTask, results: dict) -> dict:
        ctx = self.ctx
        try:
            token_in, token_out = ctx.registry.resolve(swap.token_in), ctx.registry.resolve(swap.token_out)
            amount_in = token_in.to_base(swap.amount_in)
            balance = erc20.balance_of(ctx.uniswap.w3, token_in, ctx.wallet)
            if balance < amount_in:
                return {"status": "refused", "reason": f"balance {token_in.from_base(balance)} {token_in.symbol} "
                                                       f"is below the amount {swap.amount_in}"}
            quote = ctx.uniswap.quote(token_in, token_out, amount_in)
            probe_ok, probe_detail = sell_back_probe(ctx.uniswap, ctx.wallet, token_out) \
                if ctx.policy.require_honeypot_check else (None, "")
        except EvmToolError as exc:
            return {"status": "refused", "reason": str(exc)}
        check = SwapCheckInput(
            token_in=token_in, token_out=token_out, amount_in=amount_in, slippage_bps=swap.max_slippage_bps,
            recipient=ctx.wallet, wallet=ctx.wallet,
            price_in=PriceReading.model_validate(results[swap.price_tasks[0]]["reading"]),
            price_out=PriceReading.model_validate(results[swap.price_tasks[1]]["reading"]),
            quote=quote, spent_today_usd=ctx.store.spent_today(), sell_back_ok=probe_ok, sell_back_detail=probe_detail)
        decision = ctx.risk.decide(check)
        result = {"input": check.model_dump(mode="json"), "decision": decision.model_dump(mode="json")}
        if not decision.approved:
            return {"status": "refused", "reason": decision.reason, **result}
        ok, spent = ctx.store.reserve_spend(run_id, swap.id, decision.trade_usd, ctx.policy.daily_cap_usd)
        if not ok:
            return {"status": "refused", "reason": f"daily_cap_usd: ${spent:,.2f} already spent today, "
                                                   f"${decision.trade_usd:,.2f} more exceeds ${ctx.policy.daily_cap_usd:,.2f}",
                    **result}
        if decision.needs_human:
            answer = interrupt({"task": task.id, "swap": swap.id, "trade_usd": str(decision.trade_usd),
                                "question": f"approve swap {swap.amount_in} {swap.token_in} -> {swap.token_out} "
                                            f"(${decision.trade_usd:,.2f})?"})
            approved = isinstance(answer, dict) and answer.get("approve") is True
            ctx.record(run_id, "operator_input", {"task": task.id, "answer": answer})
            if not approved:
                ctx.store.release_spend(run_id, swap.id)
                return {"status": "refused", "reason": "operator declined", **result}
        return {"status": "approved", "reason": decision.reason, "amount_in": str(amount_in),
                "min_out": str(decision.min_out), **result}

    def _swap(self, plan: TaskGraph, task: SwapTask, state: RunState) -> dict:
        risk = state.get("results", {}).get(task.risk_task, {})
        if risk.get("status") != "approved":
            return {"status": risk.get("status", "refused"), "reason": risk.get("reason", "no risk decision")}
        ctx = self.ctx
        outcome = ctx.executor.execute(state["run_id"], task.id, ctx.registry.resolve(task.token_in),
                                       ctx.registry.resolve(task.token_out), int(risk["amount_in"]), int(risk["min_out"]))
        if outcome.status != "confirmed" and ctx.store.signed_for(state["run_id"], f"{task.id}:swap") is None:
            ctx.store.release_spend(state["run_id"], task.id)  # nothing was signed: the reservation is returned
        return {"status": outcome.status, "reason": outcome.reason, "outcome": outcome.model_dump(mode="json")}
