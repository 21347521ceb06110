"""Swap executor: fresh quote, exact approval, minOut, deadline, simulate, record, send, confirm, verify.

Each signed transaction is recorded in the outbox before it is broadcast, under the wallet's
nonce lock (`defai_swarm.tools.evm.tx.NonceManager`); a resumed run finds it there and waits for it
(re-broadcasting the same bytes if the node lost it) instead of signing a second swap.

A transaction proven never to land (refused at send, or its nonce consumed by another
transaction) is marked dropped in the outbox: not listed as sent, its step fails with the
reason, and nothing is signed again for that step. When a swap fails after its exact approval
landed (reverted, received less than min_out, refused or dropped before it could land), the
router's allowance is reset to 0 by a recorded `{step}:revoke` transaction.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Literal, Protocol, runtime_checkable

from eth_abi.abi import encode
from web3 import Web3

from defai_swarm.core import chain as core_chain
from defai_swarm.core.chain import Recorder
from defai_swarm.core.faults import fault_point
from defai_swarm.core.outbox import Outbox
from defai_swarm.tools.evm import erc20
from defai_swarm.tools.evm.errors import ChainClockError, EvmToolError, RpcUnavailableError
from defai_swarm.tools.evm.tokens import Token, TokenRegistry
from defai_swarm.tools.evm.tx import (NonceTaken, ProcessLock, SignedTx, TxFateUnknown, TxReceipt, TxRejected, TxRequest,
                          TxReverted, TxSender, WalletLockTimeout)

TRANSFER_TOPIC = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")
WITHDRAWAL_TOPIC = "0x" + Web3.keccak(text="Withdrawal(address,uint256)").hex().removeprefix("0x")
DEPOSIT_TOPIC = "0x" + Web3.keccak(text="Deposit(address,uint256)").hex().removeprefix("0x")
DEADLINE_SECONDS = 300
# How long a swap waits for another process's approve-swap(-revoke) of the same token: a few receipt waits.
APPROVAL_LOCK_TIMEOUT_SECONDS = 600.0
APPROVE_SELECTOR = Web3.keccak(text="approve(address,uint256)")[:4]


@runtime_checkable
class DroppingOutbox(Protocol):
    """An outbox that records a transaction proven never to land (`defai_swarm.store.RunStore`)."""

    def mark_dropped(self, run_id: str, step: str, reason: str) -> None: ...

    def dropped_reason(self, run_id: str, step: str) -> str | None: ...


class StepDropped(TxRejected):
    """The step's recorded transaction is proven never to land; the step is over and is never signed again."""


def revoke_tx(token: Token, spender: str) -> TxRequest:
    """approve(spender, 0): takes back what is left of an exact approval."""
    data = APPROVE_SELECTOR + encode(["address", "uint256"], [Web3.to_checksum_address(spender), 0])
    return TxRequest(to=token.address, data="0x" + data.hex(), label=f"revoke {token.symbol} approval")


class SwapOutcome(core_chain.SwapOutcome):
    status: Literal["confirmed", "refused", "failed"]
    approve_tx: str | None = None
    swap_tx: str | None = None
    revoke_tx: str | None = None  # the allowance reset after a failed swap
    block_number: int | None = None

    def tx_ids(self) -> list[str]:
        return [h for h in (self.approve_tx, self.swap_tx, self.revoke_tx) if h]


def received_amount(receipt: TxReceipt, token_out: Token, wallet: str, weth: str) -> int:
    """What the wallet got, read from the swap's own logs (safe with other txs in flight)."""
    if token_out.is_native:
        return sum(int(log["data"], 16) for log in receipt.logs
                   if log["address"].lower() == weth.lower() and log["topics"][0] == WITHDRAWAL_TOPIC)
    to_topic = "0x" + "00" * 12 + wallet.lower().removeprefix("0x")
    return sum(int(log["data"], 16) for log in receipt.logs
               if log["address"].lower() == token_out.address.lower() and log["topics"][0] == TRANSFER_TOPIC
               and log["topics"][2].lower() == to_topic)


