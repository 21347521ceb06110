"""Batched reads: many contract reads in one `eth_call` through Multicall3's `aggregate3`.

Multicall3 lives at the same address on most public EVM chains; the devnet installs a compatible
contract there (`defai_swarm.tools.devnet.multicall`). Where no contract answers at that address, the same
calls are made one `eth_call` each, so callers need no second code path. Every call in a batch
runs against the same block: the batch also returns that block's number and timestamp.

Encoding is done here with eth_abi (no web3 contract object per read): what a read needs is its
selector, its argument types and its answer types.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import BlockIdentifier

from defai_swarm.tools.evm.rpc import ContractAnswerError, is_transient, read_retry

log = logging.getLogger(__name__)

MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"
AGGREGATE3 = keccak(text="aggregate3((address,bool,bytes)[])")[:4]
MAX_CALLS = 32  # the devnet contract's bound (the real Multicall3 has none)


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


@dataclass(frozen=True)
class Read:
    """One contract read: `signature` like "balanceOf(address)", its arguments, and its answer types."""

    target: str
    signature: str
    args: tuple = ()
    returns: tuple[str, ...] = ("uint256",)

    def calldata(self) -> bytes:
        types = self.signature[self.signature.index("(") + 1:-1]
        arg_types = _split_types(types)
        return selector(self.signature) + (encode(arg_types, list(self.args)) if arg_types else b"")

    def decode(self, data: bytes) -> tuple:
        return tuple(decode(list(self.returns), data))


def _split_types(types: str) -> list[str]:
    """Top-level comma split of an ABI type list ("address,(uint256,bool)[]")."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(types):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(types[start:i])
            start = i + 1
    if types[start:]:
        out.append(types[start:])
    return out


class ReadFailed(ContractAnswerError):
    """One read of a batch reverted or answered something that does not decode."""


@dataclass
class Answer:
    ok: bool
    value: tuple | None
    error: str = ""

    def get(self) -> tuple:
        if not self.ok or self.value is None:
            raise ReadFailed(self.error or "the read failed")
        return self.value


@dataclass
class Batch:
    block_number: int
    timestamp: int
    answers: list[Answer]


class Multicall:
    """Batch reads for one connection. Whether the chain has a Multicall3 is looked up once."""

    def __init__(self, w3: Web3, address: str = MULTICALL3_ADDRESS):
        self.w3, self.address = w3, Web3.to_checksum_address(address)
        self._available: bool | None = None
        self._lock = threading.Lock()

    def available(self) -> bool:
        with self._lock:
            if self._available is None:
                code = read_retry(lambda: self.w3.eth.get_code(self.address))()
                self._available = len(bytes(code)) > 0
                if not self._available:
                    log.info("no Multicall3 at %s: batched reads fall back to one eth_call each", self.address)
            return self._available

    def read(self, reads: list[Read], block: BlockIdentifier = "latest") -> Batch:
        """All `reads` against one block, plus that block's number and timestamp. A failed read is an
        `Answer(ok=False)`; node errors (transient ones retried) raise as for any read."""
        if not self.available():
            return self._one_by_one(reads, block)
        if len(reads) + 2 > MAX_CALLS:
            head = self.read(reads[:MAX_CALLS - 2], block)
            tail = self.read(reads[MAX_CALLS - 2:], head.block_number)
            return Batch(head.block_number, head.timestamp, head.answers + tail.answers)
        me = self.address
        calls = [(me, False, selector("getBlockNumber()")), (me, False, selector("getCurrentBlockTimestamp()"))]
        calls += [(Web3.to_checksum_address(r.target), True, r.calldata()) for r in reads]
        data = AGGREGATE3 + encode(["(address,bool,bytes)[]"], [calls])
        raw = read_retry(lambda: bytes(self.w3.eth.call({"to": me, "data": "0x" + data.hex()},  # type: ignore[typeddict-item]
                                                        block_identifier=block)))()
        try:
            (results,) = decode(["(bool,bytes)[]"], raw)
        except DecodingError:
            raise ReadFailed(f"the Multicall3 at {me} answered something that is not an aggregate3 result") from None
        if len(results) != len(calls):
            raise ReadFailed(f"the Multicall3 at {me} answered {len(results)} results for {len(calls)} calls")
        block_number = decode(["uint256"], results[0][1])[0]
        timestamp = decode(["uint256"], results[1][1])[0]
        return Batch(block_number, timestamp, [self._answer(r, ok, out) for r, (ok, out) in zip(reads, results[2:],
                                                                                                 strict=True)])

    @staticmethod
    def _answer(r: Read, ok: bool, out: bytes) -> Answer:
        if not ok:
            return Answer(False, None, f"{r.signature} on {r.target} reverted")
        if not out:
            return Answer(False, None, f"{r.signature} on {r.target} answered nothing (no contract there?)")
        try:
            return Answer(True, r.decode(out))
        except (DecodingError, OverflowError, ValueError):
            return Answer(False, None, f"{r.signature} on {r.target} answered something that does not decode")

    def _one_by_one(self, reads: list[Read], block: BlockIdentifier) -> Batch:
        """No Multicall3 on this chain: the same reads, one eth_call each, pinned to one block."""
        head: Any = read_retry(lambda: self.w3.eth.get_block(block))()
        number, timestamp = int(head["number"]), int(head["timestamp"])
        answers = []
        for r in reads:
            if r.target == self.address and r.signature == "getEthBalance(address)":
                balance = read_retry(lambda r=r: self.w3.eth.get_balance(r.args[0], block_identifier=number))()
                answers.append(Answer(True, (int(balance),)))
                continue
            try:
                out = read_retry(lambda r=r: bytes(self.w3.eth.call(
                    {"to": Web3.to_checksum_address(r.target), "data": "0x" + r.calldata().hex()},  # type: ignore[typeddict-item]
                    block_identifier=number)))()
                answers.append(self._answer(r, True, out))
            except (ContractLogicError, Web3RPCError) as exc:
                if is_transient(exc):
                    raise
                answers.append(Answer(False, None, f"{r.signature} on {r.target}: {type(exc).__name__}"))
        return Batch(number, timestamp, answers)

    def eth_balance(self, owner: str) -> Read:
        return Read(self.address, "getEthBalance(address)", (Web3.to_checksum_address(owner),))


__all__ = ["MULTICALL3_ADDRESS", "Answer", "Batch", "Multicall", "Read", "ReadFailed", "selector"]
