"""Prompt formats per model, raw prompts (`complete_prompt`) and the `on_call` observer, on the tiny real GGUF."""
from __future__ import annotations

import logging
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from defai_swarm.llm import (
    SWARM_MODEL_FAMILY_ENV,
    BackendConfig,
    CallEvent,
    Completion,
    LlamaCppBackend,
    PromptFormatError,
    SamplingSettings,
    StructuredCompletion,
    StructuredOutputError,
    build_tiny_model,
    load_backend,
)
from defai_swarm.llm.template import sha256_text
from tests.llm_fixtures import Never

GREEDY = SamplingSettings.deterministic(seed=0, max_reasoning_tokens=12, max_answer_tokens=24)
ASK = [{"role": "user", "content": "Should the swarm rebalance into stablecoins?"}]
FEW_SHOT = "Intent: swap 1 ETH to DAI\nJSON: {\"side\": \"sell\"}\n\nIntent: buy 2 ETH with DAI\nJSON:"


class Order(BaseModel):
    side: Literal["buy", "sell"]
    size: int = Field(ge=1, le=5)


@pytest.fixture(scope="module")
def bare_model_path(tmp_path_factory) -> object:
    """The tiny model without a chat template (like gemma-3-270m's GGUF)."""
    return build_tiny_model(tmp_path_factory.mktemp("llm-bare") / "bare.gguf", chat_template=None)


@pytest.fixture(scope="module")
def backend(tiny_model_path):
    with load_backend(tiny_model_path) as b:
        yield b


@pytest.fixture(autouse=True)
def _no_family_env(monkeypatch):
    monkeypatch.delenv(SWARM_MODEL_FAMILY_ENV, raising=False)


# --- prompt format per model ------------------------------------------------------------


def test_declared_family_formats_a_gguf_without_template(bare_model_path):
    with LlamaCppBackend(bare_model_path, family="qwen2") as b:
        assert (b.info.template_source, b.info.family, b.info.chat_template) == ("family", "qwen2", None)
        prompt = b.render(ASK)
        assert prompt == f"<|im_start|>user\n{ASK[0]['content']}<|im_end|>\n<|im_start|>assistant\n"
        c = b.chat(ASK, GREEDY)
    # not a reasoning format: no <think> phase, the whole budget is the answer
    assert c.reasoning == "" and not c.reasoning_truncated and c.accounting.reasoning_tokens == 0
    assert 0 < c.accounting.answer_tokens <= 24 and c.prompt_sha256 == sha256_text(prompt)


def test_family_from_the_environment_and_override_of_the_gguf_template(monkeypatch, bare_model_path, tiny_model_path):
    monkeypatch.setenv(SWARM_MODEL_FAMILY_ENV, "gemma")
    with load_backend(bare_model_path) as b:
        assert b.info.family == "gemma" and b.render(ASK).endswith("<start_of_turn>model\n")
    monkeypatch.delenv(SWARM_MODEL_FAMILY_ENV)
    with load_backend(tiny_model_path, config=BackendConfig(family="base")) as b:  # the GGUF has R1's template
        assert b.info.template_source == "family" and b.render(ASK) == ASK[0]["content"]


def test_unknown_family_fails_before_loading(bare_model_path):
    with pytest.raises(PromptFormatError) as e:
        LlamaCppBackend(bare_model_path, family="llama-9")
    message = str(e.value)
    assert "\n" not in message and "'llama-9'" in message and "deepseek-r1, qwen2, gemma, base" in message


def test_gguf_template_is_used_when_no_family_is_declared(backend):
    assert backend.info.template_source == "gguf" and backend.info.family is None
    assert backend.render(ASK).endswith("<｜Assistant｜><think>\n")


# --- complete_prompt ----------------------------------------------------------------------


def test_complete_prompt_sends_the_prompt_verbatim_and_matches_raw_llama_cpp(backend):
    c = backend.complete_prompt(FEW_SHOT, GREEDY)
    assert type(c) is Completion and c.prompt_sha256 == sha256_text(FEW_SHOT)
    assert c.reasoning == "" and c.accounting.reasoning_tokens == 0 and 0 < c.accounting.answer_tokens <= 24
    ids = backend._tokenize_prompt(FEW_SHOT)
    assert c.accounting.prompt_tokens == len(ids) and ids[0] == backend._bos  # BOS, then the text as given
    llm, raw_ids = backend._llm, []
    for tok in llm.generate(ids, temp=0.0, repeat_penalty=1.0):  # llama-cpp-python's own decoding loop
        if llm.token_eos() == tok or len(raw_ids) == 24:
            break
        raw_ids.append(tok)
    assert llm.detokenize(raw_ids, prev_tokens=ids).decode("utf-8", errors="replace").strip() == c.answer
    assert backend.complete_prompt(FEW_SHOT, GREEDY).answer == c.answer


