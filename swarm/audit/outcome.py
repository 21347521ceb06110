"""What a run's log says happened: read from the part a trusted key signed, never from entries after it.

Anyone holding the store's credentials (every node of a cluster does) can append rows, checkpoint rows and anchor
records, so an entry is the run's record only once a checkpoint signed by the trusted key covers it. A run's
*signed part* is the prefix covered by its newest such checkpoint (the largest tree size: `verify` checks that
every checkpoint is a prefix of it). Whatever comes after that checkpoint is an unsigned *tail*, judged by `judge`:
  - the seal's own records of that checkpoint (its anchor, or the error of a failed attempt to anchor it) belong
    there: a checkpoint cannot contain its own anchor;
  - an anchor record naming another checkpoint is a FAIL at its index (a replayed anchor row, rolling the run back
    to an older checkpoint);
  - a finished run (its signed part holds its final entry: `run_result`, or a tool call's `tool_result`) has
    nothing else after its final checkpoint: any other entry there is a FAIL at its index;
  - a run still going (paused for approval, being resumed) may have more entries there: an unverified tail, shown
    as what it claims, never as the run's outcome.

`run_outcome` is the one place that says what a run's outcome is; `swarm audit runs|show|replay|export|verify|html|
serve`, the MCP and LangChain tools and `RunAuditor` all call it. `verify_bundle` applies `judge` to a bundle's
`tail`, and the page's verify.js ports it line for line.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from defai_swarm.audit.checkpoint import Checkpoint, NoteError, Verifier, checkpoint_hash, open_note, origin_for_run
from defai_swarm.audit.log import AuditEntry, AuditLog, StoredCheckpoint
from defai_swarm.audit.merkle import MerkleTree

__all__ = ["FINAL_KINDS", "RunOutcome", "SignedCheckpoint", "anchor_of", "judge", "newest_checkpoint", "run_outcome",
           "seal_record", "trusted_verifier"]

FINAL_KINDS = frozenset({"run_result", "tool_result"})  # a run's last entry: nothing but its seal may follow


def trusted_verifier(trusted: Verifier | str | None) -> Verifier | None:
    """A vkey parsed (raises NoteError), a Verifier as it is, None as None."""
    return Verifier.from_vkey(trusted) if isinstance(trusted, str) else trusted


class SignedCheckpoint(NamedTuple):
    stored: StoredCheckpoint
    checkpoint: Checkpoint
    hash_hex: str


def newest_checkpoint(stored: Iterable[StoredCheckpoint], run_id: str,
                      trusted: Verifier | None) -> SignedCheckpoint | None:
    """The stored checkpoint of `run_id` with the largest tree size whose note `trusted` signed (None: each under
    the key stored beside it, which proves nothing about who signed it); the first stored wins a tie."""
    best: SignedCheckpoint | None = None
    origin = origin_for_run(run_id)
    for sc in stored:
        try:
            verifier = trusted or Verifier.from_vkey(sc.vkey)
            cp = Checkpoint.from_text(open_note(sc.note, verifier)[0])
        except (NoteError, ValueError):
            continue  # another key's, or not a checkpoint: not this key's record
        if cp.origin == origin and (best is None or cp.size > best.checkpoint.size):
            best = SignedCheckpoint(sc, cp, checkpoint_hash(sc.note).hex())
    return best


def seal_record(kind: Any, payload: Any, checkpoint_hash_hex: str) -> bool:
    """What the seal of a checkpoint appends after it: its anchor record, or the error of an anchor attempt."""
    if not isinstance(payload, dict) or payload.get("checkpoint_hash") != checkpoint_hash_hex:
        return False
    return kind == "anchor" or (kind == "error" and payload.get("step") == "anchor")


def judge(finished: bool, tail: Iterable[tuple[int, Any, Any]], checkpoint_hash_hex: str) -> dict[int, str]:
    """The entries after the newest signed checkpoint that may not be there: {index: why}. `tail` is
    (index, kind, payload) of each; `finished`: the signed part holds one of FINAL_KINDS."""
    problems: dict[int, str] = {}
    for index, kind, payload in tail:
        if seal_record(kind, payload, checkpoint_hash_hex):
            continue
        if kind == "anchor":
            problems[index] = ("anchor record names another checkpoint than the newest one signed by the trusted key "
                               "(a replayed or stale anchor: the log cannot roll back to it)")
        elif finished:
            problems[index] = (f"{kind} entry after the final checkpoint of a finished run: no trusted key signed it "
                               f"(if a `swarm resume` of this run is under way or was interrupted, finish it and "
                               f"verify again)")
    return problems


def anchor_of(tail: Iterable[tuple[int, Any, Any]], checkpoint_hash_hex: str) -> tuple[int, dict] | None:
    """The first anchor record of the checkpoint among the entries after it: (index, payload)."""
    for index, kind, payload in tail:
        if kind == "anchor" and seal_record(kind, payload, checkpoint_hash_hex):
            return index, payload
    return None


class RunOutcome(BaseModel):
    """A run as its signed part tells it. `status`: the last signed `run_result`'s status ("awaiting_approval" when a
    signed approval request came after it; a tool call's run: "done" or "failed" from its `tool_result`); "in
    progress" when the signed part has none of these; "unsigned" when no
    checkpoint of the trusted key covers any of it; "unverified" when it cannot be told (no trusted key, or the
    stored entries do not hash to the signed checkpoint: `why`)."""

    model_config = ConfigDict(frozen=True)
    run_id: str
    size: int  # entries in the log
    signed: int = 0  # entries the newest trusted checkpoint covers
    status: str
    result: dict | None = None  # the signed run_result's payload (status, tx_hashes, reasons)
    result_index: int | None = None
    finished: bool = False
    checkpoint: str | None = None  # the newest checkpoint signed by the trusted key (its note)
    checkpoint_hash: str | None = None
    checkpoint_vkey: str | None = None
    anchor: dict | None = None  # its anchor record, if one was appended
    problems: dict[int, str] = {}  # tail entries that may not be there (see `judge`)
    claims: dict[str, Any] = {}  # what the unsigned tail claims, unverified: status, awaiting_approval
    why: str | None = None

    @property
    def tail(self) -> int:
        """Entries after the signed part (unsigned)."""
        return self.size - self.signed

    def describe(self) -> str:
        """One line: the outcome, then what is unsigned."""
        text = self.status + (f" ({self.why})" if self.why else "")
        if self.problems:
            first = min(self.problems)
            text += f"; entry {first} after the signed checkpoint may not be there: {self.problems[first]}"
        elif self.claims:
            text += "; unverified tail claims " + ", ".join(k if v is True else f"{k} {v}" for k, v in self.claims.items())
        return text


def _claims(tail: Sequence[AuditEntry]) -> dict[str, Any]:
    """What unsigned entries say about the run's state (shown as unverified, never as its outcome)."""
    claims: dict[str, Any] = {}
    for e in tail:
        if e.kind == "run_result":
            claims["status"] = str(e.payload.get("status"))
            claims.pop("awaiting_approval", None)
        elif e.kind == "approval_request":
            claims["awaiting_approval"] = True
        elif e.kind == "operator_input":
            claims.pop("awaiting_approval", None)
    return claims


