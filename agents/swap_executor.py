"""Swap executor agent: runs one risk-approved swap through the chain's executor.

The chain's executor does the work (EVM: fresh quote, exact approval, minOut, deadline,
simulate, record, send, confirm, received amount checked; Solana: Jupiter with
decode-and-check). This agent only refuses to act without an approval, and returns the
spend reservation when it is proven that nothing was signed. An RPC outage or a send of
unknown fate propagates: the step stays open and `resume` finishes it (see the executor
contract in `defai_swarm.core.chain`).

Splits: a part passes the executor the remaining total of its split (`approval_total`), so one exact approval
covers the parts still to run; a part that never reaches the executor (refused, skipped) resets what is left of
that approval to zero, so a finished run never leaves an allowance behind.  Both need the executor's public
`reset_approval(run_id, step, token)`; an executor without it gets one exact approval per part, as before.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Callable, Mapping

from defai_swarm.core.status import TaskStatus
from defai_swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult, amount_text, generic_description, is_result
from defai_swarm.taskgraph import SwapTask, TaskGraph, WaitBlocksTask

_PART = re.compile(r"^(?P<prefix>.*swap_)(?P<n>\d+)$")


def _part(task_id: str) -> tuple[str, int] | None:
    """(prefix, part number) of a planned swap id `<prefix>swap_<i>`."""
    m = _PART.match(task_id)
    return (m["prefix"], int(m["n"])) if m else None


def split_parts(task: SwapTask, graph: TaskGraph) -> list[SwapTask]:
    """This swap and the later parts of its split, in order (the planner names parts `<prefix>swap_<i>`, each the
    same trade); just [task] for a lone swap, an exact-output split, or a schedule (its parts are blocks apart:
    one approval must not wait that long on the router)."""
    me = _part(task.id)
    if me is None or task.amount_out is not None:
        return [task]
    prefix, n = me
    if any(isinstance(t, WaitBlocksTask) and t.id.startswith(prefix.removesuffix("swap_") + "wait_") for t in graph.tasks):
        return [task]
    later = [(p[1], t) for t in graph.swaps() if (p := _part(t.id)) is not None and p[0] == prefix and p[1] >= n
             and (t.token_in, t.token_out, t.amount_in, t.amount_task, t.amount_out)
             == (task.token_in, task.token_out, task.amount_in, task.amount_task, task.amount_out)]
    return [t for _, t in sorted(later, key=lambda pair: pair[0])]


def _split_of(task: SwapTask, graph: TaskGraph) -> int:
    """How many parts the split of `task` has in all (1 for a lone swap or a schedule)."""
    me = _part(task.id)
    first = graph.by_id().get(f"{me[0]}1") if me is not None else None
    return len(split_parts(first, graph)) if isinstance(first, SwapTask) and first.token_in == task.token_in else 1


def approval_total(task: SwapTask, graph: TaskGraph, amount_in: int, to_base: Callable[[Decimal], int]) -> int | None:
    """The remaining total of this part's split in base units (None for a lone swap): written parts from the
    plan's amounts; resolved parts are equal by construction (the resolver splits its total evenly)."""
    parts = split_parts(task, graph)
    if len(parts) < 2:
        return None
    if task.amount_in is not None:
        return sum(to_base(p.amount_in) for p in parts if p.amount_in is not None)
    return amount_in * len(parts)


class SwapResult(TaskResult):
    outcome: dict | None = None  # the chain's SwapOutcome (EVM: approve_tx, swap_tx, block; Solana: signature, slot)


class SwapPlugin(TaskPlugin[SwapTask]):
    kind = "swap"
    task_model = SwapTask
    result_model = SwapResult
    effectful = True

    described = frozenset({"amount_in", "amount_out", "amount_task", "token_in", "token_out", "combine"})  # said by describe

    def describe(self, data: Mapping[str, Any]) -> str:
        """swap 1 ETH -> USDC | buy exactly 100 USDC with ETH | swap ETH -> DAI, the amount from task X; a result:
        its status and reason."""
        if is_result(data):
            return generic_description(self.kind, data)
        token_in, token_out = data.get("token_in"), data.get("token_out")
        if data.get("amount_in") is not None:
            return f"swap {amount_text(data['amount_in'])} {token_in} -> {token_out}"
        if data.get("amount_out") is not None:
            return f"buy exactly {amount_text(data['amount_out'])} {token_out} with {token_in}"
        if data.get("amount_task"):
            return f"swap {token_in} -> {token_out}, the amount from task {data['amount_task']}"
        return f"swap {token_in} -> {token_out}, amount unknown"

    def handle(self, task: SwapTask, run: RunView, deps: RunDeps) -> SwapResult:
        risk = run.result(task.risk_task)
        reset = getattr(deps.executor, "reset_approval", None)
        if risk.get("status") != TaskStatus.APPROVED:
            reason = risk.get("reason", "no risk decision")
            part = _part(task.id)
            if reset is not None and part is not None and part[1] > 1 and _split_of(task, run.graph) > 1:
                # an abandoned split: what an earlier part approved for this and later parts goes back to zero
                revoked = reset(run.run_id, task.id, task.token_in)
                if revoked:
                    reason += f"; the split's remaining {task.token_in} approval was reset to 0 ({revoked})"
            return SwapResult(status=risk.get("status", TaskStatus.REFUSED), reason=reason)
        if task.amount_out is not None:  # exact output: at most the risk check's maximum input, exactly amount_out
            exact_out = getattr(deps.executor, "execute_exact_out", None)
            if exact_out is None or risk.get("amount_out") is None:
                deps.ledger.release_spend(run.run_id, task.id)
                return SwapResult(status=TaskStatus.REFUSED, reason="this chain's executor has no exact-output swaps")
            outcome = exact_out(run.run_id, task.id, task.token_in, task.token_out, int(risk["amount_out"]),
                                int(risk["amount_in"]), task.max_slippage_bps)
        else:
            total = None
            if reset is not None:  # one approval for the split only where an abandoned part can take it back
                total = approval_total(task, run.graph, int(risk["amount_in"]), deps.chain.token(task.token_in).to_base)
            extra = {"approval_total": total} if total is not None else {}
            outcome = deps.executor.execute(run.run_id, task.id, task.token_in, task.token_out, int(risk["amount_in"]),
                                            int(risk["min_out"]), task.max_slippage_bps, **extra)
        if outcome.status != TaskStatus.CONFIRMED and not deps.outbox.has_signed(run.run_id, f"{task.id}:"):
            deps.ledger.release_spend(run.run_id, task.id)  # nothing was signed: the reservation is returned
        return SwapResult(status=TaskStatus(outcome.status), reason=outcome.reason, outcome=outcome.model_dump(mode="json"))
