"""Where the library keeps its state on disk (devnet, audit keys, caches)."""
from __future__ import annotations

import os
from pathlib import Path


def user_path(path: str | os.PathLike[str]) -> Path:
    """A path as a user wrote it (an argument, an option, an environment variable, a configuration field), with
    `~` meaning the home directory as in a shell. `Path("~/x")` alone is a folder named `~` in the working
    directory: every place that takes a path from a user goes through here."""
    return Path(path).expanduser()


def swarm_home() -> Path:
    """`$SWARM_HOME`, default `~/.swarm`; created on first use."""
    home = user_path(os.environ.get("SWARM_HOME") or Path.home() / ".swarm")
    home.mkdir(parents=True, exist_ok=True)
    return home


def cache_home() -> Path:
    """Downloaded and compiled things (npm packages, contract builds): `$XDG_CACHE_HOME/defai-swarm`.

    Kept apart from `swarm_home()` so a fresh state directory does not mean a reinstall.
    """
    base = user_path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "defai-swarm"
    path.mkdir(parents=True, exist_ok=True)
    return path
