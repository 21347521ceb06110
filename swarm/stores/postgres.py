"""The run store and the spend ledger in PostgreSQL: the shared state of a cluster (`SWARM_STORE=postgresql://...`).

Same methods and the same rules as the SQLite pair (`defai_swarm.store.RunStore`, `defai_swarm.ledger.SpendLedger`), so the
same contract tests run against both (tests/test_store_contract.py):

- the outbox row of a step is inserted before its transaction is broadcast; a second insert raises `AlreadySigned`
  (primary key), on any machine;
- a reservation is a check-and-insert in one transaction that first locks the wallet's row
  (`SELECT ... FOR UPDATE` on `swarm_spend_wallets`): every process on every machine that reserves for the same
  (chain, wallet) queues on that row lock, so the day's total can never pass the cap;
- a wallet registered to a cluster (`register_owner`) reserves only for that owner: a process pointed at the
  same database without the owner token (a local CLI) is refused before anything is signed.

Run ids are one namespace per database (a run started on one machine resumes on another): an id is claimed by one
atomic insert of its context row, bound to its wallet, and never re-bound; context and plan rows carry the
wallet's seal (`defai_swarm.runrecords`). The ledger's scope column is kept for the row format and is the constant
`SHARED_SCOPE`.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from pydantic import BaseModel

from defai_swarm.chains import normalise_address
from defai_swarm.core.chain import ChainIdentity
from defai_swarm.core.errors import Refused
from defai_swarm.core.outbox import AlreadySigned, SignedTxRecord
from defai_swarm.core.urls import redact_url
from defai_swarm.ledger import chain_key, claim_cap_day, default_ledger_path, utc_day
from defai_swarm.store import ALLOWANCE_STEP_SUFFIXES, RunRecord, run_record_of

M = TypeVar("M", bound=BaseModel)

SHARED_SCOPE = "shared"
_SCHEMA_LOCK = 0x5357_4152  # advisory lock id: concurrent first starts create the tables once

SCHEMA = """
CREATE TABLE IF NOT EXISTS swarm_outbox (
    run_id TEXT NOT NULL, step TEXT NOT NULL, tx_hash TEXT NOT NULL, nonce BIGINT NOT NULL,
    signed_json TEXT NOT NULL, created_at TEXT NOT NULL, dropped_at TEXT, dropped_reason TEXT,
    PRIMARY KEY (run_id, step));
CREATE TABLE IF NOT EXISTS swarm_runs (
    run_id TEXT PRIMARY KEY, intent TEXT NOT NULL, plan_json TEXT NOT NULL, created_at TEXT NOT NULL, seal TEXT);
CREATE TABLE IF NOT EXISTS swarm_run_context (
    run_id TEXT PRIMARY KEY, chain TEXT NOT NULL, context_json TEXT NOT NULL, seal TEXT);
CREATE TABLE IF NOT EXISTS swarm_spend (
    chain TEXT NOT NULL, wallet TEXT NOT NULL, scope TEXT NOT NULL, run_id TEXT NOT NULL, step TEXT NOT NULL,
    day TEXT NOT NULL, usd NUMERIC NOT NULL, reserved_at TEXT NOT NULL, released_at TEXT,
    PRIMARY KEY (chain, wallet, scope, run_id, step));
CREATE INDEX IF NOT EXISTS swarm_spend_by_day ON swarm_spend (chain, wallet, day);
CREATE TABLE IF NOT EXISTS swarm_spend_wallets (
    chain TEXT NOT NULL, wallet TEXT NOT NULL, PRIMARY KEY (chain, wallet));
CREATE TABLE IF NOT EXISTS swarm_wallet_owners (
    chain TEXT NOT NULL, wallet TEXT NOT NULL, owner TEXT NOT NULL, cluster TEXT NOT NULL,
    registered_at TEXT NOT NULL, PRIMARY KEY (chain, wallet));
"""


_SEALS_MISSING = ("SELECT 2 - count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
                  "AND table_name IN ('swarm_runs', 'swarm_run_context') AND column_name = 'seal'")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs: the one URL redactor (`defai_swarm.core.urls.redact_url`),
    which also hides a `?password=` that PostgreSQL connection URLs accept."""
    return redact_url(url)


