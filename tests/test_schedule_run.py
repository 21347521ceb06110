"""A scheduled intent ("every N blocks for K rounds") run on the devnet while blocks come in: each round trades
after its wait, the rounds are at least N blocks apart, and a stalled chain ends the wait as failed (the rounds
after it never run late)."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from defai_swarm.agents.risk import RiskPolicy
from defai_swarm.api import Swarm
from defai_swarm.tools.evm import erc20


@pytest.fixture
def block_producer(chain):
    """anvil mines only on transactions: a thread mines a block every 50 ms, as a chain's own block time would."""
    stop = threading.Event()

    def produce() -> None:
        while not stop.wait(0.05):
            chain.provider.make_request("evm_mine", [])

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=5)


def test_every_n_blocks_runs_each_round_after_its_wait(chain, devnet, wallet, tmp_path, block_producer):
    swarm = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path, anchor=False,
                  policy=RiskPolicy(daily_cap_usd=10_000))
    try:
        result = swarm.run("swap 0.01 ETH to USDC each round, every 3 blocks for 3 rounds")
    finally:
        swarm.close()
    assert result.status == "done", result.summary()
    waits = [t for t in result.tasks.values() if t.get("kind") == "wait_blocks" or "reached" in t]
    assert len(waits) == 2 and all(w["reached"] - w["start"] >= 3 for w in waits), waits
    blocks = [chain.eth.get_transaction_receipt(tx)["blockNumber"] for tx in result.tx_hashes]
    assert len(blocks) == 3 and all(b - a >= 3 for a, b in zip(blocks, blocks[1:], strict=False)), blocks


def test_a_stalled_chain_fails_the_wait_and_the_later_rounds_never_run(chain, devnet, wallet, tmp_path):
    from defai_swarm.taskgraph import WaitBlocksTask

    swarm = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path, anchor=False,
                  policy=RiskPolicy(daily_cap_usd=10_000))
    try:
        plan = swarm.plan("swap 0.01 ETH to USDC each round, every 3 blocks for 2 rounds")
        assert plan.ok and plan.task_graph is not None, plan.refusal_reason
        graph = plan.task_graph.model_copy(update={"tasks": tuple(
            t.model_copy(update={"timeout_s": 1.0}) if isinstance(t, WaitBlocksTask) else t
            for t in plan.task_graph.tasks)})
        before = chain.eth.get_transaction_count(wallet.address)
        result = swarm.execute(graph)  # no block producer: after round 1's swap the chain stands still
    finally:
        swarm.close()
    assert result.status != "done"
    assert len(result.tx_hashes) == 1 and chain.eth.get_transaction_count(wallet.address) == before + 1
    assert any("blocks passed in" in r for r in result.reasons) or any(
        "blocks passed in" in str(t.get("reason", "")) for t in result.tasks.values()), result.summary()


def test_a_dca_amount_is_spent_once_in_all_and_the_bare_repetition_is_refused(chain, devnet, wallet, tmp_path, registry,
                                                                             block_producer):
    """Issue 23: 'DCA 30 DAI into ETH every 2 blocks for 3 buys' spent 90 DAI (30 a round) where 'over 3 buys'
    spends 30.  The bare wording is now refused before anything is signed; 'in all' spends 30 DAI, once."""
    swarm = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path, anchor=False,
                  policy=RiskPolicy(daily_cap_usd=Decimal(10_000)))
    dai = registry.resolve("DAI")
    try:
        nonce = chain.eth.get_transaction_count(wallet.address)
        before = erc20.balance_of(chain, dai, wallet.address)
        refused = swarm.run("DCA 30 DAI into ETH every 2 blocks for 3 buys")
        assert refused.status == "refused" and refused.plan is not None, refused.summary()
        assert refused.plan.readings == ["30 DAI in all (10 DAI per round)", "30 DAI per round (90 DAI in all)"]
        assert chain.eth.get_transaction_count(wallet.address) == nonce  # nothing signed
        result = swarm.run("DCA 30 DAI into ETH in all, every 2 blocks for 3 buys")
    finally:
        swarm.close()
    assert result.status == "done", result.summary()
    swaps = [t for t in result.tasks.values() if "outcome" in t]
    assert len(swaps) == 3
    assert before - erc20.balance_of(chain, dai, wallet.address) == dai.to_base("30")


def test_a_schedule_tells_how_many_blocks_it_has_waited(chain, devnet, wallet, tmp_path, block_producer, caplog):
    """Issue 28: a schedule waiting for blocks was silent. Each wait reports `k of N blocks` through the run's
    progress hook (`Swarm(on_progress=...)`) as blocks arrive: in order, from 0, ending at N; the log has it too."""
    from defai_swarm.plugins import TaskProgress

    events: list[TaskProgress] = []
    swarm = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path, anchor=False,
                  policy=RiskPolicy(daily_cap_usd=10_000), on_progress=events.append)
    try:
        with caplog.at_level("INFO", logger="defai_swarm.plugins"):
            result = swarm.run("swap 0.01 ETH to USDC each round, every 3 blocks for 2 rounds")
    finally:
        swarm.close()
    assert result.status == "done", result.summary()
    waits = [tid for tid, t in result.tasks.items() if "reached" in t]
    assert waits and {e.task for e in events} == set(waits), (waits, events)
    for tid in waits:
        told = [e for e in events if e.task == tid]
        done = [e.done for e in told]
        assert done[0] == 0 and done[-1] == 3 and done == sorted(set(done)), done  # in order, each count once
        assert {(e.total, e.unit, e.run_id) for e in told} == {(3, "blocks", result.run_id)}
        assert told[-1].describe() == f"{tid}: 3 of 3 blocks"
        assert any(r.levelname == "INFO" and r.getMessage() == f"run {result.run_id}: {tid}: 3 of 3 blocks"
                   for r in caplog.records), [r.getMessage() for r in caplog.records]
