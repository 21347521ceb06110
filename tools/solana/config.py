"""Where the Solana tools connect: one cluster's RPC, Jupiter and Pyth endpoints.

The same code runs against localnet (tests), devnet and mainnet; only this changes.
`SWARM_SOLANA_RPC`, `SWARM_JUPITER_URL`, `SWARM_PYTH_HERMES_URL` override the preset.
"""
from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel

Cluster = Literal["mainnet", "devnet", "localnet"]

PRESETS: dict[str, dict[str, str]] = {
    "mainnet": {"rpc_url": "https://api.mainnet-beta.solana.com"},
    "devnet": {"rpc_url": "https://api.devnet.solana.com"},
    "localnet": {"rpc_url": "http://127.0.0.1:8899"},
}
# Jupiter's public swap API (v1 paths /quote and /swap; same wire format as the older quote-api.jup.ag/v6).
JUPITER_URL = "https://lite-api.jup.ag/swap/v1"
HERMES_URL = "https://hermes.pyth.network"


class SolanaConfig(BaseModel, frozen=True):
    cluster: Cluster = "devnet"
    rpc_url: str
    jupiter_url: str = JUPITER_URL
    hermes_url: str = HERMES_URL
    commitment: Literal["processed", "confirmed", "finalized"] = "confirmed"
    rpc_timeout_seconds: float = 15.0

    @classmethod
    def for_cluster(cls, cluster: Cluster = "devnet", **overrides) -> "SolanaConfig":
        return cls(cluster=cluster, **{**PRESETS[cluster], **overrides})

    @classmethod
    def from_env(cls, cluster: Cluster | None = None) -> "SolanaConfig":
        """Preset for `SWARM_SOLANA_CLUSTER` (default devnet), endpoints overridden by env vars."""
        chosen = cluster or os.environ.get("SWARM_SOLANA_CLUSTER", "devnet")
        if chosen not in PRESETS:
            raise ValueError(f"unknown Solana cluster {chosen!r}; use one of {', '.join(PRESETS)}")
        overrides = {key: os.environ[var] for key, var in (("rpc_url", "SWARM_SOLANA_RPC"),
                                                           ("jupiter_url", "SWARM_JUPITER_URL"),
                                                           ("hermes_url", "SWARM_PYTH_HERMES_URL"))
                     if os.environ.get(var)}
        return cls.for_cluster(chosen, **overrides)
