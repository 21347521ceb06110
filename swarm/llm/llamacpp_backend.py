"""The in-process model backend: one GGUF file run in-process by llama-cpp-python.

The prompt format comes from the GGUF's chat template or a declared family (see
template.py); `complete_prompt` takes a prompt the caller rendered itself (few-shot
prompts for base models).  For a reasoning format (R1) a call decodes in two phases
sharing one prompt:
  1. reasoning: free decoding after the template's `<think>\\n` until `</think>`,
     end of turn, or `max_reasoning_tokens`;
  2. answer: decoding continues from `prompt + reasoning + "</think>\\n\\n"` with at
     most `max_answer_tokens` (and, for structured output, under a JSON grammar; a
     grammar over the whole completion would forbid R1's reasoning).
Phase 2 starts with the exact token ids phase 1 produced, so llama-cpp-python's
automatic longest-common-prefix reuse finds the whole prompt and reasoning in the KV
cache and only evaluates the few new tokens.  The same reuse makes several "thoughts"
on a shared prompt cheap: only the differing suffix is evaluated.  Other formats decode
the answer only.  Tokens are chosen by `sampling.TokenSampler` (the grammar is applied
lazily, so constrained decoding stays fast on 262k-token vocabularies), and every call
is reported to the optional `on_call` observer as it finishes; every generated token to the
optional `on_progress` observer while it runs (`CallProgress`: a progress line for a call that takes minutes).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

from pydantic import BaseModel, ValidationError

from .calls import (
    CallMeter,
    describe_validation_error,
    effective_settings,
    notify,
    structured_completion,
    validated_once,
    with_schema_instruction,
)
from .errors import HOW_TO_GET_A_MODEL, ModelError, ModelLoadError, ModelNotFoundError, StructuredOutputError
from .grammar import grammar_for
from .protocol import (
    DEFAULT_N_CTX,
    SWARM_MODEL_ENV,
    SWARM_MODEL_FAMILY_ENV,
    CallObserver,
    Messages,
    ProgressObserver,
    T,
)
from .sampling import GrammarSampler, TokenSampler
from .template import THINK_CLOSE, THINK_OPEN, ChatTemplate, as_messages, sha256_text, split_reasoning
from .types import (
    Accounting,
    Attempt,
    CallEvent,
    ChatMessage,
    Completion,
    ModelInfo,
    SamplingSettings,
    StructuredCompletion,
)

log = logging.getLogger(__name__)

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


@dataclass
class _Decoded:
    ids: list[int]
    text: str
    end: str  # "eos" (end of turn), "think" (the </think> token), "think-text" (</think> spelled out),
    #           "grammar" (the grammar is complete), "stop" (a stop string) or "length"
    cached: int  # prompt tokens reused from the KV cache
    first_token_at: float | None = None  # perf_counter() when the first token was chosen


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
        family: str | None = None,
        on_call: CallObserver | None = None,
        on_progress: ProgressObserver | None = None,
        **llama_kwargs: Any,
    ):
        from llama_cpp import Llama
        from llama_cpp import llama_cpp as lib

        self.on_call: CallObserver | None = on_call
        self.on_progress: ProgressObserver | None = on_progress
        model_path = resolve_model_path(path)
        family = family or os.environ.get(SWARM_MODEL_FAMILY_ENV) or None
        if family:  # an unknown family fails before the model is loaded
            ChatTemplate.select(gguf_template=None, family=family, model=model_path.name)
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
        self._grammars: dict[type, GrammarSampler] = {}

        meta = dict(llm.metadata)
        bos, eos = llm.token_bos(), llm.token_eos()
        self._bos = bos
        self._add_bos = meta.get("tokenizer.ggml.add_bos_token", "false") == "true"
        self._template = ChatTemplate.select(
            gguf_template=meta.get("tokenizer.chat_template"),
            family=family,
            model=model_path.name,
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
            family=self._template.family,
            n_params=int(lib.llama_model_n_params(llm.model)),
            n_ctx=llm.n_ctx(),
            metadata=meta,
        )

    # -- public API --

    def render(self, messages: Messages) -> str:
        """The exact prompt string a call with these messages sends to the model
        (`PromptFormatError` if the model's prompt format is unknown)."""
        return self._template.render(messages)

    def chat(self, messages: Messages, settings: SamplingSettings | None = None) -> Completion:
        """Reason (reasoning formats only), then answer.  If the reasoning budget runs out,
        `</think>` is appended and the model must answer anyway (`reasoning_truncated` is
        set); if the model ends its turn while still reasoning, the answer is empty."""
        settings = effective_settings(settings)
        prompt = self.render(messages)
        with self._lock:
            c = self._complete(prompt, settings, grammar=None, reasoning=self._template.reasoning)
            self._notify("chat", prompt, c)
            return c

    def structured(
        self,
        messages: Messages,
        schema: type[T],
        settings: SamplingSettings | None = None,
        max_retries: int = 2,
        *,
        instruct: bool = True,
    ) -> StructuredCompletion[T]:
        """A validated `schema` instance: reasoning first (reasoning formats), then JSON under a grammar.

        `instruct` appends the JSON schema to the last user turn (the grammar forces
        the format, but the model reasons better knowing it).  A pydantic
        `ValidationError` (e.g. a field validator) is fed back as a new user turn, up
        to `max_retries` times; then `StructuredOutputError` carries every attempt.
        """
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        settings = effective_settings(settings)
        convo = as_messages(messages)
        if instruct:
            convo = with_schema_instruction(convo, schema)
        self._template.render(convo)  # an unknown prompt format fails before any decoding
        attempts: list[Attempt] = []
        with self._lock:
            grammar = self._grammar(schema)
            for _ in range(max_retries + 1):
                prompt = self.render(convo)
                completion = self._complete(prompt, settings, grammar=grammar, reasoning=self._template.reasoning)
                try:
                    value = schema.model_validate_json(completion.answer)
                except ValidationError as e:
                    error = describe_validation_error(e)
                    attempts.append(Attempt(completion=completion, error=error))
                    self._notify("structured", prompt, completion, schema, len(attempts), error)
                    convo = [
                        *convo,
                        ChatMessage(role="assistant", content=completion.answer),
                        ChatMessage(role="user", content=f"That JSON is invalid: {error}\n"
                                    "Reply with a corrected JSON object."),
                    ]
                    continue
                attempts.append(Attempt(completion=completion))
                self._notify("structured", prompt, completion, schema, len(attempts))
                return structured_completion(schema, completion, value, attempts)
        raise StructuredOutputError(
            f"No valid {schema.__name__} after {len(attempts)} attempts; last error: {attempts[-1].error}",
            attempts,
        )

    @overload
    def complete_prompt(
        self, prompt: str, settings: SamplingSettings | None = None, schema: None = None
    ) -> Completion: ...

    @overload
    def complete_prompt(
        self, prompt: str, settings: SamplingSettings | None, schema: type[T]
    ) -> StructuredCompletion[T]: ...

    def complete_prompt(
        self, prompt: str, settings: SamplingSettings | None = None, schema: type[T] | None = None
    ) -> Completion | StructuredCompletion[T]:
        """Continue `prompt` exactly as given (no chat template): e.g. a few-shot prompt for a base model.

        A prompt ending in `<think>` (optionally followed by whitespace) is a reasoning
        prompt and decodes in two phases like `chat`; otherwise only the answer is decoded
        (`max_answer_tokens`, `settings.stop` ends free text).  With `schema` the answer is
        grammar-constrained JSON, validated once (a raw prompt has no turn to send an error
        back in): an invalid answer is a `StructuredOutputError` with that one attempt.
        """
        settings = effective_settings(settings)
        reasoning = prompt.rstrip().endswith(THINK_OPEN)
        with self._lock:
            grammar = self._grammar(schema) if schema is not None else None
            completion = self._complete(prompt, settings, grammar=grammar, reasoning=reasoning)
            if schema is None:
                self._notify("complete", prompt, completion)
                return completion
            return validated_once(schema, prompt, completion, self._notify)

    def close(self) -> None:
        with self._lock:
            for g in self._grammars.values():
                g.close()
            self._grammars.clear()
            self._llm.close()

    def __enter__(self) -> "LlamaCppBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals (callers hold self._lock) --

    def _notify(self, kind: Literal["chat", "structured", "complete"], prompt: str, c: Completion,
                schema: type[BaseModel] | None = None, attempt: int = 1, error: str | None = None) -> None:
        """Tell the observer about one finished call. It runs under the model lock: it must not call this backend."""
        notify(self.on_call, CallEvent.of(kind, prompt, c, schema, attempt, error))

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def _grammar(self, schema: type[BaseModel]) -> GrammarSampler:
        if schema not in self._grammars:
            self._grammars[schema] = GrammarSampler(self._llm, grammar_for(schema, self._llm))
        return self._grammars[schema]

    def _tokenize_prompt(self, prompt: str) -> list[int]:
        tokens = self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        if self._add_bos and self._bos >= 0 and tokens[:1] != [self._bos]:
            tokens.insert(0, self._bos)
        if len(tokens) >= self._llm.n_ctx():
            raise ModelError(f"Prompt has {len(tokens)} tokens; the context holds {self._llm.n_ctx()}.")
        return tokens

    def _reusable_prefix(self, tokens: list[int]) -> int:
        """How many of `tokens` can be taken from the KV cache (Llama.generate's rule)."""
        llm = self._llm
        if getattr(llm, "_is_recurrent", False) or getattr(llm, "_is_hybrid", False):
            return 0  # their state cannot be cut back to a prefix
        held = llm.input_ids[: llm.n_tokens].tolist()
        common = llm.longest_token_prefix(held, tokens)
        if common < len(tokens):
            return common
        if len(held) == len(tokens) and not getattr(llm, "_requires_eval", True):
            return common
        return max(common - 1, 0)  # the last token is re-evaluated to refresh the logits

    def _prefill(self, tokens: list[int]) -> int:
        """Evaluate what the KV cache lacks of `tokens`; returns the tokens reused."""
        llm = self._llm
        cached = self._reusable_prefix(tokens)
        if cached == 0:
            llm.reset()
        if cached < len(tokens):
            llm.n_tokens = cached  # eval() drops the cache from here on
            llm.eval(tokens[cached:])
        return cached

    def _decode(self, tokens: list[int], max_tokens: int, s: SamplingSettings, meter: CallMeter,
                grammar: GrammarSampler | None = None, stop_at_think: bool = False) -> _Decoded:
        llm = self._llm
        max_tokens = min(max_tokens, llm.n_ctx() - len(tokens))
        if max_tokens <= 0:
            return _Decoded([], "", "length", self._reusable_prefix(tokens))
        assert s.seed is not None, "settings reach _decode through _effective, which fixes the seed"
        cached = self._prefill(tokens)
        if grammar is not None:
            grammar.reset()
        stops = [x.encode() for x in s.stop if x] if grammar is None and not stop_at_think else []
        sampler = TokenSampler(llm, s, s.seed, grammar)
        ids: list[int] = []
        end, first_at, text = "length", None, b""
        try:
            while True:
                tok = sampler.sample()
                if first_at is None:
                    first_at = time.perf_counter()
                if self._lib.llama_vocab_is_eog(self._vocab, tok):
                    end = "eos"
                    break
                if stop_at_think and tok == self._think_close_id:
                    end = "think"
                    break
                ids.append(tok)
                meter.token("reasoning" if stop_at_think else "answer")
                # also catch </think> spelled in several tokens (vocabularies without the special token)
                if stop_at_think and THINK_CLOSE.encode() in llm.detokenize(ids[-len(THINK_CLOSE):]):
                    end = "think-text"
                    break
                if grammar is not None and sampler.grammar_complete():
                    end = "grammar"  # only trailing whitespace or the end could follow
                    break
                if stops:
                    text += llm.detokenize([tok], prev_tokens=tokens + ids[:-1])
                    if any(x in text for x in stops):
                        end = "stop"
                        break
                if len(ids) >= max_tokens:
                    break
                llm.eval([tok])
        finally:
            sampler.close()
        out = llm.detokenize(ids, prev_tokens=tokens).decode("utf-8", errors="replace")
        cut = [i for i in (out.find(x) for x in s.stop if x) if i >= 0] if end == "stop" else []
        if cut:
            out = out[:min(cut)]
        return _Decoded(ids, out, end, cached, first_at)

    def _complete(self, prompt: str, s: SamplingSettings, grammar: GrammarSampler | None,
                  reasoning: bool) -> Completion:
        # Every prompt is logged at DEBUG: the test suite's secret scan reads them (no key may ever be in one).
        log.debug("model prompt sha256=%s:\n%s", sha256_text(prompt), prompt)
        start = time.perf_counter()
        meter = CallMeter(self.on_progress, prompt, start)
        tokens = self._tokenize_prompt(prompt)
        if reasoning:
            think = self._decode(tokens, s.max_reasoning_tokens, s, meter, stop_at_think=True)
            raw = think.text
            if think.end.startswith("think"):
                raw = raw.split(THINK_CLOSE, 1)[0] + THINK_CLOSE
            split = split_reasoning(raw)
            answer, answer_ids, first_at = split.answer, [], think.first_token_at
            if think.end != "eos" or grammar is not None:
                if think.end == "think-text":  # rebuild the continuation from the text
                    cont = tokens + self._llm.tokenize(f"{raw}\n\n".encode(), add_bos=False, special=True)
                else:
                    cont = tokens + think.ids + self._answer_prefix
                if len(cont) < self._llm.n_ctx():
                    out = self._decode(cont, s.max_answer_tokens, s, meter, grammar=grammar)
                    answer_ids, answer = out.ids, out.text.strip()
                    first_at = first_at or out.first_token_at
            thought, truncated, cached, n_thought = (split.reasoning, not think.end.startswith("think"),
                                                     think.cached, len(think.ids))
        else:
            out = self._decode(tokens, s.max_answer_tokens, s, meter, grammar=grammar)
            answer, answer_ids, first_at = out.text.strip(), out.ids, out.first_token_at
            thought, truncated, cached, n_thought = "", False, out.cached, 0
        wall = time.perf_counter() - start
        return Completion(
            reasoning=thought,
            answer=answer,
            reasoning_truncated=truncated,
            prompt_sha256=sha256_text(prompt),
            settings=s,
            accounting=Accounting.of(
                prompt_tokens=len(tokens),
                cached_prompt_tokens=cached,
                reasoning_tokens=n_thought,
                answer_tokens=len(answer_ids),
                wall_seconds=wall,
                first_token_seconds=None if first_at is None else first_at - start,
            ),
            model_sha256=self.info.sha256,
        )
