"""Tokens and token registries, chain-neutral: a symbol maps to exactly one token, never fuzzily.

Each chain's token model (`defai_swarm.tools.evm.tokens.Token`, `defai_swarm.tools.solana.tokens.SolanaToken`)
extends `TokenBase` with its address form; each chain's registry extends
`TokenRegistryBase` with how that address is spelled. An address always comes from
a registry (or the user's own file), never from a model's output.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Generic, Iterable, TypeVar

from pydantic import BaseModel

from defai_swarm.core.amounts import from_base_units, to_base_units
from defai_swarm.core.errors import AmountError, UnknownToken


class TokenBase(BaseModel, frozen=True):
    symbol: str
    decimals: int

    @property
    def key(self) -> str:
        """The token's on-chain identity (address or mint); chains override."""
        raise NotImplementedError

    @property
    def is_native(self) -> bool:
        return False

    def to_base(self, amount: Decimal | str | int) -> int:
        """Human amount -> integer base units; refuses floats and precision it would have to drop."""
        return to_base_units(amount, self.decimals, self.symbol, self.amount_error())

    def from_base(self, raw: int) -> Decimal:
        return from_base_units(raw, self.decimals)

    @classmethod
    def amount_error(cls) -> type[Exception]:
        return AmountError


T = TypeVar("T", bound=TokenBase)


class TokenRegistryBase(Generic[T]):
    """Known tokens of one chain; lookups are exact (case-insensitive ASCII symbol, or the chain's key)."""

    unknown_error: type[Exception] = UnknownToken

    def __init__(self, tokens: Iterable[T]):
        tokens = list(tokens)
        self._by_symbol = {t.symbol.upper(): t for t in tokens}
        self._by_key = {self.normalise_key(t.key): t for t in tokens}

    @staticmethod
    def normalise_key(key: str) -> str:
        return key

    def is_key(self, text: str) -> bool:
        """Whether `text` is spelled like an address of this chain rather than a symbol."""
        return text in self._by_key

    def tokens(self) -> list[T]:
        return list(self._by_symbol.values())

    def resolve(self, symbol_or_key: str) -> T:
        text = symbol_or_key.strip()
        if not text.isascii():
            raise self.unknown_error(f"token {text!r} contains non-ASCII characters (look-alike symbols are refused)")
        if self.is_key(text):
            token = self._by_key.get(self.normalise_key(text))
            if token is None:
                raise self.unknown_error(f"address {text} is not a registered token")
            return token
        token = self._by_symbol.get(text.upper())
        if token is None:
            raise self.unknown_error(f"unknown token {text!r}; known tokens: {', '.join(sorted(self._by_symbol))}")
        return token

    def __contains__(self, symbol: str) -> bool:
        try:
            self.resolve(symbol)
        except UnknownToken:
            return False
        return True

    def symbols(self) -> list[str]:
        return sorted(self._by_symbol)
