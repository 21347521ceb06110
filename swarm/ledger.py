"""The daily spend ledger of a wallet, shared by every process and every state directory on this machine.

Where it is: `$SWARM_LEDGER` (a SQLite file path) when set, else one file per user,
`$XDG_DATA_HOME/defai-swarm/ledger.sqlite` (`~/.local/share/defai-swarm/ledger.sqlite` when
`XDG_DATA_HOME` is unset). It is deliberately *not* inside `$SWARM_HOME`: a second state
directory on the same wallet shares the same cap, and `swarm devnet reset` (or deleting a state
directory) never resets it. Nothing in the library ever deletes a reservation row's history.

What it is keyed by: the chain identity (`swarm.core.chain.ChainIdentity`: its label, e.g.
`evm:31337`, plus the genesis / block-0 hash) and the wallet address. A fresh devnet has a new
genesis hash, so it is a new key with a fresh cap; the same chain under another RPC URL is the
same key.

How it is safe: a reservation is a check-and-insert inside one `BEGIN IMMEDIATE` SQLite
transaction, so concurrent processes (and threads) can never overshoot the cap. A reservation is
released only when it is proven that nothing of the step landed (the executor proves it; the swap
plugin calls `release_spend`); a released row is kept with its release time, for the record.

The EVM nonce locks (`tools.evm.tx.NonceManager`) live next to this file, in `nonces/`: point
`SWARM_LEDGER` at one place and both the cap and the nonces of a wallet are shared through it.
Tests point `SWARM_LEDGER` at a temporary file (or pass a path to `SpendLedger.for_wallet`).
"""
from __future__ import annotations

import os
import sqlite3
import threading
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from swarm.core.chain import ChainIdentity
from swarm.store import durable_connection

LEDGER_ENV = "SWARM_LEDGER"

SCHEMA = """
CREATE TABLE IF NOT EXISTS spend (
    chain TEXT NOT NULL,      -- chain label and genesis hash: 'evm:31337@0xabc...'
    wallet TEXT NOT NULL,
    scope TEXT NOT NULL,      -- the state directory the run belongs to (run ids are unique only inside one)
    run_id TEXT NOT NULL, step TEXT NOT NULL,
    day TEXT NOT NULL,        -- UTC day the reservation counts against
    usd TEXT NOT NULL,
    reserved_at TEXT NOT NULL,
    released_at TEXT,         -- set when non-landing was proven; the row is kept
    PRIMARY KEY (chain, wallet, scope, run_id, step));
CREATE INDEX IF NOT EXISTS spend_by_day ON spend (chain, wallet, day);
"""


