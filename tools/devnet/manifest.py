"""The devnet manifest: the local devnet's EVM chain configuration plus what only a devnet has."""
from __future__ import annotations

from pathlib import Path

from defai_swarm.config import user_path
from defai_swarm.tools.evm.config import EvmChainConfig, FeedEntry, PairEntry, TokenEntry, TokenKind


class DevnetManifest(EvmChainConfig):
    local_devnet: bool = True
    deployer: str
    funded_accounts: list[str]
    anvil_pid: int | None = None
    snapshot_id: str | None = None  # evm_snapshot taken after deploy: `swarm devnet reset` reverts to it
    keep_pools_aligned: bool = False  # `swarm devnet up --keep-pools-aligned`: pools re-aligned before each run
    resets: list[dict] = []  # every `swarm devnet reset`: {"time", "head_before", "block_after"} (audit verify reads it)

    @classmethod
    def load(cls, path: str | Path) -> "DevnetManifest":
        if not user_path(path).exists():
            raise FileNotFoundError(f"no devnet manifest at {path}: start one with `swarm devnet up`")
        return super().load(path)


__all__ = ["DevnetManifest", "FeedEntry", "PairEntry", "TokenEntry", "TokenKind"]
