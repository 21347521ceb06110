"""Solana swap executor via Jupiter: checked quote, decoded-and-checked transaction, sign, simulate, record,
send, confirm, verify what arrived.

Jupiter builds the transaction; we trust none of it. The quote must match our
request and stay within the slippage and price-impact caps, and its on-chain
floor (otherAmountThreshold) must be at least the risk checker's min_out: when
the requested slippage would put the floor lower, the executor re-quotes with
the tighter slippage that keeps it at min_out. The transaction must
pass the static and simulated checks of tools.solana.txcheck before the signed
bytes are recorded and broadcast. A recorded transaction is only re-broadcast,
never re-signed; a fresh quote and a new transaction follow only a proven expiry
(block height past the limit and, read after that, no signature status).
"""
from __future__ import annotations

import sqlite3
from typing import Literal, Protocol

from pydantic import BaseModel

from agents.risk import RuleResult
from agents.solana_risk import SolanaRiskPolicy
from swarm.faults import fault_point
from swarm.store import RunStore
from tools.solana.errors import BlockhashExpired, JupiterError, LayoutError, SolanaToolError
from tools.solana.jupiter import JupiterClient, JupiterQuote
from tools.solana.rpc import SolanaRpc
from tools.solana.tokens import SolanaToken
from tools.solana.tx import SignedSolanaTx, SolanaTxSender
from tools.solana.txcheck import SwapExpectations, account_keys, simulation_checks, static_checks


class SignedTxOutbox(Protocol):
    """Where a signed transaction is written before it is broadcast (so a restart confirms it, not re-signs)."""

    def signed_for(self, run_id: str, step: str) -> SignedSolanaTx | None: ...

    def record_signed(self, run_id: str, step: str, signed: SignedSolanaTx) -> None: ...


class DurableOutbox:
    """The run store's SQLite outbox, for Solana transactions: survives a crash of the process."""

    def __init__(self, store: "RunStore"):
        self.store = store

    def signed_for(self, run_id: str, step: str) -> SignedSolanaTx | None:
        return self.store.signed_for(run_id, step, SignedSolanaTx)

    def record_signed(self, run_id: str, step: str, signed: SignedSolanaTx) -> None:
        try:
            self.store.record_signed(run_id, step, signed)
        except sqlite3.IntegrityError:
            raise ValueError(f"{run_id}/{step} already has a signed transaction") from None


class MemoryOutbox:
    """Process-local outbox; pass a durable one to survive restarts."""

    def __init__(self):
        self._rows: dict[tuple[str, str], SignedSolanaTx] = {}

    def signed_for(self, run_id: str, step: str) -> SignedSolanaTx | None:
        return self._rows.get((run_id, step))

    def record_signed(self, run_id: str, step: str, signed: SignedSolanaTx) -> None:
        if (run_id, step) in self._rows:
            raise ValueError(f"{run_id}/{step} already has a signed transaction")
        self._rows[(run_id, step)] = signed


class SolanaSwapOutcome(BaseModel):
    status: Literal["confirmed", "refused", "failed"]
    signature: str | None = None
    amount_in: int
    min_out: int
    quoted_out: int | None = None
    guaranteed_out: int | None = None
    received: int | None = None
    slot: int | None = None
    attempts: int = 0
    reason: str = ""
    checks: list[RuleResult] = []


def quote_checks(q: JupiterQuote, token_in: SolanaToken, token_out: SolanaToken, amount_in: int,
                 slippage_bps: int, min_out: int, policy: SolanaRiskPolicy) -> list[RuleResult]:
    """The quote as Jupiter returned it, against our request and policy (before asking for a transaction)."""
    implied = q.out_amount * (10_000 - slippage_bps) // 10_000
    return [
        RuleResult(rule="quote_matches_request",
                   passed=(q.input_mint, q.output_mint, q.in_amount, q.swap_mode) ==
                          (token_in.mint, token_out.mint, amount_in, "ExactIn"),
                   detail=f"quote {q.in_amount} {q.input_mint} -> {q.output_mint} ({q.swap_mode})"),
        RuleResult(rule="quote_slippage_capped", passed=q.slippage_bps <= slippage_bps <= policy.max_slippage_bps,
                   detail=f"quote uses {q.slippage_bps} bps, requested {slippage_bps}, policy max {policy.max_slippage_bps}"),
        RuleResult(rule="quote_threshold_consistent", passed=implied <= q.other_amount_threshold <= q.out_amount,
                   detail=f"threshold {q.other_amount_threshold} for out {q.out_amount} at {slippage_bps} bps "
                          f"(at least {implied})"),
        RuleResult(rule="quote_price_impact", passed=q.price_impact_bps <= policy.max_price_impact_bps,
                   detail=f"price impact {q.price_impact_bps} bps, max {policy.max_price_impact_bps} bps"),
        RuleResult(rule="quote_meets_min_out", passed=q.other_amount_threshold >= min_out,
                   detail=f"on-chain floor {q.other_amount_threshold} (quoted {q.out_amount}), required minimum {min_out}"),
    ]


class _Refused(Exception):
    def __init__(self, reason: str, checks: list[RuleResult]):
        super().__init__(reason)
        self.reason, self.checks = reason, checks


def _failed(checks: list[RuleResult]) -> str:
    return "; ".join(f"{c.rule}: {c.detail}" for c in checks if not c.passed)


