"""The local devnets by chain family: what `--chain` offers, where a running one's configuration is, what to type
to start one, and what runs before each intent. The front doors (the session, `swarm audit`, the MCP server) ask
here instead of naming families themselves; a family without a local devnet simply has no entry.

Light on purpose (the CLI's parser reads `names()` for `--chain`): each devnet's modules load when asked."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LocalDevnet:
    family: str
    up_command: str  # what a person types to start it
    _not_running: Callable[[], str]  # one line: none runs, and how to start one
    _config: Callable[[Path], Any]  # the running devnet's chain configuration under a home directory, or None
    _config_path: Callable[[Path], Path | None]  # the file of that configuration, or None
    _before_run: Callable[[Path, dict], Callable[[], None] | None] = lambda path, raw: None

    def not_running(self) -> str:
        return self._not_running()

    def running_config(self, home: Path) -> Any:
        return self._config(home)

    def running_config_path(self, home: Path) -> Path | None:
        return self._config_path(home)

    def before_run(self, config_path: Path, raw_config: dict) -> Callable[[], None] | None:
        """What runs before each intent on this devnet (`swarm devnet up --keep-pools-aligned`), or None."""
        return self._before_run(config_path, raw_config)


def _evm_config(home: Path) -> Any:
    from defai_swarm.tools.devnet.running import running_manifest
    return running_manifest()


def _evm_config_path(home: Path) -> Path | None:
    from defai_swarm.tools.devnet.running import default_manifest_path, running_manifest
    return default_manifest_path() if running_manifest() is not None else None


def _evm_not_running() -> str:
    from defai_swarm.tools.devnet.running import default_manifest_path
    return f"no devnet running (no live manifest at {default_manifest_path()}); start one with `swarm devnet up`"


def _evm_align(config_path: Path, raw: dict) -> Callable[[], None] | None:
    if not raw.get("keep_pools_aligned"):
        return None
    from defai_swarm.tools.devnet.control import align_pools

    def align() -> None:
        align_pools(config_path)
    return align


def _solana_config(home: Path) -> Any:
    from defai_swarm.tools.devnet.solana import running_config
    return running_config(home)


def _solana_config_path(home: Path) -> Path | None:
    found = _solana_config(home)
    return Path(found.state_dir) / "config.json" if found is not None and found.state_dir is not None else None


DEFAULT_FAMILY = "evm"


def _devnets() -> dict[str, LocalDevnet]:
    return {
        "evm": LocalDevnet("evm", "swarm devnet up", _evm_not_running, _evm_config, _evm_config_path, _evm_align),
        "solana": LocalDevnet("solana", "swarm devnet up --chain solana",
                              lambda: "no Solana devnet running; start one with `swarm devnet up --chain solana`",
                              _solana_config, _solana_config_path),
    }


def names() -> list[str]:
    """The families that have a local devnet (the choices of `--chain`), the default first."""
    return sorted(_devnets(), key=lambda name: name != DEFAULT_FAMILY)


def local_devnet(family: str) -> LocalDevnet | None:
    """The local devnet of a chain family, or None when the family has none."""
    return _devnets().get(family)


__all__ = ["DEFAULT_FAMILY", "LocalDevnet", "local_devnet", "names"]
