"""What every backend does around one model call, whatever runs the model: fix the sampling seed, tell the
observers (`on_call` when a call finishes, `on_progress` at each token), ask for and validate a structured answer."""
from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Callable, Literal

from pydantic import BaseModel, ValidationError

from .errors import StructuredOutputError
from .protocol import CallObserver, ProgressObserver, T
from .template import sha256_text
from .types import (
    Accounting,
    Attempt,
    CallEvent,
    CallProgress,
    ChatMessage,
    Completion,
    SamplingSettings,
    StructuredCompletion,
)

log = logging.getLogger(__name__)


def notify(observer: CallObserver | None, event: CallEvent) -> None:
    """Give `event` to the `on_call` observer, if any: an observer that fails is logged, never fatal to the call."""
    if observer is None:
        return
    try:
        observer(event)
    except Exception:
        log.warning("on_call observer failed for prompt sha256=%s", event.prompt_sha256, exc_info=True)


class CallMeter:
    """One call's generated tokens, told to the `on_progress` observer as they come (`CallProgress`).

    Without an observer it counts nothing.  An observer that fails is logged once and not called again for
    this call (it would otherwise fail, and log, at every token); the call itself goes on.
    """

    def __init__(self, observer: ProgressObserver | None, prompt: str, start: float | None = None):
        self.observer, self.prompt_sha256 = observer, sha256_text(prompt) if observer is not None else ""
        self.start = time.perf_counter() if start is None else start
        self.tokens = 0

    def token(self, phase: Literal["reasoning", "answer"], n: int = 1) -> None:
        """`n` more tokens generated in `phase`."""
        if self.observer is None or n <= 0:
            return
        self.tokens += n
        try:
            self.observer(CallProgress(prompt_sha256=self.prompt_sha256, phase=phase, tokens=self.tokens,
                                       seconds=max(time.perf_counter() - self.start, 0.0)))
        except Exception:
            log.warning("on_progress observer failed for prompt sha256=%s; not called again for this call",
                        self.prompt_sha256, exc_info=True)
            self.observer = None


def structured_completion(schema: type[T], completion: Completion, value: T, attempts: list[Attempt]) -> StructuredCompletion[T]:
    """The final completion with its validated value; accounting totals every attempt."""
    fields = dict(completion)
    fields["accounting"] = Accounting.total([a.completion.accounting for a in attempts])
    return StructuredCompletion[schema](**fields, value=value, attempts=attempts)


def validated_once(schema: type[T], prompt: str, completion: Completion,
                    notify: Callable[..., None]) -> StructuredCompletion[T]:
    """`complete_prompt`'s schema check, the same for every backend: a raw prompt has no turn to send an
    error back in, so the answer is validated once and an invalid one is a `StructuredOutputError`."""
    try:
        value = schema.model_validate_json(completion.answer)
    except ValidationError as e:
        error = describe_validation_error(e)
        notify("complete", prompt, completion, schema, 1, error)
        raise StructuredOutputError(f"No valid {schema.__name__} from the prompt; error: {error}",
                                    [Attempt(completion=completion, error=error)]) from None
    notify("complete", prompt, completion, schema, 1)
    return structured_completion(schema, completion, value, [Attempt(completion=completion)])


def effective_settings(settings: SamplingSettings | None) -> SamplingSettings:
    settings = settings or SamplingSettings()
    if settings.seed is None:
        settings = settings.model_copy(update={"seed": secrets.randbelow(2**32)})
    return settings


def with_schema_instruction(convo: list[ChatMessage], schema: type[BaseModel]) -> list[ChatMessage]:
    note = ("Answer with one JSON object that matches this JSON schema:\n"
            + json.dumps(schema.model_json_schema(), separators=(",", ":")))
    for i in range(len(convo) - 1, -1, -1):
        if convo[i].role == "user":
            return [*convo[:i], ChatMessage(role="user", content=f"{convo[i].content}\n\n{note}"), *convo[i + 1:]]
    return [*convo, ChatMessage(role="user", content=note)]


def describe_validation_error(e: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in e.errors(include_url=False)
    )
