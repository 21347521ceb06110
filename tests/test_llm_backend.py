"""LlamaCppBackend on the tiny random-weight model: plumbing, not meaning."""
from __future__ import annotations

import hashlib
import shutil
import threading
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from defai_swarm.llm import (
    SWARM_MODEL_ENV,
    SWARM_MODEL_FAMILY_ENV,
    Accounting,
    BackendConfig,
    LlamaCppBackend,
    ModelBackend,
    ModelLoadError,
    ModelNotFoundError,
    PromptFormatError,
    SamplingSettings,
    SchemaGrammarError,
    StructuredCompletion,
    StructuredOutputError,
    build_tiny_model,
    file_sha256,
    load_backend,
)
from defai_swarm.llm.template import sha256_text
from tests.llm_fixtures import Never

FAST = SamplingSettings.deterministic(seed=0, max_reasoning_tokens=24, max_answer_tokens=24)
ASK = [{"role": "user", "content": "Should the swarm rebalance into stablecoins?"}]


class Decision(BaseModel):
    action: Literal["buy", "sell", "hold"]
    size: int = Field(ge=1, le=5)
    urgent: bool


@pytest.fixture(scope="module")
def backend(tiny_model_path) -> LlamaCppBackend:
    with load_backend(tiny_model_path) as b:
        yield b


def _key(c):
    return (c.reasoning, c.answer, c.reasoning_truncated)


# --- loading --------------------------------------------------------------------------


def test_model_info(backend, tiny_model_path):
    info = backend.info
    assert info.sha256 == hashlib.sha256(tiny_model_path.read_bytes()).hexdigest()
    assert info.size_bytes == tiny_model_path.stat().st_size
    assert info.architecture == "qwen2"
    assert info.name == "tiny-r1-qwen2-random"
    assert info.chat_template and "<｜Assistant｜><think>\\n" in info.chat_template
    assert info.template_source == "gguf"
    assert info.n_ctx == 4096 and info.n_params > 0
    assert isinstance(backend, ModelBackend)


@pytest.mark.model  # builds and loads a model of its own
def test_no_template_and_no_family_is_a_clear_error_not_r1(tmp_path, monkeypatch):
    """A GGUF without a template used to get R1's markers silently; now chat refuses in one line."""
    monkeypatch.delenv(SWARM_MODEL_FAMILY_ENV, raising=False)
    path = build_tiny_model(tmp_path / "bare.gguf", chat_template=None)
    with load_backend(path) as b:
        assert b.info.chat_template is None and b.info.template_source == "none" and b.info.family is None
        for call in (lambda: b.render(ASK), lambda: b.chat(ASK, FAST), lambda: b.structured(ASK, Decision, FAST)):
            with pytest.raises(PromptFormatError, match="bare.gguf has no chat template") as e:
                call()
            assert "\n" not in str(e.value) and "SWARM_MODEL_FAMILY" in str(e.value) and "gemma" in str(e.value)
        assert b.complete_prompt("Q: 2+2?\nA:", FAST).accounting.answer_tokens > 0  # a raw prompt needs no format


def test_hash_cache_follows_file_changes(tmp_path, tiny_model_path):
    copy = tmp_path / "copy.gguf"
    shutil.copy(tiny_model_path, copy)
    first = file_sha256(copy)
    with open(copy, "ab") as f:
        f.write(b"\0")
    assert file_sha256(copy) == hashlib.sha256(copy.read_bytes()).hexdigest() != first


def test_missing_file(tmp_path):
    with pytest.raises(ModelNotFoundError, match=SWARM_MODEL_ENV) as e:
        load_backend(tmp_path / "nope.gguf")
    assert "DeepSeek-R1-Distill-Qwen-1.5B" in str(e.value)


def test_no_path_and_no_env(monkeypatch):
    monkeypatch.delenv(SWARM_MODEL_ENV, raising=False)
    with pytest.raises(ModelNotFoundError, match=SWARM_MODEL_ENV):
        load_backend()


@pytest.mark.parametrize("content", [b"not a model at all", b"GGUF" + bytes(range(256)) * 4])
def test_unloadable_file(tmp_path, content):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(content)
    with pytest.raises(ModelLoadError, match="SWARM_MODEL"):
        load_backend(bad)


def test_swarm_model_env_is_honored(monkeypatch, tiny_model_path):
    monkeypatch.setenv(SWARM_MODEL_ENV, str(tiny_model_path))
    with load_backend() as b:
        assert b.info.path == str(tiny_model_path.resolve())
    with load_backend(config=BackendConfig(n_ctx=1024)) as b:  # config without a path: env too
        assert b.info.n_ctx == 1024 and b.info.path == str(tiny_model_path.resolve())


# --- chat -----------------------------------------------------------------------------


def test_chat_result_and_accounting(tiny_model_path):
    with LlamaCppBackend(tiny_model_path) as b:
        c = b.chat(ASK, FAST)
        again = b.chat(ASK, FAST)
    acc = c.accounting
    assert c.prompt_sha256 == sha256_text(b.render(ASK))
    assert c.model_sha256 == b.info.sha256 and c.settings == FAST
    assert 0 < acc.reasoning_tokens <= 24 and 0 < acc.answer_tokens <= 24
    assert acc.prompt_tokens > 10 and acc.wall_seconds > 0
    generated = acc.reasoning_tokens + acc.answer_tokens
    assert acc.tokens_per_second == pytest.approx(generated / acc.wall_seconds, rel=1e-9)
    # a fresh model evaluates the whole prompt; the same prompt again comes from the KV cache
    assert acc.cached_prompt_tokens == 0
    assert again.accounting.cached_prompt_tokens == acc.prompt_tokens - 1
    assert _key(again) == _key(c)


