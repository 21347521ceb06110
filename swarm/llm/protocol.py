"""The model backend protocol and what every backend shares: the observers' types, the loading options and the
environment variables that name a model.  Implementations: `llamacpp_backend.LlamaCppBackend` (a GGUF file in-process)
and `openai_backend.OpenAIServerBackend` (an OpenAI-compatible server); `factory.load_backend` picks one."""
from __future__ import annotations

from typing import Callable, Mapping, Protocol, Sequence, TypeVar, overload, runtime_checkable

from pydantic import BaseModel, ConfigDict

from .types import CallEvent, CallProgress, ChatMessage, Completion, ModelInfo, SamplingSettings, StructuredCompletion

T = TypeVar("T", bound=BaseModel)
Messages = Sequence[ChatMessage | Mapping[str, str]]

SWARM_MODEL_ENV = "SWARM_MODEL"
SWARM_MODEL_FAMILY_ENV = "SWARM_MODEL_FAMILY"  # the prompt format of a GGUF without a chat template
CallObserver = Callable[[CallEvent], None]
ProgressObserver = Callable[[CallProgress], None]
DEFAULT_N_CTX = 4096  # llama-cpp-python's default of 512 is far too small for R1 reasoning


@runtime_checkable
class ModelBackend(Protocol):
    """What agents need from a model; `LlamaCppBackend` and `OpenAIServerBackend` implement it."""

    info: ModelInfo

    def chat(self, messages: Messages, settings: SamplingSettings | None = None) -> Completion: ...

    def structured(
        self, messages: Messages, schema: type[T], settings: SamplingSettings | None = None, max_retries: int = 2
    ) -> StructuredCompletion[T]: ...

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
        """Continue a prompt the caller rendered (no chat template); `schema` -> grammar-constrained answer."""
        ...



class BackendConfig(BaseModel):
    """Loading options, e.g. from a settings file; `model_path=None` means `$SWARM_MODEL`.

    `family` declares the prompt format (deepseek-r1, qwen2, gemma, base) for a GGUF
    without a chat template, or overrides the GGUF's; None means `$SWARM_MODEL_FAMILY`,
    else the GGUF's template.  `on_call` observes every model call (see `CallEvent`), `on_progress` every
    token while a call runs (see `CallProgress`).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str | None = None
    n_ctx: int = DEFAULT_N_CTX
    n_threads: int | None = None
    n_batch: int = 512
    family: str | None = None
    on_call: CallObserver | None = None
    on_progress: ProgressObserver | None = None
