"""The daily spend ledger of a wallet, shared by every process and every state directory on this machine.

Where it is: `$SWARM_LEDGER` (a SQLite file path) when set, else one file per user,
`$XDG_DATA_HOME/defai-swarm/ledger.sqlite` (`~/.local/share/defai-swarm/ledger.sqlite` when
`XDG_DATA_HOME` is unset). It is deliberately *not* inside `$SWARM_HOME`: a second state
directory on the same wallet shares the same cap, and deleting a state directory never resets it. Nothing in
the library ever deletes a reservation row's history.

One exception to "the cap holds": a local devnet's own reset. `swarm devnet reset` reverts the devnet to its
deployed state, so the trades the devnet's reservations count are gone from its chain; it then clears them
(`clear_local_devnet`: marks them released, drops the devnet's cap bindings). That happens only after the chain
was proven to be the manifest's own anvil (`defai_swarm.tools.devnet.control.require_local`: loopback RPC, the devnet's
chain id, its process alive, block 0's hash the recorded one); any other chain identity is refused, and its
rows are never touched.

What it is keyed by: the chain identity (`defai_swarm.core.chain.ChainIdentity`: its label, e.g.
`evm:31337`, plus the genesis / block-0 hash) and the wallet address. A fresh devnet has a new
genesis hash, so it is a new key with a fresh cap; the same chain under another RPC URL is the
same key.

How it is safe: a reservation is a check-and-insert inside one `BEGIN IMMEDIATE` SQLite
transaction, so concurrent processes (and threads) can never overshoot the cap. A reservation is
released only when it is proven that nothing of the step landed (the executor proves it; the swap
plugin calls `release_spend`); a released row is kept with its release time, for the record.

The EVM nonce locks (`defai_swarm.tools.evm.tx.NonceManager`) live next to this file, in `nonces/`: point
`SWARM_LEDGER` at one place and both the cap and the nonces of a wallet are shared through it.
Tests point `SWARM_LEDGER` at a temporary file (or pass a path to `SpendLedger.for_wallet`).

One ledger per wallet and day, whichever store a process uses: a process may keep its reservations here or,
with `SWARM_STORE=postgresql://...`, in PostgreSQL (`defai_swarm.stores.postgres.PgSpendLedger`). Two ledgers each
holding part of a day would each allow the whole cap, so this file (which every process on the machine opens,
whatever its store) also names, per (chain, wallet, UTC day), the one ledger that keeps that day's cap: the
`cap_binding` table. The first reservation of the day records it (`claim_cap_day`, in the same write transaction
as the SQLite reservation); a reservation through any other ledger that day is refused before anything is
signed. A ledger is named by a random id kept inside it (`ledger_meta` here, `swarm_ledger_meta` in PostgreSQL),
never by a URL (which may carry a password). The binding is per day because the cap is: the next UTC day a wallet
may move to another store without any tool. It holds for processes that share this file (the same
`SWARM_LEDGER`), as the nonce locks do; processes on other machines, or pointed at another `SWARM_LEDGER`, share
a cap only through one PostgreSQL store.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from defai_swarm.chains import normalise_address
from defai_swarm.core.chain import ChainIdentity
from defai_swarm.core.errors import ConfigError, Refused
from defai_swarm.store import durable_connection, release_durable

if TYPE_CHECKING:
    from defai_swarm.tools.devnet.manifest import DevnetManifest

log = logging.getLogger(__name__)

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
CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);  -- key 'id': this ledger's id
CREATE TABLE IF NOT EXISTS cap_binding (
    chain TEXT NOT NULL, wallet TEXT NOT NULL,
    day TEXT NOT NULL,        -- the UTC day whose cap the named ledger keeps
    ledger_id TEXT NOT NULL,  -- that ledger's own random id
    ledger TEXT NOT NULL,     -- where it is, for the refusal (a file path, or a database without credentials)
    bound_at TEXT NOT NULL,
    PRIMARY KEY (chain, wallet, day));
"""


