"""Where the library keeps its state on disk (devnet, audit keys, caches)."""
from __future__ import annotations

import os
from pathlib import Path


def swarm_home() -> Path:
    """`$SWARM_HOME`, default `~/.swarm`; created on first use."""
    home = Path(os.environ.get("SWARM_HOME") or Path.home() / ".swarm").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def cache_home() -> Path:
    """Downloaded and compiled things (npm packages, contract builds): `$XDG_CACHE_HOME/defai-swarm`.

    Kept apart from `swarm_home()` so a fresh state directory does not mean a reinstall.
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    path = base / "defai-swarm"
    path.mkdir(parents=True, exist_ok=True)
    return path
