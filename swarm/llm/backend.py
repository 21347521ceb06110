"""The local model backend: one GGUF file run in-process by llama-cpp-python.

A call decodes in two phases sharing one prompt:
  1. reasoning: free decoding after the template's `<think>\\n` until `</think>`,
     end of turn, or `max_reasoning_tokens`;
  2. answer: decoding continues from `prompt + reasoning + "</think>\\n\\n"` with at
     most `max_answer_tokens` (and, for structured output, under a JSON grammar; a
     grammar over the whole completion would forbid R1's reasoning).
Phase 2 starts with the exact token ids phase 1 produced, so llama-cpp-python's
automatic longest-common-prefix reuse finds the whole prompt and reasoning in the KV
cache and only evaluates the few new tokens.  The same reuse makes several "thoughts"
on a shared prompt cheap: only the differing suffix is evaluated.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence, TypeVar, runtime_checkable

from pydantic import BaseModel, ValidationError

from .errors import HOW_TO_GET_A_MODEL, ModelError, ModelLoadError, ModelNotFoundError, StructuredOutputError
from .grammar import grammar_for
from .template import THINK_CLOSE, ChatTemplate, as_messages, sha256_text, split_reasoning
from .types import (
    Accounting,
    Attempt,
    ChatMessage,
    Completion,
    ModelInfo,
    SamplingSettings,
    StructuredCompletion,
)

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
Messages = Sequence[ChatMessage | Mapping[str, str]]

SWARM_MODEL_ENV = "SWARM_MODEL"
DEFAULT_N_CTX = 4096  # llama-cpp-python's default of 512 is far too small for R1 reasoning


@runtime_checkable
class ModelBackend(Protocol):
    """What agents need from a model; `LlamaCppBackend` is the implementation that ships."""

    info: ModelInfo

    def chat(self, messages: Messages, settings: SamplingSettings | None = None) -> Completion: ...

    def structured(
        self, messages: Messages, schema: type[T], settings: SamplingSettings | None = None, max_retries: int = 2
    ) -> StructuredCompletion[T]: ...


# --- locating and fingerprinting the model file ---------------------------------------

_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, streamed; cached by (path, size, mtime) so a reload costs nothing."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key in _hash_cache:
            return _hash_cache[key]
    with open(p, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    with _hash_lock:
        _hash_cache[key] = digest
    return digest


def resolve_model_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The explicit path, else `$SWARM_MODEL`; `ModelNotFoundError` if neither names a file."""
    source = "argument"
    if path is None or str(path) == "":
        path, source = os.environ.get(SWARM_MODEL_ENV) or None, f"${SWARM_MODEL_ENV}"
    if path is None:
        raise ModelNotFoundError(f"No model path given and {SWARM_MODEL_ENV} is not set. {HOW_TO_GET_A_MODEL}")
    p = Path(path).expanduser()
    if not p.is_file():
        raise ModelNotFoundError(f"Model file not found: {p} (from {source}). {HOW_TO_GET_A_MODEL}")
    return p


