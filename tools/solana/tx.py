"""Sending Solana transactions safely: simulate, send, confirm, rebroadcast the same bytes, re-sign only after expiry.

A signed transaction can land until its blockhash expires (last valid block
height). Until then the only safe retry is re-sending the *same* bytes (same
signature, so it cannot land twice). A new transaction (fresh blockhash, new
signature) is signed only after the block height passed the old one's limit
*and* its signature status, read after that point, shows it never landed.
"""
from __future__ import annotations

import base64
import logging
import time
from typing import Callable

from pydantic import BaseModel
from solders.instruction import Instruction
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from defai_swarm.tools.solana.errors import (BlockhashExpired, RpcUnavailableError, SimulationFailed, TxFailed, TxFateUnknown)
from defai_swarm.tools.solana.rpc import SimulationResult, SolanaRpc
from defai_swarm.tools.solana.wallet import SolanaWallet

log = logging.getLogger(__name__)

CONFIRMED = ("confirmed", "finalized")


class SignedSolanaTx(BaseModel):
    """A signed transaction as recorded in the outbox before broadcast (a `defai_swarm.core.outbox.SignedTxRecord`)."""

    signature: str
    raw_b64: str
    last_valid_block_height: int
    label: str = ""

    @property
    def tx_id(self) -> str:
        return self.signature

    @property
    def sequence(self) -> int | None:
        return None  # Solana has no nonce: a blockhash bounds a transaction's life instead

    @classmethod
    def of(cls, tx: VersionedTransaction, last_valid_block_height: int, label: str = "") -> "SignedSolanaTx":
        return cls(signature=str(tx.signatures[0]), raw_b64=base64.b64encode(bytes(tx)).decode(),
                   last_valid_block_height=last_valid_block_height, label=label)

    @property
    def raw(self) -> bytes:
        return base64.b64decode(self.raw_b64)

    @property
    def transaction(self) -> VersionedTransaction:
        return VersionedTransaction.from_bytes(self.raw)


class ConfirmedTx(BaseModel):
    signature: str
    slot: int
    label: str = ""
    confirmation_status: str
    broadcasts: int


class SolanaTxSender:
    def __init__(self, rpc: SolanaRpc, wallet: SolanaWallet, poll_seconds: float = 0.25,
                 rebroadcast_seconds: float = 2.0, timeout_seconds: float = 120.0):
        self.rpc, self.wallet = rpc, wallet
        self.poll_seconds, self.rebroadcast_seconds, self.timeout_seconds = poll_seconds, rebroadcast_seconds, timeout_seconds

    def sign(self, instructions: list[Instruction], label: str = "") -> SignedSolanaTx:
        blockhash, last_valid = self.rpc.latest_blockhash()
        return SignedSolanaTx.of(self.wallet.sign_v0(instructions, blockhash), last_valid, label)

    def simulate(self, tx: SignedSolanaTx | VersionedTransaction, accounts: list[Pubkey] | None = None) -> SimulationResult:
        tx = tx.transaction if isinstance(tx, SignedSolanaTx) else tx
        result = self.rpc.simulate(tx, accounts)
        if result.err is not None:
            raise SimulationFailed(str(result.err), result.logs)
        return result

    def broadcast(self, signed: SignedSolanaTx) -> bool:
        """Send the bytes once. False when the answer was lost: the tx may or may not have reached the node.

        TxFailed when the node refused the bytes (on a first send: they never land).
        """
        log.info("broadcast %s %s", signed.label or "transaction", signed.signature)
        try:
            self.rpc.send_raw(signed.raw)
            return True
        except RpcUnavailableError:
            log.warning("broadcast of %s unanswered: its signature status will decide", signed.signature)
            return False

    def rebroadcast(self, signed: SignedSolanaTx) -> bool:
        """Send the same bytes again. A refusal now proves nothing (an earlier send may have landed): the
        signature status decides, so it is reported as False, not raised."""
        try:
            return self.broadcast(signed)
        except TxFailed:
            return False

    def _status(self, signature: str):
        try:
            return self.rpc.signature_status(signature), True
        except RpcUnavailableError:
            return None, False

    def confirm(self, signed: SignedSolanaTx) -> ConfirmedTx:
        """Poll until confirmed, re-sending the same bytes meanwhile.

        BlockhashExpired only when, after the block height passed the limit, the
        status lookup answered and showed nothing. TxFateUnknown when we ran out of
        time without a definite answer. TxFailed when it landed with an error.
        """
        deadline = time.monotonic() + self.timeout_seconds
        last_send, broadcasts = time.monotonic(), 1
        while True:
            status, answered = self._status(signed.signature)
            if status is not None:
                if status.err is not None:
                    raise TxFailed(f"{signed.label or 'transaction'} {signed.signature} landed with error {status.err}")
                if status.confirmation_status in CONFIRMED:
                    return ConfirmedTx(signature=signed.signature, slot=status.slot, label=signed.label,
                                       confirmation_status=status.confirmation_status, broadcasts=broadcasts)
            else:
                try:
                    height = self.rpc.block_height()
                except RpcUnavailableError:
                    height = None
                if height is not None and height > signed.last_valid_block_height:
                    final, answered = self._status(signed.signature)  # read *after* expiry: decisive
                    if answered and final is None:
                        raise BlockhashExpired(signed.signature, signed.last_valid_block_height)
                    continue
                if time.monotonic() - last_send >= self.rebroadcast_seconds:
                    self.rebroadcast(signed)
                    last_send, broadcasts = time.monotonic(), broadcasts + 1
            if time.monotonic() > deadline:
                raise TxFateUnknown(signed.signature, f"not confirmed within {self.timeout_seconds:.0f}s")
            time.sleep(self.poll_seconds)

    def send(self, build: Callable[[], list[Instruction]], label: str = "", attempts: int = 3,
             record: Callable[[SignedSolanaTx], None] | None = None) -> ConfirmedTx:
        """Build, sign, simulate, (record), send and confirm; a new blockhash only after a proven expiry."""
        for _ in range(attempts):
            signed = self.sign(build(), label)
            self.simulate(signed)
            if record is not None:
                record(signed)
            self.broadcast(signed)
            try:
                return self.confirm(signed)
            except BlockhashExpired:
                continue
        raise TxFailed(f"{label or 'transaction'} did not land within {attempts} blockhash lifetimes")
