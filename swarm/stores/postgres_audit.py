"""The audit log's rows in PostgreSQL: a run resumed on another machine keeps one log, one Merkle tree.

An `AuditStorage` (the protocol in `defai_swarm.audit.storage`; `defai_swarm.stores.audit_storage(url)` opens it
for `AuditLog`). Same rows as the SQLite file, so the same leaf hashes, checkpoints and bundles:

- append-only: triggers raise on UPDATE, DELETE and TRUNCATE of both tables, and on an insert whose index is not
  the next one of its run (as the SQLite triggers do; they stop mistakes, the signed checkpoints and anchors stop
  an attacker with the database);
- gap-free across processes and machines: an append takes the run's transaction-scoped advisory lock first, so
  every writer of a run queues there, reads the next index and inserts it in one transaction;
- durability: a deferred transaction commits with `synchronous_commit=off` (visible at once, on disk within the
  WAL writer's delay); the next synchronous commit flushes the WAL up to itself, so it carries every deferred entry
  before it, as the SQLite group commit does. `flush` is such a commit.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from defai_swarm.audit.storage import CheckpointRow, EntryRow, ReadRow
from defai_swarm.stores.postgres import redacted

_SCHEMA_LOCK = 0x5357_4155  # advisory lock: concurrent first starts create the tables once
_RUN_LOCK_CLASS = 0x4155_4454  # the first key of a run's advisory lock; the second is hashtext(run_id)

SCHEMA = """
CREATE TABLE IF NOT EXISTS swarm_audit_entries (
    run_id TEXT NOT NULL, idx BIGINT NOT NULL, kind TEXT NOT NULL, created_at TEXT NOT NULL,
    salt BYTEA NOT NULL, payload TEXT NOT NULL, leaf_hash BYTEA NOT NULL, PRIMARY KEY (run_id, idx));
