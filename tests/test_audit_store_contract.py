"""One contract for the audit log's storage, run against both: the SQLite file (one machine) and a real PostgreSQL
server (pgserver, a cluster's shared database). Same rows, same leaf hashes, same checkpoints, same `verify`."""
from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys

import pytest

from defai_swarm.audit import AuditLog, Signer, export_bundle, verify_bundle, verify_log
from defai_swarm.audit.keys import SigningKey
from defai_swarm.audit.merkle import MerkleTree, verify_consistency, verify_inclusion
from defai_swarm.stores import open_audit_log

pytest_plugins = ["tests.pg_fixtures"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def where(request, tmp_path) -> str:
    """The log's location: a file (SQLite) or a database URL (PostgreSQL)."""
    if request.param == "sqlite":
        return str(tmp_path / "audit" / "audit.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def signer() -> Signer:
    return Signer(SigningKey.generate())


def fill(log: AuditLog, run_id: str, n: int) -> None:
    for i in range(n):
        log.append(run_id, "thought" if i % 3 else "tx", {"step": i, "text": f"entry {i}"})


def test_append_entries_and_proofs(where):
    with open_audit_log(where) as log:
        first = log.append("run1", "tx", {"hash": "0xabc", "value": "10"})
        assert (first.index, first.leaf_hash) == (0, first.compute_leaf_hash().hex())
        fill(log, "run1", 6)
        log.append_many("run2", [("plan", {"a": 1}), ("tx", {"b": 2})])
        assert log.size("run1") == 7 and log.size("run2") == 2 and log.runs() == ["run1", "run2"]
        entries = log.entries("run1")
        assert [e.index for e in entries] == list(range(7))
        assert all(e.leaf_hash == e.compute_leaf_hash().hex() for e in entries)
        tree = MerkleTree()
        tree.extend(bytes.fromhex(e.leaf_hash) for e in entries)
        root = log.root("run1")
        assert root == tree.root()
        assert verify_inclusion(bytes.fromhex(entries[4].leaf_hash), 4, 7, log.inclusion_proof("run1", 4), root)
        assert verify_consistency(3, 7, log.consistency_proof("run1", 3), log.root("run1", 3), root)
        assert [e.index for e in log.entries("run1", 2, 5)] == [2, 3, 4]
    with open_audit_log(where) as again:  # another process (or machine) opening the same log
        assert again.entries("run1") == entries and again.root("run1") == root
        assert again.append("run1", "tx", {}).index == 7


def test_checkpoint_export_and_verify(where, signer):
    with open_audit_log(where) as log:
        fill(log, "run1", 5)
        note = log.checkpoint("run1", signer)
        fill(log, "run1", 3)
        later = log.checkpoint("run1", signer)
        assert [c.size for c in log.checkpoints("run1")] == [5, 8]
        assert log.latest_checkpoint("run1").note == later
        found = log.find_checkpoint(note)
        assert found is not None and found.size == 5 and found.vkey == signer.vkey
        assert log.find_checkpoint(later.replace("8", "9", 1)) is None
        report = verify_log(log, "run1", trusted_vkey=signer.vkey, checkpoint_note=later)
        assert report.ok, report.reason
        bundle = export_bundle(log, "run1", later)
    assert len(bundle["entries"]) == 8
    assert verify_bundle(bundle, trusted_vkey=signer.vkey).ok
    bundle["entries"][2]["payload"]["text"] = "forged"
    report = verify_bundle(bundle, trusted_vkey=signer.vkey)
    assert not report.ok and report.first_bad_index == 2


def test_deferred_entries_are_flushed_by_the_next_action(where, signer):
    with open_audit_log(where) as log:
        log.append("run1", "price", {"p": "1"})
        log.append("run1", "check_risk", {"ok": True})
        assert log.unsynced and log.size("run1") == 2  # committed and readable, its flush still to come
        log.append("run1", "tx", {"event": "signed"})  # an action's entry: its commit flushes everything before it
        assert not log.unsynced
        log.append("run1", "plan", {})
        log.checkpoint("run1", signer)  # a checkpoint (before its anchor is sent) is a full commit too
        assert not log.unsynced
        log.append("run1", "thought", {})
        log.flush()
        assert not log.unsynced and log.size("run1") == 5


def _raw(where: str):
    """A second connection straight to the database, bypassing `AuditLog` (an operator's mistake)."""
    if where.startswith("postgresql://"):
        import psycopg
        return psycopg.connect(where, autocommit=True), "swarm_audit_", psycopg.errors.RaiseException
    return sqlite3.connect(where, isolation_level=None), "", sqlite3.DatabaseError


def test_the_database_refuses_changes_and_gaps(where, signer):
    with open_audit_log(where) as log:
        fill(log, "run1", 3)
        log.checkpoint("run1", signer)
    raw, prefix, refused = _raw(where)
    for sql in (f"UPDATE {prefix}entries SET payload = '{{}}' WHERE idx = 1",
                f"DELETE FROM {prefix}entries WHERE idx = 2",
                f"UPDATE {prefix}checkpoints SET note = 'x'",
                f"DELETE FROM {prefix}checkpoints"):
        with pytest.raises(refused, match="append-only"):
            raw.execute(sql)
    if prefix:  # PostgreSQL has TRUNCATE too
        for table in ("entries", "checkpoints"):
            with pytest.raises(refused, match="append-only"):
                raw.execute(f"TRUNCATE {prefix}{table}")
    salt, leaf = (b"\x00", b"\x00")
    marker = "%s" if prefix else "?"
    with pytest.raises(refused, match="next one"):  # no gaps
        raw.execute(f"INSERT INTO {prefix}entries VALUES ({', '.join([marker] * 7)})",
                    ("run1", 7, "tx", "t", salt, "{}", leaf))
    raw.close()
    with open_audit_log(where) as log:
        assert [e.index for e in log.entries("run1")] == [0, 1, 2]
        assert log.entries("run1")[1].payload["step"] == 1 and len(log.checkpoints("run1")) == 1


def _append_from_another_process(where: str, tag: str, n: int, start, errors) -> None:
    start.wait()
    try:
        with open_audit_log(where) as log:
            for i in range(n):
                log.append("shared", "tx" if i % 2 else "thought", {"writer": tag, "i": i})
    except BaseException as exc:  # the parent's assertion says why
        errors.put(f"writer {tag}: {type(exc).__name__}: {exc}")
        raise


def test_two_processes_appending_to_one_run_get_contiguous_indexes(where, signer):
    open_audit_log(where).close()  # the log exists, as on a running cluster; the writers race only for the run's indexes
    ctx = multiprocessing.get_context("spawn")
    start, errors = ctx.Event(), ctx.Queue()
    writers = [ctx.Process(target=_append_from_another_process, args=(where, tag, 40, start, errors))
               for tag in "ab"]
    for w in writers:
        w.start()
    start.set()
    for w in writers:
        w.join(120)
    assert [w.exitcode for w in writers] == [0, 0], [errors.get(timeout=5) for w in writers if w.exitcode]
    with open_audit_log(where) as log:
        entries = log.entries("shared")
        assert [e.index for e in entries] == list(range(80))
        for tag in "ab":  # each writer's own entries in its own order, none lost
            assert [e.payload["i"] for e in entries if e.payload["writer"] == tag] == list(range(40))
        note = log.checkpoint("shared", signer)
        assert verify_bundle(export_bundle(log, "shared", note), trusted_vkey=signer.vkey).ok


def test_same_rows_give_the_same_tree_in_both_stores(tmp_path, pg_url, signer):
    """The format does not depend on the store: the rows of a SQLite log copied into PostgreSQL give the same root,
    and the bundle exported from either is the same document."""
    with AuditLog(tmp_path / "audit.db") as lite:
        fill(lite, "run1", 9)
        note = lite.checkpoint("run1", signer)
        bundle = export_bundle(lite, "run1", note)
        root = lite.root("run1")
    rows = sqlite3.connect(tmp_path / "audit.db").execute("SELECT * FROM entries ORDER BY idx").fetchall()
    cps = sqlite3.connect(tmp_path / "audit.db").execute(
        "SELECT run_id, size, root, note, note_hash, vkey, created_at FROM checkpoints").fetchall()
    open_audit_log(pg_url).close()  # creates the tables
    import psycopg
    with psycopg.connect(pg_url, autocommit=True) as raw:
        raw.cursor().executemany("INSERT INTO swarm_audit_entries VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
        raw.cursor().executemany("INSERT INTO swarm_audit_checkpoints (run_id, size, root, note, note_hash, vkey, "
                                 "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)", cps)
    with open_audit_log(pg_url) as pg:
        assert pg.root("run1") == root
        assert export_bundle(pg, "run1", note) == bundle


def test_a_swarm_on_postgres_keeps_its_audit_log_there(chain, devnet, wallet, pg_url, tmp_path):
    """A run through `Swarm` with the shared store: its entries and checkpoint are in PostgreSQL (none in a local
    file), and the exported bundle verifies with `swarm audit verify --bundle`."""
    from defai_swarm.api import Swarm
    from tests.test_runtime import swap_graph

    swarm = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path / "home", store=pg_url)
    try:
        result = swarm.execute(swap_graph("ETH", "DAI", "0.5"))
        assert result.status == "done", result.summary()
        assert result.anchor is not None
        assert not (tmp_path / "home" / "audit" / "audit.db").exists()
        note, anchor = swarm.auditor.anchor_for(result.run_id)
        vkey = swarm.auditor.signer.vkey
    finally:
        swarm.close()
    with open_audit_log(pg_url) as log:  # another machine's view of the run
        kinds = [e.kind for e in log.entries(result.run_id)]
        assert kinds.count("tx") >= 2 and "run_result" in kinds and kinds[-1] == "anchor"
        bundle = export_bundle(log, result.run_id, note, anchor=anchor, vkey=vkey)
    bundle_path = tmp_path / "run.json"
    bundle_path.write_text(json.dumps(bundle))
    env = {**os.environ, "SWARM_HOME": str(tmp_path / "cli-home")}  # a verifier's machine: no local audit log

    def verify() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "defai_swarm.cli", "audit", "verify", "--bundle", str(bundle_path),
                               "--vkey", vkey, "--config", str(devnet.manifest_path)],
                              capture_output=True, text=True, env=env, timeout=120)

    done = verify()
    out = done.stdout + done.stderr
    assert done.returncode == 0 and "PASS" in out and "anchor" in out, out
    bundle["entries"][3]["payload"]["forged"] = True
    bundle_path.write_text(json.dumps(bundle))
    done = verify()
    assert done.returncode == 8 and "first bad entry: 3" in done.stdout + done.stderr, done.stdout + done.stderr
    # `swarm audit` on any machine pointed at the shared store reads the run from PostgreSQL (no local file)
    store_env = {**env, "SWARM_STORE": pg_url}
    runs = subprocess.run([sys.executable, "-m", "defai_swarm.cli", "audit", "runs", "--json"], capture_output=True, text=True,
                          env=store_env, timeout=120)
    assert runs.returncode == 0, runs.stdout + runs.stderr
    assert result.run_id in {r["run_id"] for r in json.loads(runs.stdout)}
    live = subprocess.run([sys.executable, "-m", "defai_swarm.cli", "audit", "verify", result.run_id, "--vkey", vkey,
                           "--config", str(devnet.manifest_path)], capture_output=True, text=True, env=store_env,
                          timeout=120)
    assert live.returncode == 0 and f"PASS run {result.run_id}" in live.stdout, live.stdout + live.stderr
    assert not (tmp_path / "cli-home" / "audit" / "audit.db").exists()


