"""Where the library keeps its state on disk (devnet, audit keys, caches)."""
from __future__ import annotations

import os
from pathlib import Path


def swarm_home() -> Path:
    """`$SWARM_HOME`, default `~/.swarm`; created on first use."""
    home = Path(os.environ.get("SWARM_HOME") or Path.home() / ".swarm").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home
