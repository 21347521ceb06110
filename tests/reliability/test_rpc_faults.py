"""RPC faults between the swarm and anvil: reads recover, sends are never blindly repeated."""
from __future__ import annotations

import pytest

from defai_swarm.agents.risk import RiskPolicy
from defai_swarm.api import Swarm
from tests.test_runtime import swap_graph
from defai_swarm.tools.devnet.fault_proxy import FaultProxy
from defai_swarm.tools.evm import erc20
from defai_swarm.tools.evm.errors import RpcUnavailableError
from defai_swarm.tools.evm.rpc import connect
from defai_swarm.tools.evm.tx import TxSender


@pytest.fixture
def proxy(chain, devnet):
    with FaultProxy(devnet.manifest.rpc_url) as p:
        yield p


@pytest.fixture
def flaky(proxy):
    return connect(proxy.url, timeout=5)


@pytest.mark.parametrize("mode", ["drop", "rate_limit", "rpc_error", "delay"])
def test_reads_recover_from_transient_faults(proxy, flaky, registry, wallet, mode):
    usdc = registry.resolve("USDC")
    proxy.inject(mode, {"eth_call"}, times=3, delay_seconds=0.2)
    assert erc20.balance_of(flaky, usdc, wallet.address) > 0
    assert proxy.stats.injected[mode] == (1 if mode == "delay" else 3)  # a delay is not an error: no retry needed


def test_reads_give_up_with_a_clear_error(proxy, flaky, registry, wallet):
    proxy.inject("drop", {"eth_call"}, times=-1)
    with pytest.raises(RpcUnavailableError, match="RPC unavailable after 5 attempts"):
        erc20.balance_of(flaky, registry.resolve("USDC"), wallet.address)


def test_lost_send_response_is_resolved_by_hash_not_resent(proxy, flaky, chain, registry, uniswap, wallet):
    eth, usdc = registry.resolve("ETH"), registry.resolve("USDC")
    n = chain.eth.get_transaction_count(wallet.address)
    sender = TxSender(flaky, wallet)
    quote = uniswap.quote(eth, usdc, eth.to_base("1"))
    deadline = chain.eth.get_block("latest")["timestamp"] + 300
    proxy.inject("lose_response", {"eth_sendRawTransaction"})
    receipt = sender.send_and_wait(uniswap.swap_tx(quote, quote.amount_out, wallet.address, deadline))
    assert receipt.status == 1
    assert chain.eth.get_transaction_count(wallet.address) == n + 1
    assert proxy.stats.forwarded["eth_sendRawTransaction"] >= 1


def test_swarm_run_through_a_flaky_rpc_completes_once(proxy, flaky, devnet, wallet, chain, tmp_path):
    # (eth_blockNumber is no longer asked for: batched reads return their block's number with the answers)
    for method in ("eth_call", "eth_getBlockByNumber", "eth_estimateGas", "eth_getTransactionCount"):
        proxy.inject("drop", {method}, times=2)
        proxy.inject("rpc_error", {method}, times=1)
    proxy.inject("lose_response", {"eth_sendRawTransaction"}, times=1)
    n = chain.eth.get_transaction_count(wallet.address)
    swarm = Swarm(w3=flaky, manifest=devnet.manifest, wallet=wallet, home=tmp_path, anchor=False)
    try:
        result = swarm.execute(swap_graph("ETH", "USDC", "1"))
    finally:
        swarm.close()
    assert result.status == "done", result.summary()
    assert chain.eth.get_transaction_count(wallet.address) == n + 1
    assert sum(proxy.stats.injected.values()) >= 13


def test_node_down_mid_run_fails_clearly_then_resumes_without_resending(proxy, flaky, devnet, wallet, chain, tmp_path):
    """The node disappears right after the swap is broadcast; the run fails with a reason and resumes later."""
    n = chain.eth.get_transaction_count(wallet.address)
    proxy.inject("lose_response", {"eth_sendRawTransaction"}, times=1)
    proxy.inject("drop", {"eth_getTransactionByHash", "eth_getTransactionReceipt", "eth_sendRawTransaction"}, times=-1)
    swarm = Swarm(w3=flaky, manifest=devnet.manifest, wallet=wallet, home=tmp_path, anchor=False,
                  policy=RiskPolicy())
    try:
        failed = swarm.execute(swap_graph("ETH", "USDC", "1"))
        assert failed.status == "failed"
        assert "resume" in failed.reasons[0] and len(failed.tx_hashes) == 1
        proxy.clear()  # the node is back
        resumed = swarm.resume(failed.run_id)
    finally:
        swarm.close()
    assert resumed.status == "done", resumed.summary()
    assert resumed.tx_hashes == failed.tx_hashes
    assert chain.eth.get_transaction_count(wallet.address) == n + 1
