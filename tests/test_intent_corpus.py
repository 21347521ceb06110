"""The intent corpus (tests/intents/), parser only: every covered category plans exactly, nothing unsafe is accepted.

The same corpus runs with a model in `benchmarks/bench_planner.py --model ...`.
"""
from __future__ import annotations

import pytest

from defai_swarm.planner import Planner
from tests.intents.corpus import NOT_COVERED_BY_PARSER, Tally, compact, context, judge, load, normal, registries

CASES = load()
REGISTRIES = registries()
CONTEXT = context()


def _plan(case):
    return Planner(REGISTRIES[case.chain], None, CONTEXT).plan(case.text)


def test_corpus_is_large_and_covers_every_category():
    cats = {c.category for c in CASES}
    assert len(CASES) >= 300
    assert {"number_words", "fractions", "number_formats", "dollars", "percent", "exact_out", "aliases", "pairs",
            "conditions", "compound_conditions", "sequences", "splits_dca", "schedules", "read_only", "solana",
            "other_languages", "injection", "recipients", "absurd", "unicode", "out_of_scope", "ambiguous"} <= cats
    assert sum(c.expect is None for c in CASES) >= 100  # refusals are a large part of it


@pytest.mark.parametrize("case", [c for c in CASES if c.category not in NOT_COVERED_BY_PARSER],
                         ids=lambda c: f"{c.category}:{c.line}")
def test_covered_intent(case):
    plan = _plan(case)
    outcome = judge(case, plan.request if plan.ok else None, plan.refusal_class)
    if case.expect is None:
        assert outcome == "refused correctly", f"accepted an intent that must be refused: {compact(plan.request)}"
        assert plan.refusal_reason, "a refusal always has a reason"
        assert plan.refusal_class == case.refuse, f"refused as {plan.refusal_class}: {plan.refusal_reason}"
        if case.refuse == "ambiguous":
            assert "could mean" in plan.refusal_reason or "readings" in plan.refusal_reason or plan.readings
    else:
        assert outcome == "exact", plan.refusal_reason or f"{compact(plan.request)} != {normal(case.expect)}"
        assert plan.task_graph is not None and plan.task_graph.validate_structure(REGISTRIES[case.chain]) == []


def test_nothing_unsafe_is_accepted_and_covered_categories_are_95_percent_exact():
    tally = Tally()
    for case in CASES:
        plan = _plan(case)
        tally.add(case, judge(case, plan.request if plan.ok else None, plan.refusal_class))
    accepted_wrongly = sum(row["accepted but should refuse"] for row in tally.counts.values())
    assert accepted_wrongly == 0
    covered = [row for cat, row in tally.counts.items() if cat not in NOT_COVERED_BY_PARSER]
    expected = sum(row["exact"] + row["partly right"] + row["wrong"] + row["refused wrongly"] for row in covered)
    exact = sum(row["exact"] for row in covered)
    assert exact / expected >= 0.95, f"{exact}/{expected} exact"
