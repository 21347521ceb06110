"""Durable run bookkeeping in SQLite: the transaction outbox and the daily spend ledger.

Both live outside the LangGraph state on purpose: they must be written
*before* a side effect (a broadcast, a spend) and survive a crash at any point.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from swarm.core.outbox import AlreadySigned, SignedTxRecord

M = TypeVar("M", bound=BaseModel)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    run_id TEXT NOT NULL, step TEXT NOT NULL, tx_hash TEXT NOT NULL, nonce INTEGER NOT NULL,
    signed_json TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (run_id, step));
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, intent TEXT NOT NULL, plan_json TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS run_context (
    run_id TEXT PRIMARY KEY, chain TEXT NOT NULL, context_json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spend (
    run_id TEXT NOT NULL, step TEXT NOT NULL, day TEXT NOT NULL, usd TEXT NOT NULL,
    PRIMARY KEY (run_id, step));
"""


def utc_day() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


class RunStore:
    """Implements `swarm.core.outbox.Outbox` and `SpendLedger` over one SQLite file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    # -- runs: the plan is stored before the graph starts, so a resumed process can rebuild it
    def save_run(self, run_id: str, intent: str, plan_json: str) -> None:
        with self._lock, self._connect() as db:
            db.execute("INSERT INTO runs VALUES (?, ?, ?, ?)", (run_id, intent, plan_json, datetime.now(timezone.utc).isoformat()))

    def save_context(self, run_id: str, chain: str, context: dict) -> None:
        """What the run was started with (chain identity, wallet, policy, model): restored on resume."""
        with self._lock, self._connect() as db:
            db.execute("INSERT OR REPLACE INTO run_context VALUES (?, ?, ?)", (run_id, chain, json.dumps(context)))

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
                db.execute("INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?)",
                           (run_id, step, signed.tx_id, order if order is not None else -1, signed.model_dump_json(),
                            datetime.now(timezone.utc).isoformat()))
        except sqlite3.IntegrityError:
            raise AlreadySigned(f"{run_id}/{step} already has a signed transaction") from None

    def signed_for(self, run_id: str, step: str, model: type[M]) -> M | None:
        with self._connect() as db:
            row = db.execute("SELECT signed_json FROM outbox WHERE run_id=? AND step=?", (run_id, step)).fetchone()
        return model.model_validate_json(row[0]) if row else None

    def has_signed(self, run_id: str, step_prefix: str) -> bool:
        """Whether any transaction was signed for steps starting with `step_prefix` (then a reservation stays)."""
        with self._connect() as db:
            return db.execute("SELECT 1 FROM outbox WHERE run_id=? AND substr(step, 1, ?)=?",
                              (run_id, len(step_prefix), step_prefix)).fetchone() is not None

    def sent_ids(self, run_id: str) -> list[str]:
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT tx_hash FROM outbox WHERE run_id=? ORDER BY nonce, created_at",
                                             (run_id,))]

    sent_hashes = sent_ids

    # -- daily cap: check-and-reserve is one immediate transaction, so parallel runs cannot overshoot
    def reserve_spend(self, run_id: str, step: str, usd: Decimal, cap: Decimal) -> tuple[bool, Decimal]:
        """Reserve `usd` of today's cap for (run, step); idempotent for the same step. Returns (ok, spent before)."""
        day = utc_day()
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if db.execute("SELECT 1 FROM spend WHERE run_id=? AND step=?", (run_id, step)).fetchone():
                    db.execute("COMMIT")
                    return True, self._spent(db, day) - usd
                spent = self._spent(db, day)
                if spent + usd > cap:
                    db.execute("COMMIT")
                    return False, spent
                db.execute("INSERT INTO spend VALUES (?, ?, ?, ?)", (run_id, step, day, str(usd)))
                db.execute("COMMIT")
                return True, spent
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def release_spend(self, run_id: str, step: str) -> None:
        with self._lock, self._connect() as db:
            db.execute("DELETE FROM spend WHERE run_id=? AND step=?", (run_id, step))

    def spent_today(self, exclude: tuple[str, str] | None = None) -> Decimal:
        with self._connect() as db:
            total = self._spent(db, utc_day())
            if exclude is not None:
                row = db.execute("SELECT usd FROM spend WHERE run_id=? AND step=? AND day=?", (*exclude, utc_day())).fetchone()
                total -= Decimal(row[0]) if row else Decimal(0)
            return total

    @staticmethod
    def _spent(db: sqlite3.Connection, day: str) -> Decimal:
        return sum((Decimal(r[0]) for r in db.execute("SELECT usd FROM spend WHERE day=?", (day,))), Decimal(0))