def test_reasoning_budget_forces_an_answer(backend):
    c = backend.chat(ASK, FAST)  # random weights never close </think> within 24 tokens here
    assert c.reasoning_truncated and c.accounting.reasoning_tokens == 24
    assert c.reasoning and c.answer


def test_closed_reasoning_path(tiny_model_path):
    """Pretend the 4th distinct generated token is </think>: reasoning ends there, not truncated."""
    with LlamaCppBackend(tiny_model_path) as b:
        seen: list = []
        decode = b._decode
        b._decode = lambda *a, **k: seen.append(decode(*a, **k)) or seen[-1]
        b.chat(ASK, FAST)
        ids = seen[0].ids
        k = next(i for i in range(3, len(ids)) if ids[i] not in ids[:i])
        b._think_close_id = ids[k]
        seen.clear()
        c = b.chat(ASK, FAST)
    assert not c.reasoning_truncated and c.accounting.reasoning_tokens == k and c.answer
    # phase 2 found prompt + reasoning in the KV cache: only "</think>\n\n" is evaluated
    assert seen[1].cached == c.accounting.prompt_tokens + k


def test_end_of_turn_while_reasoning_gives_empty_answer(tiny_model_path):
    with LlamaCppBackend(tiny_model_path) as b:
        first = b._llm.tokenize(b.chat(ASK, FAST).reasoning.encode(), add_bos=False)[0]
        real = b._lib

        class EogAt:
            def __getattr__(self, name):
                return getattr(real, name)

            def llama_vocab_is_eog(self, vocab, tok):
                return tok == first or real.llama_vocab_is_eog(vocab, tok)

        b._lib = EogAt()
        c = b.chat(ASK, FAST)
    assert c.reasoning_truncated and c.answer == "" and c.accounting.answer_tokens == 0


def test_deterministic_across_calls_and_loads(backend, tiny_model_path):
    a = backend.chat(ASK, FAST)
    b = backend.chat(ASK, FAST)
    with load_backend(tiny_model_path) as other:
        c = other.chat(ASK, FAST)
    assert _key(a) == _key(b) == _key(c)


def test_seeded_sampling_is_reproducible(backend):
    hot = SamplingSettings(seed=7, max_reasoning_tokens=24, max_answer_tokens=24)
    assert hot.temperature == 0.6 and hot.top_p == 0.95
    runs = {_key(backend.chat(ASK, hot)) for _ in range(3)}
    assert len(runs) == 1
    assert _key(backend.chat(ASK, hot.model_copy(update={"seed": 8}))) not in runs


def test_unseeded_call_records_its_seed(backend):
    c = backend.chat(ASK, SamplingSettings(max_reasoning_tokens=8, max_answer_tokens=8))
    assert c.settings.seed is not None
    replay = backend.chat(ASK, c.settings)
    assert _key(replay) == _key(c)


def test_concurrent_callers_are_serialized(backend):
    prompts = [[{"role": "user", "content": f"thought {i % 4}"}] for i in range(8)]
    expected = [backend.chat(p, FAST) for p in prompts]
    results: list = [None] * 8
    errors: list = []

    def work(i):
        try:
            results[i] = backend.chat(prompts[i], FAST)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert [_key(r) for r in results] == [_key(e) for e in expected]


# --- structured output ----------------------------------------------------------------


def test_structured_returns_valid_instance(backend):
    settings = SamplingSettings.deterministic(max_reasoning_tokens=16, max_answer_tokens=64)
    out = backend.structured(ASK, Decision, settings)
    assert isinstance(out, StructuredCompletion) and isinstance(out.value, Decision)
    assert out.value.action in ("buy", "sell", "hold") and 1 <= out.value.size <= 5
    assert Decision.model_validate_json(out.answer) == out.value
    assert out.reasoning and out.accounting.reasoning_tokens == 16
    assert len(out.attempts) == 1 and out.attempts[0].error is None
    assert backend.structured(ASK, Decision, settings).value == out.value


def test_schema_without_grammar_fails_loudly(backend):
    class Ticker(BaseModel):
        code: str = Field(pattern=r"[A-Z]{3}")

    with pytest.raises(SchemaGrammarError):
        backend.structured(ASK, Ticker, FAST)


@pytest.mark.parametrize("max_retries", [0, 2])
def test_validation_retries_are_bounded(backend, max_retries):
    settings = SamplingSettings.deterministic(max_reasoning_tokens=8, max_answer_tokens=32)
    with pytest.raises(StructuredOutputError) as e:
        backend.structured(ASK, Never, settings, max_retries=max_retries)
    attempts = e.value.attempts
    assert len(attempts) == max_retries + 1
    assert all("size is never acceptable" in a.error for a in attempts)
    # each retry is a new prompt carrying the previous error back to the model
    assert len({a.completion.prompt_sha256 for a in attempts}) == len(attempts)
    total = Accounting.total([a.completion.accounting for a in attempts])
    assert total.answer_tokens == sum(a.completion.accounting.answer_tokens for a in attempts)