def run_outcome(log: AuditLog, run_id: str, trusted: Verifier | str | None,
                entries: Sequence[AuditEntry] | None = None) -> RunOutcome:
    """What `run_id`'s log says, read from the part `trusted` signed (see the module docstring). `entries`: the
    run's entries if the caller has read them already. Recomputes the signed entries' Merkle root (a store edited
    under a signed checkpoint is "unverified", not its old outcome); `verify` does the rest (anchor, consistency)."""
    entries = list(log.entries(run_id)) if entries is None else list(entries)
    size = len(entries)
    verifier = trusted_verifier(trusted)
    if verifier is None:
        return RunOutcome(run_id=run_id, size=size, status="unverified", claims=_claims(entries),
                          why="no trusted key to check its checkpoints with: pass --vkey")
    newest = newest_checkpoint(log.checkpoints(run_id), run_id, verifier)
    if newest is None:
        return RunOutcome(run_id=run_id, size=size, status="unsigned", claims=_claims(entries),
                          why=None if size else "no entries")
    sc, cp, cp_hash = newest
    signed = entries[:cp.size]
    info: dict[str, Any] = dict(checkpoint=sc.note, checkpoint_hash=cp_hash, checkpoint_vkey=sc.vkey)
    if len(signed) != cp.size or MerkleTree(e.compute_leaf_hash() for e in signed).root() != cp.root:
        return RunOutcome(run_id=run_id, size=size, status="unverified", claims=_claims(entries), **info,
                          why=f"the stored entries do not hash to the signed checkpoint of size {cp.size}: "
                              f"run `swarm audit verify {run_id}`")
    status, result, result_index = "in progress", None, None
    for e in signed:
        if e.kind == "run_result":
            status, result, result_index = str(e.payload.get("status")), dict(e.payload), e.index
        elif e.kind == "tool_result":  # a tool call's own run (defai_swarm.integrations): answered, or refused/failed
            status = "done" if e.payload.get("ok") is True else "failed"
        elif e.kind == "approval_request":
            status = "awaiting_approval"
        elif e.kind == "operator_input" and status == "awaiting_approval":
            status = "in progress"
    finished = any(e.kind in FINAL_KINDS for e in signed)
    tail = entries[cp.size:]
    rows = [(e.index, e.kind, e.payload) for e in tail]
    anchored = anchor_of(rows, cp_hash)
    return RunOutcome(run_id=run_id, size=size, signed=cp.size, status=status, result=result,
                      result_index=result_index, finished=finished, anchor=anchored[1] if anchored else None,
                      problems=judge(finished, rows, cp_hash),
                      claims=_claims([e for e in tail if not seal_record(e.kind, e.payload, cp_hash)]), **info)
