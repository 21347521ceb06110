"""The devnet manifest: the one file the rest of the library reads to find the devnet."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

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


class DevnetManifest(BaseModel):
    chain_id: int
    rpc_url: str
    deployer: str
    funded_accounts: list[str]
    weth: str
    factory: str
    router: str
    tokens: dict[str, TokenEntry]
    pairs: list[PairEntry]
    feeds: dict[str, FeedEntry]
    anvil_pid: int | None = None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "DevnetManifest":
        if not Path(path).exists():
            raise FileNotFoundError(f"no devnet manifest at {path}: start one with `swarm devnet up`")
        return cls.model_validate_json(Path(path).read_text())