def test_complete_prompt_reasons_when_the_prompt_opens_think(backend):
    prompt = backend.render(ASK)  # ends with "<think>\n"
    c = backend.complete_prompt(prompt, GREEDY)
    assert c.accounting.reasoning_tokens == 12 and c.reasoning and c.answer
    assert (c.reasoning, c.answer) == (backend.chat(ASK, GREEDY).reasoning, backend.chat(ASK, GREEDY).answer)


def test_complete_prompt_stop_strings_end_free_text(backend):
    long = GREEDY.model_copy(update={"max_answer_tokens": 48})
    full = backend.complete_prompt(FEW_SHOT, long)
    stop = next(ch for ch in full.answer[3:] if ch.isascii() and ch.isprintable() and ch.strip())
    cut = backend.complete_prompt(FEW_SHOT, long.model_copy(update={"stop": (stop,)}))
    assert cut.answer == full.answer[: full.answer.find(stop)].strip()
    assert cut.accounting.answer_tokens < full.accounting.answer_tokens


def test_complete_prompt_with_schema_is_grammar_constrained(backend):
    out = backend.complete_prompt(FEW_SHOT, GREEDY.model_copy(update={"max_answer_tokens": 64}), Order)
    assert isinstance(out, StructuredCompletion) and isinstance(out.value, Order)
    assert Order.model_validate_json(out.answer) == out.value and out.answer.endswith("}")
    assert len(out.attempts) == 1 and out.attempts[0].error is None


def test_complete_prompt_with_schema_does_not_retry(backend):
    with pytest.raises(StructuredOutputError, match="size is never acceptable") as e:
        backend.complete_prompt(FEW_SHOT, GREEDY.model_copy(update={"max_answer_tokens": 32}), Never)
    assert len(e.value.attempts) == 1


# --- on_call ------------------------------------------------------------------------------


def test_on_call_reports_every_call_as_it_finishes(tiny_model_path):
    events: list[CallEvent] = []
    with load_backend(tiny_model_path, config=BackendConfig(on_call=events.append)) as b:
        c = b.chat(ASK, GREEDY)
        p = b.complete_prompt(FEW_SHOT, GREEDY)
        s = b.structured(ASK, Order, GREEDY.model_copy(update={"max_answer_tokens": 64}))
    assert [e.kind for e in events] == ["chat", "complete", "structured"]
    chat, complete, structured = events
    assert chat.prompt == b.render(ASK) and chat.prompt_sha256 == sha256_text(chat.prompt) == c.prompt_sha256
    assert (chat.reasoning, chat.answer, chat.reasoning_truncated) == (c.reasoning, c.answer, c.reasoning_truncated)
    assert chat.accounting == c.accounting and chat.accounting.first_token_seconds is not None
    assert chat.accounting.first_token_seconds <= chat.accounting.wall_seconds
    assert chat.model_sha256 == b.info.sha256 and chat.settings == GREEDY
    assert complete.prompt == FEW_SHOT and complete.answer == p.answer and complete.schema_name is None
    assert structured.schema_name == "Order" and structured.answer == s.answer and structured.error is None


def test_on_call_sees_failed_attempts_before_the_error(tiny_model_path):
    """A planning run killed mid-way still has every finished thought: events fire per attempt, not at the end."""
    events: list[CallEvent] = []
    with LlamaCppBackend(tiny_model_path) as b:
        b.on_call = events.append
        with pytest.raises(StructuredOutputError) as e:
            b.structured(ASK, Never, GREEDY.model_copy(update={"max_answer_tokens": 32}), max_retries=1)
    assert [(ev.attempt, ev.kind) for ev in events] == [(1, "structured"), (2, "structured")]
    assert all("size is never acceptable" in (ev.error or "") for ev in events)
    assert [ev.answer for ev in events] == [a.completion.answer for a in e.value.attempts]
    assert events[0].prompt != events[1].prompt  # the retry carried the error back


def test_failing_observer_is_logged_not_fatal(backend, caplog):
    def broken(event: CallEvent) -> None:
        raise RuntimeError("disk full")

    backend.on_call = broken
    try:
        with caplog.at_level(logging.WARNING, logger="defai_swarm.llm.calls"):
            c = backend.complete_prompt(FEW_SHOT, GREEDY)
    finally:
        backend.on_call = None
    assert c.answer and any("on_call observer failed" in r.message for r in caplog.records)
