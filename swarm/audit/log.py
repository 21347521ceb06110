"""AuditLog: an append-only, durable log with one RFC 9162 Merkle tree per run, in the storage it is given.

`append` returns only after the entry is committed (WAL, synchronous=FULL), so a
caller that acts on a step after `append` returns can always show the step was
logged first.

Group commit: entries of the kinds in `DEFERRED_KINDS` (what a run reads, thinks and decides: prices,
plans, model calls, risk results) are committed without an fsync of their own. They are in the WAL
at once (a killed process loses nothing) and become power-loss durable with the next entry of any
other kind, a checkpoint, or `flush()`: one fsync covers the whole WAL. Every action that leaves the
machine is preceded by such an entry (a `tx` "signed" entry before a broadcast, the checkpoint before
its anchor), so nothing is signed or sent before everything logged up to it is durable. SQLite triggers abort UPDATE and DELETE and non-sequential inserts;
that stops mistakes, not an attacker with the file, which is what checkpoints
(signed roots) and on-chain anchors of their hashes are for.

The rows live in a storage passed in (the `AuditStorage` protocol, `defai_swarm.audit.storage`): `AuditLog(path)`
opens one SQLite file; `AuditLog(storage)` takes any other, such as the shared PostgreSQL database of a cluster
(`AuditLog(defai_swarm.stores.audit_storage("postgresql://..."))`, what `Swarm` opens when `SWARM_STORE` names one),
where PostgreSQL's own triggers refuse changes and a per-run advisory lock keeps a run's indexes gap-free across
machines. This package never picks a database from a URL: that is `defai_swarm.stores`' job.

Each leaf is the canonical JSON of {run_id, index, kind, created_at, salt, payload}.
The per-entry random salt means a published leaf hash or root does not let anyone
confirm a guessed payload ("did the agent think about token X?").
"""
from __future__ import annotations

import json
import os
import re
import secrets
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from defai_swarm.audit import canonical
from defai_swarm.audit.checkpoint import Checkpoint, Signer, checkpoint_hash, origin_for_run, sign_checkpoint
from defai_swarm.audit.merkle import MerkleTree, leaf_hash
from defai_swarm.audit.redact import SecretGuard
from defai_swarm.audit.storage import AuditStorage, SqliteAuditStorage
from defai_swarm.config import swarm_home

KINDS = ("thought", "price", "risk", "tx", "error", "refusal", "operator_input", "anchor")
# Kinds that never precede an action of their own: committed without their own fsync (see the module docstring).
# Any other kind (tx, anchor, operator_input, error, a plugin's own...) is fsynced before `append` returns,
# and with it every deferred entry before it.
# `swap` (a swap's outcome, after its receipt) and `run_result` record what already happened on-chain: no action
# of their own follows them; the next part's signed `tx` entry or the run's checkpoint (a full commit, which
# `Swarm` signs right after `run_result`) makes them durable, two fsyncs fewer per run.
DEFERRED_KINDS = frozenset({"intent", "plan", "thought", "model_call", "price", "read_price", "risk", "check_risk",
                            "condition", "refusal", "tool_call", "tool_result", "approval_request",
                            "swap", "run_result"})
RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
KIND_RE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def default_db_path() -> Path:
    return swarm_home() / "audit" / "audit.db"


