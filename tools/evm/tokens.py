"""Token registry: symbol -> address and decimals from the chain configuration or a user file.

An address always comes from here, never from a model's output.
"""
from __future__ import annotations

import json
from pathlib import Path

from web3 import Web3

from defai_swarm.core.tokens import TokenBase, TokenRegistryBase
from defai_swarm.tools.evm.config import EvmChainConfig, TokenEntry, TokenKind
from defai_swarm.tools.evm.errors import AmountError, UnknownTokenError


class Token(TokenBase, frozen=True):
    address: str
    kind: TokenKind = "erc20"

    @property
    def key(self) -> str:
        return self.address

    @property
    def is_native(self) -> bool:
        return self.kind == "native"

    @classmethod
    def amount_error(cls) -> type[Exception]:
        return AmountError


class TokenRegistry(TokenRegistryBase[Token]):
    """Known tokens of one chain; lookups are exact (case-insensitive ASCII), never fuzzy."""

    unknown_error = UnknownTokenError

    def __init__(self, tokens: list[Token], wrapped_native: str | None = None):
        super().__init__(tokens)
        self.wrapped_native = wrapped_native

    @staticmethod
    def normalise_key(key: str) -> str:
        return key.lower()

    def is_key(self, text: str) -> bool:
        return text.lower().startswith("0x")

    @classmethod
    def from_manifest(cls, manifest: EvmChainConfig) -> "TokenRegistry":
        return cls([Token(**t.model_dump()) for t in manifest.tokens.values()], wrapped_native=manifest.weth)

    from_config = from_manifest

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
        return TokenRegistry(self.tokens() + other.tokens(), wrapped_native=self.wrapped_native or other.wrapped_native)

    def route_address(self, token: Token) -> str:
        """Address used in a swap path: the wrapped token stands in for the native coin."""
        if token.is_native:
            if not self.wrapped_native:
                raise UnknownTokenError("no wrapped native token registered for routing native swaps")
            return Web3.to_checksum_address(self.wrapped_native)
        return Web3.to_checksum_address(token.address)
