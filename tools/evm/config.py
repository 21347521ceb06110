"""An EVM chain's configuration: where the node is and which contracts and tokens the library may use.

`swarm devnet up` writes one for the local devnet (`defai_swarm.tools.devnet.manifest.DevnetManifest`
extends it with devnet facts); for another chain with a Uniswap V2 deployment, write the
same JSON by hand (`"family": "evm"`) and pass it with `--config` / `Swarm.from_config`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from defai_swarm.config import user_path
from defai_swarm.core.chain import ChainConfig
from defai_swarm.core.errors import ConfigError

TokenKind = Literal["native", "wrapped_native", "erc20", "fee_on_transfer", "honeypot"]


class TokenEntry(BaseModel):
    symbol: str
    address: str
    decimals: int
    kind: TokenKind = "erc20"


class PairEntry(BaseModel):
    address: str
    token0: str
    token1: str
    symbols: tuple[str, str]


class FeedEntry(BaseModel):
    pair: str = Field(description="e.g. ETH/USD")
    address: str
    decimals: int


class EvmChainConfig(ChainConfig):
    family: Literal["evm"] = "evm"
    chain_id: int
    weth: str
    factory: str
    router: str
    tokens: dict[str, TokenEntry]
    feeds: dict[str, FeedEntry] = {}
    pairs: list[PairEntry] = []
    local_devnet: bool = Field(default=False, description="anvil started by `swarm devnet up`: dev keys allowed")

    def save(self, path: str | Path) -> None:
        path = user_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path):
        """Read and validate a configuration file (`~` is the home directory)."""
        path = user_path(path)
        if not path.exists():
            raise FileNotFoundError(f"no chain configuration at {path}")
        try:
            return cls.model_validate_json(path.read_text())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{path}: {where}: {first['msg']} ({exc.error_count()} problem(s))") from None
