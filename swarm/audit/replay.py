"""Replay a run's deterministic decisions from its audit entries and compare with what was logged.

Each task plugin replays its own entries (`TaskPlugin.replay`: risk decisions
recomputed with the run's recorded policy and inputs, price medians and spreads
from the logged sources); conditions are recomputed here from the logged price.
A tampered decision (or input) shows up as the first entry whose replay differs.

The plugins are passed in: the registry the run used (`Swarm.plugins`), or the built-in agents plus the installed
ones that `defai_swarm.auditing.replay` and `swarm audit replay` assemble. This package knows no agent.
"""
from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from defai_swarm.audit.log import AuditEntry
from defai_swarm.plugins import PluginRegistry
from defai_swarm.taskgraph import Condition


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


def _replay_condition(payload: dict) -> tuple[bool, str]:
    condition = Condition.model_validate(payload["condition"])
    holds = condition.evaluate(Decimal(payload["price"]))
    return holds == payload["holds"], f"{condition.describe()} at {payload['price']}: {holds} (logged {payload['holds']})"


def replay(entries: list[AuditEntry], plugins: PluginRegistry) -> ReplayReport:
    """Replay `entries` with `plugins`, the registry the run used: each entry of a kind it holds is replayed by
    that kind's plugin; conditions here. An entry of a kind no plugin holds is not replayed (and not checked)."""
    context = next((e.payload for e in entries if e.kind == "intent"), {})
    checks: list[ReplayCheck] = []
    if "policy" not in context:
        checks.append(ReplayCheck(index=0, kind="intent", ok=False, detail="no policy recorded: cannot replay"))
    for e in entries:
        if e.kind == "resume" and "policy" in e.payload:  # a resume under a stricter policy: later decisions use it
            context = {**context, "policy": e.payload["policy"]}
            continue
        try:
            if e.kind == "condition":
                outcome: tuple[bool, str] | None = _replay_condition(e.payload)
            elif e.kind in plugins:
                outcome = plugins.get(e.kind).replay(e.payload, context)
            else:
                continue
        except (KeyError, ValueError) as exc:
            outcome = False, f"entry cannot be replayed: {exc}"
        if outcome is not None:
            checks.append(ReplayCheck(index=e.index, kind=e.kind, ok=outcome[0], detail=outcome[1]))
    first_bad = next((c.index for c in checks if not c.ok), None)
    return ReplayReport(ok=first_bad is None and bool(checks), checks=checks, first_bad_index=first_bad)
