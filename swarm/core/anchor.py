"""On-chain anchors of a checkpoint hash: the reference kept in a bundle, and the wire formats.

The anchored value is always `checkpoint_hash(note)` (32 bytes). It goes on-chain as
  - EVM: the calldata of a self-transaction, exactly the 32 bytes and nothing else;
  - Solana: an SPL Memo whose text is `defai-swarm checkpoint sha256:<64 lowercase hex>`.
Both formats live here so the anchoring side and every checker agree byte for byte.
"""
from __future__ import annotations

import re
from typing import Callable, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, field_validator

from defai_swarm.core.errors import SwarmError

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


class AnchorFacts(BaseModel):
    """What a checker read on-chain about one anchor. The verifier applies its policy to these facts: the sender
    must be the pinned operator account (`expected_sender`), the block time must fall in the run's window.

    `ok` covers what the chain alone can say: the transaction exists, succeeded, carries this checkpoint hash,
    matches what the anchor record states (chain, block, claimed sender) and, when a sender is pinned, was sent
    by it. An unpinned anchor can be `ok` here; the verifier reports it as unpinned, never as a pass.
    """

    model_config = ConfigDict(frozen=True)
    ok: bool
    detail: str
    sender: str | None = None  # who signed the anchor transaction, as the chain shows it (None: not read)
    expected_sender: str | None = None  # the pinned operator account; None: nothing pinned
    sender_ok: bool | None = None  # sender == expected_sender; None when unpinned or the sender was not read
    block: int | None = None  # EVM block number / Solana slot the transaction landed in
    block_time: int | None = None  # unix seconds of that block, as the node reports it
    block_times_known: bool = True  # False: this backend keeps no block times (an in-process VM's history)

    @property
    def pinned(self) -> bool:
        return self.expected_sender is not None


def check_result(facts: AnchorFacts) -> tuple[bool, str]:
    """The `check()` answer for facts: an anchor whose sender nobody pinned is not a pass."""
    if facts.ok and not facts.pinned:
        return False, f"unpinned: {facts.detail}; no operator account is pinned to compare its sender with"
    return facts.ok, facts.detail


class AnchorChecker(Protocol):
    """Looks an anchor up on its chain: (ok, detail). RPC errors propagate ("could not look" is not "bad").

    The built-in checkers also implement `AnchorInspector.inspect`, which the verifier prefers: it reports
    the sender and block time so that the sender pin and the time window are checked and reported. A checker
    with `check` alone is trusted to apply those rules itself.
    """

    def check(self, anchor: dict, checkpoint_hash: bytes) -> tuple[bool, str]: ...


@runtime_checkable
class AnchorInspector(Protocol):
    """A checker that reports what it read (sender, block time) instead of a bare verdict."""

    def check(self, anchor: dict, checkpoint_hash: bytes) -> tuple[bool, str]: ...

    def inspect(self, anchor: dict, checkpoint_hash: bytes) -> AnchorFacts: ...


Anchorer = Callable[[bytes], AnchorRef]  # checkpoint hash -> where it was anchored
