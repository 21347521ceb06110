"""EVM anchors: a 0-value self-transaction whose calldata is the 32-byte checkpoint hash.

Sending to oneself runs no code and touches no contract, so it costs only the
intrinsic gas plus calldata (about 21.5k-22.3k gas) and cannot revert; the
transaction itself, signed by the operator and included in a block, is the
timestamped commitment.
"""
from __future__ import annotations

from web3 import Web3
from web3.exceptions import TransactionNotFound

from swarm.core.anchor import AnchorRef, anchor_problem, evm_calldata, require_hash
from tools.evm.tx import TxRequest, TxSender


def evm_chain(chain_id: int) -> str:
    return f"evm:{chain_id}"


def anchor_on_evm(sender: TxSender, checkpoint_hash: bytes) -> AnchorRef:
    """Send the anchor self-transaction and wait for it to be mined."""
    data = evm_calldata(checkpoint_hash)
    me = sender.wallet.address
    receipt = sender.send_and_wait(TxRequest(to=me, data="0x" + data.hex(), value=0, label="audit anchor"))
    return AnchorRef(chain=evm_chain(sender.w3.eth.chain_id), tx_id=receipt.hash,
                     checkpoint_hash=data.hex(), block=receipt.block_number, sender=me)


class EvmAnchorChecker:
    """AnchorChecker for EVM anchors: the tx exists, succeeded, and is a self-tx carrying the hash.

    `expected_sender` pins the operator's address (without it, anyone could have
    anchored the hash; the check then only proves the hash existed by that block).
    RPC errors propagate: "could not look" is not "anchor is bad".
    """

    def __init__(self, w3: Web3, expected_sender: str | None = None, min_confirmations: int = 0):
        self.w3 = w3
        self.expected_sender = Web3.to_checksum_address(expected_sender) if expected_sender else None
        self.min_confirmations = min_confirmations

    def check(self, anchor: dict, checkpoint_hash: bytes) -> tuple[bool, str]:
        chain = evm_chain(self.w3.eth.chain_id)
        problem = anchor_problem(anchor, checkpoint_hash, chain)
        if problem:
            return False, problem
        tx_id = anchor["tx_id"]
        try:
            tx = self.w3.eth.get_transaction(tx_id)
        except TransactionNotFound:
            return False, f"tx {tx_id} not found on {chain}"
        except ValueError as exc:  # not a 32-byte hex hash
            return False, f"tx id {tx_id!r} is not a transaction hash ({exc})"
        # web3 types every transaction field as optional, but a fetched transaction always has these
        sent_by, to, data, mined_in = tx["from"], tx["to"], tx["input"], tx["blockNumber"]  # pyright: ignore[reportTypedDictNotRequiredAccess]
        if bytes(data) != require_hash(checkpoint_hash):
            return False, f"tx {tx_id} carries different data, not this checkpoint hash"
        if to is None or Web3.to_checksum_address(to) != Web3.to_checksum_address(sent_by):
            return False, f"tx {tx_id} is not a self-transaction (from {sent_by} to {to})"
        if self.expected_sender and sent_by != self.expected_sender:
            return False, f"wrong sender: tx {tx_id} is from {sent_by}, expected {self.expected_sender}"
        claimed = anchor.get("sender")
        if claimed is not None and not (Web3.is_address(claimed) and Web3.to_checksum_address(claimed) == sent_by):
            return False, f"wrong sender: anchor names {claimed}, tx {tx_id} is from {sent_by}"
        if mined_in is None:
            return False, f"tx {tx_id} is not mined yet"
        receipt = self.w3.eth.get_transaction_receipt(tx_id)
        if receipt["status"] != 1:
            return False, f"tx {tx_id} reverted in block {receipt['blockNumber']}"
        block = receipt["blockNumber"]
        if anchor.get("block") is not None and anchor["block"] != block:
            return False, f"anchor says block {anchor['block']}, tx {tx_id} is in block {block}"
        confirmations = self.w3.eth.block_number - block + 1
        if confirmations < self.min_confirmations:
            return False, f"tx {tx_id} has {confirmations} confirmation(s), {self.min_confirmations} required"
        return True, f"self-tx {tx_id} from {sent_by} in block {block} ({confirmations} confirmation(s)) carries the hash"
