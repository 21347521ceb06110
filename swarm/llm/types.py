"""Pydantic models at the boundary of the model layer (what agents and the audit log see)."""
from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T", bound=BaseModel)


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class SamplingSettings(BaseModel):
    """How to sample. Defaults are DeepSeek's R1 recommendation (temperature 0.6, top-p 0.95).

    Both token budgets are always finite: an R1 model can reason for thousands of
    tokens, and an unbounded call would hold the (serialized) model for minutes.
    `seed=None` means a fresh random seed per call; the seed actually used is
    recorded in `Completion.settings`, so any call can be replayed.
    """

    model_config = ConfigDict(frozen=True)

    temperature: float = Field(default=0.6, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    top_k: int = Field(default=40, ge=0, description="Candidates kept (0 = all); under a grammar, the k best "
                       "grammar-valid tokens, found lazily (see defai_swarm.llm.sampling)")
    min_p: float = Field(default=0.0, ge=0.0, le=1.0)
    seed: int | None = Field(default=None, ge=0, lt=2**32)
    max_reasoning_tokens: int = Field(default=1024, ge=0)
    max_answer_tokens: int = Field(default=512, ge=1)
    stop: tuple[str, ...] = Field(default=(), description="Free-text answers end before the first of these "
                                  "strings (e.g. the next few-shot example's label); ignored under a grammar")

    @classmethod
    def deterministic(cls, seed: int = 0, **overrides: Any) -> "SamplingSettings":
        """Greedy decoding with a fixed seed: identical outputs across calls and loads."""
        return cls(temperature=0.0, seed=seed, **overrides)


class ModelInfo(BaseModel):
    """What was loaded, for the audit log: the file's identity and its self-description."""

    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str
    size_bytes: int
    architecture: str | None
    name: str | None
    chat_template: str | None = Field(description="Template embedded in the GGUF, if any")
    template_source: Literal["gguf", "family", "none", "builtin"] = Field(
        description="Where the prompt format comes from: the GGUF's template, a declared family, or none "
        "(chat refuses; complete_prompt works). 'builtin' is only read from records of older versions.")
    family: str | None = Field(default=None, description="Declared model family, if any")
    n_params: int
    n_ctx: int
    metadata: dict[str, str] = Field(default_factory=dict, repr=False)


class Accounting(BaseModel):
    """Cost of one call. `tokens_per_second` = generated tokens / wall seconds (end to end)."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int
    cached_prompt_tokens: int = Field(description="Prompt tokens reused from the KV cache")
    reasoning_tokens: int
    answer_tokens: int
    wall_seconds: float
    tokens_per_second: float
    first_token_seconds: float | None = Field(default=None, description="From the call to its first generated "
                                              "token (prompt evaluation included); None if nothing was generated")

    @classmethod
    def of(cls, *, prompt_tokens: int, cached_prompt_tokens: int, reasoning_tokens: int,
           answer_tokens: int, wall_seconds: float, first_token_seconds: float | None = None) -> "Accounting":
        generated = reasoning_tokens + answer_tokens
        return cls(
            prompt_tokens=prompt_tokens,
            cached_prompt_tokens=cached_prompt_tokens,
            reasoning_tokens=reasoning_tokens,
            answer_tokens=answer_tokens,
            wall_seconds=wall_seconds,
            tokens_per_second=generated / wall_seconds if wall_seconds > 0 else 0.0,
            first_token_seconds=first_token_seconds,
        )

    @classmethod
    def total(cls, parts: list["Accounting"]) -> "Accounting":
        """Sum of several calls (e.g. every attempt of a structured call)."""
        return cls.of(
            prompt_tokens=sum(p.prompt_tokens for p in parts),
            cached_prompt_tokens=sum(p.cached_prompt_tokens for p in parts),
            reasoning_tokens=sum(p.reasoning_tokens for p in parts),
            answer_tokens=sum(p.answer_tokens for p in parts),
            wall_seconds=sum(p.wall_seconds for p in parts),
            first_token_seconds=parts[0].first_token_seconds if parts else None,
        )


class Completion(BaseModel):
    """One model answer with its reasoning kept apart (R1's `reasoning</think>answer`)."""

    model_config = ConfigDict(frozen=True)

    reasoning: str
    answer: str
    reasoning_truncated: bool = Field(description="True if the model never closed </think>")
    prompt_sha256: str = Field(description="sha256 of the full rendered prompt (UTF-8)")
    settings: SamplingSettings = Field(description="Effective settings, seed included")
    accounting: Accounting
    model_sha256: str


class Attempt(BaseModel):
    """One try of a structured call: what the model said, and why it was rejected."""

    model_config = ConfigDict(frozen=True)

    completion: Completion
    error: str | None = None


class StructuredCompletion(Completion, Generic[T]):
    """A completion whose answer validated as `value`.

    The inherited fields describe the final, successful attempt except `accounting`,
    which totals every attempt (the real cost of getting `value`).
    """

    value: T
    attempts: list[Attempt]


class CallEvent(BaseModel):
    """One model call as it finished, for an `on_call` observer (e.g. a planner logging its thoughts live).

    Fired after every decode: each attempt of a structured call is its own event (`attempt`,
    `error` = why that answer was rejected, None if it was accepted or not validated).
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["chat", "structured", "complete"]
    prompt_sha256: str
    prompt: str = Field(description="The full rendered prompt (never holds secrets: the same text is logged)")
    reasoning: str
    answer: str = Field(description="The raw answer text, before any validation")
    reasoning_truncated: bool
    accounting: Accounting = Field(description="Token counts and seconds of this call")
    settings: SamplingSettings
    model_sha256: str
    schema_name: str | None = None
    attempt: int = 1
    error: str | None = None

    @classmethod
    def of(cls, kind: Literal["chat", "structured", "complete"], prompt: str, completion: Completion,
           schema: type[BaseModel] | None = None, attempt: int = 1, error: str | None = None) -> "CallEvent":
        """The event of one finished call (what every backend reports to its observer)."""
        return cls(kind=kind, prompt_sha256=completion.prompt_sha256, prompt=prompt, reasoning=completion.reasoning,
                   answer=completion.answer, reasoning_truncated=completion.reasoning_truncated,
                   accounting=completion.accounting, settings=completion.settings,
                   model_sha256=completion.model_sha256, schema_name=schema.__name__ if schema is not None else None,
                   attempt=attempt, error=error)


class CallProgress(BaseModel):
    """A model call under way, for an `on_progress` observer (e.g. a progress line): fired as each token is generated.

    `tokens` counts what this call generated so far, reasoning and answer (a structured call's retry is a new call
    and starts again at 1).  In-process these are the decoded tokens, exactly what `Accounting` counts at the end;
    a server streams its tokens (one SSE chunk each on llama.cpp servers), so `tokens` counts the chunks.  The
    observer runs on the decoding thread (in-process: under the model lock): keep it quick, never call the backend.
    """

    model_config = ConfigDict(frozen=True)

    prompt_sha256: str = Field(description="The call's rendered prompt, as in its CallEvent")
    phase: Literal["reasoning", "answer"]
    tokens: int = Field(ge=0, description="Tokens generated so far by this call (both phases)")
    seconds: float = Field(ge=0, description="Since the call started (prompt evaluation included)")

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0
