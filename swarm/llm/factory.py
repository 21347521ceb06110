"""`load_backend`: a GGUF path gives the in-process `LlamaCppBackend`, an ``http(s)://`` URL the
`OpenAIServerBackend` (see openai_backend.py)."""
from __future__ import annotations

import os
from typing import Any, TypeGuard

from .llamacpp_backend import LlamaCppBackend
from .protocol import SWARM_MODEL_ENV, BackendConfig, ModelBackend


def is_server_spec(spec: object) -> TypeGuard[str]:
    """An OpenAI-compatible server URL (`http://host:port/v1#model`), not a GGUF path."""
    return isinstance(spec, str) and spec.lower().startswith(("http://", "https://"))


def load_backend(path: str | os.PathLike[str] | None = None, **kwargs: Any) -> ModelBackend:
    """Load the model at `path`, or at `$SWARM_MODEL` when `path` is None.

    `config=BackendConfig(...)` may be passed instead of keyword options; an explicit
    `path` wins over `config.model_path`, which wins over the environment.
    """
    spec = path if path is not None else os.environ.get(SWARM_MODEL_ENV)
    if is_server_spec(spec):
        from .openai_backend import OpenAIServerBackend
        return OpenAIServerBackend(spec, **kwargs)
    config: BackendConfig | None = kwargs.pop("config", None)
    if config is not None:
        opts = config.model_dump(exclude={"model_path"})
        opts.update(kwargs)
        return LlamaCppBackend(path if path is not None else config.model_path, **opts)
    return LlamaCppBackend(path, **kwargs)
