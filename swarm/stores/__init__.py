"""Where a swarm keeps its state: SQLite files on one machine (the default), or one PostgreSQL database for a cluster.

`open_stores` picks by `store=` (or `$SWARM_STORE`): unset means the embedded SQLite files (`runs.sqlite`,
`checkpoints.sqlite` under the state directory, the wallet ledger at `$SWARM_LEDGER`); a `postgresql://` URL puts the
outbox, runs, spend ledger and LangGraph checkpoints in that database (`defai_swarm.stores.postgres`, extra `postgres`).
Everything above this module sees the same methods either way.

The audit log is chosen here too: `audit_storage(path_or_url)` gives the SQLite file's storage
(`defai_swarm.audit.storage`) or the PostgreSQL one (`defai_swarm.stores.postgres_audit`), which `AuditLog` takes;
`open_audit_log(path_or_url)` is both steps.
"""
from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from defai_swarm.core.chain import ChainIdentity
from defai_swarm.core.errors import ConfigError

if TYPE_CHECKING:
    from defai_swarm.audit.log import AuditLog
    from defai_swarm.audit.storage import AuditStorage

STORE_ENV = "SWARM_STORE"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def store_url(explicit: str | None = None) -> str | None:
    """The shared store's URL (`explicit`, else `$SWARM_STORE`), or None for the embedded SQLite default."""
    url = explicit if explicit is not None else os.environ.get(STORE_ENV) or None
    if url is None or url in ("", "sqlite"):
        return None
    if not url.startswith(POSTGRES_SCHEMES):
        raise ConfigError(f"{STORE_ENV}={url.split('://')[0]}://... is not a store this library knows: use a "
                          f"postgresql://user@host/db URL, or leave it unset for the local SQLite files")
    return url


@dataclass
class Stores:
    """The run store (outbox, runs, run context), the wallet's spend ledger and the LangGraph checkpointer.

    `checkpointer` may be given as a zero-argument callable (`lazy_checkpointer=True`): it is made on first use, so
    building a swarm only to plan does not import LangGraph's checkpointer."""

    run_store: Any
    ledger: Any
    _checkpointer: Any
    url: str | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)
    lazy_checkpointer: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def checkpointer(self) -> Any:
        if self.lazy_checkpointer:
            with self._lock:
                if self.lazy_checkpointer:
                    self._checkpointer, self.lazy_checkpointer = self._checkpointer(), False
        return self._checkpointer

    @property
    def shared(self) -> bool:
        return self.url is not None

    def close(self) -> None:
        for close in self._closers:
            close()
        self._closers.clear()


def open_stores(home: Path, identity: ChainIdentity, wallet_address: str, store: str | None = None,
                owner: str | None = None) -> Stores:
    """The stores of a swarm on `identity` for `wallet_address`. With PostgreSQL, `owner` is the cluster wallet
    actor's token; a wallet registered to a cluster is refused to anyone else (a local CLI), here, before any run."""
    url = store_url(store)
    if url is None:
        from defai_swarm.ledger import SpendLedger
        from defai_swarm.store import RunStore

        connection = sqlite3.connect(home / "checkpoints.sqlite", check_same_thread=False)

        def checkpointer() -> Any:  # imported on first run, not when a swarm is built only to plan
            from langgraph.checkpoint.sqlite import SqliteSaver
            return SqliteSaver(connection)
        from defai_swarm.store import release_durable

        run_store = RunStore(home / "runs.sqlite")
        # the wallet's daily cap: shared by every state directory and process ($SWARM_LEDGER)
        ledger = SpendLedger.for_wallet(None, identity, wallet_address, scope=home.resolve())
        closers = [connection.close, lambda: release_durable(run_store.path), lambda: release_durable(ledger.path)]
        return Stores(run_store, ledger, checkpointer, None, closers, lazy_checkpointer=True)
    try:
        from defai_swarm.stores.postgres import PgDatabase, PgRunStore, PgSpendLedger, postgres_checkpointer, redacted
    except ImportError as exc:
        raise ConfigError(f"{STORE_ENV} names PostgreSQL but its driver is missing ({exc.name}): "
                          f"pip install 'defai-swarm[postgres]'") from None
    import psycopg

    try:
        db = PgDatabase(url)
        saver, connection = postgres_checkpointer(url)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot reach the shared store {redacted(url)}: {first}") from None
    ledger = PgSpendLedger.for_wallet(db, identity, wallet_address, owner=owner)
    ledger.check_owner()
    return Stores(PgRunStore(db), ledger, saver, url, [connection.close, db.close])


def audit_storage(location: str | os.PathLike) -> AuditStorage:
    """The audit log's storage at `location`: a `postgresql://` URL (a cluster's shared database, extra
    `postgres`), else the SQLite file at that path."""
    if isinstance(location, str) and re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", location):
        if not location.startswith(POSTGRES_SCHEMES):
            raise ConfigError(f"{location.split('://')[0]}://... is not an audit log store this library knows: use a "
                              f"postgresql://user@host/db URL or a SQLite file path")
        try:
            from defai_swarm.stores.postgres_audit import PgAuditStorage
        except ImportError as exc:
            raise ConfigError(f"the audit log is in PostgreSQL but its driver is missing ({exc.name}): "
                              f"pip install 'defai-swarm[postgres]'") from None
        return PgAuditStorage(location)
    from defai_swarm.audit.storage import SqliteAuditStorage
    return SqliteAuditStorage(location)


def open_audit_log(location: str | os.PathLike) -> AuditLog:
    """The audit log at a SQLite file path or a `postgresql://` URL: `AuditLog(audit_storage(location))`."""
    from defai_swarm.audit.log import AuditLog
    return AuditLog(audit_storage(location))


__all__ = ["STORE_ENV", "Stores", "audit_storage", "open_audit_log", "open_stores", "store_url"]
