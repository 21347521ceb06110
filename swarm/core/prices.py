"""Price readings: one token's price from several independent sources, their median and their spread.

Chain-neutral: the EVM reader (feeds + pools) and the Solana reader (Pyth + Jupiter)
both produce a `PriceReading` through `collect_reading`, and the audit replay
recomputes medians and spreads with the same `median_and_spread`.
"""
from __future__ import annotations

import statistics
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Callable

from pydantic import BaseModel

from swarm.core.errors import PriceUnavailable

PriceSourceFn = Callable[[], tuple[Decimal, int]]  # () -> (price, block or slot it was read at)


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


def median_and_spread(prices: list[Decimal]) -> tuple[Decimal, int]:
    """Median (written plainly: 3000, not 3E+3) and the max-min spread in bps of the median."""
    median = Decimal(format(Decimal(statistics.median(prices)), "f"))
    spread = int((max(prices) - min(prices)) / median * 10_000) if median > 0 else 10**9
    return median, spread


def collect_reading(base: str, quote: str, sources: dict[str, PriceSourceFn],
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