def default_ledger_path() -> Path:
    """`$SWARM_LEDGER`, else `$XDG_DATA_HOME/defai-swarm/ledger.sqlite` (default `~/.local/share/...`).

    `defai_swarm.tools.evm.tx.ledger_dir` computes the same directory (tools may not import this module); a test keeps
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


def _ledger_id(db: sqlite3.Connection) -> str:
    """This ledger file's own id, made on first use: what a binding names (a path can change, the id does not)."""
    db.execute("INSERT OR IGNORE INTO ledger_meta (key, value) VALUES ('id', ?)", (uuid.uuid4().hex,))
    return db.execute("SELECT value FROM ledger_meta WHERE key='id'").fetchone()[0]


def _describe(path: Path) -> str:
    return f"the SQLite ledger {path}"


def _claim(db: sqlite3.Connection, path: Path, chain: str, wallet: str, day: str, ledger_id: str,
           ledger: str) -> None:
    """Inside the caller's write transaction on the machine's ledger file: make `ledger_id` the keeper of the
    wallet's cap for `day`, or raise Refused when another ledger already is. Reservations this file holds for the
    day without a binding (written before bindings existed) bind the day here."""
    row = db.execute("SELECT ledger_id, ledger FROM cap_binding WHERE chain=? AND wallet=? AND day=?",
                     (chain, wallet, day)).fetchone()
    if row is None:
        row = (ledger_id, ledger)
        here = _ledger_id(db)
        if ledger_id != here and db.execute("SELECT 1 FROM spend WHERE chain=? AND wallet=? AND day=? "
                                            "AND released_at IS NULL LIMIT 1", (chain, wallet, day)).fetchone():
            row = (here, _describe(path))
        db.execute("INSERT INTO cap_binding (chain, wallet, day, ledger_id, ledger, bound_at) "
                   "VALUES (?, ?, ?, ?, ?, ?)", (chain, wallet, day, *row, _now()))
    if row[0] != ledger_id:
        raise Refused(f"wallet {wallet} keeps its daily cap for {day} (UTC) in another ledger, {row[1]}, and this "
                      f"process reserves in {ledger}: run it with the SWARM_STORE and SWARM_LEDGER of the process "
                      f"that reserved first today, or after 00:00 UTC")


def claim_cap_day(path: Path, chain: str, wallet: str, day: str, ledger_id: str, ledger: str) -> None:
    """For a ledger kept elsewhere (PostgreSQL): record in this machine's ledger file at `path` that `ledger_id`
    keeps the wallet's cap for `day`, or raise Refused when another ledger already does. Call it before every
    reservation there, so it is durable before anything is signed; the file is released afterwards (a process
    on another store keeps no handle to it)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with durable_connection(path) as db:
            db.executescript(SCHEMA)
            db.execute("BEGIN IMMEDIATE")
            _claim(db, path, chain, wallet, day, ledger_id, ledger)
            db.execute("COMMIT")
    except (OSError, sqlite3.Error) as exc:
        raise Refused(f"cannot check which ledger keeps wallet {wallet}'s daily cap in this machine's ledger "
                      f"{path} ({exc}); make it writable or point {LEDGER_ENV} at a writable file") from None
    finally:
        release_durable(path)


@dataclass(frozen=True)
class ClearedDevnet:
    """What `clear_local_devnet` cleared: the devnet's reservations (released) and cap bindings (dropped)."""
    chain: str  # the chain key, e.g. 'evm:31337@0xabc...'
    reservations: int  # reservations released, every day and wallet
    usd_today: Decimal  # the part of them counted against today's cap
    bindings: int  # cap bindings dropped (days this ledger kept)
    kept_elsewhere: tuple[str, ...] = ()  # ledgers (PostgreSQL) keeping a day of this devnet: not cleared here


