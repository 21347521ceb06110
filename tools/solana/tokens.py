"""Solana token registry: symbol -> mint, decimals and token program, per cluster.

A mint always comes from here (or from the user's own file), never from a model's output.
`SolanaToken` is the core `TokenBase` with a mint as its key; `SolanaTokenRegistry` is the
core `TokenRegistryBase`: exact lookups by case-insensitive ASCII symbol or by the mint.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Literal

from solders.pubkey import Pubkey

from defai_swarm.core.errors import ConfigError
from defai_swarm.core.tokens import TokenBase, TokenRegistryBase
from defai_swarm.tools.solana.errors import AmountError, UnknownTokenError
from defai_swarm.tools.solana.programs import NATIVE_MINT, TOKEN_2022_PROGRAM, TOKEN_PROGRAM


class SolanaToken(TokenBase, frozen=True):
    mint: str
    program: str = str(TOKEN_PROGRAM)
    kind: Literal["native", "spl"] = "spl"

    @property
    def key(self) -> str:
        return self.mint

    @property
    def is_native(self) -> bool:
        return self.kind == "native"

    @property
    def mint_pubkey(self) -> Pubkey:
        return Pubkey.from_string(self.mint)

    @property
    def program_pubkey(self) -> Pubkey:
        return Pubkey.from_string(self.program)

    @classmethod
    def amount_error(cls) -> type[Exception]:
        return AmountError


SOL = SolanaToken(symbol="SOL", mint=str(NATIVE_MINT), decimals=9, kind="native")
MAINNET_TOKENS = [
    SOL,
    SolanaToken(symbol="USDC", mint="EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", decimals=6),
    SolanaToken(symbol="USDT", mint="Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB", decimals=6),
]
DEVNET_TOKENS = [SOL, SolanaToken(symbol="USDC", mint="4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU", decimals=6)]
# Mints whose issuer keeps mint and freeze authorities (regulated stablecoins): allowlisted for those two checks only.
MAINNET_TRUSTED_AUTHORITY_MINTS = frozenset(t.mint for t in MAINNET_TOKENS if t.symbol in ("USDC", "USDT"))


def check_token(token: SolanaToken, where: str) -> SolanaToken:
    """A token entry from a file or configuration: a valid mint and a known token program, or ConfigError."""
    try:
        Pubkey.from_string(token.mint)
    except ValueError:
        raise ConfigError(f"{where}: {token.symbol} has an invalid mint {token.mint}") from None
    if token.program not in (str(TOKEN_PROGRAM), str(TOKEN_2022_PROGRAM)):
        raise ConfigError(f"{where}: {token.symbol} names an unknown token program {token.program}")
    return token


class SolanaTokenRegistry(TokenRegistryBase[SolanaToken]):
    """Known tokens of one cluster; lookups are exact (case-insensitive ASCII symbol, or the mint), never fuzzy."""

    unknown_error = UnknownTokenError

    def __init__(self, tokens: Iterable[SolanaToken]):
        super().__init__(tokens)

    @classmethod
    def for_cluster(cls, cluster: str) -> "SolanaTokenRegistry":
        return cls(MAINNET_TOKENS if cluster == "mainnet" else DEVNET_TOKENS if cluster == "devnet" else [SOL])

    @classmethod
    def from_file(cls, path: Path) -> "SolanaTokenRegistry":
        """A JSON list of {symbol, mint, decimals, program?}; mints must be valid base58 pubkeys."""
        tokens = [SolanaToken.model_validate(e) for e in json.loads(Path(path).read_text())]
        return cls(check_token(t, str(path)) for t in tokens)

    def merged(self, other: "SolanaTokenRegistry") -> "SolanaTokenRegistry":
        return SolanaTokenRegistry(self.tokens() + other.tokens())


__all__ = ["AmountError", "DEVNET_TOKENS", "MAINNET_TOKENS", "MAINNET_TRUSTED_AUTHORITY_MINTS", "SOL", "SolanaToken",
           "SolanaTokenRegistry", "UnknownTokenError", "check_token"]
