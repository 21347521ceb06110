"""Prompt rendering, reasoning split and schema->grammar conversion (no model decoding)."""
from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field

from swarm.llm import ChatMessage, ChatTemplate, SchemaGrammarError, fold_system, grammar_for, split_reasoning
from swarm.llm.template import R1_BOS, R1_CHAT_TEMPLATE

USER, ASSISTANT = "<｜User｜>", "<｜Assistant｜>"


@pytest.fixture(scope="module")
def r1() -> ChatTemplate:
    return ChatTemplate(R1_CHAT_TEMPLATE)


def test_render_has_r1_markers_and_ends_with_think(r1):
    prompt = r1.render([ChatMessage(role="user", content="Should we buy ETH?")])
    assert prompt == f"{R1_BOS}{USER}Should we buy ETH?{ASSISTANT}<think>\n"


def test_system_message_is_folded_into_first_user_turn(r1):
    prompt = r1.render([
        {"role": "system", "content": "You are a risk agent."},
        {"role": "user", "content": "Rate this pool."},
    ])
    assert prompt.startswith(f"{R1_BOS}{USER}You are a risk agent.\n\nRate this pool.")
    assert prompt.count(USER) == 1 and prompt.endswith(f"{ASSISTANT}<think>\n")


def test_fold_system_without_user_turn_becomes_user():
    assert fold_system([ChatMessage(role="system", content="S")]) == [ChatMessage(role="user", content="S")]


def test_multi_turn_strips_earlier_reasoning(r1):
    prompt = r1.render([
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "secret thoughts</think>\n\nA1"},
        {"role": "user", "content": "q2"},
    ])
    assert "secret thoughts" not in prompt
    assert prompt == f"{R1_BOS}{USER}q1{ASSISTANT}\n\nA1<｜end▁of▁sentence｜>{USER}q2{ASSISTANT}<think>\n"


def test_builtin_fallback_equals_r1_template():
    fallback = ChatTemplate(None)
    assert fallback.source == "builtin"
    msgs = [{"role": "user", "content": "hi"}]
    assert fallback.render(msgs) == ChatTemplate(R1_CHAT_TEMPLATE).render(msgs)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("think hard</think>\n\nBUY", ("think hard", "BUY", False)),
        ("<think>\nthink hard\n</think>\n\nBUY", ("think hard", "BUY", False)),
        ("  <think>x</think>y", ("x", "y", False)),
        ("still thinking when the budget ran out", ("still thinking when the budget ran out", "", True)),
        ("<think>cut", ("cut", "", True)),
        ("a</think>b</think>c", ("a", "b</think>c", False)),
        ("</think>answer only", ("", "answer only", False)),
        ("", ("", "", True)),
    ],
)
def test_split_reasoning(text, expected):
    assert tuple(split_reasoning(text)) == expected


class Order(BaseModel):
    side: Literal["buy", "sell"]
    size: int = Field(ge=1, le=5)


def test_small_int_range_is_enforced_by_the_grammar():
    gbnf = grammar_for(Order)._grammar
    assert '"1" | "2" | "3" | "4" | "5"' in gbnf
    assert '"\\"buy\\"" | "\\"sell\\""' in gbnf


def test_unconvertible_schema_raises():
    class Ticker(BaseModel):
        code: str = Field(pattern=r"[A-Z]{3}")  # unanchored: the converter refuses it

    with pytest.raises(SchemaGrammarError, match="Ticker"):
        grammar_for(Ticker)


def test_grammar_from_plain_json_schema():
    gbnf = grammar_for({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]})._grammar
    assert '"true" | "false"' in gbnf and '"\\"ok\\""' in gbnf
