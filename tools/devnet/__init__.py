"""Local EVM devnet: a real anvil node with the official Uniswap V2 stack and test tokens.

Names are loaded on first use (PEP 562): `defai_swarm.tools.devnet.solana` and the CLI's lookups do not import the EVM side."""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from defai_swarm.tools.devnet.devnet import Devnet
    from defai_swarm.tools.devnet.manifest import DevnetManifest
    from defai_swarm.tools.devnet.node import DevnetError
    from defai_swarm.tools.devnet.running import default_manifest_path, running_manifest, stop_detached

_HOME = {"Devnet": "defai_swarm.tools.devnet.devnet", "DevnetError": "defai_swarm.tools.devnet.node",
         "default_manifest_path": "defai_swarm.tools.devnet.running", "running_manifest": "defai_swarm.tools.devnet.running",
         "stop_detached": "defai_swarm.tools.devnet.running", "DevnetManifest": "defai_swarm.tools.devnet.manifest"}

__all__ = ["Devnet", "DevnetError", "DevnetManifest", "default_manifest_path", "running_manifest", "stop_detached"]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
