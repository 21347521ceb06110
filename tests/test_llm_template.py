"""Prompt rendering, reasoning split and schema->grammar conversion (no model decoding)."""
from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field

from defai_swarm.llm import (
    FAMILIES,
    ChatMessage,
    ChatTemplate,
    PromptFormatError,
    SchemaGrammarError,
    fold_system,
    grammar_for,
    split_reasoning,
)
from defai_swarm.llm.template import R1_BOS, R1_CHAT_TEMPLATE

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


def test_no_template_renders_nothing_silently():
    """There is no silent R1 fallback any more: a model without a format refuses to render, in one line."""
    none = ChatTemplate(None)
    assert none.source == "none" and not none.reasoning
    with pytest.raises(PromptFormatError, match="no chat template") as e:
        none.render([{"role": "user", "content": "hi"}])
    assert "\n" not in str(e.value) and "deepseek-r1, qwen2, gemma, base" in str(e.value)


def test_select_prefers_declared_family_then_gguf_then_refuses():
    msgs = [{"role": "user", "content": "hi"}]
    gguf = ChatTemplate.select(gguf_template=R1_CHAT_TEMPLATE, family=None, model="m.gguf")
    assert gguf.source == "gguf" and gguf.reasoning and gguf.render(msgs).endswith(f"{ASSISTANT}<think>\n")
    declared = ChatTemplate.select(gguf_template=R1_CHAT_TEMPLATE, family=" Gemma ", model="m.gguf", bos_token="<bos>")
    assert (declared.source, declared.family, declared.reasoning) == ("family", "gemma", False)
    assert declared.render(msgs) == "<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n"
    with pytest.raises(PromptFormatError, match="m.gguf has no chat template.*SWARM_MODEL_FAMILY"):
        ChatTemplate.select(gguf_template=None, family=None, model="m.gguf").render(msgs)
    with pytest.raises(PromptFormatError, match=r"Unknown model family 'llama9' for m.gguf; use one of: deepseek-r1"):
        ChatTemplate.select(gguf_template=None, family="llama9", model="m.gguf")


@pytest.mark.parametrize("family, expected", [
    ("deepseek-r1", f"{R1_BOS}{USER}S\n\nQ{ASSISTANT}A<｜end▁of▁sentence｜>{USER}Q2{ASSISTANT}<think>\n"),
    ("qwen2", "<|im_start|>user\nS\n\nQ<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"
              "<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n"),
    ("gemma", "<start_of_turn>user\nS\n\nQ<end_of_turn>\n<start_of_turn>model\nA<end_of_turn>\n"
              "<start_of_turn>user\nQ2<end_of_turn>\n<start_of_turn>model\n"),
    ("base", "S\n\nQ\n\nA\n\nQ2"),
])
def test_family_formats(family, expected):
    t = ChatTemplate.select(gguf_template=None, family=family, model="m.gguf")
    assert t.render([{"role": "system", "content": "S"}, {"role": "user", "content": "Q"},
                     {"role": "assistant", "content": "A"}, {"role": "user", "content": "Q2"}]) == expected
    assert t.reasoning == (family == "deepseek-r1") and set(FAMILIES) == {"deepseek-r1", "qwen2", "gemma", "base"}


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