def _check_gguf(p: Path) -> None:
    try:
        with open(p, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelLoadError(f"Cannot read model file {p}: {e}. {HOW_TO_GET_A_MODEL}") from e
    if magic != b"GGUF":
        raise ModelLoadError(f"{p} is not a GGUF file (starts with {magic!r}). {HOW_TO_GET_A_MODEL}")


# --- the backend ------------------------------------------------------------------------


class BackendConfig(BaseModel):
    """Loading options, e.g. from a settings file; `model_path=None` means `$SWARM_MODEL`."""

    model_path: str | None = None
    n_ctx: int = DEFAULT_N_CTX
    n_threads: int | None = None
    n_batch: int = 512


@dataclass
class _Decoded:
    ids: list[int]
    text: str
    end: str  # "eos" (end of turn), "think" (the </think> token), "think-text" (</think> spelled out) or "length"
    cached: int  # prompt tokens reused from the KV cache


class LlamaCppBackend:
    """A GGUF model behind a lock.

    One `llama_cpp.Llama` is not thread-safe: it owns a single KV cache, the
    token/logit bookkeeping of the last evaluation and the active sampler, and its
    C calls release the GIL, so two threads decoding at once would corrupt each
    other's state.  Every call therefore holds `self._lock` for its whole duration
    (a structured call with retries included, which also keeps results reproducible);
    concurrent callers simply queue.  Use one backend per worker to decode in parallel.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        n_batch: int = 512,
        **llama_kwargs: Any,
    ):
        from llama_cpp import Llama, llama_cpp as lib

        model_path = resolve_model_path(path)
        _check_gguf(model_path)
        try:
            self._llm = Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_threads=n_threads or os.cpu_count(),
                n_batch=n_batch,
                verbose=False,
                **llama_kwargs,
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise ModelLoadError(f"llama.cpp could not load {model_path}: {e}. {HOW_TO_GET_A_MODEL}") from e
        llm = self._llm
        self._lib = lib
        vocab = lib.llama_model_get_vocab(llm.model)
        if vocab is None:
            raise ModelLoadError(f"llama.cpp loaded {model_path} without a vocabulary. {HOW_TO_GET_A_MODEL}")
        self._vocab = vocab
        self._lock = threading.Lock()
        self._grammars: dict[type, Any] = {}

        meta = dict(llm.metadata)
        bos, eos = llm.token_bos(), llm.token_eos()
        self._bos = bos
        self._add_bos = meta.get("tokenizer.ggml.add_bos_token", "false") == "true"
        self._template = ChatTemplate(
            meta.get("tokenizer.chat_template"),
            bos_token=self._token_text(bos),
            eos_token=self._token_text(eos),
        )
        close = llm.tokenize(THINK_CLOSE.encode(), add_bos=False, special=True)
        self._think_close_id = close[0] if len(close) == 1 else None  # else: match the text
        self._answer_prefix = llm.tokenize(f"{THINK_CLOSE}\n\n".encode(), add_bos=False, special=True)

        self.info = ModelInfo(
            path=str(model_path.resolve()),
            sha256=file_sha256(model_path),
            size_bytes=model_path.stat().st_size,
            architecture=meta.get("general.architecture"),
            name=meta.get("general.name"),
            chat_template=meta.get("tokenizer.chat_template"),
            template_source=self._template.source,
            n_params=int(lib.llama_model_n_params(llm.model)),
            n_ctx=llm.n_ctx(),
            metadata=meta,
        )

    # -- public API --

    def render(self, messages: Messages) -> str:
        """The exact prompt string a call with these messages sends to the model."""
        return self._template.render(messages)

    def chat(self, messages: Messages, settings: SamplingSettings | None = None) -> Completion:
        """Reason, then answer.  If the reasoning budget runs out, `</think>` is appended
        and the model must answer anyway (`reasoning_truncated` is set); if the model
        ends its turn while still reasoning, the answer is empty."""
        settings = _effective(settings)
        prompt = self.render(messages)
        with self._lock:
            return self._complete(prompt, settings, grammar=None)

    def structured(
        self,
        messages: Messages,
        schema: type[T],
        settings: SamplingSettings | None = None,
        max_retries: int = 2,
        *,
        instruct: bool = True,
    ) -> StructuredCompletion[T]:
        """A validated `schema` instance: reasoning first, then JSON under a grammar.

        `instruct` appends the JSON schema to the last user turn (the grammar forces
        the format, but the model reasons better knowing it).  A pydantic
        `ValidationError` (e.g. a field validator) is fed back as a new user turn, up
        to `max_retries` times; then `StructuredOutputError` carries every attempt.
        """
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        settings = _effective(settings)
        convo = as_messages(messages)
        if instruct:
            convo = _with_schema_instruction(convo, schema)
        attempts: list[Attempt] = []
        with self._lock:
            grammar = self._grammar(schema)
            for _ in range(max_retries + 1):
                completion = self._complete(self.render(convo), settings, grammar=grammar)
                try:
                    value = schema.model_validate_json(completion.answer)
                except ValidationError as e:
                    error = _describe(e)
                    attempts.append(Attempt(completion=completion, error=error))
                    convo = [
                        *convo,
                        ChatMessage(role="assistant", content=completion.answer),
                        ChatMessage(role="user", content=f"That JSON is invalid: {error}\n"
                                    "Reply with a corrected JSON object."),
                    ]
                    continue
                attempts.append(Attempt(completion=completion))
                fields = dict(completion)
                fields["accounting"] = Accounting.total([a.completion.accounting for a in attempts])
                return StructuredCompletion[schema](**fields, value=value, attempts=attempts)
        raise StructuredOutputError(
            f"No valid {schema.__name__} after {len(attempts)} attempts; last error: {attempts[-1].error}",
            attempts,
        )

    def close(self) -> None:
        with self._lock:
            self._llm.close()

    def __enter__(self) -> "LlamaCppBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals (callers hold self._lock) --

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def _grammar(self, schema: type[BaseModel]) -> Any:
        if schema not in self._grammars:
            self._grammars[schema] = grammar_for(schema, self._llm)
        return self._grammars[schema]

    def _tokenize_prompt(self, prompt: str) -> list[int]:
        tokens = self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        if self._add_bos and self._bos >= 0 and tokens[:1] != [self._bos]:
            tokens.insert(0, self._bos)
        if len(tokens) >= self._llm.n_ctx():
            raise ModelError(f"Prompt has {len(tokens)} tokens; the context holds {self._llm.n_ctx()}.")
        return tokens

    def _reusable_prefix(self, tokens: list[int]) -> int:
        """How many of `tokens` Llama.generate will take from the KV cache (mirrors its logic)."""
        llm = self._llm
        held = llm.input_ids[: llm.n_tokens].tolist()
        common = llm.longest_token_prefix(held, tokens)
        if common < len(tokens):
            return common
        if len(held) == len(tokens) and not getattr(llm, "_requires_eval", True):
            return common
        return max(common - 1, 0)  # the last token is re-evaluated to refresh the logits

    def _decode(self, tokens: list[int], max_tokens: int, s: SamplingSettings,
                grammar: Any = None, stop_at_think: bool = False) -> _Decoded:
        llm = self._llm
        max_tokens = min(max_tokens, llm.n_ctx() - len(tokens))
        cached = self._reusable_prefix(tokens)
        ids: list[int] = []
        end = "length"
        if max_tokens > 0:
            assert s.seed is not None, "settings reach _decode through _effective, which fixes the seed"
            llm.set_seed(s.seed)
            gen = llm.generate(tokens, temp=s.temperature, top_p=s.top_p, top_k=0, min_p=0.0,
                               repeat_penalty=1.0, grammar=grammar)
            try:
                for tok in gen:
                    if self._lib.llama_vocab_is_eog(self._vocab, tok):
                        end = "eos"
                        break
                    if stop_at_think and tok == self._think_close_id:
                        end = "think"
                        break
                    ids.append(tok)
                    # also catch </think> spelled in several tokens (vocabularies without the special token)
                    if stop_at_think and THINK_CLOSE.encode() in llm.detokenize(ids[-len(THINK_CLOSE):]):
                        end = "think-text"
                        break
                    if len(ids) >= max_tokens:
                        break
            finally:
                gen.close()
        text = llm.detokenize(ids, prev_tokens=tokens).decode("utf-8", errors="replace")
        return _Decoded(ids, text, end, cached)

    def _complete(self, prompt: str, s: SamplingSettings, grammar: Any) -> Completion:
        # Every prompt is logged at DEBUG: the test suite's secret scan reads them (no key may ever be in one).
        log.debug("model prompt sha256=%s:\n%s", sha256_text(prompt), prompt)
        start = time.perf_counter()
        tokens = self._tokenize_prompt(prompt)
        think = self._decode(tokens, s.max_reasoning_tokens, s, stop_at_think=True)
        raw = think.text
        if think.end.startswith("think"):
            raw = raw.split(THINK_CLOSE, 1)[0] + THINK_CLOSE
        split = split_reasoning(raw)
        answer_ids: list[int] = []
        answer = split.answer
        if think.end != "eos" or grammar is not None:
            if think.end == "think-text":  # rebuild the continuation from the text
                cont = tokens + self._llm.tokenize(f"{raw}\n\n".encode(), add_bos=False, special=True)
            else:
                cont = tokens + think.ids + self._answer_prefix
            if len(cont) < self._llm.n_ctx():
                out = self._decode(cont, s.max_answer_tokens, s, grammar=grammar)
                answer_ids, answer = out.ids, out.text.strip()
        wall = time.perf_counter() - start
        return Completion(
            reasoning=split.reasoning,
            answer=answer,
            reasoning_truncated=not think.end.startswith("think"),
            prompt_sha256=sha256_text(prompt),
            settings=s,
            accounting=Accounting.of(
                prompt_tokens=len(tokens),
                cached_prompt_tokens=think.cached,
                reasoning_tokens=len(think.ids),
                answer_tokens=len(answer_ids),
                wall_seconds=wall,
            ),
            model_sha256=self.info.sha256,
        )


def _effective(settings: SamplingSettings | None) -> SamplingSettings:
    settings = settings or SamplingSettings()
    if settings.seed is None:
        settings = settings.model_copy(update={"seed": secrets.randbelow(2**32)})
    return settings


def _with_schema_instruction(convo: list[ChatMessage], schema: type[BaseModel]) -> list[ChatMessage]:
    note = ("Answer with one JSON object that matches this JSON schema:\n"
            + json.dumps(schema.model_json_schema(), separators=(",", ":")))
    for i in range(len(convo) - 1, -1, -1):
        if convo[i].role == "user":
            return [*convo[:i], ChatMessage(role="user", content=f"{convo[i].content}\n\n{note}"), *convo[i + 1:]]
    return [*convo, ChatMessage(role="user", content=note)]


def _describe(e: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in e.errors(include_url=False)
    )


def load_backend(path: str | os.PathLike[str] | None = None, **kwargs: Any) -> ModelBackend:
    """Load the model at `path`, or at `$SWARM_MODEL` when `path` is None.

    `config=BackendConfig(...)` may be passed instead of keyword options; an explicit
    `path` wins over `config.model_path`, which wins over the environment.
    """
    spec = path if path is not None else os.environ.get(SWARM_MODEL_ENV)
    if isinstance(spec, str) and spec.lower().startswith(("http://", "https://")):  # an OpenAI-compatible server
        from .openai_backend import OpenAIServerBackend
        return OpenAIServerBackend(spec, **kwargs)
    config: BackendConfig | None = kwargs.pop("config", None)
    if config is not None:
        opts = config.model_dump(exclude={"model_path"})
        opts.update(kwargs)
        return LlamaCppBackend(path if path is not None else config.model_path, **opts)
    return LlamaCppBackend(path, **kwargs)
