"""Quote reader agent: what the route would give for an amount (read-only, nothing is signed)."""
from __future__ import annotations

from typing import Any, Mapping

from defai_swarm.core.errors import SwarmError
from defai_swarm.core.status import TaskStatus
from defai_swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult, amount_text, generic_description, is_result
from defai_swarm.taskgraph import ReadQuoteTask


class QuoteResult(TaskResult):
    token_in: str | None = None
    token_out: str | None = None
    amount_in: str | None = None
    amount_out: str | None = None  # human units
    raw_out: str | None = None


class ReadQuotePlugin(TaskPlugin[ReadQuoteTask]):
    kind = "read_quote"
    task_model = ReadQuoteTask
    result_model = QuoteResult

    described = frozenset({"amount_in", "token_in", "token_out"})  # what describe(task) says

    def describe(self, data: Mapping[str, Any]) -> str:
        """`read quote 1 ETH -> USDC`; a result: what the route quoted."""
        if is_result(data):
            if data.get("amount_out") is not None:
                return (f"{data.get('status')}: {data.get('amount_in')} {data.get('token_in')} -> "
                        f"{data.get('amount_out')} {data.get('token_out')}")
            return generic_description(self.kind, data)
        return f"read quote {amount_text(data.get('amount_in'))} {data.get('token_in')} -> {data.get('token_out')}"

    def handle(self, task: ReadQuoteTask, run: RunView, deps: RunDeps) -> QuoteResult:
        try:
            t_in, t_out = deps.chain.token(task.token_in), deps.chain.token(task.token_out)
            q = deps.chain.quote(t_in.symbol, t_out.symbol, t_in.to_base(task.amount_in))
        except SwarmError as exc:
            return QuoteResult(status=TaskStatus.FAILED, reason=str(exc))
        return QuoteResult(status=TaskStatus.OK, token_in=t_in.symbol, token_out=t_out.symbol,
                           amount_in=str(task.amount_in), amount_out=str(t_out.from_base(q.amount_out)),
                           raw_out=str(q.amount_out))
