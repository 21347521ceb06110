"""swarm.llm: the local reasoning-model layer (DeepSeek-R1 GGUF on llama-cpp-python)."""
from .backend import (
    SWARM_MODEL_ENV,
    BackendConfig,
    LlamaCppBackend,
    ModelBackend,
    file_sha256,
    load_backend,
    resolve_model_path,
)
from .errors import (
    ModelError,
    ModelLoadError,
    ModelNotFoundError,
    SchemaGrammarError,
    StructuredOutputError,
)
from .grammar import grammar_for
from .template import ChatTemplate, ReasoningSplit, fold_system, split_reasoning
from .tiny import build_tiny_model
from .types import (
    Accounting,
    Attempt,
    ChatMessage,
    Completion,
    ModelInfo,
    SamplingSettings,
    StructuredCompletion,
)

__all__ = [
    "Accounting", "Attempt", "BackendConfig", "ChatMessage", "ChatTemplate", "Completion",
    "LlamaCppBackend", "ModelBackend", "ModelError", "ModelInfo", "ModelLoadError",
    "ModelNotFoundError", "ReasoningSplit", "SWARM_MODEL_ENV", "SamplingSettings",
    "SchemaGrammarError", "StructuredCompletion", "StructuredOutputError", "build_tiny_model",
    "file_sha256", "fold_system", "grammar_for", "load_backend", "resolve_model_path",
    "split_reasoning",
]