CREATE TABLE IF NOT EXISTS swarm_audit_checkpoints (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, run_id TEXT NOT NULL, size BIGINT NOT NULL,
    root BYTEA NOT NULL, note TEXT NOT NULL, note_hash BYTEA NOT NULL, vkey TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS swarm_audit_checkpoints_run ON swarm_audit_checkpoints (run_id, size);
CREATE INDEX IF NOT EXISTS swarm_audit_checkpoints_hash ON swarm_audit_checkpoints (note_hash);
CREATE OR REPLACE FUNCTION swarm_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit log is append-only: % refused', TG_OP; END $$;
CREATE OR REPLACE FUNCTION swarm_audit_sequential() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.idx IS DISTINCT FROM
       (SELECT COALESCE(MAX(idx) + 1, 0) FROM swarm_audit_entries WHERE run_id = NEW.run_id) THEN
        RAISE EXCEPTION 'audit log index must be the next one of its run';
    END IF;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER swarm_audit_entries_no_change BEFORE UPDATE OR DELETE ON swarm_audit_entries
    FOR EACH ROW EXECUTE FUNCTION swarm_audit_refuse();
CREATE OR REPLACE TRIGGER swarm_audit_entries_no_truncate BEFORE TRUNCATE ON swarm_audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION swarm_audit_refuse();
CREATE OR REPLACE TRIGGER swarm_audit_entries_sequential BEFORE INSERT ON swarm_audit_entries
    FOR EACH ROW EXECUTE FUNCTION swarm_audit_sequential();
CREATE OR REPLACE TRIGGER swarm_audit_checkpoints_no_change BEFORE UPDATE OR DELETE ON swarm_audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION swarm_audit_refuse();
CREATE OR REPLACE TRIGGER swarm_audit_checkpoints_no_truncate BEFORE TRUNCATE ON swarm_audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION swarm_audit_refuse();
"""

_CHECKPOINT_COLUMNS = "run_id, size, root, note, note_hash, vkey, created_at"


def _row(r: tuple[Any, ...]) -> CheckpointRow:
    run_id, size, root, note, note_hash, vkey, created_at = r
    return run_id, size, bytes(root), note, bytes(note_hash), vkey, created_at


class PgAuditStorage:
    """One autocommit connection (the caller serialises calls); the tables are created on first use."""

    def __init__(self, url: str) -> None:
        self.path = redacted(url)
        self._conn = psycopg.connect(url, autocommit=True)
        with self._conn.transaction():
            if self._conn.execute("SELECT to_regclass('swarm_audit_checkpoints') IS NULL").fetchone() == (True,):
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                if self._conn.execute("SELECT to_regclass('swarm_audit_checkpoints') IS NULL").fetchone() == (True,):
                    self._conn.execute(SCHEMA)
        self._unsynced = False

    @contextmanager
    def appending(self, run_id: str, deferred: bool) -> Iterator[None]:
        """One transaction holding the run's advisory lock: writers of other runs do not wait."""
        with self._conn.transaction():
            # one round trip: the run's lock, and for a deferred transaction its commit without a WAL flush (any
            # other keeps the server's setting, which may be stronger than `on`: remote_apply)
            self._conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s)), set_config('synchronous_commit', "
                               "CASE WHEN %s THEN 'off' ELSE current_setting('synchronous_commit') END, true)",
                               (_RUN_LOCK_CLASS, run_id, deferred))
            yield
        self._unsynced = deferred  # a synchronous commit flushed every deferred one before it

    def next_index(self, run_id: str) -> int:
        row = self._conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM swarm_audit_entries WHERE run_id = %s",
                                 (run_id,)).fetchone()
        assert row is not None
        return int(row[0])

    def leaf_hashes(self, run_id: str, start: int) -> list[tuple[int, bytes]]:
        rows = self._conn.execute("SELECT idx, leaf_hash FROM swarm_audit_entries WHERE run_id = %s AND idx >= %s "
                                  "ORDER BY idx", (run_id, start)).fetchall()
        return [(int(idx), bytes(h)) for idx, h in rows]

    def insert_entries(self, rows: Sequence[EntryRow]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany("INSERT INTO swarm_audit_entries VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)

    def add_checkpoint(self, row: CheckpointRow) -> None:
        self._conn.execute(f"INSERT INTO swarm_audit_checkpoints ({_CHECKPOINT_COLUMNS}) "
                           "VALUES (%s, %s, %s, %s, %s, %s, %s)", row)
        self._unsynced = False  # a synchronous commit: the WAL up to it, every deferred entry too, is on disk

    def runs(self) -> list[str]:
        return [r[0] for r in self._conn.execute(
            "SELECT DISTINCT run_id FROM swarm_audit_entries ORDER BY run_id").fetchall()]

    def entry_rows(self, run_id: str, start: int, stop: int) -> list[ReadRow]:
        rows = self._conn.execute("SELECT idx, kind, created_at, salt, payload, leaf_hash FROM swarm_audit_entries "
                                  "WHERE run_id = %s AND idx >= %s AND idx < %s ORDER BY idx",
                                  (run_id, start, stop)).fetchall()
        return [(int(idx), kind, ts, bytes(salt), payload, bytes(h)) for idx, kind, ts, salt, payload, h in rows]

    def checkpoint_rows(self, run_id: str) -> list[CheckpointRow]:
        rows = self._conn.execute(f"SELECT {_CHECKPOINT_COLUMNS} FROM swarm_audit_checkpoints WHERE run_id = %s "
                                  "ORDER BY id", (run_id,)).fetchall()
        return [_row(r) for r in rows]

    def checkpoint_by_hash(self, note_hash: bytes) -> CheckpointRow | None:
        row = self._conn.execute(f"SELECT {_CHECKPOINT_COLUMNS} FROM swarm_audit_checkpoints WHERE note_hash = %s "
                                 "ORDER BY id LIMIT 1", (note_hash,)).fetchone()
        return _row(row) if row is not None else None

    @property
    def unsynced(self) -> bool:
        return self._unsynced

    def flush(self) -> None:
        """A synchronous commit of a transaction with an id (nothing written): PostgreSQL flushes the WAL up to
        its commit record, and with it every deferred commit before it."""
        if not self._unsynced:
            return
        with self._conn.transaction():
            self._conn.execute("SELECT pg_current_xact_id()")
        self._unsynced = False

    def close(self) -> None:
        self._conn.close()