def utc_now() -> str:
    """ISO 8601 UTC with microseconds and a Z suffix."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" -> "Z"; twice strftime's speed


def leaf_data(run_id: str, index: int, kind: str, created_at: str, salt_hex: str, payload: Any) -> bytes:
    """The bytes hashed into the leaf (RFC 9162 MTH of one entry)."""
    return canonical.dumps(
        {
            "run_id": run_id,
            "index": index,
            "kind": kind,
            "created_at": created_at,
            "salt": salt_hex,
            "payload": payload,
        }
    )


_str = encode_basestring  # a JSON string as canonical JSON writes it (ensure_ascii off)


def _leaf_data_of(run_id: str, index: int, kind: str, created_at: str, salt_hex: str, payload_json: str) -> bytes:
    """`leaf_data` from the payload's canonical JSON text, already encoded for the row: the same bytes (the
    keys in sorted order around it), without encoding the payload a second time."""
    return (f'{{"created_at":{_str(created_at)},"index":{index},"kind":{_str(kind)},"payload":{payload_json},'
            f'"run_id":{_str(run_id)},"salt":"{salt_hex}"}}').encode("utf-8")


class AuditEntry(BaseModel):
    """One logged step, with everything needed to recompute its leaf hash."""

    model_config = ConfigDict(frozen=True)
    run_id: str
    index: int
    kind: str
    created_at: str
    salt: str  # 64 hex chars
    payload: dict[str, Any]
    leaf_hash: str  # hex

    def leaf_data(self) -> bytes:
        return leaf_data(self.run_id, self.index, self.kind, self.created_at, self.salt, self.payload)

    def compute_leaf_hash(self) -> bytes:
        return leaf_hash(self.leaf_data())

    def public_dict(self) -> dict[str, Any]:
        """The entry as exported (no stored hash: verifiers recompute it)."""
        return self.model_dump(exclude={"leaf_hash"})


class StoredCheckpoint(BaseModel):
    model_config = ConfigDict(frozen=True)
    run_id: str
    size: int
    root: bytes
    note: str
    note_hash: bytes
    vkey: str
    created_at: str


def _check_run_id(run_id: str) -> None:
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id):
        raise ValueError("run_id must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


class AuditLog:
    """Append-only audit log over a storage: a SQLite file (a path; default `$SWARM_HOME/audit/audit.db`) or any
    `AuditStorage` passed in (`defai_swarm.stores.audit_storage(url)` for a PostgreSQL database); thread-safe."""

    def __init__(self, storage: AuditStorage | str | os.PathLike | None = None) -> None:
        if storage is None:
            storage = default_db_path()
        if isinstance(storage, str) and _URL_RE.match(storage):
            scheme = storage.split("://", 1)[0]
            raise ValueError(f"AuditLog opens a SQLite file path or takes a storage, not a {scheme}:// URL: open the "
                             f"database with defai_swarm.stores.audit_storage(url) and pass that, or use "
                             f"defai_swarm.stores.open_audit_log(url)")
        self._store: AuditStorage = (SqliteAuditStorage(storage) if isinstance(storage, (str, os.PathLike))
                                     else storage)
        self.path = self._store.path  # the file, or the URL without its password
        self._lock = threading.RLock()
        self._trees: dict[str, MerkleTree] = {}
        self._guard = SecretGuard()

    # ---- lifecycle ----------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self.flush()
            self._store.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    # ---- secrets ------------------------------------------------------------------

    def register_secret(self, secret: str | bytes) -> None:
        """Refuse from now on any append whose payload contains `secret` (raw or 0x-less)."""
        self._guard.register(secret)

    @property
    def guard(self) -> SecretGuard:
        return self._guard

    # ---- writing ------------------------------------------------------------------

    def _validate(self, kind: str, payload: dict) -> tuple[str, Any, str]:
        """Check kind, canonicalise payload, run the secret guard: before any write."""
        if not isinstance(kind, str) or not KIND_RE.fullmatch(kind):
            raise ValueError("kind must be a short lowercase identifier, e.g. 'thought'")
        if not isinstance(payload, dict):
            raise TypeError("payload must be a dict")
        norm = canonical.normalize(payload)
        self._guard.check(kind, "kind")
        self._guard.check(norm, "payload")
        return kind, norm, canonical.encode_plain(norm)  # `norm` is plain JSON already: no second walk

    def append(self, run_id: str, kind: str, payload: dict) -> AuditEntry:
        """Log one step; returns after the entry is durably committed."""
        return self.append_many(run_id, [(kind, payload)])[0]

    def append_many(self, run_id: str, items: Iterable[tuple[str, dict]]) -> list[AuditEntry]:
        """Log several steps in one transaction (one fsync, none when every kind is deferred); all or nothing."""
        _check_run_id(run_id)
        self._guard.check(run_id, "run_id")
        checked = [self._validate(kind, payload) for kind, payload in items]
        deferred = all(kind in DEFERRED_KINDS for kind, _, _ in checked)
        with self._lock:
            tree = self._trees.get(run_id) or self._tree(run_id)  # caught up below, inside the transaction
            store = self._store
            with store.appending(run_id, deferred):  # the run's write lock, on every process and machine
                nxt = store.next_index(run_id)
                if nxt != tree.size:  # another process appended meanwhile: catch up
                    self._sync(run_id, tree)
                out, rows = [], []
                created_at = utc_now()  # the entries of one call commit together: one time for all of them
                salts = secrets.token_bytes(32 * len(checked))  # one read of the OS's random source, 32 bytes each
                for i, (kind, norm, payload_json) in enumerate(checked):
                    index, salt = nxt + i, salts[32 * i:32 * i + 32]
                    salt_hex = salt.hex()
                    h = leaf_hash(_leaf_data_of(run_id, index, kind, created_at, salt_hex, payload_json))
                    rows.append((run_id, index, kind, created_at, salt, payload_json, h))
                    # every field is already checked and normalised: no second validation pass
                    out.append(AuditEntry.model_construct(
                        run_id=run_id, index=index, kind=kind, created_at=created_at,
                        salt=salt_hex, payload=norm, leaf_hash=h.hex(),
                    ))
                store.insert_entries(rows)
            tree.extend(r[6] for r in rows)  # only after COMMIT succeeded
            return out

    @property
    def unsynced(self) -> bool:
        """Deferred entries are committed but not yet flushed to disk (`flush` makes them durable)."""
        return self._store.unsynced

    def flush(self) -> None:
        """Make every committed entry durable now: one fsync of the WAL (a no-op when nothing is pending)."""
        with self._lock:
            self._store.flush()

    # ---- the Merkle tree ----------------------------------------------------------

    def _sync(self, run_id: str, tree: MerkleTree) -> None:
        for idx, h in self._store.leaf_hashes(run_id, tree.size):
            if idx != tree.size:
                raise RuntimeError(f"audit log for run {run_id} has a gap at index {tree.size}")
            tree.append(h)

    def _tree(self, run_id: str) -> MerkleTree:
        """The cached tree of a run, brought up to date with the database."""
        with self._lock:
            tree = self._trees.get(run_id)
            if tree is None:
                tree = self._trees[run_id] = MerkleTree()
            self._sync(run_id, tree)
            return tree

    def size(self, run_id: str) -> int:
        with self._lock:
            return self._store.next_index(run_id)  # indices are gapless, so this is the count

    def root(self, run_id: str, size: int | None = None) -> bytes:
        return self._tree(run_id).root(size)

    def inclusion_proof(self, run_id: str, index: int, size: int | None = None) -> list[bytes]:
        return self._tree(run_id).inclusion_proof(index, size)

    def consistency_proof(self, run_id: str, old: int, new: int | None = None) -> list[bytes]:
        return self._tree(run_id).consistency_proof(old, new)

    def leaf_hashes(self, run_id: str, size: int | None = None) -> list[bytes]:
        tree = self._tree(run_id)
        n = tree.size if size is None else size
        return [tree.leaf(i) for i in range(n)]

    # ---- reading ------------------------------------------------------------------

    def runs(self) -> list[str]:
        with self._lock:
            return self._store.runs()

    def entries(self, run_id: str, start: int = 0, end: int | None = None) -> list[AuditEntry]:
        """Entries [start, end) of a run, in index order."""
        stop = end if end is not None else 1 << 62
        with self._lock:
            rows = self._store.entry_rows(run_id, start, stop)
        return [
            AuditEntry(
                run_id=run_id, index=idx, kind=kind, created_at=ts, salt=salt.hex(),
                payload=json.loads(payload), leaf_hash=h.hex(),
            )
            for idx, kind, ts, salt, payload, h in rows
        ]

    # ---- checkpoints --------------------------------------------------------------

    def checkpoint(self, run_id: str, signer: Signer, size: int | None = None) -> str:
        """Sign the run's current tree head (or the head at `size`); store and return the note."""
        _check_run_id(run_id)
        with self._lock:
            tree = self._tree(run_id)
            n = tree.size if size is None else size
            cp = Checkpoint(origin=origin_for_run(run_id), size=n, root=tree.root(n))
            note = sign_checkpoint(cp, signer)
            # a full commit: every deferred entry before it is durable before the note can be anchored
            self._store.add_checkpoint((run_id, n, cp.root, note, checkpoint_hash(note), signer.vkey, utc_now()))
            return note

    def checkpoints(self, run_id: str) -> list[StoredCheckpoint]:
        """All checkpoints signed for a run, oldest first."""
        with self._lock:
            rows = self._store.checkpoint_rows(run_id)
        return [_stored(r) for r in rows]

    def latest_checkpoint(self, run_id: str) -> StoredCheckpoint | None:
        cps = self.checkpoints(run_id)
        return cps[-1] if cps else None

    def find_checkpoint(self, note: str) -> StoredCheckpoint | None:
        """The stored checkpoint whose note is exactly `note` (gives its vkey)."""
        with self._lock:
            row = self._store.checkpoint_by_hash(checkpoint_hash(note))
        return _stored(row) if row is not None else None


def _stored(row: tuple[str, int, bytes, str, bytes, str, str]) -> StoredCheckpoint:
    r, s, root, note, nh, vk, ts = row
    return StoredCheckpoint(run_id=r, size=s, root=root, note=note, note_hash=nh, vkey=vk, created_at=ts)
