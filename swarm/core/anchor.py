"""On-chain anchors of a checkpoint hash: the reference kept in a bundle, and the wire formats.

The anchored value is always `checkpoint_hash(note)` (32 bytes). It goes on-chain as
  - EVM: the calldata of a self-transaction, exactly the 32 bytes and nothing else;
  - Solana: an SPL Memo whose text is `defai-swarm checkpoint sha256:<64 lowercase hex>`.
Both formats live here so the anchoring side and every checker agree byte for byte.
"""
from __future__ import annotations

import re
from typing import Callable, Protocol

from pydantic import BaseModel, ConfigDict, field_validator

from swarm.core.errors import SwarmError

MEMO_PREFIX = "defai-swarm checkpoint sha256:"
_HEX32 = re.compile(r"[0-9a-f]{64}")
_MEMO = re.compile(re.escape(MEMO_PREFIX) + r"([0-9a-f]{64})")


class AnchorError(SwarmError):
    """An anchor transaction could not be made (the chain rejected it)."""


class AnchorRef(BaseModel):
    """Where a checkpoint hash was anchored; `to_dict()` is the bundle's `anchor` field."""

    model_config = ConfigDict(frozen=True)
    chain: str  # "evm:<chain id>", "solana:litesvm", "solana:<cluster>"
    tx_id: str  # EVM tx hash (0x hex) or Solana signature (base58)
    checkpoint_hash: str  # 64 lowercase hex
    block: int | None = None  # EVM block number / Solana slot
    sender: str  # EVM address / Solana pubkey that signed the anchor

    @field_validator("checkpoint_hash")
    @classmethod
    def _hash(cls, v: str) -> str:
        if not _HEX32.fullmatch(v):
            raise ValueError("checkpoint_hash must be 64 lowercase hex digits")
        return v

    def to_dict(self) -> dict:
        return self.model_dump()


def require_hash(checkpoint_hash: bytes) -> bytes:
    """Refuse anything but 32 bytes: a short or long value would anchor nothing checkable."""
    if not isinstance(checkpoint_hash, (bytes, bytearray)) or len(checkpoint_hash) != 32:
        raise ValueError("checkpoint hash must be exactly 32 bytes (SHA-256 of the signed note)")
    return bytes(checkpoint_hash)


def evm_calldata(checkpoint_hash: bytes) -> bytes:
    """EVM anchor calldata: the 32 hash bytes, no selector (cheapest; nothing executes)."""
    return require_hash(checkpoint_hash)


def memo_text(checkpoint_hash: bytes) -> str:
    """Solana anchor memo text; ASCII only, so the memo program logs it unescaped."""
    return MEMO_PREFIX + require_hash(checkpoint_hash).hex()


def parse_memo(text: str) -> bytes | None:
    """The hash carried by an anchor memo, or None if `text` is not exactly one."""
    m = _MEMO.fullmatch(text)
    return bytes.fromhex(m[1]) if m else None


def anchor_problem(anchor: object, checkpoint_hash: bytes, chain: str | None = None) -> str | None:
    """Checks shared by all checkers before any lookup; a problem description or None."""
    if not isinstance(anchor, dict):
        return "anchor is not a dict"
    if len(checkpoint_hash) != 32:
        return "checkpoint hash is not 32 bytes"
    if not isinstance(anchor.get("tx_id"), str) or not anchor["tx_id"]:
        return "anchor has no tx_id"
    stated = anchor.get("checkpoint_hash")
    if stated is not None and stated != checkpoint_hash.hex():
        return "anchor names a different checkpoint hash"
    if chain is not None and anchor.get("chain") != chain:
        return f"anchor is on chain {anchor.get('chain')!r}, this checker reads {chain!r}"
    return None


class AnchorChecker(Protocol):
    """Looks an anchor up on its chain: (ok, detail). RPC errors propagate ("could not look" is not "bad")."""

    def check(self, anchor: dict, checkpoint_hash: bytes) -> tuple[bool, str]: ...


Anchorer = Callable[[bytes], AnchorRef]  # checkpoint hash -> where it was anchored
