"""One wording per task kind (issue 25 #5): `TaskPlugin.describe` says what a task does (`swarm plan`'s tree) and what
its result was (`swarm audit show`), and the audit page's port of it (summaries.js `describe`) says the same about
the same payloads, checked in a real browser."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Literal, Mapping

import pytest

from defai_swarm.agents import builtin_plugins
from defai_swarm.agents.amount_resolver import AmountResult
from defai_swarm.agents.answer import AnswerResult
from defai_swarm.agents.balance_reader import BalanceResult
from defai_swarm.agents.price_reader import PriceResult
from defai_swarm.agents.quote_reader import QuoteResult
from defai_swarm.agents.risk import RiskResult
from defai_swarm.agents.swap_executor import SwapResult
from defai_swarm.agents.wait_blocks import WaitResult
from defai_swarm.cli.audit_commands import summarize
from defai_swarm.core.prices import PriceReading, PriceSource
from defai_swarm.core.status import TaskStatus
from defai_swarm.plugins import PluginRegistry, TaskPlugin, TaskResult
from defai_swarm.render import plan_tree
from defai_swarm.taskgraph import (
    AnswerTask,
    CheckRiskTask,
    ReadBalanceTask,
    ReadPriceTask,
    ReadQuoteTask,
    ResolveAmountTask,
    SwapTask,
    Task,
    TaskGraph,
    WaitBlocksTask,
)

BUILTIN = PluginRegistry(builtin_plugins())


class PingTask(Task):
    kind: Literal["ping"] = "ping"
    host: str


class PingPlugin(TaskPlugin[PingTask]):
    kind = "ping"
    task_model = PingTask
    described = frozenset({"host"})

    def describe(self, data: Mapping[str, Any]) -> str:
        if "status" in data and "id" not in data:
            return f"pinged {data.get('host')}: {data.get('status')}"
        return f"ping {data.get('host')}"


class QuietTask(Task):
    kind: Literal["quiet"] = "quiet"
    note: str


class QuietPlugin(TaskPlugin[QuietTask]):  # no describe: the generic line
    kind = "quiet"
    task_model = QuietTask


def test_every_builtin_kind_describes_its_task_in_words():
    tasks = [ReadPriceTask(id="p", base="ETH"), ReadBalanceTask(id="b", token="USDC"),
             SwapTask(id="s", token_in="ETH", token_out="USDC", amount_in=Decimal("1.50000"), risk_task="r",
                      max_slippage_bps=50, price_tasks=("p", "p2")),
             CheckRiskTask(id="r", swap_task="s"), ReadQuoteTask(id="q", token_in="ETH", token_out="DAI", amount_in=Decimal(2)),
             ResolveAmountTask(id="a", token_in="ETH", mode="usd", value=Decimal(100), parts=3),
             AnswerTask(id="ans", question="what is ETH worth?", sources=("p",)), WaitBlocksTask(id="w", blocks=3)]
    said = {t.kind: BUILTIN.describe(t.kind, t.model_dump(mode="json")) for t in tasks}
    assert set(said) == set(BUILTIN.kinds())  # every built-in kind is covered here
    assert said == {"read_price": "read price ETH/USD", "read_balance": "read balance USDC",
                    "swap": "swap 1.5 ETH -> USDC", "check_risk": "check risk of s",
                    "read_quote": "read quote 2 ETH -> DAI", "resolve_amount": "resolve amount: $100 of ETH, in 3 parts",
                    "answer": "answer: what is ETH worth?", "wait_blocks": "wait 3 blocks"}


def test_plan_tree_takes_each_line_from_the_kinds_describe():
    """A plugin's own wording is its task's line in `swarm plan`, the fields it says are not listed again under it;
    a plugin without describe gets the kind in words and its fields listed."""
    registry = PluginRegistry([*builtin_plugins(), PingPlugin(), QuietPlugin()])
    graph = TaskGraph(intent="ping example.org", tasks=(PingTask(id="ping_1", host="example.org"), QuietTask(id="q_1", note="hello")))

    class Plan:  # what plan_tree reads of a planner's Plan
        intent, thoughts = "ping example.org", []

        def model_dump(self, **_: Any) -> dict:
            return {"ok": True, "intent": self.intent, "task_graph": graph.model_dump(mode="json"), "model_summary": ""}

    from rich.console import Console
    console = Console(width=200, record=True, soft_wrap=True)
    console.print(plan_tree(Plan(), registry))
    text = console.export_text()
    assert "ping_1  ping example.org  (ping)" in text and "host:" not in text
    assert "q_1  quiet  (quiet)" in text and "note: hello" in text


def test_audit_summaries_of_task_kinds_come_from_the_plugin():
    registry = PluginRegistry([*builtin_plugins(), PingPlugin(), QuietPlugin()])
    assert summarize("ping", {"task": "ping_1", "status": "ok", "host": "example.org"}, registry) == "pinged example.org: ok"
    assert summarize("quiet", {"task": "q_1", "status": "ok", "reason": "nothing to do"}, registry) == "ok: nothing to do"
    balance = BalanceResult(status=TaskStatus.OK, token="USDC", raw="2500000", amount="2.5").model_dump(mode="json")
    assert summarize("read_balance", {"task": "b", **balance}) == "ok: 2.5 USDC"  # the default registry: built-ins


def reading(n: int = 3) -> PriceReading:
    sources = [PriceSource(name=f"s{i}", family=f"f{i % 2}", price=Decimal("3000.5") + i, block_number=10 + i)
               for i in range(n)]
    return PriceReading(base="ETH", sources=sources, median=Decimal("3001.5"), max_deviation_bps=66)


def payloads() -> list[tuple[str, dict]]:
    """Audit payloads of every built-in kind's result, as the runtime logs them ({"task": id, **result}), with and
    without the fields their lines use; one kind no plugin registers."""
    def entry(kind: str, task: str, result: TaskResult) -> tuple[str, dict]:
        return kind, {"task": task, **result.model_dump(mode="json")}
    return [
        entry("read_price", "price_eth", PriceResult(status=TaskStatus.OK, reading=reading())),
        entry("read_price", "price_eth", PriceResult(status=TaskStatus.OK, reading=reading(1))),
        entry("read_price", "price_eth", PriceResult(status=TaskStatus.FAILED, reason="every source failed")),
        entry("read_balance", "bal", BalanceResult(status=TaskStatus.OK, token="USDC", raw="2500000", amount="2.5")),
        entry("read_balance", "bal", BalanceResult(status=TaskStatus.FAILED, token="USDC", reason="rpc down")),
        entry("check_risk", "risk_1", RiskResult(status=TaskStatus.REFUSED, reason="max_trade_usd: trade $150,000.00, limit $10,000.00")),
        entry("check_risk", "risk_1", RiskResult(status=TaskStatus.APPROVED)),
        entry("swap", "swap_1", SwapResult(status=TaskStatus.CONFIRMED, reason="received 2990.1 USDC", outcome={"swap_tx": "0xab"})),
        entry("swap", "swap_1", SwapResult(status=TaskStatus.SKIPPED, reason="")),
        entry("resolve_amount", "amount", AmountResult(status=TaskStatus.OK, token="ETH", amount="0.0333", parts=3, mode="usd")),
        entry("resolve_amount", "amount", AmountResult(status=TaskStatus.OK, token="ETH", amount="1", parts=1)),
        entry("resolve_amount", "amount", AmountResult(status=TaskStatus.REFUSED, reason="balance too low")),
        entry("read_quote", "quote", QuoteResult(status=TaskStatus.OK, token_in="ETH", token_out="DAI", amount_in="2",
                                                 amount_out="5990.12", raw_out="5990120000000000000000")),
        entry("read_quote", "quote", QuoteResult(status=TaskStatus.FAILED, reason="no route")),
        entry("answer", "ans", AnswerResult(status=TaskStatus.OK, question="what is ETH worth?", answer="ETH is $3,001.50")),
        entry("answer", "ans", AnswerResult(status=TaskStatus.FAILED, question="what is ETH worth?", reason="no price")),
        entry("wait_blocks", "wait_1", WaitResult(status=TaskStatus.OK, start=12345678901234567890, reached=12345678901234567893)),
        entry("wait_blocks", "wait_1", WaitResult(status=TaskStatus.FAILED, reason="only 1 of 3 blocks passed in 600 s")),
        ("liquidity_guard", {"task": "guard_swap_1", "status": "refused", "reason": "trade is 0.15% of the pool"}),
        ("liquidity_guard", {"task": "guard_swap_1", "status": "ok"}),
    ]


def test_the_payload_corpus_covers_every_builtin_kind():
    assert {kind for kind, _ in payloads()} >= set(BUILTIN.kinds())


@pytest.mark.browser
def test_the_page_describes_every_payload_as_python_does(tmp_path):
    """The page's `describe` (summaries.js) against the plugins' (Python), payload by payload: one wording."""
    from defai_swarm.audit.html import render_page
    from tests.test_audit_html import render

    cases = payloads()
    expected = [BUILTIN.describe(kind, payload) for kind, payload in cases]
    (tmp_path / "p.html").write_text(render_page("{}"), encoding="utf-8")
    expr = ("(() => %s.map(([k, t]) => { try { return window.AuditViewer.describe(k, window.AuditViewer.parseJSON(t)); }"
            " catch (e) { return 'error: ' + String(e && e.stack || e); } }))()"
            % json.dumps([[kind, json.dumps(payload)] for kind, payload in cases]))
    [result] = render([{"url": (tmp_path / "p.html").as_uri(), "eval": expr}], tmp_path)
    page = result["eval"]
    assert [(k, p) for (k, _), p in zip(cases, page, strict=True)] == [(k, e) for (k, _), e in zip(cases, expected, strict=True)]
    assert len(set(page)) == len(page)  # every case says something of its own
