"""EVM anchors: a 0-value self-transaction whose calldata is the 32-byte checkpoint hash.

Sending to oneself runs no code and touches no contract, so it costs only the
intrinsic gas plus calldata (about 21.5k-22.3k gas) and cannot revert; the
transaction itself, signed by the operator and included in a block, is the
timestamped commitment.
"""
from __future__ import annotations

import logging
from typing import Any

from web3 import Web3
from web3.exceptions import TransactionNotFound

from defai_swarm.core.anchor import AnchorFacts, AnchorRef, anchor_problem, check_result, evm_calldata, require_hash
from defai_swarm.tools.evm.config import EvmChainConfig
from defai_swarm.tools.evm.tx import TxRequest, TxSender
from defai_swarm.tools.evm.wallet import Wallet


log = logging.getLogger(__name__)


def evm_chain(chain_id: int) -> str:
    return f"evm:{chain_id}"


def anchor_on_evm(sender: TxSender, checkpoint_hash: bytes) -> AnchorRef:
    """Send the anchor self-transaction and wait for it to be mined."""
    data = evm_calldata(checkpoint_hash)
    me = sender.wallet.address
    receipt = sender.send_and_wait(TxRequest(to=me, data="0x" + data.hex(), value=0, label="audit anchor"))
    log.info("anchored checkpoint %s in %s (block %d)", data.hex(), receipt.hash, receipt.block_number)
    return AnchorRef(chain=evm_chain(sender.w3.eth.chain_id), tx_id=receipt.hash,
                     checkpoint_hash=data.hex(), block=receipt.block_number, sender=me)


def configured_anchor_sender(config: EvmChainConfig | None) -> str | None:
    """The operator's account for `config`, read from the operator's configuration (no node contacted).

    The same wallet `EvmChain.from_config` signs (and anchors) with: `SWARM_PRIVATE_KEY`, else on a local
    devnet anvil's dev account 1; None when neither applies (a verifier must then pass the address).
    """
    try:
        return Wallet.from_env().address
    except ValueError:
        pass
    if config is not None and config.local_devnet:
        return Wallet.devnet(1).address
    return None


class EvmAnchorChecker:
    """AnchorChecker for EVM anchors: the tx exists, succeeded, and is a self-tx carrying the hash.

    `expected_sender` pins the operator's address. Without it the anchor only proves that someone put the
    hash on-chain by that block (anyone can send a self-transaction): `check` then answers "unpinned", not ok.
    `inspect` also reports the block's timestamp, for the verifier's time window.
    RPC errors propagate: "could not look" is not "anchor is bad".
    """

    def __init__(self, w3: Web3, expected_sender: str | None = None, min_confirmations: int = 0):
        self.w3 = w3
        self.expected_sender = Web3.to_checksum_address(expected_sender) if expected_sender else None
        self.min_confirmations = min_confirmations

    def check(self, anchor: dict, checkpoint_hash: bytes) -> tuple[bool, str]:
        return check_result(self.inspect(anchor, checkpoint_hash))

    def inspect(self, anchor: dict, checkpoint_hash: bytes) -> AnchorFacts:
        expected = self.expected_sender

        def facts(ok: bool, detail: str, **found) -> AnchorFacts:
            return AnchorFacts(ok=ok, detail=detail, expected_sender=expected, **found)

        chain = evm_chain(self.w3.eth.chain_id)
        problem = anchor_problem(anchor, checkpoint_hash, chain)
        if problem:
            return facts(False, problem)
        tx_id = anchor["tx_id"]
        try:
            tx = self.w3.eth.get_transaction(tx_id)
        except TransactionNotFound:
            return facts(False, f"tx {tx_id} not found on {chain}")
        except ValueError as exc:  # not a 32-byte hex hash
            return facts(False, f"tx id {tx_id!r} is not a transaction hash ({exc})")
        # web3 types every transaction field as optional, but a fetched transaction always has these
        sent_by, to, data, mined_in = tx["from"], tx["to"], tx["input"], tx["blockNumber"]  # pyright: ignore[reportTypedDictNotRequiredAccess]
        sent_by = Web3.to_checksum_address(sent_by)
        sender_ok = None if expected is None else sent_by == expected
        if bytes(data) != require_hash(checkpoint_hash):
            return facts(False, f"tx {tx_id} carries different data, not this checkpoint hash")
        if to is None or Web3.to_checksum_address(to) != sent_by:
            return facts(False, f"tx {tx_id} is not a self-transaction (from {sent_by} to {to})", sender=sent_by,
                         sender_ok=sender_ok)
        if expected and sent_by != expected:
            return facts(False, f"wrong sender: tx {tx_id} is from {sent_by}, expected {expected}", sender=sent_by,
                         sender_ok=False)
        claimed = anchor.get("sender")
        if claimed is not None and not (Web3.is_address(claimed) and Web3.to_checksum_address(claimed) == sent_by):
            return facts(False, f"wrong sender: anchor names {claimed}, tx {tx_id} is from {sent_by}", sender=sent_by,
                         sender_ok=sender_ok)
        if mined_in is None:
            return facts(False, f"tx {tx_id} is not mined yet", sender=sent_by, sender_ok=sender_ok)
        receipt = self.w3.eth.get_transaction_receipt(tx_id)
        block = receipt["blockNumber"]
        found: dict[str, Any] = {"sender": sent_by, "sender_ok": sender_ok, "block": block}
        if receipt["status"] != 1:
            return facts(False, f"tx {tx_id} reverted in block {block}", **found)
        if anchor.get("block") is not None and anchor["block"] != block:
            return facts(False, f"anchor says block {anchor['block']}, tx {tx_id} is in block {block}", **found)
        block_time = int(self.w3.eth.get_block(block)["timestamp"])  # pyright: ignore[reportTypedDictNotRequiredAccess]
        found["block_time"] = block_time
        confirmations = self.w3.eth.block_number - block + 1
        if confirmations < self.min_confirmations:
            return facts(False, f"tx {tx_id} has {confirmations} confirmation(s), {self.min_confirmations} required",
                         **found)
        return facts(True, f"self-tx {tx_id} from {sent_by} in block {block} ({confirmations} confirmation(s)) "
                           f"carries the hash", **found)