def spent_amount(receipt: TxReceipt, token_in: Token, wallet: str, weth: str) -> int:
    """What the swap took from the wallet, read from its own logs: the native coin is what the router wrapped
    (the rest of the value sent was refunded), a token what left the wallet."""
    if token_in.is_native:
        return sum(int(log["data"], 16) for log in receipt.logs
                   if log["address"].lower() == weth.lower() and log["topics"][0] == DEPOSIT_TOPIC)
    from_topic = "0x" + "00" * 12 + wallet.lower().removeprefix("0x")
    return sum(int(log["data"], 16) for log in receipt.logs
               if log["address"].lower() == token_in.address.lower() and log["topics"][0] == TRANSFER_TOPIC
               and log["topics"][1].lower() == from_topic)


class SwapVenue(Protocol):
    """What the executor drives: `UniswapV2` itself, or any DEX through `tools.evm.dex.DexVenue`."""

    w3: Web3
    registry: TokenRegistry

    @property
    def router_address(self) -> str: ...
    def deadline(self, seconds: int = 300) -> int: ...
    def quote(self, token_in: Token, token_out: Token, amount_in: int) -> Any: ...
    def quote_exact_out(self, token_in: Token, token_out: Token, amount_out: int) -> Any: ...
    def swap_tx(self, quote: Any, min_out: int, recipient: str, deadline: int) -> TxRequest: ...
    def swap_exact_out_tx(self, quote: Any, max_in: int, recipient: str, deadline: int) -> TxRequest: ...


