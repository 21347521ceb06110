"""Where the Solana tools connect: one cluster's RPC, Jupiter and Pyth endpoints.

The same code runs against localnet (tests), devnet and mainnet; only this changes.
`SWARM_SOLANA_RPC`, `SWARM_JUPITER_URL`, `SWARM_PYTH_HERMES_URL` override the preset.

`SolanaChainConfig` is the whole description of one Solana chain the swarm can
use: endpoints, the genesis hash that identifies it, its tokens, its Pyth feeds
and the wallet file. The local devnet writes one (`<home>/solana-devnet/config.json`).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Literal, TypeGuard

from pydantic import BaseModel, ValidationError, field_validator
from solders.hash import Hash
from solders.pubkey import Pubkey

from defai_swarm.config import user_path
from defai_swarm.core.chain import ChainConfig
from defai_swarm.core.errors import ConfigError
from defai_swarm.tools.solana.programs import TOKEN_2022_PROGRAM, TOKEN_PROGRAM
from defai_swarm.tools.solana.tokens import SolanaToken, SolanaTokenRegistry

Cluster = Literal["mainnet", "devnet", "testnet", "localnet"]

PRESETS: dict[str, dict[str, str]] = {
    "mainnet": {"rpc_url": "https://api.mainnet-beta.solana.com"},
    "devnet": {"rpc_url": "https://api.devnet.solana.com"},
    "testnet": {"rpc_url": "https://api.testnet.solana.com"},
    "localnet": {"rpc_url": "http://127.0.0.1:8899"},
}


def _is_cluster(name: str) -> TypeGuard[Cluster]:
    """A preset name is a Cluster (PRESETS has exactly the Cluster names)."""
    return name in PRESETS


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
        if not _is_cluster(chosen):
            raise ValueError(f"unknown Solana cluster {chosen!r}; use one of {', '.join(PRESETS)}")
        overrides = {key: os.environ[var] for key, var in (("rpc_url", "SWARM_SOLANA_RPC"),
                                                           ("jupiter_url", "SWARM_JUPITER_URL"),
                                                           ("hermes_url", "SWARM_PYTH_HERMES_URL"))
                     if os.environ.get(var)}
        return cls.for_cluster(chosen, **overrides)


class PythFeed(BaseModel):
    """Where a symbol's SYM/USD price lives: an on-chain account, a Hermes feed id, or both (read by
    `defai_swarm.tools.solana.prices`, which re-exports it; defined here so the configuration imports no reader)."""

    account: str | None = None
    feed_id: str | None = None



_FEED_ID = re.compile(r"(0x)?[0-9a-fA-F]{64}")


def _pubkey_problem(value: str) -> str | None:
    try:
        Pubkey.from_string(value)
    except (ValueError, TypeError):
        return f"{value!r} is not a base58 public key"
    return None


class SolanaChainConfig(ChainConfig):
    """One Solana chain: endpoints, identity (genesis hash), tokens, Pyth feeds, wallet file.

    `genesis_hash` is what the chain's getGenesisHash must answer: a client checks it before
    trusting anything else the endpoint says. `pid` and `state_dir` are set by the local devnet.
    """

    family: Literal["solana"] = "solana"
    cluster: Cluster = "localnet"
    rpc_url: str
    jupiter_url: str = JUPITER_URL  # including the /swap/v1 prefix, as JupiterClient expects
    hermes_url: str = HERMES_URL
    genesis_hash: str | None = None
    tokens: list[SolanaToken] = []
    pyth_feeds: dict[str, PythFeed] = {}  # symbol -> its SYM/USD feed
    wallet_path: str | None = None  # a keypair file (solana-keygen JSON); never the key itself
    authority_allowlist: list[str] = []  # mints allowed to keep mint/freeze authorities
    pid: int | None = None
    state_dir: str | None = None

    @field_validator("wallet_path", "state_dir")
    @classmethod
    def _home(cls, v: str | None) -> str | None:
        """A hand-written configuration may say `~/.config/solana/id.json`: `~` is the home directory."""
        return str(user_path(v)) if v else v

    @field_validator("rpc_url", "jupiter_url", "hermes_url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v.rstrip("/")

    @field_validator("genesis_hash")
    @classmethod
    def _genesis(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                Hash.from_string(v)
            except ValueError:
                raise ValueError(f"{v!r} is not a base58 32-byte hash") from None
        return v

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, tokens: list[SolanaToken]) -> list[SolanaToken]:
        programs = (str(TOKEN_PROGRAM), str(TOKEN_2022_PROGRAM))
        for t in tokens:
            problem = _pubkey_problem(t.mint)
            if problem:
                raise ValueError(f"token {t.symbol}: mint {problem}")
            if t.program not in programs:
                raise ValueError(f"token {t.symbol}: unknown token program {t.program}")
        symbols = [t.symbol.upper() for t in tokens]
        if len(set(symbols)) != len(symbols):
            raise ValueError("token symbols must be unique")
        return tokens

    @field_validator("pyth_feeds")
    @classmethod
    def _feeds(cls, feeds: dict[str, PythFeed]) -> dict[str, PythFeed]:
        for symbol, feed in feeds.items():
            if feed.account is not None and (problem := _pubkey_problem(feed.account)):
                raise ValueError(f"pyth feed {symbol}: account {problem}")
            if feed.feed_id is not None and not _FEED_ID.fullmatch(feed.feed_id):
                raise ValueError(f"pyth feed {symbol}: feed_id must be 64 hex digits")
        return feeds

    @field_validator("authority_allowlist")
    @classmethod
    def _allowlist(cls, mints: list[str]) -> list[str]:
        for mint in mints:
            if problem := _pubkey_problem(mint):
                raise ValueError(f"authority_allowlist: {problem}")
        return mints

    @classmethod
    def load(cls, path: str | Path) -> "SolanaChainConfig":
        """Read and validate a config file (`~` is the home directory); ConfigError (a ValueError) with one line
        naming the file and problem."""
        path = user_path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"no Solana chain configuration at {path}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read Solana chain configuration ({exc.strerror})") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "config"
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise ConfigError(f"{path}: invalid Solana chain configuration: {where}: {first['msg']}{more}") from None

    def save(self, path: str | Path) -> Path:
        """Write atomically (a reader never sees half a file)."""
        path = user_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.model_dump_json(indent=2) + "\n")
        os.replace(tmp, path)
        return path

    def registry(self) -> SolanaTokenRegistry:
        return SolanaTokenRegistry(self.tokens)

    def solana_config(self, **overrides) -> SolanaConfig:
        """The endpoint settings the RPC, Jupiter and Hermes clients take."""
        return SolanaConfig(cluster=self.cluster, rpc_url=self.rpc_url, jupiter_url=self.jupiter_url,
                            hermes_url=self.hermes_url, **overrides)
