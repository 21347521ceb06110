"""Quote reader agent: what the route would give for an amount (read-only, nothing is signed)."""
from __future__ import annotations

from defai_swarm.core.errors import SwarmError
from defai_swarm.core.status import TaskStatus
from defai_swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult
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

    def handle(self, task: ReadQuoteTask, run: RunView, deps: RunDeps) -> QuoteResult:
        try:
            t_in, t_out = deps.chain.token(task.token_in), deps.chain.token(task.token_out)
            q = deps.chain.quote(t_in.symbol, t_out.symbol, t_in.to_base(task.amount_in))
        except SwarmError as exc:
            return QuoteResult(status=TaskStatus.FAILED, reason=str(exc))
        return QuoteResult(status=TaskStatus.OK, token_in=t_in.symbol, token_out=t_out.symbol,
                           amount_in=str(task.amount_in), amount_out=str(t_out.from_base(q.amount_out)),
                           raw_out=str(q.amount_out))
