"""Solana price reader: one token's USD price from Pyth (price accounts, Hermes) and Jupiter quotes.

Same output as the EVM reader (defai_swarm.core.prices.PriceReading): every
source that answered, the ones that failed and why, the median and the spread.
Jupiter quotes against USD stablecoins count those as $1; Pyth checks that.

Families (see `defai_swarm.core.prices`): a Pyth price account and Hermes are one family,
`oracle:pyth` (the same publisher network, two delivery paths); Jupiter quotes are
`dex:jupiter`. A token priced by Pyth alone is not independently priced.
"""
from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Callable

from solders.pubkey import Pubkey

from defai_swarm.core.prices import PriceReading, collect_reading
from defai_swarm.tools.solana.config import PythFeed  # defined beside the configuration that names the feeds
from defai_swarm.tools.solana.errors import PriceUnavailable
from defai_swarm.tools.solana.jupiter import JupiterClient
from defai_swarm.tools.solana.pyth import TRUSTED_OWNERS, HermesClient, checked, parse_price_account
from defai_swarm.tools.solana.tokens import SolanaTokenRegistry

if TYPE_CHECKING:
    from defai_swarm.tools.solana.rpc import SolanaRpc

USD_STABLES = ("USDC", "USDT")
PYTH_FAMILY = "oracle:pyth"
JUPITER_FAMILY = "dex:jupiter"


class SolanaPriceReader:
    def __init__(self, rpc: SolanaRpc, registry: SolanaTokenRegistry, feeds: dict[str, PythFeed],
                 jupiter: JupiterClient | None = None, hermes: HermesClient | None = None,
                 max_age_seconds: int = 60, max_conf_bps: int = 100,
                 trusted_owners: frozenset[Pubkey] = TRUSTED_OWNERS, now: Callable[[], float] = time.time):
        self.rpc, self.registry, self.feeds, self.jupiter, self.hermes = rpc, registry, feeds, jupiter, hermes
        self.max_age_seconds, self.max_conf_bps = max_age_seconds, max_conf_bps
        self.trusted_owners, self.now = trusted_owners, now

    def _pyth_account(self, account: str, feed_id: str | None) -> tuple[Decimal, int]:
        acc = self.rpc.account(Pubkey.from_string(account))
        if acc is None:
            raise PriceUnavailable(f"price account {account} does not exist")
        p = checked(parse_price_account(acc.owner, acc.data, self.trusted_owners), self.max_age_seconds,
                    self.max_conf_bps, feed_id, self.now())
        return p.price, p.slot

    def _pyth_hermes(self, hermes: HermesClient, feed_id: str) -> tuple[Decimal, int]:
        p = checked(hermes.latest(feed_id), self.max_age_seconds, self.max_conf_bps, feed_id, self.now())
        return p.price, p.slot

    def _jupiter(self, jupiter: JupiterClient, symbol: str, stable: str) -> tuple[Decimal, int]:
        base, quote = self.registry.resolve(symbol), self.registry.resolve(stable)
        q = jupiter.quote(base.mint, quote.mint, 10**base.decimals, 50)
        if q.in_amount != 10**base.decimals or (q.input_mint, q.output_mint) != (base.mint, quote.mint):
            raise PriceUnavailable("Jupiter quote does not match the request")
        return quote.from_base(q.out_amount), q.context_slot or 0

    def _sources(self, symbol: str) -> dict[str, tuple[str, Callable[[], tuple[Decimal, int]]]]:
        """Source name -> (family, read)."""
        sources: dict[str, tuple[str, Callable[[], tuple[Decimal, int]]]] = {}
        feed = self.feeds.get(symbol)
        # Each source binds the feed field / client it was checked for, so its lambda only ever sees a set value.
        account, feed_id = (feed.account, feed.feed_id) if feed else (None, None)
        hermes, jupiter = self.hermes, self.jupiter
        if account:
            sources[f"pyth:{symbol}/USD"] = (PYTH_FAMILY, lambda: self._pyth_account(account, feed_id))
        if feed_id and hermes:
            sources[f"hermes:{symbol}/USD"] = (PYTH_FAMILY, lambda: self._pyth_hermes(hermes, feed_id))
        if jupiter:
            for stable in USD_STABLES:
                if stable != symbol and stable in self.registry:
                    sources[f"jupiter:{symbol}/{stable}"] = (JUPITER_FAMILY,
                                                             lambda s=stable: self._jupiter(jupiter, symbol, s))
        return sources

    def read(self, symbol: str, quote: str = "USD") -> PriceReading:
        if quote != "USD":
            raise PriceUnavailable(f"only USD quotes are supported, got {quote}")
        base = self.registry.resolve(symbol).symbol
        sources = self._sources(base)
        return collect_reading(base, quote, {name: read for name, (_, read) in sources.items()}, PriceUnavailable,
                               families={name: family for name, (family, _) in sources.items()})
