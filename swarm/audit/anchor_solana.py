"""Solana anchors: one SPL Memo instruction carrying `defai-swarm checkpoint sha256:<hex>`.

The payer is listed as a signer account of the memo instruction, so the memo
program itself refuses the memo unless the payer signed, and logs
`Signed by <pubkey>` before `Memo (len N): "<text>"`.

Checking reads those logs rather than the message: LiteSVM's history keeps only
the metadata (signature, logs, error), not the transaction. That is sound because
a program can write only `Program log: ...` lines; the runtime alone writes the
`Program <id> invoke [n]` / `success` frame lines, so a log line inside a frame
of the memo program really came from the memo program.

`SolanaMemoChecker` holds all the checking; a backend only implements
`lookup(signature) -> TxView | None`. A JSON-RPC variant would subclass it with
`chain = "solana:<cluster>"` and build the TxView from solana-py's
`Client.get_transaction(sig, max_supported_transaction_version=0).value`
(`.transaction.meta.err`, `.transaction.meta.log_messages`); it is not written
here because there is no cluster to test it against.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata

from swarm.audit.anchor import AnchorError, AnchorRef, anchor_problem, memo_text

MEMO_PROGRAM_ID = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
LITESVM_CHAIN = "solana:litesvm"

_INVOKE = re.compile(r"Program (\S+) invoke \[\d+\]")
_END = re.compile(r"Program (\S+) (?:success|failed: .*)")
_MEMO_LOG = re.compile(r'Memo \(len (\d+)\): "(.*)"')
_LOG = "Program log: "


def memo_instruction(text: str, signers: list[Pubkey]) -> Instruction:
    """A memo the program accepts only if every listed account signed the transaction."""
    return Instruction(MEMO_PROGRAM_ID, text.encode("utf-8"), [AccountMeta(s, True, False) for s in signers])


def anchor_on_litesvm(svm: LiteSVM, payer: Keypair, checkpoint_hash: bytes) -> AnchorRef:
    """Send the memo transaction to LiteSVM (payer must hold lamports for the fee)."""
    text = memo_text(checkpoint_hash)  # refuses a hash that is not 32 bytes
    blockhash = svm.latest_blockhash()
    msg = Message.new_with_blockhash([memo_instruction(text, [payer.pubkey()])], payer.pubkey(), blockhash)
    result = svm.send_transaction(Transaction([payer], msg, blockhash))
    if isinstance(result, FailedTransactionMetadata):
        raise AnchorError(f"memo transaction failed: {result.err()}")
    return AnchorRef(chain=LITESVM_CHAIN, tx_id=str(result.signature()), checkpoint_hash=checkpoint_hash.hex(),
                     block=svm.get_clock().slot, sender=str(payer.pubkey()))


@dataclass
class MemoCall:
    signers: list[str] = field(default_factory=list)  # base58 pubkeys the memo program saw sign
    memo: str | None = None  # the memo text, None if it was not logged verbatim


class TxView(NamedTuple):
    error: str | None  # None: the transaction succeeded
    logs: list[str]


def memo_calls(logs: list[str]) -> list[MemoCall]:
    """Every memo-program invocation in a transaction's logs, attributed by invoke frames."""
    calls: list[MemoCall] = []
    stack: list[MemoCall | None] = []
    for line in logs:
        if m := _INVOKE.fullmatch(line):
            call = MemoCall() if m[1] == str(MEMO_PROGRAM_ID) else None
            stack.append(call)
            if call is not None:
                calls.append(call)
        elif _END.fullmatch(line):
            if stack:
                stack.pop()
        elif stack and stack[-1] is not None and line.startswith(_LOG):
            body, call = line[len(_LOG):], stack[-1]
            if body.startswith("Signed by "):
                call.signers.append(body[len("Signed by "):])
            elif (m := _MEMO_LOG.fullmatch(body)) and len(m[2].encode()) == int(m[1]):
                # The program logs Rust's {:?} of the text: equal lengths mean nothing was escaped.
                call.memo = m[2]
    return calls


class SolanaMemoChecker:
    """AnchorChecker over memo logs; subclasses supply `chain` and `lookup`."""

    chain = "solana"

    def __init__(self, expected_signer: Pubkey | None = None):
        self.expected_signer = expected_signer

    def lookup(self, signature: Signature) -> TxView | None:
        raise NotImplementedError

    def check(self, anchor: dict, checkpoint_hash: bytes) -> tuple[bool, str]:
        problem = anchor_problem(anchor, checkpoint_hash, self.chain)
        if problem:
            return False, problem
        try:
            sig = Signature.from_string(anchor["tx_id"])
        except ValueError:
            return False, f"tx id {anchor['tx_id']!r} is not a Solana signature"
        view = self.lookup(sig)
        if view is None:
            return False, f"tx {sig} not found on {self.chain}"
        if view.error is not None:
            return False, f"tx {sig} failed: {view.error}"
        want = memo_text(checkpoint_hash)
        calls = memo_calls(view.logs)
        hits = [c for c in calls if c.memo == want]
        if not hits:
            if not calls:
                return False, f"tx {sig} has no memo instruction"
            return False, f"tx {sig} carries a different memo ({calls[0].memo!r}), not this checkpoint hash"
        required = [str(p) for p in (self.expected_signer, anchor.get("sender")) if p is not None]
        signed = [c for c in hits if all(r in c.signers for r in required)]
        if not signed:
            return False, f"wrong signer: memo signed by {hits[0].signers or 'nobody'}, required {required}"
        return True, f"memo in tx {sig} carries the hash, signed by {', '.join(signed[0].signers) or 'nobody'}"


class LiteSvmAnchorChecker(SolanaMemoChecker):
    """Looks anchors up in a LiteSVM's transaction history (in-process, same VM that anchored)."""

    chain = LITESVM_CHAIN

    def __init__(self, svm: LiteSVM, expected_signer: Pubkey | None = None):
        super().__init__(expected_signer)
        self.svm = svm

    def lookup(self, signature: Signature) -> TxView | None:
        result = self.svm.get_transaction(signature)
        if result is None:
            return None
        if isinstance(result, FailedTransactionMetadata):
            return TxView(str(result.err()), list(result.meta().logs()))
        return TxView(None, list(result.logs()))
