"""Solana swap executor via Jupiter: checked quote, decoded-and-checked transaction, sign, simulate, record,
send, confirm, verify what arrived.

Jupiter builds the transaction; we trust none of it. The quote must match our
request and stay within the slippage and price-impact caps, and its on-chain
floor (otherAmountThreshold) must be at least the risk checker's min_out: when
the requested slippage would put the floor lower, the executor re-quotes with
the tighter slippage that keeps it at min_out. The transaction must
pass the static and simulated checks of defai_swarm.tools.solana.txcheck before the signed
bytes are recorded and broadcast.

The contract (`defai_swarm.core.chain`, the same for every chain):
- `confirmed`: landed and at least min_out arrived; `refused`: a check failed
  before anything was signed; `failed`: nothing can land any more (the node
  refused the bytes, every blockhash expired unlanded) or it landed with an error.
- RpcUnavailable / TxFateUnknown are re-raised whenever a signed transaction's
  fate is not known: the step stays open, and a later `execute` for the same
  step finds the signed bytes in the outbox and confirms (or rebroadcasts) them.
- A recorded transaction is only re-broadcast, never re-signed; a fresh quote and
  a new transaction follow only a proven expiry (block height past the limit
  and, read after that, no signature status).
"""
from __future__ import annotations

from defai_swarm.core import errors as core
from defai_swarm.core.chain import Recorder, SwapOutcome
from defai_swarm.core.faults import fault_point
from defai_swarm.core.outbox import AlreadySigned, M, Outbox, SignedTxRecord
from defai_swarm.core.policy import RuleResult
from defai_swarm.tools.solana.errors import (BlockhashExpired, JupiterError, LayoutError, SolanaToolError, TxFailed,
                                 TxFateUnknown)
from defai_swarm.tools.solana.jupiter import JupiterClient, JupiterQuote
from defai_swarm.tools.solana.policy import SolanaRiskPolicy
from defai_swarm.tools.solana.rpc import SolanaRpc, TxRecord
from defai_swarm.tools.solana.tokens import SolanaToken
from defai_swarm.tools.solana.tx import SignedSolanaTx, SolanaTxSender
from defai_swarm.tools.solana.txcheck import (SwapExpectations, account_keys, fee_bound_lamports, landed_native_gain,
                                  own_token_accounts, simulation_checks, static_checks)

SignedTxOutbox = Outbox  # the name this protocol had before it moved to defai_swarm.core.outbox


def _no_record(run_id: str, kind: str, payload: dict) -> None:
    pass


class MemoryOutbox:
    """Process-local `defai_swarm.core.outbox.Outbox` (tests, one-shot scripts); the run store is the durable one."""

    def __init__(self):
        self._rows: dict[tuple[str, str], str] = {}
        self._ids: dict[str, list[str]] = {}

    def signed_for(self, run_id: str, step: str, model: type[M] = SignedSolanaTx) -> M | None:
        row = self._rows.get((run_id, step))
        return None if row is None else model.model_validate_json(row)

    def record_signed(self, run_id: str, step: str, signed: SignedTxRecord) -> None:
        if (run_id, step) in self._rows:
            raise AlreadySigned(f"{run_id}/{step} already has a signed transaction")
        self._rows[(run_id, step)] = signed.model_dump_json()
        self._ids.setdefault(run_id, []).append(signed.tx_id)

    def sent_ids(self, run_id: str) -> list[str]:
        return list(self._ids.get(run_id, []))


class SolanaSwapOutcome(SwapOutcome):
    signature: str | None = None  # the transaction that landed, or the last one tried
    expired: list[str] = []  # signatures proven never to land (blockhash expired unlanded), in order
    guaranteed_out: int | None = None
    slot: int | None = None
    attempts: int = 0
    checks: list[RuleResult] = []

    def tx_ids(self) -> list[str]:
        return self.expired + ([self.signature] if self.signature and self.signature not in self.expired else [])


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