def clear_local_devnet(manifest: DevnetManifest | Path | str | None = None, path: Path | str | None = None,
                       before: datetime | None = None) -> ClearedDevnet:
    """After `defai_swarm.tools.devnet.control.reset` (what `swarm devnet reset` does): release every reservation on the local
    devnet of `manifest` (a DevnetManifest, a path to one, or None for the running devnet's) reserved before
    `before` (a timezone-aware time; default now), and drop the cap bindings this ledger file keeps for it. Only for the manifest's own
    anvil (`require_local`: otherwise NotLocalDevnet, nothing touched): on any other chain nothing clears the cap.

    A day kept by another ledger (a PostgreSQL store, `cap_binding`) is left as it is and listed in
    `kept_elsewhere`: its reservations are in that database. Call it between runs, as every devnet lever."""
    from defai_swarm.tools.devnet import control  # the devnet's own check; tools never import this module
    from defai_swarm.tools.evm.chain import read_identity

    found, _ = control.load(manifest)
    identity = read_identity(control.require_local(found))  # raises unless this is the manifest's own anvil
    chain = chain_key(identity)
    cutoff = before or datetime.now(timezone.utc)
    ledger_path = Path(path) if path is not None else default_ledger_path()
    if not ledger_path.exists():
        return ClearedDevnet(chain=chain, reservations=0, usd_today=Decimal(0), bindings=0)
    today = utc_day()
    try:
        with durable_connection(ledger_path) as db:
            db.executescript(SCHEMA)
            here = _ledger_id(db)
            db.execute("BEGIN IMMEDIATE")
            try:
                rows = db.execute("SELECT rowid, day, usd, reserved_at FROM spend WHERE chain=? AND released_at IS "
                                  "NULL", (chain,)).fetchall()
                cleared = [r for r in rows if datetime.fromisoformat(r[3]) <= cutoff]
                now = _now()
                db.executemany("UPDATE spend SET released_at=? WHERE rowid=?", [(now, r[0]) for r in cleared])
                bindings = db.execute("DELETE FROM cap_binding WHERE chain=? AND ledger_id=?", (chain, here)).rowcount
                elsewhere = sorted({r[0] for r in db.execute("SELECT ledger FROM cap_binding WHERE chain=?", (chain,))})
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"the devnet's reservations were not released from the spend ledger {ledger_path} "
                          f"({exc}): make it writable (or point {LEDGER_ENV} at the ledger the runs used) and run "
                          f"`swarm devnet reset` again") from None
    finally:
        release_durable(ledger_path)
    log.info("spend ledger: %d reservation(s) on the reset devnet %s released", len(cleared), chain)
    return ClearedDevnet(chain=chain, reservations=len(cleared),
                         usd_today=sum((Decimal(r[2]) for r in cleared if r[1] == today), Decimal(0)),
                         bindings=bindings, kept_elsewhere=tuple(elsewhere))


class SpendLedger:
    """Implements `defai_swarm.core.outbox.SpendLedger` for one (chain, wallet) over the shared SQLite ledger.

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
            self.ledger_id = _ledger_id(db)
        self.description = _describe(self.path)

    @classmethod
    def for_wallet(cls, path: Path | str | None, chain_identity: ChainIdentity, wallet_address: str,
                   scope: str | Path = "") -> "SpendLedger":
        """The ledger of `wallet_address` on `chain_identity`; `path` None means `default_ledger_path()`.

        The address is keyed in its family's one spelling (`defai_swarm.chains.normalise_address`: a hex address
        without its checksum case, a base58 one as given).
        """
        wallet = normalise_address(chain_identity.family, wallet_address)
        return cls(Path(path) if path is not None else default_ledger_path(), chain_key(chain_identity), wallet,
                   str(scope))

    def _connect(self):
        return durable_connection(self.path)

    def _key(self, run_id: str, step: str) -> tuple[str, str, str, str, str]:
        return self.chain, self.wallet, self.scope, run_id, step

    # -- defai_swarm.core.outbox.SpendLedger -------------------------------------------------------------------
    def reserve_spend(self, run_id: str, step: str, usd: Decimal, cap: Decimal) -> tuple[bool, Decimal]:
        """Reserve `usd` of today's cap for (run, step) if the wallet's total stays within `cap`; idempotent for
        a step that holds a reservation. Returns (ok, spent today before this reservation, without its own).
        Raises Refused when another ledger (a PostgreSQL store) keeps the wallet's cap today."""
        day = utc_day()
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # the check and the insert are one write transaction, across processes
            try:
                _claim(db, self.path, self.chain, self.wallet, day, self.ledger_id, self.description)
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


__all__ = ["LEDGER_ENV", "ClearedDevnet", "SpendLedger", "chain_key", "claim_cap_day", "clear_local_devnet",
           "default_ledger_path", "utc_day"]
