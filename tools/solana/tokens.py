"""Solana token registry: symbol -> mint, decimals and token program, per cluster.

A mint always comes from here (or from the user's own file), never from a model's output.
"""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel
from solders.pubkey import Pubkey

from tools.amounts import from_base_units, to_base_units
from tools.solana.errors import SolanaToolError
from tools.solana.programs import NATIVE_MINT, TOKEN_2022_PROGRAM, TOKEN_PROGRAM


class AmountError(SolanaToolError, ValueError):
    """An amount that is not positive or not representable in the token's decimals."""


class UnknownTokenError(SolanaToolError, KeyError):
    """A symbol or mint the registry does not know; never guessed."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown token"


class SolanaToken(BaseModel, frozen=True):
    symbol: str
    mint: str
    decimals: int
    program: str = str(TOKEN_PROGRAM)
    kind: Literal["native", "spl"] = "spl"

    @property
    def is_native(self) -> bool:
        return self.kind == "native"

    @property
    def mint_pubkey(self) -> Pubkey:
        return Pubkey.from_string(self.mint)

    @property
    def program_pubkey(self) -> Pubkey:
        return Pubkey.from_string(self.program)

    def to_base(self, amount: Decimal | str | int) -> int:
        """Human amount -> integer base units; refuses floats and precision it would have to drop."""
        return to_base_units(amount, self.decimals, self.symbol, AmountError)

    def from_base(self, raw: int) -> Decimal:
        return from_base_units(raw, self.decimals)


SOL = SolanaToken(symbol="SOL", mint=str(NATIVE_MINT), decimals=9, kind="native")
MAINNET_TOKENS = [
    SOL,
    SolanaToken(symbol="USDC", mint="EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", decimals=6),
    SolanaToken(symbol="USDT", mint="Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB", decimals=6),
]
DEVNET_TOKENS = [SOL, SolanaToken(symbol="USDC", mint="4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU", decimals=6)]
# Mints whose issuer keeps mint and freeze authorities (regulated stablecoins): allowlisted for those two checks only.
MAINNET_TRUSTED_AUTHORITY_MINTS = frozenset(t.mint for t in MAINNET_TOKENS if t.symbol in ("USDC", "USDT"))


class SolanaTokenRegistry:
    """Known tokens of one cluster; lookups are exact (case-insensitive ASCII symbol, or the mint), never fuzzy."""

    def __init__(self, tokens: list[SolanaToken]):
        self._by_symbol = {t.symbol.upper(): t for t in tokens}
        self._by_mint = {t.mint: t for t in tokens}

    @classmethod
    def for_cluster(cls, cluster: str) -> "SolanaTokenRegistry":
        return cls(MAINNET_TOKENS if cluster == "mainnet" else DEVNET_TOKENS if cluster == "devnet" else [SOL])

    @classmethod
    def from_file(cls, path: Path) -> "SolanaTokenRegistry":
        """A JSON list of {symbol, mint, decimals, program?}; mints must be valid base58 pubkeys."""
        tokens = [SolanaToken.model_validate(e) for e in json.loads(Path(path).read_text())]
        for t in tokens:
            try:
                Pubkey.from_string(t.mint)
            except ValueError:
                raise ValueError(f"{path}: {t.symbol} has an invalid mint {t.mint}") from None
            if t.program not in (str(TOKEN_PROGRAM), str(TOKEN_2022_PROGRAM)):
                raise ValueError(f"{path}: {t.symbol} names an unknown token program {t.program}")
        return cls(tokens)

    def merged(self, other: "SolanaTokenRegistry") -> "SolanaTokenRegistry":
        return SolanaTokenRegistry(list(self._by_symbol.values()) + list(other._by_symbol.values()))

    def resolve(self, symbol_or_mint: str) -> SolanaToken:
        text = symbol_or_mint.strip()
        if not text.isascii():
            raise UnknownTokenError(f"token {text!r} contains non-ASCII characters (look-alike symbols are refused)")
        token = self._by_mint.get(text) or self._by_symbol.get(text.upper())
        if token is None:
            raise UnknownTokenError(f"unknown token {text!r}; known tokens: {', '.join(sorted(self._by_symbol))}")
        return token

    def __contains__(self, symbol: str) -> bool:
        try:
            self.resolve(symbol)
        except UnknownTokenError:
            return False
        return True

    def symbols(self) -> list[str]:
        return sorted(self._by_symbol)