class SolanaSwapExecutor:
    def __init__(self, rpc: SolanaRpc, sender: SolanaTxSender, jupiter: JupiterClient, policy: SolanaRiskPolicy,
                 outbox: SignedTxOutbox | None = None, attempts: int = 3):
        self.rpc, self.sender, self.jupiter, self.policy = rpc, sender, jupiter, policy
        self.outbox = outbox or MemoryOutbox()
        self.attempts = attempts

    @property
    def wallet(self) -> str:
        return self.sender.wallet.address

    def _expectations(self, token_in: SolanaToken, token_out: SolanaToken, q: JupiterQuote, min_out: int) -> SwapExpectations:
        return SwapExpectations(wallet=self.wallet, input_mint=token_in.mint, input_program=token_in.program,
                                output_mint=token_out.mint, output_program=token_out.program, in_amount=q.in_amount,
                                min_out=max(min_out, q.other_amount_threshold),
                                max_priority_fee_lamports=self.policy.max_priority_fee_lamports)

    def prepare(self, token_in: SolanaToken, token_out: SolanaToken, amount_in: int, min_out: int,
                slippage_bps: int, outcome: SolanaSwapOutcome) -> SignedSolanaTx:
        """Quote, fetch the transaction, check it statically, sign, simulate and check the simulation."""
        q = self.jupiter.quote(token_in.mint, token_out.mint, amount_in, slippage_bps)
        if q.other_amount_threshold < min_out <= q.out_amount:
            # The on-chain floor is out * (1 - slippage): tighten slippage so that floor is at least min_out.
            slippage_bps = (q.out_amount - min_out) * 10_000 // q.out_amount
            if slippage_bps >= 1:
                q = self.jupiter.quote(token_in.mint, token_out.mint, amount_in, slippage_bps)
        outcome.quoted_out, outcome.guaranteed_out = q.out_amount, q.other_amount_threshold
        checks = quote_checks(q, token_in, token_out, amount_in, slippage_bps, min_out, self.policy)
        if not all(c.passed for c in checks):
            raise _Refused(f"quote refused: {_failed(checks)}", checks)
        swap = self.jupiter.swap(q, self.wallet, self.policy.max_priority_fee_lamports)
        try:
            tx = swap.transaction()
            keys, writable = account_keys(tx, self.rpc.account)
        except (JupiterError, LayoutError) as exc:
            checks.append(RuleResult(rule="transaction_decodes", passed=False, detail=str(exc)))
            raise _Refused(f"transaction refused before signing: {exc}", checks) from None
        x = self._expectations(token_in, token_out, q, min_out)
        checks += [RuleResult(**f.model_dump()) for f in static_checks(tx, keys, x)]
        if not all(c.passed for c in checks):
            raise _Refused(f"transaction refused before signing: {_failed(checks)}", checks)
        signed_tx = self.sender.wallet.sign_prebuilt(tx)
        watched = [keys[i] for i in sorted(writable)]
        pre = self.rpc.accounts(watched)
        sim = self.rpc.simulate(signed_tx, watched)
        if sim.err is not None:
            checks.append(RuleResult(rule="simulation_succeeds", passed=False, detail=f"{sim.err}; logs: {sim.logs[-3:]}"))
            raise _Refused(f"simulation failed, nothing sent: {sim.err}", checks)
        checks += [RuleResult(**f.model_dump()) for f in simulation_checks(pre, sim.accounts, x)]
        if not all(c.passed for c in checks):
            raise _Refused(f"simulated effects refused, nothing sent: {_failed(checks)}", checks)
        outcome.checks = checks
        # Jupiter's lastValidBlockHeight is not trusted: the newest blockhash's limit, read now, bounds any
        # blockhash the transaction can carry, so expiry is never declared early.
        _, last_valid = self.rpc.latest_blockhash()
        return SignedSolanaTx.of(signed_tx, max(last_valid, swap.last_valid_block_height), "jupiter swap")

    def execute(self, run_id: str, step: str, token_in: SolanaToken, token_out: SolanaToken, amount_in: int,
                min_out: int, slippage_bps: int | None = None) -> SolanaSwapOutcome:
        slippage = min(slippage_bps or self.policy.default_slippage_bps, self.policy.max_slippage_bps)
        outcome = SolanaSwapOutcome(status="failed", amount_in=amount_in, min_out=min_out)
        x_out = SwapExpectations(wallet=self.wallet, input_mint=token_in.mint, input_program=token_in.program,
                                 output_mint=token_out.mint, output_program=token_out.program, in_amount=amount_in,
                                 min_out=min_out, max_priority_fee_lamports=0)
        try:
            for attempt in range(self.attempts):
                key = f"{step}:swap#{attempt}"
                outcome.attempts = attempt + 1
                signed = self.outbox.signed_for(run_id, key)
                if signed is None:
                    signed = self.prepare(token_in, token_out, amount_in, min_out, slippage, outcome)
                    self.outbox.record_signed(run_id, key, signed)
                    fault_point(f"after_sign:{key}")
                    self.sender.broadcast(signed)
                    fault_point(f"after_send:{key}")
                outcome.signature = signed.signature
                try:
                    confirmed = self.sender.confirm(signed)
                except BlockhashExpired:
                    continue  # proven never landed: a fresh quote and a new transaction are safe
                record = self.rpc.transaction(signed.signature)
                outcome.slot = confirmed.slot
                outcome.received = None if record is None else (
                    record.post_balances[0] - record.pre_balances[0] + record.fee if token_out.is_native
                    else record.token_delta(str(x_out.output_account)))
                if outcome.received is None or outcome.received < min_out:
                    outcome.reason = f"received {outcome.received} < min_out {min_out}"
                    return outcome
                outcome.status, outcome.reason = "confirmed", f"received {outcome.received} >= min_out {min_out}"
                return outcome
            outcome.reason = f"no transaction landed within {self.attempts} blockhash lifetimes"
        except _Refused as refused:
            outcome.status, outcome.reason, outcome.checks = "refused", refused.reason, refused.checks
        except SolanaToolError as exc:
            outcome.reason = str(exc)
        return outcome