def exact_out_quote_checks(q: JupiterQuote, token_in: SolanaToken, token_out: SolanaToken, amount_out: int,
                           slippage_bps: int, max_in: int, policy: SolanaRiskPolicy) -> list[RuleResult]:
    """An ExactOut quote against our request and policy: exactly amount_out, and the most the swap may take
    (otherAmountThreshold) within the slippage of the quoted input and within max_in."""
    ceiling = -(-q.in_amount * (10_000 + slippage_bps) // 10_000)
    return [
        RuleResult(rule="quote_matches_request",
                   passed=(q.input_mint, q.output_mint, q.out_amount, q.swap_mode) ==
                          (token_in.mint, token_out.mint, amount_out, "ExactOut"),
                   detail=f"quote {q.input_mint} -> {q.out_amount} {q.output_mint} ({q.swap_mode})"),
        RuleResult(rule="quote_slippage_capped", passed=q.slippage_bps <= slippage_bps <= policy.max_slippage_bps,
                   detail=f"quote uses {q.slippage_bps} bps, requested {slippage_bps}, policy max {policy.max_slippage_bps}"),
        RuleResult(rule="quote_threshold_consistent", passed=0 < q.in_amount <= q.other_amount_threshold <= ceiling,
                   detail=f"most it may take {q.other_amount_threshold} for input {q.in_amount} at {slippage_bps} bps "
                          f"(at most {ceiling})"),
        RuleResult(rule="quote_price_impact", passed=q.price_impact_bps <= policy.max_price_impact_bps,
                   detail=f"price impact {q.price_impact_bps} bps, max {policy.max_price_impact_bps} bps"),
        RuleResult(rule="quote_within_max_in", passed=q.other_amount_threshold <= max_in,
                   detail=f"the swap may take up to {q.other_amount_threshold} (quoted {q.in_amount}), "
                          f"max_in {max_in}"),
    ]


class _Refused(Exception):
    def __init__(self, reason: str, checks: list[RuleResult]):
        super().__init__(reason)
        self.reason, self.checks = reason, checks


def _failed(checks: list[RuleResult]) -> str:
    return "; ".join(f"{c.rule}: {c.detail}" for c in checks if not c.passed)


class SolanaSwapExecutor:
    def __init__(self, rpc: SolanaRpc, sender: SolanaTxSender, jupiter: JupiterClient, policy: SolanaRiskPolicy,
                 outbox: Outbox | None = None, attempts: int = 3, record: Recorder | None = None):
        self.rpc, self.sender, self.jupiter, self.policy = rpc, sender, jupiter, policy
        self.outbox = outbox if outbox is not None else MemoryOutbox()
        self.attempts = attempts
        self.record = record or _no_record

    @property
    def wallet(self) -> str:
        return self.sender.wallet.address

    def _expectations(self, token_in: SolanaToken, token_out: SolanaToken, q: JupiterQuote, min_out: int) -> SwapExpectations:
        exact_out = q.swap_mode == "ExactOut"  # then the threshold is the most it may take, and min_out exact
        return SwapExpectations(wallet=self.wallet, input_mint=token_in.mint, input_program=token_in.program,
                                output_mint=token_out.mint, output_program=token_out.program,
                                in_amount=q.other_amount_threshold if exact_out else q.in_amount,
                                min_out=min_out if exact_out else max(min_out, q.other_amount_threshold),
                                max_priority_fee_lamports=self.policy.max_priority_fee_lamports)

    def _quote_exact_out(self, token_in: SolanaToken, token_out: SolanaToken, amount_out: int, max_in: int,
                         slippage_bps: int, outcome: "SolanaSwapOutcome") -> tuple[JupiterQuote, list[RuleResult]]:
        q = self.jupiter.quote(token_in.mint, token_out.mint, amount_out, slippage_bps, swap_mode="ExactOut")
        if q.in_amount <= max_in < q.other_amount_threshold:
            # The most it may take is in * (1 + slippage): tighten slippage so that stays within max_in.
            slippage_bps = (max_in - q.in_amount) * 10_000 // q.in_amount
            q = self.jupiter.quote(token_in.mint, token_out.mint, amount_out, slippage_bps, swap_mode="ExactOut")
        outcome.quoted_out, outcome.guaranteed_out = q.out_amount, q.out_amount
        return q, exact_out_quote_checks(q, token_in, token_out, amount_out, slippage_bps, max_in, self.policy)

    def _quote_exact_in(self, token_in: SolanaToken, token_out: SolanaToken, amount_in: int, min_out: int,
                        slippage_bps: int, outcome: "SolanaSwapOutcome") -> tuple[JupiterQuote, list[RuleResult]]:
        q = self.jupiter.quote(token_in.mint, token_out.mint, amount_in, slippage_bps)
        if q.other_amount_threshold < min_out <= q.out_amount:
            # The on-chain floor is out * (1 - slippage): tighten slippage so that floor is at least min_out.
            slippage_bps = (q.out_amount - min_out) * 10_000 // q.out_amount
            if slippage_bps >= 1:
                q = self.jupiter.quote(token_in.mint, token_out.mint, amount_in, slippage_bps)
        outcome.quoted_out, outcome.guaranteed_out = q.out_amount, q.other_amount_threshold
        return q, quote_checks(q, token_in, token_out, amount_in, slippage_bps, min_out, self.policy)

    def prepare(self, token_in: SolanaToken, token_out: SolanaToken, amount_in: int, min_out: int,
                slippage_bps: int, outcome: SolanaSwapOutcome, exact_out: bool = False) -> SignedSolanaTx:
        """Quote, fetch the transaction, check it statically, sign, simulate and check the simulation.
        With `exact_out`, min_out is the exact output and amount_in the most the swap may take (max_in)."""
        if exact_out:
            q, checks = self._quote_exact_out(token_in, token_out, min_out, amount_in, slippage_bps, outcome)
        else:
            q, checks = self._quote_exact_in(token_in, token_out, amount_in, min_out, slippage_bps, outcome)
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
        watched = [keys[i] for i in sorted(writable)]
        pre = self.rpc.accounts(watched)  # before signing: which of the accounts it may write are ours
        checks += [RuleResult(**f.model_dump()) for f in static_checks(tx, keys, x, own_token_accounts(pre, x.wallet))]
        if not all(c.passed for c in checks):
            raise _Refused(f"transaction refused before signing: {_failed(checks)}", checks)
        signed_tx = self.sender.wallet.sign_prebuilt(tx)
        sim = self.rpc.simulate(signed_tx, watched)
        if sim.err is not None:
            checks.append(RuleResult(rule="simulation_succeeds", passed=False, detail=f"{sim.err}; logs: {sim.logs[-3:]}"))
            raise _Refused(f"simulation failed, nothing sent: {sim.err}", checks)
        checks += [RuleResult(**f.model_dump())
                   for f in simulation_checks(pre, sim.accounts, x, fee_bound_lamports(signed_tx))]
        if not all(c.passed for c in checks):
            raise _Refused(f"simulated effects refused, nothing sent: {_failed(checks)}", checks)
        outcome.checks = checks
        # Jupiter's lastValidBlockHeight is not trusted: the newest blockhash's limit, read now, bounds any
        # blockhash the transaction can carry, so expiry is never declared early.
        _, last_valid = self.rpc.latest_blockhash()
        return SignedSolanaTx.of(signed_tx, max(last_valid, swap.last_valid_block_height), "jupiter swap")

    def _landed(self, signed: SignedSolanaTx):
        record = self.rpc.transaction(signed.signature)
        if record is None:  # confirmed, but the node has no record (yet): look again on resume
            raise TxFateUnknown(signed.signature, "confirmed, but getTransaction returned nothing to verify what arrived")
        return record

    def _received(self, signed: SignedSolanaTx, token_out: SolanaToken, record: TxRecord) -> int:
        """What the landed transaction delivered to us, from its own balances: the net growth of the wallet's
        holdings of the mint across all its token accounts (moving tokens between two accounts of ours delivers
        nothing). Native SOL: what our wallet and its own token accounts gained together (unwrapping our own
        wrapped SOL is no delivery), with only the fee this transaction paid added back, capped by what its
        signed bytes allow."""
        if token_out.is_native:
            return landed_native_gain(record, self.wallet, fee_bound_lamports(signed.transaction))
        return record.holdings_delta(self.wallet, token_out.mint)

    def _spent(self, signed: SignedSolanaTx, token_in: SolanaToken, record: TxRecord) -> int:
        """What the landed transaction took from us, from its own balances: the fall of the wallet's holdings of
        the mint across all its token accounts (native SOL: the wallet's own SOL it lost, the fee not counted)."""
        if token_in.is_native:
            return -landed_native_gain(record, self.wallet, fee_bound_lamports(signed.transaction))
        return -record.holdings_delta(self.wallet, token_in.mint)

    def execute(self, run_id: str, step: str, token_in: SolanaToken, token_out: SolanaToken, amount_in: int,
                min_out: int, slippage_bps: int | None = None) -> SolanaSwapOutcome:
        """Swap once for (run_id, step). Raises RpcUnavailable / TxFateUnknown while a signed transaction's fate
        is unknown; calling again with the same (run_id, step) resumes it (see the module docstring)."""
        return self._execute(run_id, step, token_in, token_out, amount_in, min_out, slippage_bps, exact_out=False)

    def execute_exact_out(self, run_id: str, step: str, token_in: SolanaToken, token_out: SolanaToken,
                          amount_out: int, max_in: int, slippage_bps: int | None = None) -> SolanaSwapOutcome:
        """Exactly `amount_out` for at most `max_in`, through Jupiter's swapMode=ExactOut; the same contract as
        `execute` (outcome.amount_in = max_in, received >= amount_out checked, spent = what it took)."""
        return self._execute(run_id, step, token_in, token_out, max_in, amount_out, slippage_bps, exact_out=True)

    def _execute(self, run_id: str, step: str, token_in: SolanaToken, token_out: SolanaToken, amount_in: int,
                 min_out: int, slippage_bps: int | None, exact_out: bool) -> SolanaSwapOutcome:
        slippage = min(slippage_bps or self.policy.default_slippage_bps, self.policy.max_slippage_bps)
        outcome = SolanaSwapOutcome(status="failed", amount_in=amount_in, min_out=min_out)
        in_flight: SignedSolanaTx | None = None  # signed and recorded, fate not yet proven
        try:
            for attempt in range(self.attempts):
                key = f"{step}:swap#{attempt}"
                outcome.attempts = attempt + 1
                signed = self.outbox.signed_for(run_id, key, SignedSolanaTx)
                if signed is None:
                    signed = self.prepare(token_in, token_out, amount_in, min_out, slippage, outcome, exact_out)
                    self.outbox.record_signed(run_id, key, signed)  # AlreadySigned: another executor has the step
                    in_flight = signed
                    self.record(run_id, "tx", {"step": key, "event": "signed", "simulation": "ok",
                                               "signature": signed.signature,
                                               "last_valid_block_height": signed.last_valid_block_height,
                                               "quoted_out": outcome.quoted_out, "guaranteed_out": outcome.guaranteed_out})
                    fault_point(f"after_sign:{key}")
                    self.sender.broadcast(signed)  # a lost answer is fine (confirm rebroadcasts); a refusal is TxFailed
                    fault_point(f"after_send:{key}")
                else:
                    in_flight = signed
                    self.record(run_id, "tx", {"step": key, "event": "resumed", "signature": signed.signature})
                outcome.signature = signed.signature
                try:
                    confirmed = self.sender.confirm(signed)
                except BlockhashExpired:
                    in_flight = None
                    outcome.expired.append(signed.signature)
                    self.record(run_id, "tx", {"step": key, "event": "expired", "signature": signed.signature})
                    continue  # proven never landed: a fresh quote and a new transaction are safe
                outcome.slot = confirmed.slot
                record = self._landed(signed)
                outcome.received = self._received(signed, token_out, record)
                spent = self._spent(signed, token_in, record)
                if exact_out:
                    outcome.spent = spent
                in_flight = None
                self.record(run_id, "tx", {"step": key, "event": "confirmed", "signature": signed.signature,
                                           "slot": confirmed.slot, "received": outcome.received})
                what, most = ("amount_out", "max_in") if exact_out else ("min_out", "amount_in")
                if outcome.received < min_out:
                    outcome.reason = f"landed, but received {outcome.received} < {what} {min_out}"
                    return outcome
                if spent > amount_in:
                    outcome.reason = f"landed, but it took {spent} > {most} {amount_in}"
                    return outcome
                got, floor = token_out.from_base(outcome.received), token_out.from_base(min_out)  # as EVM words it
                if exact_out:
                    outcome.status = "confirmed"
                    outcome.reason = (f"received {got} {token_out.symbol} for {token_in.from_base(spent)} "
                                      f"{token_in.symbol} (max_in {token_in.from_base(amount_in)})")
                    return outcome
                outcome.status, outcome.reason = "confirmed", f"received {got} {token_out.symbol} ({what} {floor})"
                return outcome
            outcome.reason = f"no transaction landed within {self.attempts} blockhash lifetimes"
        except _Refused as refused:
            outcome.status, outcome.reason, outcome.checks = "refused", refused.reason, refused.checks
        except (core.RpcUnavailable, core.TxFateUnknown, AlreadySigned):
            raise  # a signed transaction may be in flight: the step stays open and a resume finishes it
        except TxFailed as exc:  # proven: the node refused the bytes at their first send, or they landed with an error
            outcome.reason = str(exc)
            self.record(run_id, "tx", {"step": f"{step}:swap#{outcome.attempts - 1}", "event": "failed",
                                       "signature": outcome.signature, "reason": str(exc)})
        except SolanaToolError as exc:
            if in_flight is not None:  # e.g. a JSON-RPC error while confirming: says nothing about the transaction
                raise TxFateUnknown(in_flight.signature, str(exc)) from exc
            outcome.reason = f"nothing sent: {exc}"
        return outcome


__all__ = ["MemoryOutbox", "SignedTxOutbox", "SolanaSwapExecutor", "SolanaSwapOutcome", "exact_out_quote_checks",
           "quote_checks"]
