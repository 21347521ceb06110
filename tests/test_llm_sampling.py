"""Top-k before the grammar (defai_swarm.llm.sampling) on the tiny real GGUF: valid output, greedy unchanged."""
from __future__ import annotations

import ctypes
from typing import Literal

import llama_cpp
import pytest
from pydantic import BaseModel, Field

from defai_swarm.llm import SamplingSettings, grammar_for, load_backend
from defai_swarm.llm.sampling import FIRST_WINDOW

PROMPT = "Intent: sell 2 WETH for DAI in 3 parts\nJSON:"


class Order(BaseModel):
    side: Literal["buy", "sell"]
    size: int = Field(ge=1, le=5)
    urgent: bool


class Rare(BaseModel):
    """Tokens the random model almost never ranks first: every step must look past its top-k."""

    word: Literal["zqxj", "qqzx"]


@pytest.fixture(scope="module")
def backend(tiny_model_path):
    with load_backend(tiny_model_path) as b:
        yield b


def _address(ptr) -> int | None:
    return ctypes.cast(ptr, ctypes.c_void_p).value


@pytest.fixture
def grammar_checks(monkeypatch, backend) -> list[int]:
    """Sizes of the candidate arrays a grammar sampler of `backend` is asked to check, not counting the
    one-token end-of-grammar probe after each token."""
    sizes: list[int] = []
    real_apply = llama_cpp.llama_sampler_apply

    def counting_apply(sampler, arr):
        grammars = {_address(g.ptr) for g in backend._grammars.values()}
        if _address(sampler) in grammars and arr._obj.size != 1:
            sizes.append(int(arr._obj.size))
        return real_apply(sampler, arr)

    monkeypatch.setattr(llama_cpp, "llama_sampler_apply", counting_apply)
    return sizes


def _sampled(seed: int, top_k: int) -> SamplingSettings:
    return SamplingSettings(temperature=1.0, top_p=1.0, top_k=top_k, seed=seed, max_answer_tokens=64)


def test_greedy_under_grammar_equals_llama_cpp_grammar_first(backend, grammar_checks):
    """Checking tokens in logit order until one passes picks what grammar-over-everything-then-argmax picks."""
    greedy = SamplingSettings.deterministic(max_answer_tokens=64)
    mine = backend.complete_prompt(PROMPT, greedy, Order)
    assert grammar_checks[0] == FIRST_WINDOW < backend._llm.n_vocab()  # not the whole vocabulary
    grammar_checks.clear()
    ids = backend._tokenize_prompt(PROMPT)
    raw = backend._llm.create_completion(ids, max_tokens=64, temperature=0.0, repeat_penalty=1.0,
                                         grammar=grammar_for(Order))
    assert raw["choices"][0]["text"].strip() == mine.answer
    assert Order.model_validate_json(mine.answer) == mine.value
    # the answer ends when the grammar is complete (nothing but whitespace could follow the closing brace)
    assert mine.answer.endswith("}") and mine.accounting.answer_tokens < 64


@pytest.mark.parametrize("seed", range(4))
def test_sampling_checks_only_the_top_k_and_stays_valid(backend, grammar_checks, seed):
    out = backend.complete_prompt(PROMPT, _sampled(seed, top_k=5), Order)
    assert Order.model_validate_json(out.answer) == out.value
    assert grammar_checks and grammar_checks[0] == 5  # top-k first, then the grammar
    assert max(grammar_checks) < backend._llm.n_vocab()  # never the whole vocabulary here


@pytest.mark.parametrize("settings", [SamplingSettings.deterministic(max_answer_tokens=32), _sampled(1, top_k=1),
                                      _sampled(2, top_k=0)], ids=["greedy", "top1-widened", "top_k=0-everything"])
def test_valid_tokens_outside_the_top_k_are_found(backend, settings):
    out = backend.complete_prompt(PROMPT, settings, Rare)
    assert out.value.word in ("zqxj", "qqzx") and Rare.model_validate_json(out.answer) == out.value
