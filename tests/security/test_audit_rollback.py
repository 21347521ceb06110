"""Issue 23, finding 1: the audit log rolled back or extended without any key.

The attacker holds the store's credentials (the operator's SQLite file, or the PostgreSQL URL every node of a cluster
holds) but not the audit signing key. Two attacks that passed `swarm audit verify` before:
  - one row appended after a finished run's final checkpoint (a forged `run_result`): PASS, and `swarm audit runs`,
    `show` and the MCP/LangChain `show_run` reported the forged outcome;
  - a run sealed, resumed and sealed again (a receipt the node never delivered, then `resume`): replaying the *first*
    anchor row made verify fall back to the older checkpoint, the real swap became an unsigned "tail", and the
    exported bundle ended `run_result failed`, PASS under the pinned key and anchor sender.

What must hold: verification follows the newest checkpoint the trusted key signed, and its own anchor; an anchor row
naming an older checkpoint after it, and any entry after the final checkpoint of a finished run, fail at their
index; every reader takes a run's outcome from the signed part (swarm/audit/outcome.py). Each scenario runs against
the SQLite file and a real PostgreSQL server.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from defai_swarm.api import Swarm
from defai_swarm.audit import AuditLog, Signer, verify_bundle
from defai_swarm.integrations.toolkit import SwarmToolkit
from defai_swarm.stores import open_audit_log
from tests.security.test_audit_forgery import cli_inline
from tests.test_runtime import swap_graph
from defai_swarm.tools.devnet.fault_proxy import FaultProxy
from defai_swarm.tools.evm.anchor import anchor_on_evm
from defai_swarm.tools.evm.policy import RiskPolicy
from defai_swarm.tools.evm.rpc import connect
from defai_swarm.tools.evm.tx import TxSender

pytest_plugins = ["tests.pg_fixtures"]

FORGED = {"status": "failed", "tx_hashes": [], "reasons": ["forged: the swap never happened"]}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request) -> str | None:
    """Where the run's audit log lives: None (the state directory's SQLite file) or a PostgreSQL URL."""
    return None if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "operator"


def log_location(home: Path, store: str | None) -> str:
    return store or str(home / "audit" / "audit.db")


def audit(monkeypatch, home: Path, store: str | None, *args: str, **flags) -> tuple[int, str]:
    """`swarm audit ...` on the operator's machine (its audit key is the trusted one), pointed at the run's store."""
    if store:
        monkeypatch.setenv("SWARM_STORE", store)
    else:
        monkeypatch.delenv("SWARM_STORE", raising=False)
    return cli_inline(monkeypatch, home, *args, **flags)


def audit_json(monkeypatch, home: Path, store: str | None, *args: str) -> Any:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code, text = audit(monkeypatch, home, store, *args, "--json")
    assert code == 0, text + out.getvalue()
    return json.loads(out.getvalue())


def test_a_row_appended_after_the_final_checkpoint_is_not_the_outcome(monkeypatch, chain, devnet, wallet, home, store):
    swarm = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=home, store=store)
    assert swarm.auditor is not None
    try:
        result = swarm.execute(swap_graph("ETH", "DAI", "0.5"))
        assert result.status == "done" and result.anchor is not None, result.summary()
        run_id = result.run_id
        config = ["--config", str(devnet.manifest_path)]
        code, out = audit(monkeypatch, home, store, "verify", run_id, *config)
        assert code == 0 and f"PASS run {run_id}" in out, out

        # the attacker: the store's credentials, no key
        with open_audit_log(log_location(home, store)) as log:
            forged = log.append(run_id, "run_result", FORGED).index
        code, out = audit(monkeypatch, home, store, "verify", run_id, *config)
        assert code == 8 and "PASS" not in out, out
        assert f"first bad entry: {forged}" in out and "after the final checkpoint of a finished run" in out, out

        # every reader: the signed outcome, the forged row shown as unsigned and flagged, never as the outcome
        [listed] = [r for r in audit_json(monkeypatch, home, store, "runs") if r["run_id"] == run_id]
        assert listed["status"] == "done" and str(forged) in listed["unverified_tail"]["problems"], listed
        shown = audit_json(monkeypatch, home, store, "show", run_id)
        assert shown["status"] == "done", shown
        row = shown["entries_detail"][forged]
        assert row["kind"] == "run_result" and row["signed"] is False and row["problem"], row
        code, out = audit(monkeypatch, home, store, "show", run_id)
        assert f"run {run_id}: done (entry {forged} after the signed checkpoint may not be there" in out, out
        kit = SwarmToolkit(swarm)  # the MCP and LangChain tools
        seen = kit.call("show_run", {"run_id": run_id})
        assert seen["ok"] and seen["status"] == "done" and seen["tx_hashes"] == result.tx_hashes, seen
        assert str(forged) in seen["unverified_tail"]["problems"], seen
        checked = kit.call("verify_run", {"run_id": run_id})
        assert checked["ok"] and not checked["passed"] and checked["first_bad_index"] == forged, checked

        # the bundle carries the tail: whoever verifies it (the CLI, the page) names the forged row too
        code, out = audit(monkeypatch, home, store, "export", run_id, "-o", str(home / "run.json"))
        assert code == 0, out
        bundle = json.loads((home / "run.json").read_text())
        assert bundle["entries"][-1]["kind"] == "run_result" and bundle["entries"][-1]["payload"]["status"] == "done"
        report = verify_bundle(bundle, trusted_vkey=swarm.auditor.signer.vkey)
        assert not report.ok and report.first_bad_index == forged, report.reason
    finally:
        swarm.close()


def test_replaying_the_first_anchor_row_after_a_resume_does_not_roll_back(monkeypatch, chain, devnet, wallet, home,
                                                                           store):
    """The node loses the swap's receipt: the run fails (sealed, anchored); `resume` finds the receipt and the run
    is sealed and anchored again. The attacker replays the first anchor row."""
    with FaultProxy(devnet.manifest.rpc_url) as proxy:
        proxy.inject("lose_response", {"eth_sendRawTransaction"}, times=1)
        proxy.inject("drop", {"eth_getTransactionByHash", "eth_getTransactionReceipt", "eth_sendRawTransaction"},
                     times=-1)
        swarm = Swarm(w3=connect(proxy.url, timeout=5), manifest=devnet.manifest, wallet=wallet, home=home,
                      policy=RiskPolicy(), store=store)
        assert swarm.auditor is not None
        # the anchors reach the node directly: the outage is the swap's only
        swarm.auditor.anchorer = lambda digest: anchor_on_evm(TxSender(chain, wallet), digest)
        try:
            failed = swarm.execute(swap_graph("ETH", "USDC", "1"))
            assert failed.status == "failed" and failed.anchor is not None, failed.summary()
            proxy.clear()  # the node is back
            resumed = swarm.resume(failed.run_id)
            assert resumed.status == "done" and resumed.anchor is not None, resumed.summary()
            vkey = swarm.auditor.signer.vkey
        finally:
            swarm.close()
    run_id = failed.run_id
    config = ["--config", str(devnet.manifest_path)]
    code, out = audit(monkeypatch, home, store, "verify", run_id, *config)
    assert code == 0 and f"PASS run {run_id}" in out, out

    with open_audit_log(log_location(home, store)) as log:  # the store's credentials, no key
        assert len(log.checkpoints(run_id)) == 2
        first_anchor = next(e.payload for e in log.entries(run_id) if e.kind == "anchor")
        assert first_anchor == failed.anchor
        replayed = log.append(run_id, "anchor", first_anchor).index

    code, out = audit(monkeypatch, home, store, "verify", run_id, *config)
    assert code == 8 and "PASS" not in out, out
    assert f"first bad entry: {replayed}" in out and "names another checkpoint" in out, out
    # what the readers and the export say is still the resumed run's signed outcome: the swap happened
    [listed] = [r for r in audit_json(monkeypatch, home, store, "runs") if r["run_id"] == run_id]
    assert listed["status"] == "done", listed
    code, out = audit(monkeypatch, home, store, "export", run_id, "-o", str(home / "run.json"))
    assert code == 0, out
    bundle = json.loads((home / "run.json").read_text())
    result = [e for e in bundle["entries"] if e["kind"] == "run_result"][-1]["payload"]
    assert result["status"] == "done" and result["tx_hashes"] == resumed.tx_hashes, result
    assert bundle["anchor"] == resumed.anchor
    report = verify_bundle(bundle, trusted_vkey=vkey)
    assert not report.ok and report.first_bad_index == replayed, report.reason

    # the bundle the attack produced before (the older checkpoint and its anchor, the store's other checkpoint
    # beside it): rolled back, whoever verifies it
    with open_audit_log(log_location(home, store)) as log:
        from defai_swarm.audit import export_bundle
        old = log.checkpoints(run_id)[0].note
        rolled = export_bundle(log, run_id, old, anchor=first_anchor)
    assert [e for e in rolled["entries"] if e["kind"] == "run_result"][-1]["payload"]["status"] == "failed"
    report = verify_bundle(rolled, trusted_vkey=vkey)
    assert not report.ok and any(c.name == "newest checkpoint" and not c.ok and "rolled back" in c.detail
                                 for c in report.checks), report.checks


def test_a_checkpoint_the_attacker_signed_is_not_the_outcome(tmp_path):
    """A checkpoint row signed with another key (the attacker's), covering forged rows: not the trusted key's."""
    from defai_swarm.audit import SigningKey
    from defai_swarm.audit.outcome import run_outcome

    operator, attacker = Signer(SigningKey.generate()), Signer(SigningKey.generate())
    with AuditLog(tmp_path / "audit.db") as log:
        log.append("r", "intent", {"text": "swap"})
        log.append("r", "run_result", {"status": "done", "tx_hashes": ["0x1"], "reasons": []})
        log.checkpoint("r", operator)
        forged = log.append("r", "run_result", FORGED).index
        log.checkpoint("r", attacker)
        outcome = run_outcome(log, "r", operator.verifier)
        assert outcome.status == "done" and outcome.signed == 2 and forged in outcome.problems
        assert run_outcome(log, "r", None).status == "unverified"  # no pinned key: nothing is taken as the outcome


def test_without_a_trusted_key_no_status_is_taken_as_the_outcome(monkeypatch, tmp_path):
    """A reviewer's machine with the store but no audit key and no --vkey: every status is "unverified"."""
    from defai_swarm.audit import SigningKey

    home, signer = tmp_path / "reviewer", Signer(SigningKey.generate())
    with AuditLog(home / "audit" / "audit.db") as log:
        log.append("r1", "intent", {"text": "swap 1 ETH to USDC"})
        log.append("r1", "run_result", {"status": "done", "tx_hashes": ["0x1"], "reasons": []})
        log.checkpoint("r1", signer)
    [listed] = audit_json(monkeypatch, home, None, "runs")
    assert listed["status"] == "unverified" and listed["signed"] is None and "--vkey" in listed["note"], listed
    code, out = audit(monkeypatch, home, None, "runs")
    assert code == 0 and "unverified" in out and "statuses come only from checkpoints a trusted key signed" in out
    [listed] = audit_json(monkeypatch, home, None, "runs", "--vkey", signer.vkey)
    assert listed["status"] == "done" and listed["signed"] == 2, listed
    code, out = audit(monkeypatch, home, None, "replay", "r1")
    assert code == 8 and "nothing of run r1 is signed by the trusted key" in out, out