class PgDatabase:
    """One autocommit connection, serialised by a lock (LangGraph runs parallel tasks in threads); the tables
    are created on first use."""

    def __init__(self, url: str):
        self.url = url
        self._lock = threading.Lock()
        self._conn = psycopg.connect(url, autocommit=True)
        with self.transaction() as cur:
            if cur.execute("SELECT to_regclass('swarm_wallet_owners') IS NULL").fetchone() == (True,):
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                cur.execute(SCHEMA)
            if cur.execute(_SEALS_MISSING).fetchone() != (0,):  # a store from before run records were sealed
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                cur.execute("ALTER TABLE swarm_runs ADD COLUMN IF NOT EXISTS seal TEXT")
                cur.execute("ALTER TABLE swarm_run_context ADD COLUMN IF NOT EXISTS seal TEXT")

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            yield cur

    def close(self) -> None:
        self._conn.close()


class PgRunStore:
    """`defai_swarm.store.RunStore` in PostgreSQL: runs, their context and the outbox, shared by every machine."""

    def __init__(self, db: PgDatabase | str):
        self.db = db if isinstance(db, PgDatabase) else PgDatabase(db)
        self.path = redacted(self.db.url)  # shown where the SQLite store shows its file

    def claim_run(self, run_id: str, chain: str, context_json: str, seal: str | None) -> bool:
        """Bind `run_id` to the run's context (its wallet, chain and policy) in one atomic insert, whichever machine
        asks: True for the first caller; False, with nothing written, when the id is taken (never replaced)."""
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO swarm_run_context (run_id, chain, context_json, seal) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (run_id) DO NOTHING", (run_id, chain, context_json, seal))
            return cur.rowcount == 1

    def save_run(self, run_id: str, intent: str, plan_json: str, seal: str | None = None) -> None:
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO swarm_runs (run_id, intent, plan_json, created_at, seal) "
                        "VALUES (%s, %s, %s, %s, %s)", (run_id, intent, plan_json, _now(), seal))

    def run_record(self, run_id: str) -> RunRecord | None:
        """The run's context and plan rows with their seals (see `defai_swarm.store.RunStore.run_record`)."""
        with self.db.transaction() as cur:
            context = cur.execute("SELECT chain, context_json, seal FROM swarm_run_context WHERE run_id=%s",
                                  (run_id,)).fetchone()
            run = cur.execute("SELECT intent, plan_json, seal FROM swarm_runs WHERE run_id=%s", (run_id,)).fetchone()
        return run_record_of(context, run)

    def load_context(self, run_id: str) -> tuple[str, dict] | None:
        with self.db.transaction() as cur:
            row = cur.execute("SELECT chain, context_json FROM swarm_run_context WHERE run_id=%s", (run_id,)).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def load_run(self, run_id: str) -> tuple[str, str] | None:
        with self.db.transaction() as cur:
            row = cur.execute("SELECT intent, plan_json FROM swarm_runs WHERE run_id=%s", (run_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def record_signed(self, run_id: str, step: str, signed: SignedTxRecord) -> None:
        """Raises AlreadySigned if the step already has one, whichever machine signed it."""
        order = signed.sequence
        try:
            with self.db.transaction() as cur:
                cur.execute("INSERT INTO swarm_outbox (run_id, step, tx_hash, nonce, signed_json, created_at) "
                            "VALUES (%s, %s, %s, %s, %s, %s)",
                            (run_id, step, signed.tx_id, order if order is not None else -1, signed.model_dump_json(),
                             _now()))
        except pg_errors.UniqueViolation:
            raise AlreadySigned(f"{run_id}/{step} already has a signed transaction") from None

    def signed_for(self, run_id: str, step: str, model: type[M]) -> M | None:
        with self.db.transaction() as cur:
            row = cur.execute("SELECT signed_json FROM swarm_outbox WHERE run_id=%s AND step=%s",
                              (run_id, step)).fetchone()
        return model.model_validate_json(row[0]) if row else None

    def mark_dropped(self, run_id: str, step: str, reason: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("UPDATE swarm_outbox SET dropped_at=%s, dropped_reason=%s WHERE run_id=%s AND step=%s "
                        "AND dropped_at IS NULL", (_now(), reason, run_id, step))

    def dropped_reason(self, run_id: str, step: str) -> str | None:
        with self.db.transaction() as cur:
            row = cur.execute("SELECT dropped_reason FROM swarm_outbox WHERE run_id=%s AND step=%s "
                              "AND dropped_at IS NOT NULL", (run_id, step)).fetchone()
        return (row[0] or "dropped") if row else None

    def has_signed(self, run_id: str, step_prefix: str) -> bool:
        with self.db.transaction() as cur:
            rows = cur.execute("SELECT step FROM swarm_outbox WHERE run_id=%s AND left(step, %s)=%s "
                               "AND dropped_at IS NULL", (run_id, len(step_prefix), step_prefix)).fetchall()
        return any(not r[0].endswith(ALLOWANCE_STEP_SUFFIXES) for r in rows)

    def sent_ids(self, run_id: str) -> list[str]:
        with self.db.transaction() as cur:
            rows = cur.execute("SELECT tx_hash FROM swarm_outbox WHERE run_id=%s AND dropped_at IS NULL "
                               "ORDER BY nonce, created_at", (run_id,)).fetchall()
        return [r[0] for r in rows]

    def dropped(self, run_id: str) -> list[dict]:
        with self.db.transaction() as cur:
            rows = cur.execute("SELECT step, tx_hash, nonce, dropped_reason FROM swarm_outbox WHERE run_id=%s "
                               "AND dropped_at IS NOT NULL ORDER BY nonce, created_at", (run_id,)).fetchall()
        return [{"step": r[0], "tx_hash": r[1], "nonce": r[2], "reason": r[3]} for r in rows]

    sent_hashes = sent_ids

    def open_transactions(self, chain: str, wallet: str, from_sequence: int) -> list[tuple[str, str, str, int]]:
        """(run, step, tx id, nonce) of `wallet`'s signed, not dropped transactions on `chain` (label) with nonce at
        or above `from_sequence` (the node's mined count), in nonce order: what a restarted wallet actor finishes
        before it signs anything new."""
        with self.db.transaction() as cur:
            rows = cur.execute(
                "SELECT o.run_id, o.step, o.tx_hash, o.nonce FROM swarm_outbox o JOIN swarm_run_context c "
                "ON c.run_id = o.run_id WHERE c.chain=%s AND (c.context_json::jsonb ->> 'wallet')=%s "
                "AND o.dropped_at IS NULL AND o.nonce >= %s ORDER BY o.nonce, o.created_at",
                (chain, wallet, from_sequence)).fetchall()
        return [(r[0], r[1], r[2], int(r[3])) for r in rows]


_LEDGER_META = "CREATE TABLE IF NOT EXISTS swarm_ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def _pg_ledger_id(db: PgDatabase) -> str:
    """The database's own ledger id (made on first use): what a machine's `cap_binding` row names, never the URL."""
    with db.transaction() as cur:
        if cur.execute("SELECT to_regclass('swarm_ledger_meta') IS NULL").fetchone() == (True,):
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            cur.execute(_LEDGER_META)
        cur.execute("INSERT INTO swarm_ledger_meta VALUES ('id', %s) ON CONFLICT DO NOTHING", (uuid.uuid4().hex,))
        row = cur.execute("SELECT value FROM swarm_ledger_meta WHERE key='id'").fetchone()
    assert row is not None
    return str(row[0])


def _describe_database(url: str) -> str:
    """Where the database is, for a refusal: host, port and name only (no user, password or other parameter)."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "a PostgreSQL ledger"
    host = info.get("host") or "localhost"
    port = f":{info['port']}" if info.get("port") else ""
    return f"the PostgreSQL ledger {info.get('dbname') or '?'} on {host}{port}"


class PgSpendLedger:
    """`defai_swarm.ledger.SpendLedger` for one (chain, wallet) in PostgreSQL: one cap for every machine.

    `owner`: the token of the cluster's wallet actor. A wallet registered to a cluster reserves only with it.

    `machine_ledger`: this machine's ledger file (default `defai_swarm.ledger.default_ledger_path()`, the file a process
    without `SWARM_STORE` reserves in). Before every reservation this ledger claims the wallet's day there
    (`defai_swarm.ledger.claim_cap_day`): a wallet whose cap today is kept in that file, or in another database, is
    refused here before anything is signed, and a local process is refused once this database keeps the day."""

    def __init__(self, db: PgDatabase | str, chain: str, wallet: str, owner: str | None = None,
                 machine_ledger: Path | None = None):
        self.db = db if isinstance(db, PgDatabase) else PgDatabase(db)
        self.chain, self.wallet, self.scope, self.owner = chain, wallet, SHARED_SCOPE, owner
        self.machine_ledger = Path(machine_ledger) if machine_ledger is not None else default_ledger_path()
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO swarm_spend_wallets VALUES (%s, %s) ON CONFLICT DO NOTHING", (chain, wallet))
        self.ledger_id = _pg_ledger_id(self.db)
        self.description = _describe_database(self.db.url)

    @classmethod
    def for_wallet(cls, db: PgDatabase | str, chain_identity: ChainIdentity, wallet_address: str,
                   owner: str | None = None, machine_ledger: Path | None = None) -> "PgSpendLedger":
        wallet = normalise_address(chain_identity.family, wallet_address)
        return cls(db, chain_key(chain_identity), wallet, owner, machine_ledger)

    # -- the cluster's claim on the wallet
    def register_owner(self, owner: str, cluster: str) -> None:
        """Make `owner` (the wallet actor) the only one that reserves for this wallet; replaces an earlier owner
        (a restarted actor registers again with a new token)."""
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO swarm_wallet_owners VALUES (%s, %s, %s, %s, %s) ON CONFLICT (chain, wallet) "
                        "DO UPDATE SET owner=EXCLUDED.owner, cluster=EXCLUDED.cluster, "
                        "registered_at=EXCLUDED.registered_at", (self.chain, self.wallet, owner, cluster, _now()))
        self.owner = owner

    def unregister_owner(self) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM swarm_wallet_owners WHERE chain=%s AND wallet=%s", (self.chain, self.wallet))

    def registered_cluster(self) -> tuple[str, str] | None:
        """(owner token, cluster name) when the wallet is registered to a cluster."""
        with self.db.transaction() as cur:
            row = cur.execute("SELECT owner, cluster FROM swarm_wallet_owners WHERE chain=%s AND wallet=%s",
                              (self.chain, self.wallet)).fetchone()
        return (row[0], row[1]) if row else None

    def check_owner(self, cur: psycopg.Cursor[Any] | None = None) -> None:
        """Refuse unless the wallet is unregistered or registered to this ledger's owner."""
        if cur is None:
            registered = self.registered_cluster()
        else:
            row = cur.execute("SELECT owner, cluster FROM swarm_wallet_owners WHERE chain=%s AND wallet=%s",
                              (self.chain, self.wallet)).fetchone()
            registered = (row[0], row[1]) if row else None
        if registered is not None and registered[0] != self.owner:
            raise Refused(f"wallet {self.wallet} is registered to cluster {registered[1]!r}: submit its intents "
                          f"through the cluster (defai_swarm.cluster.SwarmPool), not a local process")

    # -- defai_swarm.core.outbox.SpendLedger
    def reserve_spend(self, run_id: str, step: str, usd: Decimal, cap: Decimal) -> tuple[bool, Decimal]:
        day = utc_day()
        key = (self.chain, self.wallet, self.scope, run_id, step)
        # this database keeps the wallet's cap today, or nothing is reserved here (durable before the insert below)
        claim_cap_day(self.machine_ledger, self.chain, self.wallet, day, self.ledger_id, self.description)
        with self.db.transaction() as cur:
            # every reservation for this wallet, on any machine, queues here until this transaction ends
            cur.execute("SELECT 1 FROM swarm_spend_wallets WHERE chain=%s AND wallet=%s FOR UPDATE",
                        (self.chain, self.wallet))
            self.check_owner(cur)
            row = cur.execute("SELECT usd, day FROM swarm_spend WHERE chain=%s AND wallet=%s AND scope=%s "
                              "AND run_id=%s AND step=%s AND released_at IS NULL", key).fetchone()
            spent = self._spent(cur, day)
            if row is not None:
                own = Decimal(row[0]) if row[1] == day else Decimal(0)
                return True, spent - own
            if spent + usd > cap:
                return False, spent
            cur.execute("INSERT INTO swarm_spend (chain, wallet, scope, run_id, step, day, usd, reserved_at, "
                        "released_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL) "
                        "ON CONFLICT (chain, wallet, scope, run_id, step) DO UPDATE SET day=EXCLUDED.day, "
                        "usd=EXCLUDED.usd, reserved_at=EXCLUDED.reserved_at, released_at=NULL",
                        (*key, day, usd, _now()))
            return True, spent

    def release_spend(self, run_id: str, step: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("UPDATE swarm_spend SET released_at=%s WHERE chain=%s AND wallet=%s AND scope=%s "
                        "AND run_id=%s AND step=%s AND released_at IS NULL",
                        (_now(), self.chain, self.wallet, self.scope, run_id, step))

    def spent_today(self, exclude: tuple[str, str] | None = None) -> Decimal:
        day = utc_day()
        with self.db.transaction() as cur:
            total = self._spent(cur, day)
            if exclude is not None:
                row = cur.execute("SELECT usd FROM swarm_spend WHERE chain=%s AND wallet=%s AND scope=%s "
                                  "AND run_id=%s AND step=%s AND day=%s AND released_at IS NULL",
                                  (self.chain, self.wallet, self.scope, *exclude, day)).fetchone()
                total -= Decimal(row[0]) if row else Decimal(0)
        return total

    def reservations(self, day: str | None = None, include_released: bool = False) -> list[dict]:
        query = ("SELECT scope, run_id, step, day, usd, reserved_at, released_at FROM swarm_spend WHERE chain=%s "
                 "AND wallet=%s AND day=%s" + ("" if include_released else " AND released_at IS NULL")
                 + " ORDER BY reserved_at")
        with self.db.transaction() as cur:
            rows = cur.execute(query, (self.chain, self.wallet, day or utc_day())).fetchall()
        return [{"scope": r[0], "run_id": r[1], "step": r[2], "day": r[3], "usd": Decimal(r[4]), "reserved_at": r[5],
                 "released_at": r[6]} for r in rows]

    def _spent(self, cur: psycopg.Cursor[Any], day: str) -> Decimal:
        row = cur.execute("SELECT COALESCE(SUM(usd), 0) FROM swarm_spend WHERE chain=%s AND wallet=%s AND day=%s "
                          "AND released_at IS NULL", (self.chain, self.wallet, day)).fetchone()
        return Decimal(row[0]) if row else Decimal(0)


def postgres_checkpointer(url: str):
    """LangGraph's maintained PostgreSQL checkpointer on its own connection (the settings its docs require).

    Its migrations build indexes CONCURRENTLY, which waits for every open transaction in the database: a second
    process blocked on a lock inside a transaction would never let it finish. So the migration runs once, under a
    session advisory lock taken by polling (no transaction stays open while waiting), and is skipped when done."""
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row

    conn: Any = psycopg.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row)  # type: ignore[arg-type]
    saver = PostgresSaver(conn)
    latest = len(saver.MIGRATIONS) - 1
    with psycopg.connect(url, autocommit=True) as lock_conn:
        if _migration_version(lock_conn) < latest:
            while not lock_conn.execute("SELECT pg_try_advisory_lock(%s)", (_SCHEMA_LOCK + 1,)).fetchone()[0]:  # type: ignore[index]
                time.sleep(0.05)
            try:
                if _migration_version(lock_conn) < latest:
                    saver.setup()
            finally:
                lock_conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK + 1,))
    return saver, conn


def _migration_version(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT to_regclass('checkpoint_migrations') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return -1
    row = conn.execute("SELECT COALESCE(MAX(v), -1) FROM checkpoint_migrations").fetchone()
    return int(row[0]) if row else -1


__all__ = ["PgDatabase", "PgRunStore", "PgSpendLedger", "SHARED_SCOPE", "postgres_checkpointer", "redacted"]
