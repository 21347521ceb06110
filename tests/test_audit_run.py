"""A run's audit log end to end: every step recorded, checkpoint signed and anchored, verify and replay."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from defai_swarm.api import Swarm
from defai_swarm.audit import export_bundle, verify_bundle, verify_log
from defai_swarm.auditing import replay
from defai_swarm.tools.evm.anchor import EvmAnchorChecker
from tests.test_runtime import swap_graph


@pytest.fixture
def swarm(chain, devnet, wallet, tmp_path):
    s = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path)
    yield s
    s.close()


def checker(chain, wallet) -> EvmAnchorChecker:
    return EvmAnchorChecker(chain, expected_sender=wallet.address)


def test_run_records_every_step_and_anchors_its_checkpoint(swarm, chain, wallet):
    result = swarm.execute(swap_graph("USDC", "ETH", "1000", condition=None))
    assert result.status == "done", result.summary()
    log = swarm.auditor.log
    kinds = [e.kind for e in log.entries(result.run_id)]
    for kind in ("intent", "read_price", "check_risk", "tx", "swap", "run_result", "anchor"):
        assert kind in kinds, kinds
    tx_events = [e.payload["event"] for e in log.entries(result.run_id) if e.kind == "tx"]
    assert tx_events == ["signed", "receipt", "signed", "receipt"]  # approve, swap: each logged before it is sent
    anchor_tx = chain.eth.get_transaction(result.anchor["tx_id"])
    assert anchor_tx["to"] == anchor_tx["from"] == wallet.address
    report = verify_log(log, result.run_id, anchor_checker=checker(chain, wallet),
                        checkpoint_note=swarm.auditor.anchor_for(result.run_id)[0], anchor=result.anchor)
    assert report.ok, report.reason
    assert replay(log.entries(result.run_id)).ok


def test_refused_run_is_recorded_and_anchored_too(swarm, chain, wallet):
    result = swarm.execute(swap_graph("ETH", "USDC", "5"))  # over max_trade_usd
    assert result.status == "refused"
    entries = swarm.auditor.log.entries(result.run_id)
    risk = next(e for e in entries if e.kind == "check_risk")
    assert not risk.payload["decision"]["approved"]
    assert any(not r["passed"] and r["rule"] == "max_trade_usd" for r in risk.payload["decision"]["rules"])
    assert result.anchor is not None
    assert replay(entries).ok


def test_replay_flags_a_tampered_risk_decision(swarm, chain, wallet):
    result = swarm.execute(swap_graph("ETH", "USDC", "5"))
    entries = swarm.auditor.log.entries(result.run_id)
    i = next(k for k, e in enumerate(entries) if e.kind == "check_risk")
    forged = json.loads(json.dumps(entries[i].payload))
    forged["decision"]["approved"] = True
    for rule in forged["decision"]["rules"]:
        rule["passed"] = True
    tampered = entries[:i] + [entries[i].model_copy(update={"payload": forged})] + entries[i + 1:]
    report = replay(tampered)
    assert not report.ok and report.first_bad_index == entries[i].index
    # and the Merkle log catches the same edit in an exported bundle
    note, anchor = swarm.auditor.anchor_for(result.run_id)
    bundle = export_bundle(swarm.auditor.log, result.run_id, note, anchor=anchor)
    trusted = swarm.auditor.signer.vkey  # issue 12 #3: a bundle is checked against the operator's key, passed explicitly
    assert verify_bundle(bundle, trusted_vkey=trusted, anchor_checker=checker(chain, wallet)).ok
    bundle["entries"][i]["payload"] = forged
    bad = verify_bundle(bundle, trusted_vkey=trusted, anchor_checker=checker(chain, wallet))
    assert not bad.ok and bad.first_bad_index == i


def test_replay_flags_a_changed_condition_outcome(swarm):
    result = swarm.execute(swap_graph("ETH", "USDC", "1", condition=(">", "5000")))
    assert result.status == "skipped"
    entries = swarm.auditor.log.entries(result.run_id)
    i = next(k for k, e in enumerate(entries) if e.kind == "condition")
    assert entries[i].payload["holds"] is False
    tampered = list(entries)
    tampered[i] = entries[i].model_copy(update={"payload": {**entries[i].payload, "holds": True}})
    assert replay(entries).ok
    assert replay(tampered).first_bad_index == entries[i].index


def test_wallet_key_never_reaches_the_audit_log(swarm, wallet, tmp_path):
    swarm.execute(swap_graph("ETH", "USDC", "0.5"))
    raw = b"".join(p.read_bytes() for p in (tmp_path / "audit").glob("audit.db*"))
    for marker in wallet.secret_markers():
        assert marker.encode() not in raw and marker.removeprefix("0x").encode() not in raw


def test_cli_verify_replay_and_bundle(swarm, chain, devnet, wallet, tmp_path):
    result = swarm.execute(swap_graph("ETH", "DAI", "0.5"))
    assert result.status == "done"
    env = {**os.environ, "SWARM_HOME": str(tmp_path)}

    def cli(*args):  # issue 12 #7: the operator's chain configuration pins the anchor's sender (not the intent entry)
        p = subprocess.run([sys.executable, "-m", "defai_swarm.cli", "audit", *args, "--config", str(devnet.manifest_path)],
                           capture_output=True, text=True, env=env, timeout=120)
        return p.returncode, p.stdout + p.stderr

    rc, out = cli("verify", result.run_id)
    assert rc == 0 and "PASS" in out and "anchor" in out, out
    rc, out = cli("replay", result.run_id)
    assert rc == 0 and "PASS" in out, out
    bundle_path = tmp_path / "run.json"
    rc, out = cli("export", result.run_id, "-o", str(bundle_path))
    assert rc == 0, out
    rc, out = cli("verify", "--bundle", str(bundle_path))
    assert rc == 0 and "PASS" in out, out
    bundle = json.loads(bundle_path.read_text())
    bundle["entries"][3]["payload"]["status"] = "forged"
    bundle_path.write_text(json.dumps(bundle))
    rc, out = cli("verify", "--bundle", str(bundle_path))
    assert rc == 8 and "first bad entry: 3" in out, out  # ExitCode.VERIFY_FAILED


def test_model_thoughts_are_recorded_with_their_provenance(chain, devnet, wallet, tmp_path, tiny_model_path):
    from defai_swarm.llm import file_sha256, load_backend

    backend = load_backend(tiny_model_path)
    swarm = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path, backend=backend, k=2, anchor=False)
    try:
        result = swarm.run("swap 0.1 ETH to USDC")
    finally:
        swarm.close()
    assert result.status == "done"  # the random-weight model's readings are scored invalid; the parser's plan stands
    entries = swarm.auditor.log.entries(result.run_id)
    intent = next(e for e in entries if e.kind == "intent")
    assert intent.payload["model"]["sha256"] == file_sha256(tiny_model_path)
    model_thoughts = [e.payload for e in entries if e.kind == "thought" and e.payload["source"] in ("model", "refined")]
    assert len(model_thoughts) >= 2
    for t in model_thoughts:
        assert t["model_sha256"] == file_sha256(tiny_model_path)
        assert len(t["prompt_sha256"]) == 64 and "reasoning" in t and t["settings"]["temperature"] == "0.6"
        assert t["kept"] is False and t["why"].startswith("dropped")
    assert any(e.payload["source"] == "parser" and e.payload["kept"] for e in entries if e.kind == "thought")
