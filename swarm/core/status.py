"""Task and run outcomes as enums: one spelling of each, shared by runtime, agents, CLI and audit."""
from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    """What one task ended with. A StrEnum: equal to its text, so logs and JSON stay plain strings."""

    OK = "ok"  # a read or check finished
    APPROVED = "approved"  # a risk check approved the swap it gates
    CONFIRMED = "confirmed"  # a transaction landed and its effect was verified
    SKIPPED = "skipped"  # nothing to do (a condition did not hold, an earlier part did not complete)
    REFUSED = "refused"  # a rule refused; nothing was signed
    FAILED = "failed"  # tried and failed (the reason says whether anything was sent)


class RunStatus(StrEnum):
    DONE = "done"
    PARTIAL = "partial"
    SKIPPED = "skipped"
    REFUSED = "refused"
    FAILED = "failed"
    AWAITING_APPROVAL = "awaiting_approval"
