"""Anchoring text on Solana with the Memo program, and checking an anchor later.

The memo is signed by our wallet (Memo v2 verifies listed signers), so a
verifier can tell who anchored it; the audit log anchors a signed checkpoint.
"""
from __future__ import annotations

import hashlib

from pydantic import BaseModel
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from defai_swarm.tools.solana.errors import SolanaToolError
from defai_swarm.tools.solana.programs import MEMO_PROGRAM
from defai_swarm.tools.solana.rpc import SolanaRpc
from defai_swarm.tools.solana.tx import SolanaTxSender

MAX_MEMO_BYTES = 566  # what fits in one transaction next to the signature and keys


def memo_instruction(text: str | bytes, signer: Pubkey) -> Instruction:
    data = text.encode() if isinstance(text, str) else bytes(text)
    if not data or len(data) > MAX_MEMO_BYTES:
        raise ValueError(f"memo must be 1..{MAX_MEMO_BYTES} bytes, got {len(data)}")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the Memo program only accepts UTF-8 text") from None
    return Instruction(MEMO_PROGRAM, data, [AccountMeta(signer, True, False)])


class AnchorReceipt(BaseModel):
    signature: str
    slot: int
    signer: str
    sha256: str


class MemoAnchor:
    def __init__(self, rpc: SolanaRpc, sender: SolanaTxSender):
        self.rpc, self.sender = rpc, sender

    def anchor(self, text: str) -> AnchorReceipt:
        signer = self.sender.wallet.pubkey
        confirmed = self.sender.send(lambda: [memo_instruction(text, signer)], label="memo anchor")
        return AnchorReceipt(signature=confirmed.signature, slot=confirmed.slot, signer=str(signer),
                             sha256=hashlib.sha256(text.encode()).hexdigest())

    def read(self, signature: str) -> list[tuple[str, list[str]]]:
        """Memos of a landed, successful transaction, each with the signers it lists."""
        record = self.rpc.transaction(signature)
        if record is None:
            raise SolanaToolError(f"transaction {signature} not found")
        if record.err is not None:
            raise SolanaToolError(f"transaction {signature} failed on chain: {record.err}")
        message = record.transaction.message
        keys = list(message.account_keys)
        memos = []
        for ix in message.instructions:
            if keys[ix.program_id_index] == MEMO_PROGRAM:
                signers = [str(keys[i]) for i in ix.accounts if message.is_signer(i)]
                memos.append((bytes(ix.data).decode("utf-8"), signers))
        return memos

    def verify(self, signature: str, text: str, signer: Pubkey | str) -> bool:
        return any(memo == text and str(signer) in signers for memo, signers in self.read(signature))
