"""Issue 12, findings 11, 15 and 17: a run id names one execution; a huge intent is refused before it is
stored; resuming a finished run signs and anchors nothing new."""
from __future__ import annotations

import pytest

from defai_swarm.api import Swarm
from defai_swarm.audit import AuditLog
from defai_swarm.core.errors import Refused
from tests.test_runtime import swap_graph


@pytest.fixture
def swarm(chain, devnet, wallet, tmp_path):
    s = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path)  # anchoring on: the real path
    yield s
    s.close()


def entries(tmp_path, run_id):
    with AuditLog(tmp_path / "audit" / "audit.db") as log:
        return log.entries(run_id), log.checkpoints(run_id)


def test_existing_run_id_is_refused_and_the_run_untouched(swarm, tmp_path, chain, wallet):
    refused = swarm.run("swap 50 ETH to USDC", run_id="r1")  # refused by the policy, sealed
    assert refused.status == "refused"
    before, checkpoints = entries(tmp_path, "r1")
    n = chain.eth.get_transaction_count(wallet.address)
    with pytest.raises(Refused, match="already exists"):
        swarm.run("swap 0.1 ETH to USDC", run_id="r1")
    with pytest.raises(Refused, match="already exists"):
        swarm.execute(swap_graph("ETH", "USDC", "0.1"), run_id="r1")
    after, checkpoints_after = entries(tmp_path, "r1")
    assert [e.index for e in after] == [e.index for e in before] and len(checkpoints_after) == len(checkpoints)
    assert chain.eth.get_transaction_count(wallet.address) == n


def test_huge_intent_is_refused_before_it_is_stored(swarm, tmp_path):
    text = "swap 1 ETH to USDC " + "x" * 1_000_000
    result = swarm.run(text)
    assert result.status == "refused" and "limit is 500" in result.reasons[0]
    logged, _ = entries(tmp_path, result.run_id)
    intent = next(e for e in logged if e.kind == "intent")
    assert len(intent.payload["text"]) <= 500 and intent.payload["length"] == len(text)
    assert intent.payload["truncated"] is True and len(intent.payload["sha256"]) == 64
    assert sum(len(str(e.payload)) for e in logged) < 20_000


def test_resuming_a_finished_run_signs_and_anchors_nothing_new(swarm, tmp_path, chain, wallet):
    done = swarm.execute(swap_graph("ETH", "USDC", "0.1"))
    assert done.status == "done" and done.anchor is not None
    logged, checkpoints = entries(tmp_path, done.run_id)
    n = chain.eth.get_transaction_count(wallet.address)
    for _ in range(2):
        again = swarm.resume(done.run_id)
        assert again.status == "done" and again.tx_hashes == done.tx_hashes
        assert again.anchor == done.anchor
    logged_after, checkpoints_after = entries(tmp_path, done.run_id)
    assert len(logged_after) == len(logged) and len(checkpoints_after) == len(checkpoints)
    assert chain.eth.get_transaction_count(wallet.address) == n
