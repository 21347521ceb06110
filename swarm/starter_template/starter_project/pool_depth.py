"""Tool: how deep a Uniswap V2 pool is, in USD, read from its reserves (a plain function of the chain adapter)."""
from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from defai_swarm.tools.evm.chain import EvmChain


class PoolDepth(BaseModel):
    pair: str
    reserve_a: Decimal  # the first token's reserve, in its own units
    price_a_usd: Decimal  # median USD price of the first token (several sources)
    depth_usd: Decimal  # value of both reserves: 2 * reserve_a * price_a_usd
    block_number: int


def pool_depth(chain: EvmChain, token_a: str, token_b: str) -> PoolDepth:
    """`chain`: `swarm.chain` outside a run, `deps.chain` inside a task plugin."""
    a, b = chain.token(token_a), chain.token(token_b)
    reserves = chain.uniswap.reserves(a, b)
    reserve_a = a.from_base(reserves.reserve_a)
    price_a = chain.read_price(a.symbol).median
    return PoolDepth(pair=f"{a.symbol}/{b.symbol}", reserve_a=reserve_a, price_a_usd=price_a,
                     depth_usd=2 * reserve_a * price_a, block_number=reserves.block_number)
