"""Steering the local Solana devnet from outside its process: move a price (Pyth accounts, Hermes and the
Jupiter stand-in's pool together), re-align the pool to the prices, advance slots.

The devnet process answers these as JSON-RPC methods (`devnet_setPrice`, `devnet_align`, `devnet_mine`, like
anvil's `anvil_*`); this refuses unless the RPC is on a loopback address and answers the configured devnet's
genesis hash. There is no reset: the VM has no snapshots; `swarm devnet down && up --chain solana` is a fresh world.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import requests

from defai_swarm.tools.devnet.control import LOOPBACK, NotLocalDevnet, PoolMove
from defai_swarm.tools.devnet.solana.devnet import SolanaDevnetError, running_config
from defai_swarm.tools.solana.config import SolanaChainConfig


def _config(home: str | Path | None) -> SolanaChainConfig:
    if home is None:
        from defai_swarm.config import swarm_home
        home = swarm_home()
    config = running_config(home)
    if config is None:
        raise SolanaDevnetError("no Solana devnet running; start one with `swarm devnet up --chain solana`")
    return config


def _call(config: SolanaChainConfig, method: str, params: list):
    host = urlparse(config.rpc_url).hostname or ""
    if host not in LOOPBACK or config.cluster != "localnet":
        raise NotLocalDevnet(f"refused: {config.rpc_url} ({config.cluster}) is not a local devnet started by "
                             f"`swarm devnet up --chain solana`")

    def rpc(name: str, args: list):
        try:
            answer = requests.post(config.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": name, "params": args},
                                   timeout=10).json()
        except (requests.RequestException, ValueError) as exc:
            raise SolanaDevnetError(f"cannot reach the Solana devnet at {config.rpc_url} ({type(exc).__name__}); "
                                    f"start it with `swarm devnet up --chain solana`") from None
        if "error" in answer:
            raise SolanaDevnetError(f"{name}: {answer['error'].get('message', answer['error'])}")
        return answer["result"]
    if rpc("getGenesisHash", []) != config.genesis_hash:
        raise NotLocalDevnet(f"refused: the node at {config.rpc_url} is not the configured devnet (genesis differs)")
    return rpc(method, params)


def _moves(result: list[dict]) -> list[PoolMove]:
    return [PoolMove(**m) for m in result]


def set_price(symbol: str, usd: Decimal | float | str | int, home: str | Path | None = None) -> list[PoolMove]:
    """Move `symbol`'s USD price (its Pyth account and Hermes) and set the stand-in pool to it."""
    return _moves(_call(_config(home), "devnet_setPrice", [symbol, str(usd)]))


def align_pools(home: str | Path | None = None) -> list[PoolMove]:
    return _moves(_call(_config(home), "devnet_align", []))


def mine(blocks: int = 1, home: str | Path | None = None) -> int:
    """Advance `blocks` slots; the new slot."""
    return int(_call(_config(home), "devnet_mine", [blocks]))


__all__ = ["align_pools", "mine", "set_price"]
