"""Connect a run to the audit log: record every step, then sign the checkpoint, anchor it, record the anchor.

Also what the audit package leaves to the layer above it: the default replay plugins (`default_plugins`: the
built-in agents and those installed packages declare) and `replay` with them.
"""
from __future__ import annotations

from defai_swarm.audit import AuditEntry, AuditLog, Signer, Verifier, checkpoint_hash
from defai_swarm.audit.outcome import newest_checkpoint, run_outcome, seal_record
from defai_swarm.audit.replay import ReplayReport
from defai_swarm.audit.replay import replay as replay_with
from defai_swarm.core.anchor import Anchorer  # checkpoint hash -> AnchorRef
from defai_swarm.plugins import PluginRegistry


def default_plugins() -> PluginRegistry:
    """The built-in agents plus those installed packages declare (`defai_swarm.tasks` entry points): the registry
    `swarm audit replay` replays a run with, and `replay`'s default."""
    from defai_swarm.agents import builtin_plugins

    registry = PluginRegistry(builtin_plugins())
    registry.load_entry_points()
    return registry


def replay(entries: list[AuditEntry], plugins: PluginRegistry | None = None) -> ReplayReport:
    """`defai_swarm.audit.replay.replay` with `plugins`, the registry the run used (`Swarm.plugins`); by default
    `default_plugins()`."""
    return replay_with(entries, plugins if plugins is not None else default_plugins())


def floats_as_text(value):
    """The audit log refuses floats (they do not round-trip canonically); model timings and sampling
    settings are floats, so they are recorded as their exact decimal text."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {k: floats_as_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [floats_as_text(v) for v in value]
    return value


def anchored_checkpoint(log: AuditLog, run_id: str, trusted: Verifier | str | None) -> tuple[str, dict] | None:
    """(note, anchor) of the newest checkpoint of a run signed by `trusted`, if its anchor was recorded. Never an
    older checkpoint's: an anchor record naming one (a replayed row) cannot roll the run back to it."""
    outcome = run_outcome(log, run_id, trusted)
    if outcome.checkpoint is None or outcome.anchor is None:
        return None
    return outcome.checkpoint, outcome.anchor


class RunAuditor:
    def __init__(self, log: AuditLog, signer: Signer, anchorer: Anchorer | None = None):
        self.log, self.signer, self.anchorer = log, signer, anchorer

    def record(self, run_id: str, kind: str, payload: dict) -> None:
        """Durable before returning: the caller acts on the step only afterwards."""
        self.log.append(run_id, kind, floats_as_text(payload))

    def seal(self, run_id: str) -> tuple[str, dict | None]:
        """Sign a checkpoint over everything recorded so far and anchor its hash on-chain.

        The anchor entry is appended after the checkpoint it anchors (it cannot be
        inside it); verification checks it against the chain.

        Idempotent: when this signer's latest checkpoint already covers every entry (anything after it is
        only its own anchor record), that checkpoint is returned as it is: anchored, or anchored now if it
        was not and an anchorer is set. Nothing is signed or sent twice for the same log.
        """
        sealed = self._sealed(run_id)
        if sealed is not None:
            note, anchor = sealed
            if anchor is not None or self.anchorer is None:
                return note, anchor
            return note, self._anchor(run_id, note)
        note = self.log.checkpoint(run_id, self.signer)
        if self.anchorer is None:
            return note, None
        return note, self._anchor(run_id, note)

    def _sealed(self, run_id: str) -> tuple[str, dict | None] | None:
        """(note, anchor or None) of this signer's newest checkpoint if it covers the whole log (anything after it
        is only its own anchor record), else None. A failed anchor's error entry is not: the next seal signs it."""
        newest = newest_checkpoint(self.log.checkpoints(run_id), run_id, self.signer.verifier)
        if newest is None:
            return None
        after = self.log.entries(run_id, newest.checkpoint.size)
        if not all(e.kind == "anchor" and seal_record(e.kind, e.payload, newest.hash_hex) for e in after):
            return None
        return newest.stored.note, (after[0].payload if after else None)

    def _anchor(self, run_id: str, note: str) -> dict | None:
        digest = checkpoint_hash(note)
        try:
            ref = self.anchorer(digest).to_dict() if self.anchorer is not None else None
        except Exception as exc:  # the run's outcome stands; the missing anchor is itself on record
            self.record(run_id, "error", {"step": "anchor", "checkpoint_hash": digest.hex(), "reason": str(exc)})
            return None
        if ref is None:
            return None
        self.record(run_id, "anchor", ref)
        return ref

    def anchor_for(self, run_id: str) -> tuple[str, dict] | None:
        """(note, anchor) of the newest checkpoint this signer made for a run, if it was anchored."""
        return anchored_checkpoint(self.log, run_id, self.signer.verifier)
