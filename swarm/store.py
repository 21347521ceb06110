"""Durable run bookkeeping of one state directory in SQLite: runs, their context and the transaction outbox.

A run id is claimed by one atomic insert of its context row (chain, wallet, policy) before anything else of the
run is written: of two processes given the same id, one wins and the other writes nothing; a context row is never
replaced. Context and plan rows carry the wallet's seal (`defai_swarm.runrecords`): a resume acts only on rows it can
authenticate.

The outbox lives outside the LangGraph state on purpose: a signed transaction is written
*before* it is broadcast and survives a crash at any point. A row whose transaction is proven
never to land (the node refused the bytes at send, or its nonce was consumed by another
transaction) is marked dropped, never deleted: it is not listed as sent, it no longer holds
the step's spend reservation, and the step is never signed again.

The wallet's daily cap lives in `defai_swarm.ledger.SpendLedger`, shared by every state directory.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from defai_swarm.core.outbox import AlreadySigned, SignedTxRecord

M = TypeVar("M", bound=BaseModel)

# Steps that only set an allowance (EVM `{step}:approve`, `{step}:revoke`): they move no funds, so they do not
# hold a spend reservation.
ALLOWANCE_STEP_SUFFIXES = (":approve", ":revoke")

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    run_id TEXT NOT NULL, step TEXT NOT NULL, tx_hash TEXT NOT NULL, nonce INTEGER NOT NULL,
    signed_json TEXT NOT NULL, created_at TEXT NOT NULL, dropped_at TEXT, dropped_reason TEXT,
    PRIMARY KEY (run_id, step));
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, intent TEXT NOT NULL, plan_json TEXT NOT NULL, created_at TEXT NOT NULL, seal TEXT);
CREATE TABLE IF NOT EXISTS run_context (
    run_id TEXT PRIMARY KEY, chain TEXT NOT NULL, context_json TEXT NOT NULL, seal TEXT);
"""


@dataclass(frozen=True)
class RunRecord:
    """A run's rows exactly as stored, with their seals (`defai_swarm.runrecords.RecordSeal.check` authenticates them).
    `intent` and `plan_json` are None while the run is claimed but not planned yet."""

    chain: str
    context_json: str
    context_seal: str | None
    intent: str | None
    plan_json: str | None
    run_seal: str | None


_connections = threading.local()


