"""The node itself stops and comes back: a run ends in a clear state, and resuming it sends nothing twice."""
from __future__ import annotations

import pytest

from defai_swarm.api import Swarm
from tests.test_runtime import swap_graph
from defai_swarm.tools.devnet import Devnet
from defai_swarm.tools.devnet.node import AnvilNode, free_port
from defai_swarm.tools.evm.rpc import connect
from defai_swarm.tools.evm.tx import SignedTx
from defai_swarm.tools.evm.wallet import Wallet

pytestmark = pytest.mark.devnet  # each test starts an anvil of its own


@pytest.fixture
def own_devnet(tmp_path):
    """A devnet of this test's own (it gets killed), plus a way to restart it from a state dump."""
    devnet = Devnet.start(port=free_port(), manifest_path=tmp_path / "manifest.json")
    nodes = [devnet.node]

    def restart(state: str) -> None:
        node = AnvilNode(port=devnet.node.port).start()
        nodes.append(node)
        assert connect(node.url).provider.make_request("anvil_loadState", [state])["result"] is True

    yield devnet, restart
    for node in nodes:
        node.stop()


def test_node_stops_mid_run_then_restarts_and_the_run_resumes_once(own_devnet, tmp_path):
    devnet, restart = own_devnet
    w3 = connect(devnet.manifest.rpc_url)  # a stopped node refuses at once; a busy one gets the usual time
    wallet = Wallet.devnet(1)
    state = {}

    def on_task(task_id: str, result: dict) -> None:
        if task_id == "risk_1":  # approved; the node dies before the swap step runs
            state["dump"] = w3.provider.make_request("anvil_dumpState", [])["result"]
            devnet.node.stop()

    swarm = Swarm(w3=w3, manifest=devnet.manifest, wallet=wallet, home=tmp_path, anchor=False, on_task=on_task)
    try:
        failed = swarm.execute(swap_graph("ETH", "USDC", "1"))
        assert failed.status == "failed" and "RPC unavailable" in failed.reasons[0], failed.summary()
        assert failed.tasks["risk_1"]["status"] == "approved" and "swap_1" not in failed.tasks
        restart(state["dump"])
        n = w3.eth.get_transaction_count(wallet.address)
        resumed = swarm.resume(failed.run_id)
    finally:
        swarm.close()
    assert resumed.status == "done", resumed.summary()
    assert w3.eth.get_transaction_count(wallet.address) == n + 1


def test_node_loses_a_mined_swap_and_resume_rebroadcasts_the_same_bytes(own_devnet, tmp_path):
    """A restart from an older state (like a reorg) drops the mined swap; resume re-sends the recorded
    signed transaction, so the same hash lands once, never a second signed swap."""
    devnet, restart = own_devnet
    w3 = connect(devnet.manifest.rpc_url)  # a stopped node refuses at once; a busy one gets the usual time
    wallet = Wallet.devnet(1)
    before = w3.provider.make_request("anvil_dumpState", [])["result"]
    n = w3.eth.get_transaction_count(wallet.address)
    swarm = Swarm(w3=w3, manifest=devnet.manifest, wallet=wallet, home=tmp_path, anchor=False)
    try:
        done = swarm.execute(swap_graph("ETH", "USDC", "1"))
        assert done.status == "done"
        devnet.node.stop()
        restart(before)
        assert w3.eth.get_transaction_count(wallet.address) == n  # the swap is gone from the chain
        signed = swarm.store.signed_for(done.run_id, "swap_1:swap", SignedTx)
        swarm.sender.rebroadcast_if_missing(signed)
        receipt = swarm.sender.wait(signed)
    finally:
        swarm.close()
    assert receipt.hash == done.tx_hashes[0] and receipt.status == 1
    assert w3.eth.get_transaction_count(wallet.address) == n + 1
