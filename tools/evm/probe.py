"""Honeypot probe: simulate buying a little of a token and selling it straight back.

Runs as one `eth_simulateV1` bundle (state carries across the calls), so
nothing is signed or sent. A token that can be bought but not sold fails here.
"""
from __future__ import annotations

from web3 import Web3
from web3.types import RPCEndpoint

from defai_swarm.tools.evm import erc20
from defai_swarm.tools.evm.tokens import Token
from defai_swarm.tools.evm.tx import next_block_time
from defai_swarm.tools.evm.uniswap import UniswapV2

PROBE_WEI = 10**15  # 0.001 ETH


def sell_back_probe(uniswap: UniswapV2, wallet: str, token: Token) -> tuple[bool, str]:
    """(passed, detail). Native and wrapped-native tokens need no probe."""
    if token.kind in ("native", "wrapped_native"):
        return True, f"{token.symbol} is the chain's own coin"
    w3, registry = uniswap.w3, uniswap.registry
    eth = registry.resolve("ETH")
    buy_quote = uniswap.quote(eth, token, PROBE_WEI)
    at = next_block_time(w3)  # simulated when, and with the deadline, a real swap would be mined
    deadline = at + 300
    bought = buy_quote.amount_out
    sell_quote = buy_quote.model_copy(update={"token_in": token.symbol, "token_out": eth.symbol, "amount_in": bought,
                                              "path": list(reversed(buy_quote.path))})
    txs = [uniswap.swap_tx(buy_quote, 1, wallet, deadline),
           erc20.approve_tx(w3, token, uniswap.router_address, bought),
           uniswap.swap_tx(sell_quote, 1, wallet, deadline)]
    calls = [{"from": Web3.to_checksum_address(wallet), "to": t.to, "data": t.data, "value": hex(t.value)} for t in txs]
    response = w3.provider.make_request(RPCEndpoint("eth_simulateV1"), [
        {"blockStateCalls": [{"blockOverrides": {"time": hex(at)}, "calls": calls}]}, "latest"])
    if "error" in response:
        return False, f"node cannot simulate a buy-and-sell bundle ({response['error'].get('message')}); refusing untested token"
    # web3 types every RPCResponse field as optional; per JSON-RPC a response without an error carries a result
    results = response["result"][0]["calls"]  # pyright: ignore[reportTypedDictNotRequiredAccess]
    steps = ("buy", "approve", "sell")
    if len(results) != len(steps):  # a node that simulated less than the bundle has not tested the sell-back
        return False, f"node simulated {len(results)} of {len(steps)} calls; refusing untested token"
    for step, result in zip(steps, results, strict=True):
        if int(result["status"], 16) != 1:
            return False, f"simulated {step} of {token.symbol} reverted: honeypot or transfer-restricted token"
    return True, f"simulated buy and sell-back of {token.symbol} both succeed"
