"""EVM price sources: the Chainlink-style feed `<SYM>/USD` and Uniswap V2 pool spot prices.

Pool prices are against each USD stablecoin (counted as $1; the feeds check that assumption).
The reading itself (median, spread, failed sources) is the core's `collect_reading`.

Families (see `defai_swarm.core.prices`): the feed is `oracle:chainlink`; every Uniswap V2 pool is
`dex:uniswap-v2`, however many there are: one trader can move them all, so the pools alone
never make a trade's price independent.
"""
from __future__ import annotations


from decimal import Decimal

from defai_swarm.core.errors import PriceUnavailable
from defai_swarm.core.prices import PriceReading, PriceSourceFn, collect_reading
from defai_swarm.tools.evm.config import FeedEntry
from defai_swarm.tools.evm.feeds import LATEST_ROUND_SIGNATURE, LATEST_ROUND_TYPES, checked_feed_price, not_a_feed
from defai_swarm.tools.evm.multicall import Batch, Read
from defai_swarm.tools.evm.tokens import Token, TokenRegistry
from defai_swarm.tools.evm.uniswap import NoRouteError, UniswapV2

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
        """Source name -> (family, read). Every source's contract read goes into one batched `eth_call` (feed
        round and pool reserves at one block); each source then checks its own answer, and fails alone."""
        token = self.registry.resolve(base)
        reads: list[Read] = []
        plan: list[tuple[str, str, object]] = []  # (name, family, what to do with its answer)
        if (feed := self.feeds.get(f"{base}/USD")) is not None:
            plan.append((f"feed:{base}/USD", FEED_FAMILY, ("feed", feed, len(reads))))
            reads.append(Read(feed.address, LATEST_ROUND_SIGNATURE, (), LATEST_ROUND_TYPES))
        for stable in USD_STABLES:
            if stable != base and stable in self.registry:
                stable_token = self.registry.resolve(stable)
                try:
                    pair, read = self.uniswap.reserves_read(token, stable_token)
                except Exception as exc:  # no pool, or the factory did not answer: this source fails alone
                    plan.append((f"pool:{base}/{stable}", POOL_FAMILY, ("error", exc)))
                    continue
                plan.append((f"pool:{base}/{stable}", POOL_FAMILY, ("pool", (stable_token, pair), len(reads))))
                reads.append(read)
        try:
            batch: Batch | Exception = self.uniswap.multicall.read(reads) if reads else Batch(0, 0, [])
        except Exception as exc:  # the node did not answer: every source fails with the reason
            batch = exc
        return {name: (family, self._source(token, batch, what)) for name, family, what in plan}

    def _source(self, token: Token, batch: "Batch | Exception", what) -> PriceSourceFn:
        def read() -> tuple[Decimal, int]:
            if what[0] == "error":
                raise what[1]
            if isinstance(batch, Exception):
                raise batch
            kind, subject, index = what
            answer = batch.answers[index]
            if kind == "feed":
                feed: FeedEntry = subject
                if not answer.ok or answer.value is None:
                    raise not_a_feed(feed, answer.error)
                p = checked_feed_price(feed, answer.value, batch.block_number, batch.timestamp,
                                       self.max_feed_age_seconds)
                return p.price, p.block_number
            stable, pair = subject
            r = self.uniswap.reserves_of(token, stable, pair, answer, batch.block_number)
            if r.reserve_a == 0:
                raise NoRouteError(f"{token.symbol}/{stable.symbol} pool is empty")
            return stable.from_base(r.reserve_b) / token.from_base(r.reserve_a), r.block_number
        return read

    def read(self, symbol: str, quote: str = "USD") -> PriceReading:
        if quote != "USD":
            raise PriceUnavailable(f"only USD quotes are supported, got {quote}")
        base = self._canonical(symbol)
        sources = self._sources(base)
        return collect_reading(base, quote, {name: read for name, (_, read) in sources.items()},
                               families={name: family for name, (family, _) in sources.items()})
