"""Balance reader agent: the wallet's balance of one token, in base units and in human units."""
from __future__ import annotations

from typing import Any, Mapping

from defai_swarm.core.errors import SwarmError
from defai_swarm.core.status import TaskStatus
from defai_swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult, generic_description, is_result
from defai_swarm.taskgraph import ReadBalanceTask


class BalanceResult(TaskResult):
    token: str | None = None
    raw: str | None = None  # base units, as text (may exceed 2^63)
    amount: str | None = None


class ReadBalancePlugin(TaskPlugin[ReadBalanceTask]):
    kind = "read_balance"
    task_model = ReadBalanceTask
    result_model = BalanceResult

    described = frozenset({"token"})  # what describe(task) says

    def describe(self, data: Mapping[str, Any]) -> str:
        """`read balance ETH`; a result: the amount read."""
        if is_result(data):
            if data.get("amount") is not None:
                return f"{data.get('status')}: {data.get('amount')} {data.get('token')}"
            return generic_description(self.kind, data)
        return f"read balance {data.get('token')}"

    def handle(self, task: ReadBalanceTask, run: RunView, deps: RunDeps) -> BalanceResult:
        try:
            token = deps.chain.token(task.token)
            raw = deps.chain.balance_of(token.symbol)
        except SwarmError as exc:
            return BalanceResult(status=TaskStatus.FAILED, reason=str(exc))
        return BalanceResult(status=TaskStatus.OK, token=token.symbol, raw=str(raw), amount=str(token.from_base(raw)))
