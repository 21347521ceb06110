"""Runs against a real local devnet (anvil + Uniswap V2), started for this test session."""
from __future__ import annotations

from decimal import Decimal

import pytest

from defai_swarm.api import Swarm
from defai_swarm.audit import AuditLog, verify_log
from defai_swarm.audit.replay import replay
from defai_swarm.tools.devnet import Devnet
from defai_swarm.tools.devnet.install import install
from defai_swarm.tools.devnet.node import free_port
from starter_project.liquidity_guard import LiquidityGuard
from starter_project.pool_depth import pool_depth

MAX_SHARE = Decimal("0.001")  # 0.1% of a ~$6M pool: ~$6,000


@pytest.fixture(scope="session")
def swarm(tmp_path_factory):
    install()
    home = tmp_path_factory.mktemp("swarm")
    with Devnet.start(port=free_port(), manifest_path=home / "manifest.json") as devnet:
        s = Swarm.from_devnet(devnet.manifest_path, home=home)
        s.use(LiquidityGuard(max_share=MAX_SHARE))
        yield s
        s.close()


def audit_entries(swarm, run_id):
    with AuditLog(swarm.auditor.log.path) as log:
        assert verify_log(log, run_id, trusted_vkey=swarm.auditor.signer.vkey).ok
        return log.entries(run_id)


def test_pool_depth_reads_the_pool(swarm):
    depth = pool_depth(swarm.chain, "ETH", "USDC")
    assert Decimal(5_000_000) < depth.depth_usd < Decimal(7_000_000)  # 1000 ETH + 3M USDC on the devnet


def test_guard_is_planned_in_front_of_the_risk_check(swarm):
    graph = swarm.plan("swap 0.5 ETH to USDC").task_graph
    guard = graph.by_id()["guard_swap_1"]
    assert guard.kind == "liquidity_guard" and guard.max_share == MAX_SHARE
    assert "guard_swap_1" in graph.by_id()["risk_1"].depends_on


def test_guard_passes_a_small_trade_and_it_is_audited_and_replayed(swarm):
    result = swarm.run("swap 0.5 ETH to USDC")  # ~$1,500: 0.025% of the pool
    assert result.status == "done", result.summary()
    assert len(result.tx_hashes) == 1
    assert result.tasks["guard_swap_1"]["status"] == "ok"
    entries = audit_entries(swarm, result.run_id)
    guard = [e for e in entries if e.kind == "liquidity_guard"]
    assert len(guard) == 1 and guard[0].payload["task"] == "guard_swap_1" and guard[0].payload["status"] == "ok"
    report = replay(entries, swarm.plugins)
    assert report.ok, report.reason
    assert any(c.kind == "liquidity_guard" and c.ok for c in report.checks)


def test_guard_refuses_a_trade_too_large_for_the_pool(swarm):
    usdc = swarm.chain.balance_of("USDC")
    nonce = swarm.w3.eth.get_transaction_count(swarm.wallet.address)
    result = swarm.run("swap 3 ETH to USDC")  # ~$9,000: within the risk policy, over 0.1% of the pool
    assert result.status == "refused", result.summary()
    assert result.tasks["guard_swap_1"]["status"] == "refused"
    assert "guard_swap_1 refused" in result.tasks["risk_1"]["reason"]
    assert result.tx_hashes == [] and swarm.chain.balance_of("USDC") == usdc  # nothing signed, nothing swapped
    anchors = 1 if result.anchor else 0  # the audit checkpoint's anchor is the only transaction
    assert swarm.w3.eth.get_transaction_count(swarm.wallet.address) == nonce + anchors
    entries = audit_entries(swarm, result.run_id)
    guard = [e for e in entries if e.kind == "liquidity_guard"]
    assert len(guard) == 1 and guard[0].payload["status"] == "refused"
    report = replay(entries, swarm.plugins)
    assert report.ok and any(c.kind == "liquidity_guard" for c in report.checks), report.reason


def test_guard_checks_amounts_known_only_at_run_time(swarm):
    usdc = swarm.chain.balance_of("USDC")
    dollars = swarm.run("swap $9000 of ETH to USDC")  # resolved at run time to ~3 ETH: over 0.1% of the pool
    assert dollars.status == "refused", dollars.summary()
    guard = dollars.tasks["guard_swap_1"]
    assert guard["status"] == "refused" and Decimal(guard["amount"]) == Decimal(dollars.tasks["amount"]["amount"])
    exact = swarm.run("buy exactly 9000 USDC with ETH")  # measured on the USDC side of the pool
    assert exact.status == "refused", exact.summary()
    assert exact.tasks["guard_swap_1"]["status"] == "refused" and exact.tasks["guard_swap_1"]["token"] == "USDC"
    assert dollars.tx_hashes == exact.tx_hashes == [] and swarm.chain.balance_of("USDC") == usdc
    small = swarm.run("buy exactly 300 USDC with ETH")  # ~$300: passes, and is bought
    assert small.status == "done", small.summary()
    assert small.tasks["guard_swap_1"]["status"] == "ok" and swarm.chain.balance_of("USDC") > usdc


def test_replay_catches_a_tampered_guard_decision(swarm):
    result = swarm.run("swap 0.2 ETH to USDC")
    entries = audit_entries(swarm, result.run_id)
    forged = [e.model_copy(update={"payload": {**e.payload, "status": "ok", "reserve": "1"}})
              if e.kind == "liquidity_guard" else e for e in entries]
    report = replay(forged, swarm.plugins)
    assert not report.ok and "liquidity_guard" in report.reason
