"""Where the audit log's rows live: the `AuditStorage` protocol, and its SQLite implementation (one file, one machine).

`AuditLog` owns the format (leaf bytes, salts, the Merkle tree, checkpoints) and the durability rule; a storage
only keeps rows, append-only, and serialises the appends of one run so its indexes stay gap-free across every
process and machine that writes to it. The storage is passed in: `AuditLog(path)` opens the SQLite file here,
`AuditLog(storage)` takes any other. The shared PostgreSQL storage of a cluster lives with the other PostgreSQL
stores (`defai_swarm.stores.postgres_audit`); `defai_swarm.stores.audit_storage(path_or_url)` picks one from a
location. Both give the same rows, so the same leaf hashes, checkpoints, exports and `verify` hold for either
(tests/test_audit_store_contract.py).

The seam: `appending(run_id, deferred)` opens the write transaction of one run (SQLite: BEGIN IMMEDIATE, the
file's write lock; PostgreSQL: a transaction holding that run's advisory lock), inside which `next_index`,
`leaf_hashes` and `insert_entries` run; a deferred transaction skips its own flush to disk, and the next full one
covers it (`unsynced`, `flush`).
"""
from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from defai_swarm.audit.keys import AUDIT_DIR_NAME, private_dir

# (run_id, idx, kind, created_at, salt, payload_json, leaf_hash)
EntryRow = tuple[str, int, str, str, bytes, str, bytes]
# (idx, kind, created_at, salt, payload_json, leaf_hash)
ReadRow = tuple[int, str, str, bytes, str, bytes]
# (run_id, size, root, note, note_hash, vkey, created_at)
CheckpointRow = tuple[str, int, bytes, str, bytes, str, str]


