"""Swap executor agent: runs one risk-approved swap through the chain's executor.

The chain's executor does the work (EVM: fresh quote, exact approval, minOut, deadline,
simulate, record, send, confirm, received amount checked; Solana: Jupiter with
decode-and-check). This agent only refuses to act without an approval, and returns the
spend reservation when it is proven that nothing was signed. An RPC outage or a send of
unknown fate propagates: the step stays open and `resume` finishes it (see the executor
contract in `swarm.core.chain`).
"""
from __future__ import annotations

from swarm.core.status import TaskStatus
from swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult
from swarm.taskgraph import SwapTask


class SwapResult(TaskResult):
    outcome: dict | None = None  # the chain's SwapOutcome (EVM: approve_tx, swap_tx, block; Solana: signature, slot)


class SwapPlugin(TaskPlugin[SwapTask]):
    kind = "swap"
    task_model = SwapTask
    result_model = SwapResult
    effectful = True

    def handle(self, task: SwapTask, run: RunView, deps: RunDeps) -> SwapResult:
        risk = run.result(task.risk_task)
        if risk.get("status") != TaskStatus.APPROVED:
            return SwapResult(status=risk.get("status", TaskStatus.REFUSED), reason=risk.get("reason", "no risk decision"))
        if task.amount_out is not None:  # exact output: at most the risk check's maximum input, exactly amount_out
            exact_out = getattr(deps.executor, "execute_exact_out", None)
            if exact_out is None or risk.get("amount_out") is None:
                deps.ledger.release_spend(run.run_id, task.id)
                return SwapResult(status=TaskStatus.REFUSED, reason="this chain's executor has no exact-output swaps")
            outcome = exact_out(run.run_id, task.id, task.token_in, task.token_out, int(risk["amount_out"]),
                                int(risk["amount_in"]), task.max_slippage_bps)
        else:
            outcome = deps.executor.execute(run.run_id, task.id, task.token_in, task.token_out, int(risk["amount_in"]),
                                            int(risk["min_out"]), task.max_slippage_bps)
        if outcome.status != TaskStatus.CONFIRMED and not deps.outbox.has_signed(run.run_id, f"{task.id}:"):
            deps.ledger.release_spend(run.run_id, task.id)  # nothing was signed: the reservation is returned
        return SwapResult(status=TaskStatus(outcome.status), reason=outcome.reason, outcome=outcome.model_dump(mode="json"))
