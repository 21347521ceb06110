"""Price reader: one token's USD price from several independent sources, with their disagreement.

Sources: the Chainlink-style feed `<SYM>/USD`, and Uniswap V2 pool spot prices
against each USD stablecoin (counted as $1; the feeds check that assumption).
"""
from __future__ import annotations

import statistics
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Callable

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


def median_and_spread(prices: list[Decimal]) -> tuple[Decimal, int]:
    """Median (written plainly: 3000, not 3E+3) and the max-min spread in bps of the median.

    The one definition the readers and the audit replay share.
    """
    median = Decimal(format(Decimal(statistics.median(prices)), "f"))
    spread = int((max(prices) - min(prices)) / median * 10_000) if median > 0 else 10**9
    return median, spread


def collect_reading(base: str, quote: str, sources: dict[str, Callable[[], tuple[Decimal, int]]],
                    unavailable: type[Exception] = PriceUnavailable) -> PriceReading:
    """Ask every source at once; a failed source is reported and the rest still count. None answering: refuse."""
    readings, failed = [], {}
    with ThreadPoolExecutor(max_workers=max(1, len(sources))) as pool:
        futures = {name: pool.submit(fn) for name, fn in sources.items()}
        for name, fut in futures.items():
            try:
                price, block = fut.result()
                readings.append(PriceSource(name=name, price=price, block_number=block))
            except Exception as exc:  # reported in failed_sources; the risk checker counts the sources left
                failed[name] = str(exc)
    if not readings:
        raise unavailable(f"no price source for {base}/{quote} answered: {failed or 'no sources configured'}")
    median, spread = median_and_spread([r.price for r in readings])
    return PriceReading(base=base, quote=quote, sources=readings, failed_sources=failed, median=median,
                        max_deviation_bps=spread)


class PriceReader:
    def __init__(self, registry: TokenRegistry, uniswap: UniswapV2, feeds: dict[str, FeedEntry],
                 max_feed_age_seconds: int = 3600):
        self.registry, self.uniswap, self.feeds = registry, uniswap, feeds
        self.max_feed_age_seconds = max_feed_age_seconds

    def _canonical(self, symbol: str) -> str:
        token = self.registry.resolve(symbol)
        return "ETH" if token.kind in ("native", "wrapped_native") else token.symbol

    def _sources(self, base: str) -> dict[str, Callable[[], tuple[Decimal, int]]]:
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
        return collect_reading(base, quote, self._sources(base))
