"""Replay a run's deterministic decisions from its audit entries and compare with what was logged.

Risk decisions are recomputed with the logged policy and inputs, conditions
with the logged price, price medians and spreads from the logged sources. A
tampered decision (or input) shows up as the first entry whose replay differs.
"""
from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from agents.price_reader import PriceReading, median_and_spread
from agents.risk import RiskChecker, RiskDecision, RiskPolicy, SwapCheckInput
from swarm.audit.log import AuditEntry
from swarm.taskgraph import Condition


class ReplayCheck(BaseModel):
    index: int
    kind: str
    ok: bool
    detail: str


class ReplayReport(BaseModel):
    ok: bool
    checks: list[ReplayCheck]
    first_bad_index: int | None = None

    @property
    def reason(self) -> str:
        bad = next((c for c in self.checks if not c.ok), None)
        return f"entry {bad.index} ({bad.kind}): {bad.detail}" if bad else f"{len(self.checks)} decisions replayed, all match"


def _replay_price(payload: dict) -> tuple[bool, str]:
    reading = PriceReading.model_validate(payload["reading"])
    median, spread = median_and_spread([s.price for s in reading.sources])
    ok = median == reading.median and spread == reading.max_deviation_bps
    return ok, f"median {median} (logged {reading.median}), spread {spread} bps (logged {reading.max_deviation_bps})"


def _replay_condition(payload: dict) -> tuple[bool, str]:
    condition = Condition.model_validate(payload["condition"])
    holds = condition.evaluate(Decimal(payload["price"]))
    return holds == payload["holds"], f"{condition.describe()} at {payload['price']}: {holds} (logged {payload['holds']})"


def _replay_risk(payload: dict, checker: RiskChecker) -> tuple[bool, str]:
    replayed = checker.decide(SwapCheckInput.model_validate(payload["input"]))
    logged = RiskDecision.model_validate(payload["decision"])
    if replayed != logged:
        diff = [r.rule for r, l in zip(replayed.rules, logged.rules) if r != l] or ["approved/min_out/trade_usd"]
        return False, f"replayed decision differs from the logged one in: {', '.join(diff)}"
    if payload.get("status") == "approved" and not replayed.approved:
        return False, "logged as approved, but the policy refuses it"
    return True, f"{'approved' if replayed.approved else 'refused'}: {replayed.reason}"


def replay(entries: list[AuditEntry]) -> ReplayReport:
    policy = next((RiskPolicy.model_validate(e.payload["policy"]) for e in entries
                   if e.kind == "intent" and "policy" in e.payload), None)
    checks: list[ReplayCheck] = []
    if policy is None:
        checks.append(ReplayCheck(index=0, kind="intent", ok=False, detail="no policy recorded: cannot replay"))
    checker = RiskChecker(policy) if policy else None
    for e in entries:
        try:
            if e.kind == "read_price" and e.payload.get("status") == "ok":
                ok, detail = _replay_price(e.payload)
            elif e.kind == "condition":
                ok, detail = _replay_condition(e.payload)
            elif e.kind == "check_risk" and "decision" in e.payload and checker:
                ok, detail = _replay_risk(e.payload, checker)
            else:
                continue
        except (KeyError, ValueError) as exc:
            ok, detail = False, f"entry cannot be replayed: {exc}"
        checks.append(ReplayCheck(index=e.index, kind=e.kind, ok=ok, detail=detail))
    first_bad = next((c.index for c in checks if not c.ok), None)
    return ReplayReport(ok=first_bad is None and bool(checks), checks=checks, first_bad_index=first_bad)
