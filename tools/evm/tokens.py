"""Token registry: symbol -> address and decimals from the devnet manifest or a user file.

An address always comes from here, never from a model's output.
"""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel
from web3 import Web3

from tools.amounts import from_base_units, to_base_units
from tools.devnet.manifest import DevnetManifest, TokenEntry, TokenKind
from tools.evm.errors import AmountError, UnknownTokenError


class Token(BaseModel, frozen=True):
    symbol: str
    address: str
    decimals: int
    kind: TokenKind = "erc20"

    @property
    def is_native(self) -> bool:
        return self.kind == "native"

    def to_base(self, amount: Decimal | str | int) -> int:
        """Human amount -> integer base units; refuses floats and precision it would have to drop."""
        return to_base_units(amount, self.decimals, self.symbol, AmountError)

    def from_base(self, raw: int) -> Decimal:
        return from_base_units(raw, self.decimals)


class TokenRegistry:
    """Known tokens of one chain; lookups are exact (case-insensitive ASCII), never fuzzy."""

    def __init__(self, tokens: list[Token], wrapped_native: str | None = None):
        self._by_symbol = {t.symbol.upper(): t for t in tokens}
        self._by_address = {t.address.lower(): t for t in tokens}
        self.wrapped_native = wrapped_native

    @classmethod
    def from_manifest(cls, manifest: DevnetManifest) -> "TokenRegistry":
        return cls([Token(**t.model_dump()) for t in manifest.tokens.values()], wrapped_native=manifest.weth)

    @classmethod
    def from_file(cls, path: Path) -> "TokenRegistry":
        """A JSON list of {symbol, address, decimals, kind?}; addresses must be checksummable."""
        entries = [TokenEntry.model_validate(e) for e in json.loads(Path(path).read_text())]
        tokens = [Token(**e.model_dump()) for e in entries]
        for t in tokens:
            if not t.is_native and not Web3.is_address(t.address):
                raise ValueError(f"{path}: {t.symbol} has an invalid address {t.address}")
        wrapped = next((t.address for t in tokens if t.kind == "wrapped_native"), None)
        return cls(tokens, wrapped_native=wrapped)

    def merged(self, other: "TokenRegistry") -> "TokenRegistry":
        return TokenRegistry(list(self._by_symbol.values()) + list(other._by_symbol.values()),
                             wrapped_native=self.wrapped_native or other.wrapped_native)

    def resolve(self, symbol_or_address: str) -> Token:
        text = symbol_or_address.strip()
        if not text.isascii():
            raise UnknownTokenError(f"token {text!r} contains non-ASCII characters (look-alike symbols are refused)")
        if text.lower().startswith("0x"):
            token = self._by_address.get(text.lower())
            if token is None:
                raise UnknownTokenError(f"address {text} is not a registered token")
            return token
        token = self._by_symbol.get(text.upper())
        if token is None:
            known = ", ".join(sorted(self._by_symbol))
            raise UnknownTokenError(f"unknown token {text!r}; known tokens: {known}")
        return token

    def __contains__(self, symbol: str) -> bool:
        try:
            self.resolve(symbol)
        except UnknownTokenError:
            return False
        return True

    def symbols(self) -> list[str]:
        return sorted(self._by_symbol)

    def route_address(self, token: Token) -> str:
        """Address used in a swap path: the wrapped token stands in for the native coin."""
        if token.is_native:
            if not self.wrapped_native:
                raise UnknownTokenError("no wrapped native token registered for routing native swaps")
            return Web3.to_checksum_address(self.wrapped_native)
        return Web3.to_checksum_address(token.address)