class AuditStorage(Protocol):
    """Append-only rows of the audit log. Callers serialise calls (`AuditLog` holds a lock)."""

    @property
    def path(self) -> Path | str: ...  # the file, or the database URL without its password (for messages)

    def appending(self, run_id: str, deferred: bool) -> AbstractContextManager[None]: ...
    def next_index(self, run_id: str) -> int: ...
    def leaf_hashes(self, run_id: str, start: int) -> list[tuple[int, bytes]]: ...
    def insert_entries(self, rows: Sequence[EntryRow]) -> None: ...
    def add_checkpoint(self, row: CheckpointRow) -> None: ...
    def runs(self) -> list[str]: ...
    def entry_rows(self, run_id: str, start: int, stop: int) -> list[ReadRow]: ...
    def checkpoint_rows(self, run_id: str) -> list[CheckpointRow]: ...
    def checkpoint_by_hash(self, note_hash: bytes) -> CheckpointRow | None: ...
    @property
    def unsynced(self) -> bool: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def private_files(db: Path) -> None:
    """The log's directory 0700 (see `private_dir`) and its files 0600: salts and payloads are not public.

    SQLite gives the -wal and -shm files the database file's mode, so creating that file 0600 first is enough;
    in the audit directory, files left readable by an older version are tightened too."""
    directory = private_dir(db.parent)
    fd = os.open(db, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    if os.name == "posix" and directory.name == AUDIT_DIR_NAME:
        for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            try:
                st = os.stat(f, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077 and st.st_uid == os.getuid():
                os.chmod(f, stat.S_IMODE(st.st_mode) & 0o600)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    run_id     TEXT    NOT NULL,
    idx        INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    salt       BLOB    NOT NULL,
    payload    TEXT    NOT NULL,
    leaf_hash  BLOB    NOT NULL,
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    id          INTEGER PRIMARY KEY,
    run_id      TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    root        BLOB    NOT NULL,
    note        TEXT    NOT NULL,
    note_hash   BLOB    NOT NULL,
    vkey        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_run ON checkpoints (run_id, size);
CREATE INDEX IF NOT EXISTS checkpoints_hash ON checkpoints (note_hash);
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS entries_sequential BEFORE INSERT ON entries
WHEN NEW.idx IS NOT (SELECT COALESCE(MAX(idx) + 1, 0) FROM entries WHERE run_id = NEW.run_id)
BEGIN SELECT RAISE(ABORT, 'audit log index must be the next one of its run'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: DELETE refused'); END;
"""

_CHECKPOINT_COLUMNS = "run_id, size, root, note, note_hash, vkey, created_at"


class SqliteAuditStorage:
    """One SQLite file in WAL mode, synchronous=FULL except for deferred transactions (synchronous=NORMAL: in the
    WAL at once, fsynced by the next full commit or `flush`)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if str(self.path) != ":memory:":
            private_files(self.path)
        self._db: sqlite3.Connection | None = None
        self.db.executescript(_SCHEMA)
        self._unsynced = False  # deferred entries committed since the last fsync of the WAL

    @property
    def db(self) -> sqlite3.Connection:
        """The connection; opened again on use after `close` (a closed swarm's log can still be read)."""
        if self._db is None:
            db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0)
            (mode,) = db.execute("PRAGMA journal_mode=WAL").fetchone()
            if mode != "wal" and str(self.path) != ":memory:":
                db.close()
                raise RuntimeError(f"{self.path}: SQLite refused WAL mode (got {mode!r}); use a local filesystem")
            db.execute("PRAGMA synchronous=FULL")
            self._db = db
        return self._db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: takes SQLite's write lock up front (other processes too)."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    @contextmanager
    def appending(self, run_id: str, deferred: bool) -> Iterator[None]:
        """The file's write lock serialises every run's appends (one writer at a time in SQLite)."""
        if not deferred:
            with self._write():
                yield
            self._unsynced = False  # a full commit fsyncs the WAL, with every deferred entry before it
            return
        self.db.execute("PRAGMA synchronous=NORMAL")
        try:
            with self._write():
                yield
            self._unsynced = True
        finally:
            self.db.execute("PRAGMA synchronous=FULL")

    def next_index(self, run_id: str) -> int:
        (n,) = self.db.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries WHERE run_id = ?", (run_id,)).fetchone()
        return n  # indices are gapless, so this is the count (and O(log n))

    def leaf_hashes(self, run_id: str, start: int) -> list[tuple[int, bytes]]:
        rows = self.db.execute("SELECT idx, leaf_hash FROM entries WHERE run_id = ? AND idx >= ? ORDER BY idx",
                               (run_id, start)).fetchall()
        return [(idx, bytes(h)) for idx, h in rows]

    def insert_entries(self, rows: Sequence[EntryRow]) -> None:
        self.db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def add_checkpoint(self, row: CheckpointRow) -> None:
        with self._write() as db:
            db.execute(f"INSERT INTO checkpoints ({_CHECKPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        self._unsynced = False  # a full commit: the WAL with every deferred entry is fsynced

    def runs(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT run_id FROM entries ORDER BY run_id").fetchall()]

    def entry_rows(self, run_id: str, start: int, stop: int) -> list[ReadRow]:
        rows = self.db.execute("SELECT idx, kind, created_at, salt, payload, leaf_hash FROM entries "
                               "WHERE run_id = ? AND idx >= ? AND idx < ? ORDER BY idx", (run_id, start, stop))
        return [(idx, kind, ts, bytes(salt), payload, bytes(h)) for idx, kind, ts, salt, payload, h in rows]

    def checkpoint_rows(self, run_id: str) -> list[CheckpointRow]:
        rows = self.db.execute(f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints WHERE run_id = ? ORDER BY id",
                               (run_id,)).fetchall()
        return [(r, s, bytes(root), note, bytes(nh), vk, ts) for r, s, root, note, nh, vk, ts in rows]

    def checkpoint_by_hash(self, note_hash: bytes) -> CheckpointRow | None:
        row = self.db.execute(f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints WHERE note_hash = ? ORDER BY id LIMIT 1",
                              (note_hash,)).fetchone()
        if row is None:
            return None
        r, s, root, note, nh, vk, ts = row
        return r, s, bytes(root), note, bytes(nh), vk, ts

    @property
    def unsynced(self) -> bool:
        return self._unsynced

    def flush(self) -> None:
        """One fsync of the WAL (a no-op when nothing is pending)."""
        if not self._unsynced or str(self.path) == ":memory:":
            self._unsynced = False
            return
        wal = self.path.with_name(self.path.name + "-wal")
        try:
            fd = os.open(wal, os.O_RDONLY)
        except FileNotFoundError:  # checkpointed into the database (which SQLite synced) and removed
            self._unsynced = False
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._unsynced = False

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
