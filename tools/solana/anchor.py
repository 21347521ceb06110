"""Solana anchors: one SPL Memo instruction carrying `defai-swarm checkpoint sha256:<hex>`, sent over JSON-RPC
(`anchor_with_memo`, `SolanaRpcAnchorChecker`) or into an in-process LiteSVM (`anchor_on_litesvm`,
`LiteSvmAnchorChecker`).

The payer is listed as a signer account of the memo instruction, so the memo
program itself refuses the memo unless the payer signed, and logs
`Signed by <pubkey>` before `Memo (len N): "<text>"`.

Checking reads those logs (getTransaction's `meta.logMessages`). That is sound
because a program can write only `Program log: ...` lines; the runtime alone
writes the `Program <id> invoke [n]` / `success` frame lines, so a log line
inside a frame of the memo program really came from the memo program. The same
check serves LiteSVM's in-process history (`LiteSvmAnchorChecker`), which keeps
only the metadata (signature, logs, error), not the transaction.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
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

from defai_swarm.core.anchor import AnchorError, AnchorFacts, AnchorRef, anchor_problem, check_result, memo_text
from defai_swarm.core.errors import ConfigError
from defai_swarm.tools.solana.config import SolanaChainConfig
from defai_swarm.tools.solana.errors import RpcError, SimulationFailed, TxFailed, TxFateUnknown
from defai_swarm.tools.solana.memo import memo_instruction
from defai_swarm.tools.solana.programs import MEMO_PROGRAM
from defai_swarm.tools.solana.rpc import SolanaRpc
from defai_swarm.tools.solana.tx import SolanaTxSender
from defai_swarm.tools.solana.wallet import ENV_VAR

log = logging.getLogger(__name__)

LOCALNET_CHAIN = "solana:localnet"
LITESVM_CHAIN = "solana:litesvm"

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
    """AnchorChecker over memo logs; subclasses supply `chain`, `lookup` and, if their backend keeps them,
    `block_time` (with `block_times_known = True`).

    `expected_signer` pins the operator's account. Without it the memo only proves that someone put the hash
    on-chain (anyone can sign a memo): `check` then answers "unpinned", not ok.
    """

    chain = "solana"
    block_times_known = False  # LiteSVM's in-process history keeps no block times

    def __init__(self, expected_signer: Pubkey | str | None = None):
        self.expected_signer = expected_signer

    def lookup(self, signature: Signature) -> TxView | None:
        raise NotImplementedError

    def block_time(self, signature: Signature, view: TxView) -> int | None:
        """Unix time of the slot the transaction landed in; None when the node cannot say."""
        return None

    def check(self, anchor: dict, checkpoint_hash: bytes) -> tuple[bool, str]:
        return check_result(self.inspect(anchor, checkpoint_hash))

    def inspect(self, anchor: dict, checkpoint_hash: bytes) -> AnchorFacts:
        expected = str(self.expected_signer) if self.expected_signer is not None else None

        def facts(ok: bool, detail: str, **found) -> AnchorFacts:
            return AnchorFacts(ok=ok, detail=detail, expected_sender=expected,
                               block_times_known=self.block_times_known, **found)

        problem = anchor_problem(anchor, checkpoint_hash, self.chain)
        if problem:
            return facts(False, problem)
        try:
            sig = Signature.from_string(anchor["tx_id"])
        except ValueError:
            return facts(False, f"tx id {anchor['tx_id']!r} is not a Solana signature")
        view = self.lookup(sig)
        if view is None:
            return facts(False, f"tx {sig} not found on {self.chain}")
        if view.error is not None:
            return facts(False, f"tx {sig} failed: {view.error}", block=view.slot)
        want = memo_text(checkpoint_hash)
        calls = memo_calls(view.logs)
        hits = [c for c in calls if c.memo == want]
        if not hits:
            if not calls:
                return facts(False, f"tx {sig} has no memo instruction", block=view.slot)
            return facts(False, f"tx {sig} carries a different memo ({calls[0].memo!r}), not this checkpoint hash",
                         block=view.slot)
        claimed = anchor.get("sender")
        required = [str(p) for p in (expected, claimed) if p is not None]
        signed = [c for c in hits if all(r in c.signers for r in required)]
        # who sent it: the pinned account if it signed, else the first account the memo program saw sign
        signers = [s for c in hits for s in c.signers]
        sender = expected if expected in signers else (signers[0] if signers else None)
        sender_ok = None if expected is None else expected in signers
        found: dict = {"sender": sender, "sender_ok": sender_ok, "block": view.slot}
        if not signed:
            return facts(False, f"wrong signer: memo signed by {hits[0].signers or 'nobody'}, required {required}",
                         **found)
        if view.slot is not None and anchor.get("block") is not None and anchor["block"] != view.slot:
            return facts(False, f"anchor says slot {anchor['block']}, tx {sig} is in slot {view.slot}", **found)
        if self.block_times_known:
            found["block_time"] = self.block_time(sig, view)
        where = f" in slot {view.slot}" if view.slot is not None else ""
        return facts(True, f"memo in tx {sig}{where} carries the hash, signed by "
                           f"{', '.join(signed[0].signers) or 'nobody'}", **found)


class SolanaRpcAnchorChecker(SolanaMemoChecker):
    """Looks anchors up with getTransaction on a JSON-RPC endpoint. RPC errors propagate ("could not look")."""

    block_times_known = True

    def __init__(self, rpc: SolanaRpc, chain: str, expected_sender: str | None = None):
        super().__init__(expected_sender)
        self.rpc, self.chain = rpc, chain

    def lookup(self, signature: Signature) -> TxView | None:
        record = self.rpc.transaction(str(signature))
        if record is None:
            return None
        return TxView(None if record.err is None else str(record.err), record.log_messages, record.slot)

    def block_time(self, signature: Signature, view: TxView) -> int | None:
        """getBlockTime(slot); where the node does not answer it (the local devnet has no getBlockTime, and
        a node may have pruned the slot), the `blockTime` getTransaction reports for the same transaction."""
        if view.slot is not None:
            slot = view.slot
            try:
                answer = self.rpc.read(lambda: self.rpc.client.get_block_time(slot)).value
            except RpcError:  # e.g. -32601 Method not found, -32004 block not available
                answer = None
            if answer is not None:
                return int(answer)
        value = self.rpc.read(lambda: self.rpc.client.get_transaction(
            signature, encoding="base64", max_supported_transaction_version=0)).value
        return int(value.block_time) if value is not None and value.block_time is not None else None


def configured_anchor_sender(config: SolanaChainConfig | None) -> str | None:
    """The operator's account for `config`, from the operator's configuration (no node contacted): the pubkey
    of the wallet `SolanaChain.from_config` signs (and anchors) with — `wallet_path`, else
    `$SWARM_SOLANA_KEYPAIR`; None when neither is set."""
    from defai_swarm.tools.solana.wallet import SolanaWallet, load_wallet

    if config is not None:
        wallet = load_wallet(config)
    else:
        try:
            wallet = SolanaWallet.from_env() if (os.environ.get(ENV_VAR) or "").strip() else None
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return wallet.address if wallet is not None else None


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
    log.info("anchored checkpoint %s on %s in %s (slot %d)", checkpoint_hash.hex(), chain, confirmed.signature,
             confirmed.slot)
    return AnchorRef(chain=chain, tx_id=confirmed.signature, checkpoint_hash=checkpoint_hash.hex(),
                     block=confirmed.slot, sender=str(signer))


# ---- LiteSVM (the real Solana VM in-process) ------------------------------------------------------------------

def memo_with_signers(text: str, signers: Sequence[Pubkey]) -> Instruction:
    """A memo the program accepts only if every listed account signed the transaction (none listed: anyone's)."""
    return Instruction(MEMO_PROGRAM, text.encode("utf-8"), [AccountMeta(s, True, False) for s in signers])


def anchor_on_litesvm(svm: LiteSVM, payer: Keypair, checkpoint_hash: bytes) -> AnchorRef:
    """Send the memo transaction to LiteSVM (payer must hold lamports for the fee)."""
    text = memo_text(checkpoint_hash)  # refuses a hash that is not 32 bytes
    blockhash = svm.latest_blockhash()
    msg = Message.new_with_blockhash([memo_with_signers(text, [payer.pubkey()])], payer.pubkey(), blockhash)
    result = svm.send_transaction(Transaction([payer], msg, blockhash))
    if isinstance(result, FailedTransactionMetadata):
        raise AnchorError(f"memo transaction failed: {result.err()}")
    return AnchorRef(chain=LITESVM_CHAIN, tx_id=str(result.signature()), checkpoint_hash=checkpoint_hash.hex(),
                     block=svm.get_clock().slot, sender=str(payer.pubkey()))


class LiteSvmAnchorChecker(SolanaMemoChecker):
    """Looks anchors up in a LiteSVM's transaction history (in-process, the same VM that anchored). That history
    keeps only the metadata (signature, logs, error), which is why checking reads the memo program's logs."""

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
