"""Batched reads through Multicall3's aggregate3 (our Vyper contract at the canonical address on the devnet)."""
from __future__ import annotations

import collections
import json

import requests
from web3 import Web3

from defai_swarm.tools.evm import erc20
from defai_swarm.tools.evm.chain import EvmChain
from defai_swarm.tools.evm.multicall import MULTICALL3_ADDRESS, Multicall, Read
from defai_swarm.tools.evm.rpc import connect
from defai_swarm.tools.evm.uniswap import UniswapV2


class CountingSession(requests.Session):
    """Counts JSON-RPC methods as they leave for the node (the transport)."""

    def __init__(self):
        super().__init__()
        self.trust_env = False
        self.methods: collections.Counter[str] = collections.Counter()

    def post(self, url, data=None, **kw):  # type: ignore[override]
        body = json.loads(data or b"{}")
        for call in body if isinstance(body, list) else [body]:
            self.methods[call["method"]] += 1
        return super().post(url, data=data, **kw)


def test_canonical_address_answers_like_multicall3(chain):
    code = chain.eth.get_code(Web3.to_checksum_address(MULTICALL3_ADDRESS))
    assert len(code) > 0
    mc = Multicall(chain)
    batch = mc.read([Read(MULTICALL3_ADDRESS, "getChainId()"), Read(MULTICALL3_ADDRESS, "getBasefee()")])
    assert batch.answers[0].get() == (31337,)
    assert batch.block_number == chain.eth.block_number
    assert batch.timestamp == chain.eth.get_block("latest")["timestamp"]


def test_a_failed_read_fails_alone_and_the_fallback_gives_the_same_answers(chain, registry, wallet):
    usdc = registry.resolve("USDC")
    reads = [Read(usdc.address, "balanceOf(address)", (wallet.address,)),
             Read(usdc.address, "noSuchFunction()"),  # reverts (no fallback function)
             Read("0x" + "11" * 20, "balanceOf(address)", (wallet.address,)),  # no contract: answers nothing
             Multicall(chain).eth_balance(wallet.address)]
    batched = Multicall(chain).read(reads)
    assert [a.ok for a in batched.answers] == [True, False, False, True]
    assert batched.answers[0].get() == (erc20.balance_of(chain, usdc, wallet.address),)
    assert batched.answers[3].get() == (chain.eth.get_balance(wallet.address),)
    assert "reverted" in batched.answers[1].error and "nothing" in batched.answers[2].error
    nowhere = Multicall(chain, address="0x" + "22" * 20)  # a chain without Multicall3: one eth_call each
    assert not nowhere.available()
    single = nowhere.read(reads[:3] + [nowhere.eth_balance(wallet.address)])
    assert [a.ok for a in single.answers] == [True, False, False, True]
    assert [a.value for a in single.answers] == [a.value for a in batched.answers]
    assert single.block_number == batched.block_number


def test_a_quote_is_one_request_and_the_chain_id_is_asked_once(devnet, chain, registry):
    session = CountingSession()
    w3 = connect(devnet.manifest.rpc_url, session=session)
    uniswap = UniswapV2.from_manifest(w3, devnet.manifest, registry)
    eth, usdc = registry.resolve("ETH"), registry.resolve("USDC")
    uniswap.quote(eth, usdc, 10**18)  # first: the multicall's code and the pair are looked up once
    session.methods.clear()
    q = uniswap.quote(eth, usdc, 10**18)
    assert dict(session.methods) == {"eth_call": 1}
    assert q.block_number == chain.eth.block_number and q.block_timestamp is not None
    assert w3.eth.chain_id == 31337
    asked = session.methods["eth_chainId"]  # web3 asks once more, uncached, to pick its cache policy
    for _ in range(3):
        assert w3.eth.chain_id == 31337
    assert session.methods["eth_chainId"] == asked <= 2


def test_balances_are_one_batched_read_equal_to_single_reads(devnet, chain, wallet):
    session = CountingSession()
    adapter = EvmChain(devnet.manifest, wallet, w3=connect(devnet.manifest.rpc_url, session=session))
    adapter.uniswap.multicall.available()  # looked up once per connection
    session.methods.clear()
    balances = adapter.balances()
    assert dict(session.methods) == {"eth_call": 1}
    for symbol, amount in balances.items():
        assert amount == erc20.balance_of(chain, adapter.token(symbol), wallet.address), symbol
    session.methods.clear()
    assert [adapter.balance_of(s) for s in balances] == list(balances.values())
    assert sum(session.methods.values()) <= 1  # planning's one-by-one asks share one read
