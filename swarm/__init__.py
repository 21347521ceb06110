"""defai-swarm: intents, planner, graph runtime, model backend, audit log.

Everything the distribution installs lives under this one import name: `defai_swarm.agents` (the built-in agents)
and `defai_swarm.tools` (chain adapters and devnets) included, so a user's own `tools.py` or `agents.py` shadows
nothing. `from defai_swarm import Swarm` is the front door; it is imported on first use, so `swarm --help` and
`import defai_swarm.core...` stay light.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from defai_swarm.api import RunResult, Swarm

__all__ = ["RunResult", "Swarm"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from defai_swarm import api

        return getattr(api, name)
    raise AttributeError(f"module 'defai_swarm' has no attribute {name!r}")