def _open_durable(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


@contextmanager
def durable_connection(path: Path) -> Iterator[sqlite3.Connection]:
    """An autocommit SQLite connection in WAL mode with a full fsync per commit: what is written is on disk
    before the caller acts on it (a broadcast, a spend).

    Kept open per (thread, process, file): opening and closing costs more than the writes (closing the last
    connection checkpoints the WAL with fsyncs). A file replaced or removed underneath is opened afresh (its
    inode is compared on every use), and a transaction left open by an error is rolled back."""
    cache: dict[str, tuple[int, int, sqlite3.Connection]] = _connections.__dict__.setdefault("dbs", {})
    key = str(Path(path).resolve())
    cached = cache.get(key)
    pid = os.getpid()
    try:
        inode = os.stat(key).st_ino
    except FileNotFoundError:
        inode = -1
    if cached is None or cached[0] != pid or cached[1] != inode:
        if cached is not None and cached[0] == pid:
            cached[2].close()
        db = _open_durable(Path(key))
        cache[key] = (pid, os.stat(key).st_ino, db)
    else:
        db = cached[2]
    try:
        yield db
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")


def release_durable(path: Path) -> None:
    """Close this thread's kept connection to `path` (the next use reopens it). A swarm calls it on close, so a
    process that makes many swarms over many state directories does not keep a file handle to each."""
    cache: dict[str, tuple[int, int, sqlite3.Connection]] = _connections.__dict__.setdefault("dbs", {})
    cached = cache.pop(str(Path(path).resolve()), None)
    if cached is not None and cached[0] == os.getpid():
        cached[2].close()


def run_record_of(context: tuple | None, run: tuple | None) -> RunRecord | None:
    """A RunRecord from the (chain, context_json, seal) and (intent, plan_json, seal) rows of either store."""
    if context is None and run is None:
        return None
    chain, context_json, context_seal = context if context is not None else ("", "{}", None)
    intent, plan_json, run_seal = run if run is not None else (None, None, None)
    return RunRecord(chain, context_json, context_seal, intent, plan_json, run_seal)


class RunStore:
    """Implements `defai_swarm.core.outbox.Outbox` over one SQLite file (the spend ledger is `defai_swarm.ledger`)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.executescript(SCHEMA)
            # a store written before drops (outbox) or seals (runs, run_context) were recorded
            for table, added in (("outbox", ("dropped_at", "dropped_reason")), ("runs", ("seal",)),
                                 ("run_context", ("seal",))):
                columns = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
                for column in added:
                    if column not in columns:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")

    def _connect(self):
        return durable_connection(self.path)

    # -- runs: the claim first, then the plan (stored before the graph starts, so a resumed process can rebuild it)
    def claim_run(self, run_id: str, chain: str, context_json: str, seal: str | None) -> bool:
        """Bind `run_id` to the run's context (its wallet, chain and policy) in one atomic insert: True for the
        first caller; False, with nothing written, when the id is taken (a context row is never replaced)."""
        with self._lock, self._connect() as db:
            cur = db.execute("INSERT OR IGNORE INTO run_context (run_id, chain, context_json, seal) "
                             "VALUES (?, ?, ?, ?)", (run_id, chain, context_json, seal))
            return cur.rowcount == 1

    def save_run(self, run_id: str, intent: str, plan_json: str, seal: str | None = None) -> None:
        with self._lock, self._connect() as db:
            db.execute("INSERT INTO runs (run_id, intent, plan_json, created_at, seal) VALUES (?, ?, ?, ?, ?)",
                       (run_id, intent, plan_json, datetime.now(timezone.utc).isoformat(), seal))

    def run_record(self, run_id: str) -> RunRecord | None:
        """The run's context and plan rows with their seals; None when neither exists. A plan row without a
        context row (a store from before claims, or a deleted row) has an empty, unsealed context."""
        with self._connect() as db:
            context = db.execute("SELECT chain, context_json, seal FROM run_context WHERE run_id=?",
                                 (run_id,)).fetchone()
            run = db.execute("SELECT intent, plan_json, seal FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return run_record_of(context, run)

    def load_context(self, run_id: str) -> tuple[str, dict] | None:
        with self._connect() as db:
            row = db.execute("SELECT chain, context_json FROM run_context WHERE run_id=?", (run_id,)).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def load_run(self, run_id: str) -> tuple[str, str] | None:
        with self._connect() as db:
            row = db.execute("SELECT intent, plan_json FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return (row[0], row[1]) if row else None

    # -- outbox: a signed transaction is recorded before it is broadcast (any chain: EVM or Solana)
    def record_signed(self, run_id: str, step: str, signed: SignedTxRecord) -> None:
        """Raises AlreadySigned if the step already has one: a step is signed once."""
        order = signed.sequence
        try:
            with self._lock, self._connect() as db:
                db.execute("INSERT INTO outbox (run_id, step, tx_hash, nonce, signed_json, created_at) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           (run_id, step, signed.tx_id, order if order is not None else -1, signed.model_dump_json(),
                            datetime.now(timezone.utc).isoformat()))
        except sqlite3.IntegrityError:
            raise AlreadySigned(f"{run_id}/{step} already has a signed transaction") from None

    def signed_for(self, run_id: str, step: str, model: type[M]) -> M | None:
        """The step's signed transaction, also when it was dropped (see `dropped_reason`): a step is signed once."""
        with self._connect() as db:
            row = db.execute("SELECT signed_json FROM outbox WHERE run_id=? AND step=?", (run_id, step)).fetchone()
        return model.model_validate_json(row[0]) if row else None

    def mark_dropped(self, run_id: str, step: str, reason: str) -> None:
        """The step's transaction is proven never to land (refused at send, or its nonce consumed by another
        transaction): it is no longer listed as sent nor holds a reservation. The row stays: never signed again."""
        with self._lock, self._connect() as db:
            db.execute("UPDATE outbox SET dropped_at=?, dropped_reason=? WHERE run_id=? AND step=? AND dropped_at IS NULL",
                       (datetime.now(timezone.utc).isoformat(), reason, run_id, step))

    def dropped_reason(self, run_id: str, step: str) -> str | None:
        """Why the step's transaction is proven never to land; None when it was not dropped (or never signed)."""
        with self._connect() as db:
            row = db.execute("SELECT dropped_reason FROM outbox WHERE run_id=? AND step=? AND dropped_at IS NOT NULL",
                             (run_id, step)).fetchone()
        return (row[0] or "dropped") if row else None

    def has_signed(self, run_id: str, step_prefix: str) -> bool:
        """Whether a transaction that may move funds was signed for steps starting with `step_prefix` and is not
        proven dropped: then the step's spend reservation stays. Allowance steps (`ALLOWANCE_STEP_SUFFIXES`)
        move nothing and do not count."""
        with self._connect() as db:
            rows = db.execute("SELECT step FROM outbox WHERE run_id=? AND substr(step, 1, ?)=? AND dropped_at IS NULL",
                              (run_id, len(step_prefix), step_prefix)).fetchall()
        return any(not r[0].endswith(ALLOWANCE_STEP_SUFFIXES) for r in rows)

    def sent_ids(self, run_id: str) -> list[str]:
        """The run's transactions that were signed and may have landed, in nonce order (dropped ones are left out)."""
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT tx_hash FROM outbox WHERE run_id=? AND dropped_at IS NULL "
                                             "ORDER BY nonce, created_at", (run_id,))]

    def dropped(self, run_id: str) -> list[dict]:
        """The run's transactions proven never to land, with the reason (for reports and the audit)."""
        with self._connect() as db:
            return [{"step": r[0], "tx_hash": r[1], "nonce": r[2], "reason": r[3]} for r in db.execute(
                "SELECT step, tx_hash, nonce, dropped_reason FROM outbox WHERE run_id=? AND dropped_at IS NOT NULL "
                "ORDER BY nonce, created_at", (run_id,))]

    sent_hashes = sent_ids
