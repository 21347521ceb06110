"""EVM price sources: the Chainlink-style feed `<SYM>/USD` and Uniswap V2 pool spot prices.

Pool prices are against each USD stablecoin (counted as $1; the feeds check that assumption).
The reading itself (median, spread, failed sources) is the core's `collect_reading`.

Families (see `swarm.core.prices`): the feed is `oracle:chainlink`; every Uniswap V2 pool is
`dex:uniswap-v2`, however many there are: one trader can move them all, so the pools alone
never make a trade's price independent.
"""
from __future__ import annotations


from swarm.core.errors import PriceUnavailable
from swarm.core.prices import PriceReading, PriceSourceFn, collect_reading
from tools.evm.config import FeedEntry
from tools.evm.feeds import read_feed
from tools.evm.tokens import TokenRegistry
from tools.evm.uniswap import UniswapV2

USD_STABLES = ("USDC", "DAI")
FEED_FAMILY = "oracle:chainlink"
POOL_FAMILY = "dex:uniswap-v2"


class PriceReader:
    def __init__(self, registry: TokenRegistry, uniswap: UniswapV2, feeds: dict[str, FeedEntry],
                 max_feed_age_seconds: int = 3600):
        self.registry, self.uniswap, self.feeds = registry, uniswap, feeds
        self.max_feed_age_seconds = max_feed_age_seconds

    def _canonical(self, symbol: str) -> str:
        token = self.registry.resolve(symbol)
        return "ETH" if token.kind in ("native", "wrapped_native") else token.symbol

    def _sources(self, base: str) -> dict[str, tuple[str, PriceSourceFn]]:
        """Source name -> (family, read)."""
        sources: dict[str, tuple[str, PriceSourceFn]] = {}
        if (feed := self.feeds.get(f"{base}/USD")) is not None:
            sources[f"feed:{base}/USD"] = (FEED_FAMILY, lambda: (lambda p: (p.price, p.block_number))(
                read_feed(self.uniswap.w3, feed, self.max_feed_age_seconds)))
        token = self.registry.resolve(base)
        for stable in USD_STABLES:
            if stable != base and stable in self.registry:
                stable_token = self.registry.resolve(stable)
                sources[f"pool:{base}/{stable}"] = (POOL_FAMILY,
                                                    lambda s=stable_token: self.uniswap.spot_price(token, s))
        return sources

    def read(self, symbol: str, quote: str = "USD") -> PriceReading:
        if quote != "USD":
            raise PriceUnavailable(f"only USD quotes are supported, got {quote}")
        base = self._canonical(symbol)
        sources = self._sources(base)
        return collect_reading(base, quote, {name: read for name, (_, read) in sources.items()},
                               families={name: family for name, (family, _) in sources.items()})
