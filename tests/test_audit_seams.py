"""The audit package is given what it does not own (issue 25 #2): its storage, its replay plugins and its anchor
checker are passed in; it imports neither the stores, the agents, the chain tools nor a front door.

- `AuditLog` takes any `AuditStorage` (or a SQLite file path); a database URL is refused with the way to open it,
  without importing a database driver: `defai_swarm.stores.audit_storage` picks the storage from a location.
- `defai_swarm.audit.replay.replay` needs the plugin registry; the default one (the built-in agents and the
  installed ones) is assembled above, in `defai_swarm.auditing`.
- Importing every audit module loads none of the forbidden packages, and the import-linter contract that says so
  bites on a copy of the tree with one such import.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest

from defai_swarm.audit import AuditLog, Signer, SqliteAuditStorage, verify_log
from defai_swarm.audit.keys import SigningKey
from defai_swarm.audit.replay import replay
from defai_swarm.core.errors import ConfigError
from defai_swarm.plugins import PluginRegistry, TaskPlugin
from defai_swarm.stores import audit_storage, open_audit_log
from defai_swarm.taskgraph import Task

pytest_plugins = ["tests.pg_fixtures"]

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("defai_swarm.stores", "defai_swarm.agents", "defai_swarm.tools", "defai_swarm.cli",
             "defai_swarm.cli.audit_commands", "defai_swarm.api", "defai_swarm.integrations", "defai_swarm.cluster")
POLICY = {"max_trade_usd": "10000"}


class CountingStorage:
    """A storage of the caller's own: the SQLite one underneath, counting the rows handed to it."""

    def __init__(self, path: Path):
        self.inner = SqliteAuditStorage(path)
        self.inserted = 0
        self.checkpoints = 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    @property
    def path(self):
        return self.inner.path

    @property
    def unsynced(self) -> bool:
        return self.inner.unsynced

    def insert_entries(self, rows) -> None:
        self.inserted += len(rows)
        self.inner.insert_entries(rows)

    def add_checkpoint(self, row) -> None:
        self.checkpoints += 1
        self.inner.add_checkpoint(row)


def test_the_log_takes_a_storage_passed_in(tmp_path):
    storage = CountingStorage(tmp_path / "audit.db")
    signer = Signer(SigningKey.generate())
    with AuditLog(storage) as log:  # type: ignore[arg-type]  (a duck-typed AuditStorage)
        log.append_many("r1", [("intent", {"text": "swap"}), ("tx", {"hash": "0x01"})])
        log.append("r1", "thought", {"step": 2})
        log.checkpoint("r1", signer)
        assert log.path == tmp_path / "audit.db"
        assert verify_log(log, "r1", trusted_vkey=signer.vkey).checks
        assert [e.kind for e in log.entries("r1")] == ["intent", "tx", "thought"]
    assert (storage.inserted, storage.checkpoints) == (3, 1)
    with AuditLog(tmp_path / "audit.db") as again:  # the same rows through the SQLite storage the path opens
        assert again.size("r1") == 3 and len(again.checkpoints("r1")) == 1


def test_a_database_url_is_refused_with_the_way_to_open_it():
    """The audit package never picks a database from a URL (nor imports a driver to try): the stores do."""
    script = ("import sys\n"
              "from defai_swarm.audit import AuditLog\n"
              "try:\n"
              "    AuditLog('postgresql://auditor@127.0.0.1:1/nowhere')\n"
              "except ValueError as exc:\n"
              "    print(exc)\n"
              "else:\n"
              "    raise SystemExit('opened')\n"
              "loaded = [m for m in sys.modules if m.startswith(('defai_swarm.stores', 'psycopg'))]\n"
              "assert not loaded, loaded\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "defai_swarm.stores.audit_storage(url)" in done.stdout, done.stdout


def test_the_stores_pick_the_storage_from_a_location(tmp_path):
    storage = audit_storage(tmp_path / "a.db")
    assert isinstance(storage, SqliteAuditStorage) and storage.path == tmp_path / "a.db"
    storage.close()
    assert isinstance(audit_storage(str(tmp_path / "b.db")), SqliteAuditStorage)
    with pytest.raises(ConfigError, match="not an audit log store"):
        audit_storage("mysql://root@localhost/audit")
    with open_audit_log(tmp_path / "c.db") as log:
        assert log.append("r", "tx", {}).index == 0


@pytest.mark.postgres
def test_the_stores_open_postgresql_for_a_url(pg_url):
    from defai_swarm.stores.postgres_audit import PgAuditStorage

    storage = audit_storage(pg_url)
    assert isinstance(storage, PgAuditStorage) and "postgresql://" in str(storage.path)
    with AuditLog(storage) as log:
        n = log.size("seam-run")
        assert log.append("seam-run", "tx", {"n": n}).index == n


class SeamTask(Task):
    kind: Literal["seam_check"] = "seam_check"


class Tampered(TaskPlugin[SeamTask]):
    """A task kind whose replay always disagrees with the log."""

    kind = "seam_check"
    task_model = SeamTask

    def replay(self, payload: dict, run_context: dict) -> tuple[bool, str] | None:
        return False, f"recomputed {payload['value'] + 1}, logged {payload['value']}"


def test_replay_uses_the_plugins_it_is_given(tmp_path):
    with AuditLog(tmp_path / "audit.db") as log:
        log.append("r", "intent", {"policy": POLICY})
        log.append("r", "condition", {"condition": {"base": "ETH", "op": "<", "threshold": "2000", "source_task": "p"},
                                      "price": "1900", "holds": True})
        checked = log.append("r", "seam_check", {"value": 1})
        entries = log.entries("r")
    with pytest.raises(TypeError):
        replay(entries)  # type: ignore[call-arg]  (no default registry down here: the agents are above)
    assert replay(entries, PluginRegistry()).ok  # nothing holds the kind: only the condition is replayed
    report = replay(entries, PluginRegistry([Tampered()]))
    assert not report.ok and report.first_bad_index == checked.index, report
    assert "recomputed 2, logged 1" in report.reason


def test_the_default_replay_plugins_are_assembled_above_audit():
    from defai_swarm.agents import builtin_plugins
    from defai_swarm.auditing import default_plugins

    registry = default_plugins()
    assert {p.kind for p in builtin_plugins()} <= set(registry.kinds())


def test_importing_every_audit_module_loads_no_store_agent_tool_or_front_door():
    script = ("import importlib, pkgutil, sys\n"
              "import defai_swarm.audit as audit\n"
              "for m in pkgutil.walk_packages(audit.__path__, 'defai_swarm.audit.'):\n"
              "    importlib.import_module(m.name)\n"
              f"bad = sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r}))\n"
              "assert not bad, bad\n"
              "print(len([m for m in sys.modules if m.startswith('defai_swarm.audit.')]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert int(done.stdout.strip()) >= 10  # the walk really imported the package's modules


def test_the_audit_contract_bites(tmp_path):
    """A copy of the tree whose audit log imports the stores again breaks the audit contract (and only that)."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "swarm", tmp_path / "defai_swarm", ignore=ignore)  # the installed layout
    for package in ("agents", "tools"):
        shutil.copytree(ROOT / package, tmp_path / "defai_swarm" / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bad = tmp_path / "defai_swarm" / "audit" / "log.py"
    bad.write_text(bad.read_text() + "\nfrom defai_swarm.stores import audit_storage  # noqa: E402,F401\n")
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent)})
    assert done.returncode != 0 and "BROKEN" in done.stdout, done.stdout[-3000:]
    assert "audit imports neither stores, agents, tools, nor the front doors BROKEN" in done.stdout, done.stdout[-3000:]
