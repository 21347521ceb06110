"""Solana anchors over JSON-RPC: one SPL Memo instruction carrying `defai-swarm checkpoint sha256:<hex>`.

The payer is listed as a signer account of the memo instruction, so the memo
program itself refuses the memo unless the payer signed, and logs
`Signed by <pubkey>` before `Memo (len N): "<text>"`.

Checking reads those logs (getTransaction's `meta.logMessages`). That is sound
because a program can write only `Program log: ...` lines; the runtime alone
writes the `Program <id> invoke [n]` / `success` frame lines, so a log line
inside a frame of the memo program really came from the memo program. The same
check serves LiteSVM's in-process history (swarm/audit/anchor_solana.py), which
keeps only logs, not messages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from solders.pubkey import Pubkey
from solders.signature import Signature

from swarm.core.anchor import AnchorError, AnchorRef, anchor_problem, memo_text
from tools.solana.errors import SimulationFailed, TxFailed, TxFateUnknown
from tools.solana.memo import memo_instruction
from tools.solana.programs import MEMO_PROGRAM
from tools.solana.rpc import SolanaRpc
from tools.solana.tx import SolanaTxSender

LOCALNET_CHAIN = "solana:localnet"

_INVOKE = re.compile(r"Program (\S+) invoke \[\d+\]")
_END = re.compile(r"Program (\S+) (?:success|failed: .*)")
_MEMO_LOG = re.compile(r'Memo \(len (\d+)\): "(.*)"')
_LOG = "Program log: "


def solana_chain(cluster: str) -> str:
    """The anchor chain label of a cluster: `solana:localnet`, `solana:devnet`, `solana:mainnet`."""
    return f"solana:{cluster}"


@dataclass
class MemoCall:
    signers: list[str] = field(default_factory=list)  # base58 pubkeys the memo program saw sign
    memo: str | None = None  # the memo text, None if it was not logged verbatim


class TxView(NamedTuple):
    error: str | None  # None: the transaction succeeded
    logs: list[str]
    slot: int | None = None  # where it landed, when the backend knows


def memo_calls(logs: list[str]) -> list[MemoCall]:
    """Every memo-program invocation in a transaction's logs, attributed by invoke frames."""
    calls: list[MemoCall] = []
    stack: list[MemoCall | None] = []
    memo_id = str(MEMO_PROGRAM)
    for line in logs:
        if m := _INVOKE.fullmatch(line):
            call = MemoCall() if m[1] == memo_id else None
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

    def __init__(self, expected_signer: Pubkey | str | None = None):
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
        if view.slot is not None and anchor.get("block") is not None and anchor["block"] != view.slot:
            return False, f"anchor says slot {anchor['block']}, tx {sig} is in slot {view.slot}"
        where = f" in slot {view.slot}" if view.slot is not None else ""
        return True, f"memo in tx {sig}{where} carries the hash, signed by {', '.join(signed[0].signers) or 'nobody'}"


class SolanaRpcAnchorChecker(SolanaMemoChecker):
    """Looks anchors up with getTransaction on a JSON-RPC endpoint. RPC errors propagate ("could not look")."""

    def __init__(self, rpc: SolanaRpc, chain: str, expected_sender: str | None = None):
        super().__init__(expected_sender)
        self.rpc, self.chain = rpc, chain

    def lookup(self, signature: Signature) -> TxView | None:
        record = self.rpc.transaction(str(signature))
        if record is None:
            return None
        return TxView(None if record.err is None else str(record.err), record.log_messages, record.slot)


def anchor_with_memo(sender: SolanaTxSender, checkpoint_hash: bytes, chain: str) -> AnchorRef:
    """Send one memo with the checkpoint hash, signed by the sender's wallet, and wait for it to confirm.

    AnchorError when the chain refused it; RpcUnavailable / TxFateUnknown propagate (it may still land).
    """
    text = memo_text(checkpoint_hash)  # refuses a hash that is not 32 bytes, before anything is signed
    signer = sender.wallet.pubkey
    try:
        confirmed = sender.send(lambda: [memo_instruction(text, signer)], label="audit anchor")
    except TxFateUnknown:
        raise
    except (SimulationFailed, TxFailed) as exc:
        raise AnchorError(f"memo anchor on {chain} failed: {exc}") from None
    return AnchorRef(chain=chain, tx_id=confirmed.signature, checkpoint_hash=checkpoint_hash.hex(),
                     block=confirmed.slot, sender=str(signer))
