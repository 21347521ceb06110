"""Helpers of the integration tests (LangChain tools, MCP server): balances read straight from the node."""
from __future__ import annotations

from defai_swarm.tools.evm.tokens import TokenRegistry

_BALANCE_OF = [{"name": "balanceOf", "type": "function", "stateMutability": "view",
                "inputs": [{"name": "a", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]}]


def token_balance(w3, manifest, symbol: str, address: str) -> int:
    """An ERC-20 balance from the node itself (no adapter cache in between)."""
    token = TokenRegistry.from_manifest(manifest).resolve(symbol)
    return w3.eth.contract(address=token.address, abi=_BALANCE_OF).functions.balanceOf(address).call()
