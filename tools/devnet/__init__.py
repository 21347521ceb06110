"""Local EVM devnet: a real anvil node with the official Uniswap V2 stack and test tokens.

Names are loaded on first use (PEP 562): `tools.devnet.solana` and the CLI's lookups do not import the EVM side."""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.devnet.devnet import Devnet, DevnetError, default_manifest_path, running_manifest, stop_detached
    from tools.devnet.manifest import DevnetManifest

_HOME = {"Devnet": "tools.devnet.devnet", "DevnetError": "tools.devnet.devnet",
         "default_manifest_path": "tools.devnet.devnet", "running_manifest": "tools.devnet.devnet",
         "stop_detached": "tools.devnet.devnet", "DevnetManifest": "tools.devnet.manifest"}

__all__ = ["Devnet", "DevnetError", "DevnetManifest", "default_manifest_path", "running_manifest", "stop_detached"]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
