"""Solana anchors in LiteSVM (in-process): one SPL Memo instruction carrying `defai-swarm checkpoint sha256:<hex>`.

The memo format, the log reading and all the checking live in `defai_swarm.tools.solana.anchor`
(shared with the JSON-RPC checker `SolanaRpcAnchorChecker`); this module keeps the
LiteSVM backend: `anchor_on_litesvm` and `LiteSvmAnchorChecker`, whose `lookup`
reads LiteSVM's history. That history keeps only the metadata (signature, logs,
error), not the transaction, which is why checking reads the memo program's logs.
"""
from __future__ import annotations

from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata

from defai_swarm.audit.anchor import AnchorError, AnchorRef, memo_text
from defai_swarm.tools.solana.anchor import MemoCall, SolanaMemoChecker, TxView, memo_calls
from defai_swarm.tools.solana.programs import MEMO_PROGRAM as MEMO_PROGRAM_ID

LITESVM_CHAIN = "solana:litesvm"

__all__ = ["LITESVM_CHAIN", "MEMO_PROGRAM_ID", "LiteSvmAnchorChecker", "MemoCall", "SolanaMemoChecker", "TxView",
           "anchor_on_litesvm", "memo_calls", "memo_instruction"]


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
