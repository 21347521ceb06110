"""The Graph of Thoughts on the intent language: branching, aggregation, readings, quorum."""
from __future__ import annotations

from typing import Any, cast

from defai_swarm.planner import Planner
from defai_swarm.taskgraph import ResolveAmountTask
from tests.test_planner import CONTEXT, FakeBackend, answer, tokens  # noqa: F401  (tokens is a fixture)


def test_compound_intent_branches_and_aggregates_in_the_trace(tokens):  # noqa: F811
    plan = Planner(tokens, None, CONTEXT).plan("swap 1 ETH to DAI, then swap it to USDC, then what's my USDC balance")
    assert plan.ok and plan.request is not None and plan.task_graph is not None
    assert [s.kind for s in plan.request.steps] == ["swap", "swap", "balance"]
    ops = {r.op: r for r in plan.trace}
    assert len(ops["decompose"].outputs) == 3  # three branches
    assert ops["generate_parser"].inputs == ops["decompose"].outputs and len(ops["generate_parser"].outputs) == 3
    assert len(ops["aggregate_parts"].inputs) == 3 and len(ops["aggregate_parts"].outputs) == 1  # aggregated
    by_id = {t.id: t for t in plan.thoughts}
    whole = by_id[ops["aggregate_parts"].outputs[0]]
    assert whole.parents == ops["generate_parser"].outputs and not whole.partial
    graph = plan.task_graph
    # dependencies: step 2 spends what step 1 received, after it; the question runs after step 2
    amount = graph.by_id()["s2_amount"]
    assert isinstance(amount, ResolveAmountTask) and amount.previous_swaps == ("swap_1",)
    assert "swap_1" in graph.ancestors("s2_swap_1") and "s2_swap_1" in graph.ancestors("s3_answer")


def test_two_outputs_is_a_clarification_and_no_model_picks_one(tokens):  # noqa: F811
    backend = FakeBackend([answer(amount="2", tout="DAI")] * 3)  # would pick DAI
    plan = Planner(tokens, cast(Any, backend), CONTEXT, k=3).plan("swap 2 ETH to USDC or DAI")
    assert not plan.ok and backend.calls == []  # the parser's clarification is final: the model is not asked
    assert plan.refusal_class == "ambiguous"
    assert plan.readings == ["all into USDC", "all into DAI", "split between them (say how)"]


def test_one_model_reading_never_plans_whatever_k(tokens):  # noqa: F811
    plan = Planner(tokens, cast(Any, FakeBackend([answer()])), CONTEXT, k=1).plan("exchange my 2 ETH for USDC")
    assert not plan.ok and "must agree" in (plan.refusal_reason or "")


def test_ambiguous_amount_lists_readings(tokens):  # noqa: F811
    plan = Planner(tokens, None, CONTEXT).plan("swap 1,5 ETH to USDC")
    assert not plan.ok and plan.readings == ["1.5", "15"]
    assert "it could mean: 1.5 | 15" in (plan.refusal_reason or "")


def test_a_model_reading_that_drops_a_pair_quote_is_invalid_not_a_disagreement(tokens):  # noqa: F811
    """Measured with gemma-3-270m: it read 'if ETH/DAI > 2400' as 'ETH > 2400 (USD)' and the plan was refused."""
    backend = FakeBackend([answer(amount="1", tout="DAI", cond=("ETH", ">", "2400"))] * 3)
    plan = Planner(tokens, cast(Any, backend), CONTEXT, k=3).plan("swap 1 ETH to DAI if ETH/DAI > 2400")
    assert plan.ok and plan.request is not None
    assert plan.request.steps[0].conditions[0].quote == "DAI"  # type: ignore[union-attr]
    model = [t for t in plan.thoughts if t.source == "model"]
    assert model and all(not t.valid and any("compares ETH in DAI" in e for e in t.errors) for t in model)


def test_a_level_without_direction_is_final_and_no_model_reads_it_as_at_least(tokens):  # noqa: F811
    """'when ETH hits 2000, buy' was planned as ETH >= 2000 and bought at once at ~3000."""
    backend = FakeBackend([answer(tin="USDC", tout="ETH", amount="100", cond=("ETH", ">=", "2000"))] * 3)
    plan = Planner(tokens, cast(Any, backend), CONTEXT, k=3).plan("when ETH hits 2000, buy ETH with 100 USDC")
    assert not plan.ok and backend.calls == [] and plan.refusal_class == "ambiguous"
    assert plan.readings == ["ETH rises to 2000 (>= 2000)", "ETH falls to 2000 (<= 2000)"]


def test_a_directional_level_plans_and_model_readings_of_it_are_grounded(tokens):  # noqa: F811
    """'drops to' was eaten by the motion words (refused); a model's '<=' reading of it was ungrounded."""
    backend = FakeBackend([answer(tin="USDC", tout="ETH", amount="100", cond=("ETH", "<=", "2000"))] * 3)
    plan = Planner(tokens, cast(Any, backend), CONTEXT, k=3).plan("when ETH drops to 2000, buy ETH with 100 USDC")
    assert plan.ok and plan.request is not None, plan.refusal_reason
    assert [c.describe() for c in plan.request.steps[0].conditions] == ["ETH <= 2000"]  # type: ignore[union-attr]
    model = [t for t in plan.thoughts if t.source == "model"]
    assert model and all(t.valid for t in model), [t.errors for t in model]


def test_number_words_side_by_side_are_final_whatever_a_model_reads(tokens):  # noqa: F811
    backend = FakeBackend([answer(amount="2")] * 3)  # the old sum of 'one one'
    plan = Planner(tokens, cast(Any, backend), CONTEXT, k=3).plan("swap one one ETH to USDC")
    assert not plan.ok and backend.calls == [] and plan.refusal_class == "ambiguous"
    assert plan.readings == ["11", "1"]


def test_a_per_round_amount_is_grounded_as_amount_times_rounds(tokens):  # noqa: F811
    """'300 DAI per buy over 3 buys' is 900 in all: the total is derived from written numbers, and passes."""
    plan = Planner(tokens, None, CONTEXT).plan("DCA 300 DAI into ETH per buy, over 3 buys")
    assert plan.ok and plan.request is not None, plan.refusal_reason
    step = plan.request.steps[0]
    assert step.amount.value == 900 and step.parts == 3  # type: ignore[union-attr]
