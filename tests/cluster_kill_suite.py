"""Run by tests/test_cluster_kills.py in a pytest process of its own (or by hand: `python -m pytest
tests/cluster_kill_suite.py`, under a minute).

A wallet actor's process is SIGKILLed at each step boundary of a run (the library's named fault points, once per
test): Ray restarts the actor and retries the call, and the intent still ends with one trade, one nonce and one
reservation, whether it was planned anew (killed before the run was stored) or resumed from PostgreSQL.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from tests.cluster_helpers import INTENT, make_pool, outbox_rows, unreleased_reservations
from tools.evm.wallet import Wallet

ray = pytest.importorskip("ray", reason="the test extra installs ray")
pytest_plugins = ["tests.pg_fixtures", "tests.cluster_helpers"]


KILL_POINTS = ["after_intent", "after_plan", "after_task:risk_1", "after_sign:swap_1:swap",
               "after_send:swap_1:swap", "after_receipt:swap_1:swap"]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_actor_killed_mid_run_is_restarted_and_the_run_finishes_once(cluster, devnet, chain, pg_url, tmp_path,
                                                                     kill_at):
    """The wallet actor's process dies at a step boundary of a run; Ray restarts it and retries the call: the
    intent ends with exactly one trade, one nonce and one $20 reservation, whatever the boundary."""
    address = Wallet.devnet(9).address
    before = chain.eth.get_transaction_count(address)
    marker = tmp_path / "killed-once"
    pool = make_pool(devnet, pg_url, tmp_path, f"kill-{KILL_POINTS.index(kill_at)}", daily_cap_usd="1000")
    pool.wallet("e", "devnet:9", env={"SWARM_FAULT_KILL_AT": kill_at, "SWARM_FAULT_KILL_ONCE": str(marker)})
    first_pid = pool.info("e")["pid"]
    result = ray.get(pool.submit("e", INTENT, run_id="killed-run"), timeout=180)
    assert marker.exists()  # the fault fired: the first incarnation died there
    assert pool.info("e")["pid"] != first_pid
    assert result["status"] == "done", result["reasons"]
    # planned anew under a fresh id when killed before the run was stored, else resumed under its own
    assert result["via"] == ("run" if kill_at == "after_intent" else "resume"), result
    rows = outbox_rows(pg_url, address)
    assert [(r[0], r[3]) for r in rows] == [(result["run_id"], before)]  # one transaction, the next nonce
    assert result["tx_hashes"] == [rows[0][2]]
    assert chain.eth.get_transaction_receipt(rows[0][2])["status"] == 1
    assert chain.eth.get_transaction_count(address) == before + 1
    held = unreleased_reservations(pg_url, address)
    assert [(r[0], r[1]) for r in held] == [(result["run_id"], "swap_1")], held  # no reservation left behind
    assert Decimal("19") < held[0][2] < Decimal("21")
    pool.stop_wallet("e")
