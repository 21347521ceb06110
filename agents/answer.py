"""Answer agent: the reply to a read-only question, composed in code from the read tasks' results.

No model writes the answer: it is the price median (with its sources and spread), the
balance, or the route's quote, as read.  It is the task's result, so the run prints it
(`answer`) and the audit log keeps it.
"""
from __future__ import annotations

from decimal import Decimal

from typing import Any, Mapping

from defai_swarm.core.status import TaskStatus
from defai_swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult, generic_description, is_result
from defai_swarm.taskgraph import AnswerTask, ReadBalanceTask, ReadPriceTask, ReadQuoteTask


class AnswerResult(TaskResult):
    question: str = ""
    answer: str | None = None


def _price(r: dict) -> Decimal:
    return Decimal(str(r["reading"]["median"]))


class AnswerPlugin(TaskPlugin[AnswerTask]):
    kind = "answer"
    task_model = AnswerTask
    result_model = AnswerResult

    described = frozenset({"question"})  # what describe(task) says

    def describe(self, data: Mapping[str, Any]) -> str:
        """`answer: what is ETH worth?`; a result: the answer."""
        if is_result(data):
            if data.get("answer"):
                return f"{data.get('status')}: {data.get('answer')}"
            return generic_description(self.kind, data)
        return f"answer: {data.get('question')}"

    def handle(self, task: AnswerTask, run: RunView, deps: RunDeps) -> AnswerResult:
        tasks = run.graph.by_id()
        failed = [f"{s}: {run.result(s).get('reason', 'missing')}" for s in task.sources
                  if run.status(s) != TaskStatus.OK]
        if failed:
            return AnswerResult(status=TaskStatus.FAILED, question=task.question,
                                reason="could not read: " + "; ".join(failed))
        lines = []
        prices = {tasks[s].base: run.result(s) for s in task.sources if isinstance(tasks[s], ReadPriceTask)}  # type: ignore[attr-defined]
        if len(prices) == 2 and task.question.startswith("price of") and " in " in task.question:
            (base, rb), (quote, rq) = list(prices.items())
            lines.append(f"{base} = {(_price(rb) / _price(rq)):.6f} {quote} (from the USD medians "
                         f"${_price(rb):.2f} and ${_price(rq):.6f})")
        else:
            for base, r in prices.items():
                reading = r["reading"]
                lines.append(f"{base} = ${_price(r):.2f} (median of {len(reading['sources'])} sources, spread "
                             f"{reading['max_deviation_bps']} bps)")
        for s in task.sources:
            t, r = tasks[s], run.result(s)
            if isinstance(t, ReadBalanceTask):
                lines.append(f"{r['token']}: {r['amount']}")
            elif isinstance(t, ReadQuoteTask):
                lines.append(f"{r['amount_in']} {r['token_in']} -> {r['amount_out']} {r['token_out']} (route quote, "
                             "before fees you may pay in gas)")
        text = "; ".join(lines)  # also the reason: every front door prints a task's reason
        return AnswerResult(status=TaskStatus.OK, question=task.question, answer=text, reason=text)