class SwapExecutor:
    def __init__(self, uniswap: SwapVenue, sender: TxSender, store: Outbox,
                 record: Recorder = lambda run_id, kind, payload: None):
        self.uniswap, self.sender, self.store, self.record = uniswap, sender, store, record
        self._locks: dict[str, ProcessLock] = {}
        self._locks_guard = threading.Lock()

    def _token_lock(self, token: Token) -> contextlib.AbstractContextManager[None]:
        """Exact approvals are overwritten, not added: approve-then-swap of one token must not interleave, in this
        process or any other on the wallet. The wallet's lock for the token (`NonceManager.wallet_lock`: an fcntl
        lock beside the nonce lock, the same mechanism), held from the approval to the swap's (or revoke's)
        receipt; taken before the nonce lock, which each transaction takes inside it."""
        if token.is_native:
            return contextlib.nullcontext()
        key = token.address.lower()
        with self._locks_guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = self.sender.nonces.wallet_lock(f"approve-{key}",
                                                                         APPROVAL_LOCK_TIMEOUT_SECONDS)
        return lock.hold()

    def _with_token_lock(self, token: Token, outcome: SwapOutcome, run: Callable[[], SwapOutcome]) -> SwapOutcome:
        """`run()` under the token's lock; another process holding it too long refuses the swap (nothing signed)."""
        try:
            with self._token_lock(token):
                return run()
        except WalletLockTimeout as exc:
            outcome.reason = str(exc)
            return outcome

    @property
    def wallet(self) -> str:
        return self.sender.wallet.address

    def _dropped(self, run_id: str, step: str) -> str | None:
        return self.store.dropped_reason(run_id, step) if isinstance(self.store, DroppingOutbox) else None

    def _drop(self, run_id: str, step: str, signed: SignedTx, exc: TxRejected) -> None:
        """The step's transaction is proven never to land: out of the sent list, and the step is over."""
        reason = str(exc)
        if isinstance(self.store, DroppingOutbox):
            self.store.mark_dropped(run_id, step, reason)
        self.record(run_id, "tx", {"step": step, "event": "dropped", "hash": signed.hash, "nonce": signed.nonce,
                                   "proof": "nonce consumed by another transaction" if isinstance(exc, NonceTaken)
                                   else "refused by the node at send", "reason": reason})

    def _send_once(self, run_id: str, step: str, build) -> TxReceipt:
        """Sign, record, broadcast and confirm one transaction; on resume, confirm the recorded one.

        Raises `StepDropped` / `TxRejected` when the step's transaction is proven never to land (it is then marked
        dropped); never signs a second transaction for the step."""
        dropped = self._dropped(run_id, step)
        signed = self.store.signed_for(run_id, step, SignedTx)
        if dropped is not None and signed is not None:
            raise StepDropped(dropped, signed.hash, signed.nonce)
        if signed is not None:
            self.record(run_id, "tx", {"step": step, "event": "resumed", "hash": signed.hash, "nonce": signed.nonce})
            try:
                self.sender.rebroadcast_if_missing(signed)
            except TxRejected as exc:
                self._drop(run_id, step, signed, exc)
                raise
        else:
            request = build()
            recorded: list[SignedTx] = []

            def record_before_send(tx: SignedTx) -> None:
                self.store.record_signed(run_id, step, tx)
                recorded.append(tx)
                self.record(run_id, "tx", {"step": step, "event": "signed", "simulation": "ok", "hash": tx.hash,
                                           "nonce": tx.nonce, "unsigned": request.model_dump(mode="json"),
                                           "gas": tx.gas, "max_fee_per_gas": str(tx.max_fee_per_gas)})
                fault_point(f"after_sign:{step}")

            try:
                # simulates first (a revert raises before anything is signed); then, under the wallet's nonce lock:
                # nonce, sign, record in the outbox, broadcast
                signed = self.sender.sign_and_send(request, record_before_send)
            except TxRejected as exc:
                if recorded:  # always: the outbox row is written before the broadcast
                    self._drop(run_id, step, recorded[0], exc)
                raise
            fault_point(f"after_send:{step}")
        receipt = self.sender.wait(signed)
        fault_point(f"after_receipt:{step}")
        self.record(run_id, "tx", {"step": step, "event": "receipt", **receipt.model_dump(mode="json", exclude={"logs"})})
        return receipt

    def execute(self, run_id: str, step: str, token_in: Token, token_out: Token, amount_in: int, min_out: int,
                approval_total: int | None = None) -> SwapOutcome:
        """Exact input. `approval_total` (>= amount_in, the remaining total of an N-part split): when the allowance
        is below amount_in (or above that total), approve exactly that total, so later parts send no approval."""
        if approval_total is not None and approval_total < amount_in:
            return SwapOutcome(status="refused", amount_in=amount_in, min_out=min_out,
                               reason=f"approval_total {approval_total} is below this part's amount_in {amount_in}")
        return self._with_token_lock(token_in, SwapOutcome(status="refused", amount_in=amount_in, min_out=min_out),
                                     lambda: self._execute(run_id, step, token_in, token_out, amount_in, min_out,
                                                           approval_total))

    def execute_exact_out(self, run_id: str, step: str, token_in: Token, token_out: Token, amount_out: int,
                          max_in: int) -> SwapOutcome:
        """Exactly `amount_out` for at most `max_in`: an exact approval of max_in, and what the swap did not use
        of it is reset to zero afterwards (a `{step}:revoke` transaction)."""
        return self._with_token_lock(token_in, SwapOutcome(status="refused", amount_in=max_in, min_out=amount_out),
                                     lambda: self._execute(run_id, step, token_in, token_out, max_in, amount_out, None,
                                                           exact_out=True))

    def _approve(self, run_id: str, step: str, token_in: Token, amount: int, resumed: bool,
                 approval_total: int | None) -> str | None:
        """The exact approval this step needs, sent unless the allowance already fits (the approve tx hash)."""
        recorded = self.store.signed_for(run_id, f"{step}:approve", SignedTx) is not None
        if not recorded and resumed:
            return None
        if not recorded:
            current = erc20.allowance(self.uniswap.w3, token_in, self.wallet, self.uniswap.router_address)
            if approval_total is None:
                if current == amount:
                    return None
            elif amount <= current <= approval_total:
                return None  # an earlier part of this split approved the total
        target = amount if approval_total is None else approval_total
        # exactly the amount (or the split's remaining total), never more
        return self._send_once(run_id, f"{step}:approve", lambda: erc20.approve_tx(
            self.uniswap.w3, token_in, self.uniswap.router_address, target)).hash

    def _execute(self, run_id: str, step: str, token_in: Token, token_out: Token, amount_in: int, min_out: int,
                 approval_total: int | None, exact_out: bool = False) -> SwapOutcome:
        """Exact input (amount_in in, at least min_out out) or, with `exact_out`, exactly min_out out for at most
        amount_in (the cap `max_in`)."""
        outcome = SwapOutcome(status="failed", amount_in=amount_in, min_out=min_out)
        approved = False  # this step's exact approval is on the router: a failed swap must take it back
        weth = self.uniswap.registry.wrapped_native or ""
        deadline: int | None = None
        try:
            resumed = self.store.signed_for(run_id, f"{step}:swap", SignedTx) is not None
            if not resumed:
                try:  # before the approval: a chain clock too far from this machine's signs nothing at all
                    deadline = self.uniswap.deadline(DEADLINE_SECONDS)
                except ChainClockError as exc:
                    outcome.status, outcome.reason = "refused", str(exc)
                    if approval_total is not None:  # an earlier part's approval of the split's total
                        self._revoke(run_id, step, token_in, outcome)
                    return outcome
                if exact_out:
                    quote = self.uniswap.quote_exact_out(token_in, token_out, min_out)
                    outcome.quoted_out = quote.amount_out
                    if quote.amount_in > amount_in:
                        outcome.reason = (f"fresh quote needs {token_in.from_base(quote.amount_in)} {token_in.symbol} "
                                          f"for {token_out.from_base(min_out)} {token_out.symbol}, above max_in "
                                          f"{token_in.from_base(amount_in)}: price moved, nothing sent")
                        return outcome
                else:
                    quote = self.uniswap.quote(token_in, token_out, amount_in)
                    outcome.quoted_out = quote.amount_out
                    if quote.amount_out < min_out:
                        outcome.reason = (f"fresh quote {token_out.from_base(quote.amount_out)} {token_out.symbol} is "
                                          f"below min_out {token_out.from_base(min_out)}: price moved, nothing sent")
                        if approval_total is not None:  # an earlier part's approval of the split's total
                            self._revoke(run_id, step, token_in, outcome)
                        return outcome
            if not token_in.is_native:
                outcome.approve_tx = self._approve(run_id, step, token_in, amount_in, resumed, approval_total)
                approved = True

            def build() -> TxRequest:
                # 300 s after the time the next block will carry (read before the approval), not after the latest
                # block's: a chain without blocks for minutes would otherwise be past it when the swap is mined
                at = deadline if deadline is not None else self.uniswap.deadline(DEADLINE_SECONDS)
                if exact_out:
                    return self.uniswap.swap_exact_out_tx(quote, amount_in, self.wallet, at)
                return self.uniswap.swap_tx(quote, min_out, self.wallet, at)

            try:
                receipt = self._send_once(run_id, f"{step}:swap", build)
            except TxReverted as exc:  # it landed, and did nothing: say which transaction
                outcome.swap_tx, outcome.block_number = exc.receipt.hash, exc.receipt.block_number
                raise
            outcome.swap_tx, outcome.block_number = receipt.hash, receipt.block_number
            outcome.received = received_amount(receipt, token_out, self.wallet, weth)
            outcome.spent = spent_amount(receipt, token_in, self.wallet, weth)
            if outcome.received < min_out:
                outcome.reason = (f"received {token_out.from_base(outcome.received)} {token_out.symbol} < "
                                  f"{'amount_out' if exact_out else 'min_out'} {token_out.from_base(min_out)}")
                self._revoke(run_id, step, token_in, outcome)
                return outcome
            if outcome.spent > amount_in:  # the router enforces the cap; a log saying otherwise is not trusted
                outcome.reason = (f"the swap took {token_in.from_base(outcome.spent)} {token_in.symbol}, above "
                                  f"max_in {token_in.from_base(amount_in)}")
                self._revoke(run_id, step, token_in, outcome)
                return outcome
            outcome.status = "confirmed"
            if exact_out:
                outcome.reason = (f"received {token_out.from_base(outcome.received)} {token_out.symbol} for "
                                  f"{token_in.from_base(outcome.spent)} {token_in.symbol} "
                                  f"(max_in {token_in.from_base(amount_in)})")
                if outcome.spent < amount_in:  # what the swap did not use of the exact approval of max_in
                    self._revoke(run_id, step, token_in, outcome, unused=True)
            else:
                outcome.reason = (f"received {token_out.from_base(outcome.received)} {token_out.symbol} "
                                  f"(min_out {token_out.from_base(min_out)})")
        except (RpcUnavailableError, TxFateUnknown):
            raise  # node unreachable or a signed tx's fate unknown: leave the step open so a resume finishes it
        except TxRejected as exc:
            outcome.reason = (f"nonce {exc.nonce} was used by another transaction; nothing of this swap landed"
                              if isinstance(exc, NonceTaken) else f"{exc}; nothing of this swap landed")
            if approved:
                self._revoke(run_id, step, token_in, outcome)
        except EvmToolError as exc:
            outcome.reason = str(exc)
            if approved:
                self._revoke(run_id, step, token_in, outcome)
        return outcome

    def reset_approval(self, run_id: str, step: str, token: Token) -> str | None:
        """An abandoned split's leftover approval back to 0 (see `defai_swarm.core.chain.SwapExecutor.reset_approval`).
        A reset that fails outright is raised (`EvmToolError`): the caller must not report the allowance as 0."""
        if token.is_native:
            return None
        with self._token_lock(token):
            outcome = SwapOutcome(status="refused", amount_in=0, min_out=0, reason="the split was abandoned")
            self._revoke(run_id, step, token, outcome)
        if outcome.revoke_tx is None and "failed" in outcome.reason:
            raise EvmToolError(outcome.reason.removeprefix("the split was abandoned; "))
        return outcome.revoke_tx

    def _revoke(self, run_id: str, step: str, token: Token, outcome: SwapOutcome, unused: bool = False) -> None:
        """The swap failed after its approval landed (or, `unused`, an exact-output swap left part of it): reset
        the router's allowance to 0 (a recorded, audited `{step}:revoke` transaction). Its own fate unknown
        re-raises (a resume finishes it); its failure is added to the reason."""
        if token.is_native:
            return
        router = self.uniswap.router_address
        try:
            recorded = self.store.signed_for(run_id, f"{step}:revoke", SignedTx) is not None
            if not recorded and erc20.allowance(self.uniswap.w3, token, self.wallet, router) == 0:
                return  # the swap used it up (or nothing was left)
            receipt = self._send_once(run_id, f"{step}:revoke", lambda: revoke_tx(token, router))
            outcome.revoke_tx = receipt.hash
            self.record(run_id, "approval_revoked", {"step": step, "token": token.symbol, "spender": router,
                                                     "hash": receipt.hash, "why": outcome.reason})
            outcome.reason += (f"; the unused {token.symbol} approval was reset to 0 ({receipt.hash})" if unused
                               else f"; the {token.symbol} approval was reset to 0 ({receipt.hash})")
        except (RpcUnavailableError, TxFateUnknown):
            raise
        except EvmToolError as exc:
            outcome.reason += f"; resetting the {token.symbol} approval to 0 failed: {exc}"
