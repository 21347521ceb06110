"""Swap executor: fresh quote, exact approval, minOut, deadline, simulate, record, send, confirm, verify.

Each signed transaction is recorded in the outbox before it is broadcast; a
resumed run finds it there and waits for it (re-broadcasting the same bytes if
the node lost it) instead of signing a second swap.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Literal

from web3 import Web3

from swarm.core import chain as core_chain
from swarm.core.chain import Recorder
from swarm.core.faults import fault_point
from swarm.core.outbox import Outbox
from tools.evm import erc20
from tools.evm.errors import EvmToolError, RpcUnavailableError
from tools.evm.tokens import Token
from tools.evm.tx import SignedTx, TxFateUnknown, TxReceipt, TxSender
from tools.evm.uniswap import UniswapV2

TRANSFER_TOPIC = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")
WITHDRAWAL_TOPIC = "0x" + Web3.keccak(text="Withdrawal(address,uint256)").hex().removeprefix("0x")
DEADLINE_SECONDS = 300


class SwapOutcome(core_chain.SwapOutcome):
    status: Literal["confirmed", "refused", "failed"]
    approve_tx: str | None = None
    swap_tx: str | None = None
    block_number: int | None = None

    def tx_ids(self) -> list[str]:
        return [h for h in (self.approve_tx, self.swap_tx) if h]


def received_amount(receipt: TxReceipt, token_out: Token, wallet: str, weth: str) -> int:
    """What the wallet got, read from the swap's own logs (safe with other txs in flight)."""
    if token_out.is_native:
        return sum(int(log["data"], 16) for log in receipt.logs
                   if log["address"].lower() == weth.lower() and log["topics"][0] == WITHDRAWAL_TOPIC)
    to_topic = "0x" + "00" * 12 + wallet.lower().removeprefix("0x")
    return sum(int(log["data"], 16) for log in receipt.logs
               if log["address"].lower() == token_out.address.lower() and log["topics"][0] == TRANSFER_TOPIC
               and log["topics"][2].lower() == to_topic)


class SwapExecutor:
    def __init__(self, uniswap: UniswapV2, sender: TxSender, store: Outbox,
                 record: Recorder = lambda run_id, kind, payload: None):
        self.uniswap, self.sender, self.store, self.record = uniswap, sender, store, record
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _token_lock(self, token: Token):
        """Exact approvals are overwritten, not added: approve-then-swap of one token must not interleave."""
        if token.is_native:
            return contextlib.nullcontext()
        with self._locks_guard:
            return self._locks.setdefault(token.address.lower(), threading.Lock())

    @property
    def wallet(self) -> str:
        return self.sender.wallet.address

    def _send_once(self, run_id: str, step: str, build) -> TxReceipt:
        """Sign, record, broadcast and confirm one transaction; on resume, confirm the recorded one."""
        signed = self.store.signed_for(run_id, step, SignedTx)
        if signed is not None:
            self.record(run_id, "tx", {"step": step, "event": "resumed", "hash": signed.hash, "nonce": signed.nonce})
            self.sender.rebroadcast_if_missing(signed)
        else:
            request = build()
            signed = self.sender.sign(request)  # simulates first: a revert raises before anything is signed
            self.store.record_signed(run_id, step, signed)
            self.record(run_id, "tx", {"step": step, "event": "signed", "simulation": "ok", "hash": signed.hash,
                                       "nonce": signed.nonce, "unsigned": request.model_dump(mode="json"),
                                       "gas": signed.gas, "max_fee_per_gas": str(signed.max_fee_per_gas)})
            fault_point(f"after_sign:{step}")
            self.sender.broadcast(signed)
            fault_point(f"after_send:{step}")
        receipt = self.sender.wait(signed)
        fault_point(f"after_receipt:{step}")
        self.record(run_id, "tx", {"step": step, "event": "receipt", **receipt.model_dump(mode="json", exclude={"logs"})})
        return receipt

    def execute(self, run_id: str, step: str, token_in: Token, token_out: Token, amount_in: int, min_out: int) -> SwapOutcome:
        with self._token_lock(token_in):
            return self._execute(run_id, step, token_in, token_out, amount_in, min_out)

    def _execute(self, run_id: str, step: str, token_in: Token, token_out: Token, amount_in: int, min_out: int) -> SwapOutcome:
        outcome = SwapOutcome(status="failed", amount_in=amount_in, min_out=min_out)
        try:
            resumed = self.store.signed_for(run_id, f"{step}:swap", SignedTx) is not None
            if not resumed:
                quote = self.uniswap.quote(token_in, token_out, amount_in)
                outcome.quoted_out = quote.amount_out
                if quote.amount_out < min_out:
                    outcome.reason = (f"fresh quote {token_out.from_base(quote.amount_out)} {token_out.symbol} is below "
                                      f"min_out {token_out.from_base(min_out)}: price moved, nothing sent")
                    return outcome
            if not token_in.is_native:
                recorded = self.store.signed_for(run_id, f"{step}:approve", SignedTx) is not None
                if recorded or (not resumed and erc20.allowance(self.uniswap.w3, token_in, self.wallet,
                                                                self.uniswap.router_address) != amount_in):
                    # exactly the amount, never more
                    outcome.approve_tx = self._send_once(run_id, f"{step}:approve", lambda: erc20.approve_tx(
                        self.uniswap.w3, token_in, self.uniswap.router_address, amount_in)).hash

            receipt = self._send_once(run_id, f"{step}:swap", lambda: self.uniswap.swap_tx(
                quote, min_out, self.wallet, self.uniswap.deadline(DEADLINE_SECONDS)))
            outcome.swap_tx, outcome.block_number = receipt.hash, receipt.block_number
            outcome.received = received_amount(receipt, token_out, self.wallet, self.uniswap.registry.wrapped_native or "")
            if outcome.received < min_out:
                outcome.reason = (f"received {token_out.from_base(outcome.received)} {token_out.symbol} < "
                                  f"min_out {token_out.from_base(min_out)}")
                return outcome
            outcome.status = "confirmed"
            outcome.reason = f"received {token_out.from_base(outcome.received)} {token_out.symbol} (min_out {token_out.from_base(min_out)})"
        except (RpcUnavailableError, TxFateUnknown):
            raise  # node unreachable or a signed tx's fate unknown: leave the step open so a resume finishes it
        except EvmToolError as exc:
            outcome.reason = str(exc)
        return outcome
