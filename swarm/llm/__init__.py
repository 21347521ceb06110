"""defai_swarm.llm: the local model layer (GGUF models on llama-cpp-python; DeepSeek-R1 reasoning, base models few-shot)."""
from .calls import notify
from .factory import is_server_spec, load_backend
from .llamacpp_backend import LlamaCppBackend, file_sha256, resolve_model_path
from .protocol import SWARM_MODEL_ENV, SWARM_MODEL_FAMILY_ENV, BackendConfig, CallObserver, ModelBackend, ProgressObserver
from .errors import (
    ModelError,
    ModelLoadError,
    ModelNotFoundError,
    PromptFormatError,
    SchemaGrammarError,
    StructuredOutputError,
)
from .grammar import grammar_for
from .template import FAMILIES, ChatTemplate, ReasoningSplit, fold_system, split_reasoning
from .tiny import build_tiny_model
from .types import (
    Accounting,
    Attempt,
    CallEvent,
    CallProgress,
    ChatMessage,
    Completion,
    ModelInfo,
    SamplingSettings,
    StructuredCompletion,
)

__all__ = [
    "Accounting", "Attempt", "BackendConfig", "CallEvent", "CallObserver", "CallProgress", "ChatMessage", "ChatTemplate",
    "Completion", "FAMILIES", "LlamaCppBackend", "ModelBackend", "ModelError", "ModelInfo", "ModelLoadError",
    "ModelNotFoundError", "ProgressObserver", "PromptFormatError", "ReasoningSplit", "SWARM_MODEL_ENV", "SWARM_MODEL_FAMILY_ENV",
    "SamplingSettings",
    "SchemaGrammarError", "StructuredCompletion", "StructuredOutputError", "build_tiny_model",
    "file_sha256", "fold_system", "grammar_for", "is_server_spec", "load_backend", "notify", "resolve_model_path",
    "split_reasoning",
]
