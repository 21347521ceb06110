"""Chain families by name: which adapter class serves a configuration's `family`.

Built-in: `evm` and `solana`. An installed package adds a family through the entry-point
group `defai_swarm.chains` (name = family, value = "module:AdapterClass"). Adapter classes
are imported only when a configuration asks for them, so `swarm --help` stays fast.
"""
from __future__ import annotations

import importlib
import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from defai_swarm.config import user_path
from defai_swarm.core.errors import ConfigError

BUILTIN = {"evm": "defai_swarm.tools.evm.chain:EvmChain", "solana": "defai_swarm.tools.solana.chain:SolanaChain"}
ENTRY_POINT_GROUP = "defai_swarm.chains"


def families() -> dict[str, str]:
    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {**found, **BUILTIN}  # a package cannot replace a built-in family


def adapter_class(family: str) -> Any:
    target = families().get(family)
    if target is None:
        raise ConfigError(f"unknown chain family {family!r}; known: {', '.join(sorted(families()))}")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def read_config(path: str | Path) -> dict:
    """The raw JSON of a chain configuration (`~` is the home directory), with a one-line error for a missing or
    malformed file."""
    path = user_path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no chain configuration at {path}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not a readable JSON chain configuration: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a chain configuration is a JSON object")
    data.setdefault("family", "evm")  # devnet manifests written before families existed are EVM
    return data
