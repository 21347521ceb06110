"""Price reader: one token's USD price from several independent sources, with their disagreement.

Sources: the Chainlink-style feed `<SYM>/USD`, and Uniswap V2 pool spot prices
against each USD stablecoin (counted as $1; the feeds check that assumption).
"""
from __future__ import annotations

import statistics
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from pydantic import BaseModel

from tools.devnet.manifest import FeedEntry
from tools.evm.errors import EvmToolError
from tools.evm.feeds import read_feed
from tools.evm.tokens import TokenRegistry
from tools.evm.uniswap import UniswapV2

USD_STABLES = ("USDC", "DAI")


class PriceSource(BaseModel):
    name: str
    price: Decimal
    block_number: int


class PriceReading(BaseModel):
    base: str
    quote: str = "USD"
    sources: list[PriceSource]
    failed_sources: dict[str, str] = {}
    median: Decimal
    max_deviation_bps: int


class PriceUnavailable(EvmToolError):
    """No source could price the token: refuse, never guess."""


def deviation_bps(prices: list[Decimal], median: Decimal) -> int:
    return int((max(prices) - min(prices)) / median * 10_000) if median > 0 else 10**9


class PriceReader:
    def __init__(self, registry: TokenRegistry, uniswap: UniswapV2, feeds: dict[str, FeedEntry],
                 max_feed_age_seconds: int = 3600):
        self.registry, self.uniswap, self.feeds = registry, uniswap, feeds
        self.max_feed_age_seconds = max_feed_age_seconds

    def _canonical(self, symbol: str) -> str:
        token = self.registry.resolve(symbol)
        return "ETH" if token.kind in ("native", "wrapped_native") else token.symbol

    def _sources(self, base: str) -> dict[str, callable]:
        sources = {}
        if (feed := self.feeds.get(f"{base}/USD")) is not None:
            sources[f"feed:{base}/USD"] = lambda: (lambda p: (p.price, p.block_number))(
                read_feed(self.uniswap.w3, feed, self.max_feed_age_seconds))
        token = self.registry.resolve(base)
        for stable in USD_STABLES:
            if stable != base and stable in self.registry:
                stable_token = self.registry.resolve(stable)
                sources[f"pool:{base}/{stable}"] = (lambda s=stable_token: self.uniswap.spot_price(token, s))
        return sources

    def read(self, symbol: str, quote: str = "USD") -> PriceReading:
        if quote != "USD":
            raise PriceUnavailable(f"only USD quotes are supported, got {quote}")
        base = self._canonical(symbol)
        sources = self._sources(base)
        readings, failed = [], {}
        with ThreadPoolExecutor(max_workers=max(1, len(sources))) as pool:
            futures = {name: pool.submit(fn) for name, fn in sources.items()}
            for name, fut in futures.items():
                try:
                    price, block = fut.result()
                    readings.append(PriceSource(name=name, price=price, block_number=block))
                except Exception as exc:  # a failed source is reported, and the rest still count
                    failed[name] = str(exc)
        if not readings:
            raise PriceUnavailable(f"no price source for {base}/USD answered: {failed or 'no sources configured'}")
        prices = [r.price for r in readings]
        median = Decimal(statistics.median(prices))
        return PriceReading(base=base, quote=quote, sources=readings, failed_sources=failed, median=median,
                            max_deviation_bps=deviation_bps(prices, median))