def test_the_newest_signed_checkpoint_decides(where, signer):
    """Issue 23 #1 on both stores, without a chain: a run sealed, resumed and sealed again (each checkpoint followed
    by its anchor record), then rows added with the store's credentials only."""
    from defai_swarm.audit import checkpoint_hash
    from defai_swarm.audit.outcome import run_outcome
    from defai_swarm.auditing import anchored_checkpoint

    def anchor(note: str) -> dict:
        return {"chain": "evm:31337", "tx_id": "0x" + checkpoint_hash(note).hex(), "checkpoint_hash": checkpoint_hash(note).hex()}

    with open_audit_log(where) as log:
        log.append("run1", "intent", {"text": "swap 1 ETH to USDC"})
        log.append("run1", "run_result", {"status": "failed", "tx_hashes": ["0x1"], "reasons": ["interrupted"]})
        first = log.checkpoint("run1", signer)
        log.append("run1", "anchor", anchor(first))
        assert run_outcome(log, "run1", signer.vkey).status == "failed"
        log.append("run1", "swap", {"task": "swap_1", "status": "confirmed"})  # `resume` under way: not signed yet
        during = verify_log(log, "run1", signer.vkey)
        assert not during.ok and during.first_bad_index == 3 and "swarm resume" in (during.reason or "")
        log.append("run1", "run_result", {"status": "done", "tx_hashes": ["0x1"], "reasons": []})
        second = log.checkpoint("run1", signer)
        log.append("run1", "anchor", anchor(second))
        report = verify_log(log, "run1", signer.vkey)
        assert report.ok and report.tree_size == 5, report.reason
        assert anchored_checkpoint(log, "run1", signer.vkey) == (second, anchor(second))

        replayed = log.append("run1", "anchor", anchor(first)).index  # the first anchor row, again
        report = verify_log(log, "run1", signer.vkey)
        assert not report.ok and report.first_bad_index == replayed and "names another checkpoint" in report.reason
        rolled = verify_log(log, "run1", signer.vkey, checkpoint_note=first, anchor=anchor(first))
        assert not rolled.ok and any(c.name == "newest checkpoint" and not c.ok for c in rolled.checks)
        assert anchored_checkpoint(log, "run1", signer.vkey) == (second, anchor(second))
        outcome = run_outcome(log, "run1", signer.vkey)
        assert (outcome.status, outcome.signed, outcome.result_index) == ("done", 5, 4)
        assert list(outcome.problems) == [replayed] and outcome.anchor == anchor(second)

        # a run still going may have unsigned entries after its checkpoint: shown as claims, never as the outcome
        log.append("run2", "intent", {"text": "swap 1 ETH to USDC"})
        log.checkpoint("run2", signer)
        log.append("run2", "approval_request", {"requests": [{"question": "approve?"}]})
        log.append("run2", "run_result", {"status": "done", "tx_hashes": ["0xforged"], "reasons": []})
        running = run_outcome(log, "run2", signer.vkey)
        assert running.status == "in progress" and running.result is None and not running.problems
        assert running.claims == {"status": "done"}
        report = verify_log(log, "run2", signer.vkey)
        assert report.ok and any(c.name == "tail" and "2 entries" in c.detail for c in report.checks)
