"""Run by tests/test_cluster_kills.py in a pytest process of its own (or by hand: `python -m pytest
tests/cluster_kill_suite.py`, under a minute).

A wallet actor's process is SIGKILLed at each step boundary of a run (the library's named fault points, once per
test): Ray restarts the actor and retries the call, and the intent still ends with one trade, one nonce and one
reservation, whether it was planned anew (killed before the run was stored) or resumed from PostgreSQL.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.cluster_helpers import INTENT, make_pool, outbox_rows, unreleased_reservations
from defai_swarm.tools.evm.wallet import Wallet

ray = pytest.importorskip("ray", reason="the test extra installs ray")
pytest_plugins = ["tests.pg_fixtures", "tests.cluster_helpers"]


KILL_POINTS = ["after_intent", "after_plan", "after_task:risk_1", "after_sign:swap_1:swap",
               "after_send:swap_1:swap", "after_receipt:swap_1:swap",
               # killed while planning, then again after the retry's reservation: one stored attempt, resumed
               "after_intent,after_task:risk_1"]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_actor_killed_mid_run_is_restarted_and_the_run_finishes_once(cluster, devnet, chain, pg_url, tmp_path,
                                                                     kill_at):
    """The wallet actor's process dies at a step boundary of a run; Ray restarts it and retries the call: the
    intent ends with exactly one trade, one nonce and one $20 reservation, whatever the boundary."""
    from defai_swarm.core.faults import once_marker

    points = kill_at.split(",")
    address = Wallet.devnet(9).address
    before = chain.eth.get_transaction_count(address)
    marker = tmp_path / "killed-once"
    pool = make_pool(devnet, pg_url, tmp_path, f"kill-{KILL_POINTS.index(kill_at)}", daily_cap_usd="1000")
    pool.wallet("e", "devnet:9", env={"SWARM_FAULT_KILL_AT": kill_at, "SWARM_FAULT_KILL_ONCE": str(marker),
                                      # each test's fresh database keeps the wallet's day: its own machine ledger
                                      "SWARM_LEDGER": str(tmp_path / "machine-ledger.sqlite")})
    first_pid = pool.info("e")["pid"]
    result = ray.get(pool.submit("e", INTENT, run_id="killed-run"), timeout=900)  # a hang guard under load, not a speed check
    assert all(Path(once_marker(str(marker), p)).exists() for p in points)  # every fault fired: an incarnation died
    assert pool.info("e")["pid"] != first_pid
    assert result["status"] == "done", result["reasons"]
    # killed before the run was stored: planned anew under the next id; else resumed under its own
    assert result["run_id"] == ("killed-run.retry1" if points[0] == "after_intent" else "killed-run"), result
    assert result["via"] == ("run" if points == ["after_intent"] else "resume"), result
    rows = outbox_rows(pg_url, address)
    assert [(r[0], r[3]) for r in rows] == [(result["run_id"], before)]  # one transaction, the next nonce
    assert result["tx_hashes"] == [rows[0][2]]
    assert chain.eth.get_transaction_receipt(rows[0][2])["status"] == 1
    assert chain.eth.get_transaction_count(address) == before + 1
    held = unreleased_reservations(pg_url, address)
    assert [(r[0], r[1]) for r in held] == [(result["run_id"], "swap_1")], held  # no reservation left behind
    assert Decimal("19") < held[0][2] < Decimal("21")
    pool.stop_wallet("e")
