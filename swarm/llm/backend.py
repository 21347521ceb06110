"""Compatibility only: the model layer is split into protocol.py (the `ModelBackend` protocol, `BackendConfig`),
calls.py (what every backend does around a call), llamacpp_backend.py (`LlamaCppBackend`) and factory.py
(`load_backend`).  Import from `defai_swarm.llm` (or those modules).  Kept while swarm/cluster/pool.py and
swarm/cluster/model_pool.py still import `is_server_spec` and `notify` from here; delete it once they import
`from defai_swarm.llm import is_server_spec, notify`.  Nothing in defai_swarm.llm imports this module."""
from __future__ import annotations

from .calls import notify
from .factory import is_server_spec, load_backend
from .llamacpp_backend import LlamaCppBackend

__all__ = ["LlamaCppBackend", "is_server_spec", "load_backend", "notify"]
