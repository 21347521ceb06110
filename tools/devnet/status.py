"""What `swarm devnet status` shows: pools with reserves and prices, and feed prices."""
from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from defai_swarm.tools.devnet.manifest import DevnetManifest
from defai_swarm.tools.evm.feeds import read_feed
from defai_swarm.tools.evm.rpc import connect
from defai_swarm.tools.evm.tokens import TokenRegistry
from defai_swarm.tools.evm.uniswap import UniswapV2


class PoolStatus(BaseModel):
    pair: str
    address: str
    reserves: tuple[Decimal, Decimal]
    price: Decimal  # symbols[1] per symbols[0]


class DevnetStatus(BaseModel):
    rpc_url: str
    chain_id: int
    block_number: int
    pools: list[PoolStatus]
    feeds: dict[str, Decimal]


def devnet_status(manifest: DevnetManifest) -> DevnetStatus:
    w3 = connect(manifest.rpc_url)
    registry = TokenRegistry.from_manifest(manifest)
    uni = UniswapV2.from_manifest(w3, manifest, registry)
    pools = []
    for p in manifest.pairs:
        a, b = registry.resolve(p.symbols[0]), registry.resolve(p.symbols[1])
        r = uni.reserves(a, b)
        ra, rb = a.from_base(r.reserve_a), b.from_base(r.reserve_b)
        pools.append(PoolStatus(pair=f"{a.symbol}/{b.symbol}", address=p.address, reserves=(ra, rb), price=rb / ra))
    feeds = {name: read_feed(w3, f, max_age_seconds=10**9).price for name, f in manifest.feeds.items()}
    return DevnetStatus(rpc_url=manifest.rpc_url, chain_id=manifest.chain_id, block_number=w3.eth.block_number,
                        pools=pools, feeds=feeds)