def default_ledger_path() -> Path:
    """`$SWARM_LEDGER`, else `$XDG_DATA_HOME/defai-swarm/ledger.sqlite` (default `~/.local/share/...`).

    `tools.evm.tx.ledger_dir` computes the same directory (tools may not import this module); a test keeps
    the two in step.
    """
    explicit = os.environ.get(LEDGER_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share").expanduser()
    return base / "defai-swarm" / "ledger.sqlite"


def chain_key(identity: ChainIdentity) -> str:
    """The chain part of a ledger key: the label plus the genesis hash, so a reset devnet is a new chain."""
    return f"{identity.label}@{identity.genesis_hash.lower()}"


def utc_day() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class SpendLedger:
    """Implements `swarm.core.outbox.SpendLedger` for one (chain, wallet) over the shared SQLite ledger.

    `scope` names the state directory whose run ids the reservations use (run ids are unique only
    inside one state directory): two directories never share a reservation row, but they always
    share the total.
    """

    def __init__(self, path: Path, chain: str, wallet: str, scope: str = ""):
        self.path = Path(path)
        self.chain, self.wallet, self.scope = chain, wallet, scope
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.executescript(SCHEMA)

    @classmethod
    def for_wallet(cls, path: Path | str | None, chain_identity: ChainIdentity, wallet_address: str,
                   scope: str | Path = "") -> "SpendLedger":
        """The ledger of `wallet_address` on `chain_identity`; `path` None means `default_ledger_path()`.

        EVM addresses are compared case-insensitively; other families' addresses (base58) as given.
        """
        wallet = wallet_address.lower() if chain_identity.family == "evm" else wallet_address
        return cls(Path(path) if path is not None else default_ledger_path(), chain_key(chain_identity), wallet,
                   str(scope))

    def _connect(self):
        return durable_connection(self.path)

    def _key(self, run_id: str, step: str) -> tuple[str, str, str, str, str]:
        return self.chain, self.wallet, self.scope, run_id, step

    # -- swarm.core.outbox.SpendLedger -------------------------------------------------------------------
    def reserve_spend(self, run_id: str, step: str, usd: Decimal, cap: Decimal) -> tuple[bool, Decimal]:
        """Reserve `usd` of today's cap for (run, step) if the wallet's total stays within `cap`; idempotent for
        a step that holds a reservation. Returns (ok, spent today before this reservation, without its own)."""
        day = utc_day()
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # the check and the insert are one write transaction, across processes
            try:
                row = db.execute("SELECT usd, day FROM spend WHERE chain=? AND wallet=? AND scope=? AND run_id=? "
                                 "AND step=? AND released_at IS NULL", self._key(run_id, step)).fetchone()
                if row is not None:
                    db.execute("COMMIT")
                    own = Decimal(row[0]) if row[1] == day else Decimal(0)
                    return True, self._spent(db, day) - own
                spent = self._spent(db, day)
                if spent + usd > cap:
                    db.execute("COMMIT")
                    return False, spent
                db.execute("INSERT OR REPLACE INTO spend (chain, wallet, scope, run_id, step, day, usd, reserved_at, "
                           "released_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                           (*self._key(run_id, step), day, str(usd), _now()))
                db.execute("COMMIT")
                return True, spent
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def release_spend(self, run_id: str, step: str) -> None:
        """Give a reservation back (call only when it is proven that nothing of the step landed)."""
        with self._lock, self._connect() as db:
            db.execute("UPDATE spend SET released_at=? WHERE chain=? AND wallet=? AND scope=? AND run_id=? AND step=? "
                       "AND released_at IS NULL", (_now(), *self._key(run_id, step)))

    def spent_today(self, exclude: tuple[str, str] | None = None) -> Decimal:
        """Today's reserved total of this wallet on this chain (every state directory), without the (run, step)
        in `exclude` (a step re-checking itself)."""
        day = utc_day()
        with self._connect() as db:
            total = self._spent(db, day)
            if exclude is not None:
                row = db.execute("SELECT usd FROM spend WHERE chain=? AND wallet=? AND scope=? AND run_id=? AND step=? "
                                 "AND day=? AND released_at IS NULL", (*self._key(*exclude), day)).fetchone()
                total -= Decimal(row[0]) if row else Decimal(0)
            return total

    # -- inspection ------------------------------------------------------------------------------------------
    def reservations(self, day: str | None = None, include_released: bool = False) -> list[dict]:
        """This wallet's reservations of `day` (default today), every state directory, oldest first."""
        query = ("SELECT scope, run_id, step, day, usd, reserved_at, released_at FROM spend WHERE chain=? AND wallet=? "
                 "AND day=?" + ("" if include_released else " AND released_at IS NULL") + " ORDER BY reserved_at")
        with self._connect() as db:
            rows = db.execute(query, (self.chain, self.wallet, day or utc_day())).fetchall()
        return [{"scope": r[0], "run_id": r[1], "step": r[2], "day": r[3], "usd": Decimal(r[4]), "reserved_at": r[5],
                 "released_at": r[6]} for r in rows]

    def _spent(self, db: sqlite3.Connection, day: str) -> Decimal:
        rows = db.execute("SELECT usd FROM spend WHERE chain=? AND wallet=? AND day=? AND released_at IS NULL",
                          (self.chain, self.wallet, day))
        return sum((Decimal(r[0]) for r in rows), Decimal(0))


__all__ = ["LEDGER_ENV", "SpendLedger", "chain_key", "default_ledger_path", "utc_day"]
