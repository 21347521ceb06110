"""Where one devnet's state lives: everything under `<home>/solana-devnet/`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STATE_DIR_NAME = "solana-devnet"


@dataclass(frozen=True)
class DevnetPaths:
    state_dir: Path

    @classmethod
    def of(cls, home: str | Path) -> "DevnetPaths":
        return cls(Path(home).expanduser().resolve() / STATE_DIR_NAME)

    @property
    def config(self) -> Path:
        return self.state_dir / "config.json"

    @property
    def wallet(self) -> Path:
        return self.state_dir / "wallet.json"

    @property
    def log(self) -> Path:
        return self.state_dir / "devnet.log"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "devnet.pid"
