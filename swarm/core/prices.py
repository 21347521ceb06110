"""Price readings: one token's price from several independent sources, their median and their spread.

Chain-neutral: the EVM reader (feeds + pools) and the Solana reader (Pyth + Jupiter)
both produce a `PriceReading` through `collect_reading`, and the audit replay
recomputes medians and spreads with the same `median_and_spread`.

Independence is a property of sources, not a count: every source belongs to a *family*
(who can move it). Two Uniswap V2 pools are one family (`dex:uniswap-v2`: one trader can
push both); a Pyth price account and Pyth's Hermes service are one family (`oracle:pyth`:
the same publishers). The chain's price reader names each source's family; the policy
(`defai_swarm.core.policy.common_rules`) counts families, never sources.

The reading's price (`PriceReading.median`, what dollar amounts, conditions and cap values use) is the
median of the family medians: one vote per family, however many sources it has. Over sources, one trader
who pushes both Uniswap pools (or a route server answering for two of four Solana sources) *is* the
median. Why not the oracle family's price alone: then the oracle alone would set it, up to the full allowed
deviation; a family median shares the power. With three or more families no single family can move the price
outside the others' range; with two (the usual oracle + DEX) it is their mean, so one family moves it by
at most half their spread, which `SwapPolicy.max_price_deviation_bps` caps (200 bps allowed: 100 bps at
most). A reading records the rule and each family's median, and the audit replay re-derives all three.
"""
from __future__ import annotations

import statistics
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Callable, Iterable, Mapping

from pydantic import BaseModel, Field

from defai_swarm.core.errors import PriceUnavailable

PriceSourceFn = Callable[[], tuple[Decimal, int]]  # () -> (price, block or slot it was read at)
FAMILY_RULE = "median of family medians"
SOURCE_RULE = "median of sources (no source names its family)"


class PriceSource(BaseModel):
    name: str
    price: Decimal
    block_number: int
    family: str = Field(default="", description="who can move this price, e.g. 'oracle:chainlink', "
                                                "'dex:uniswap-v2'; empty: not declared (counts for no family)")


class PriceReading(BaseModel):
    base: str
    quote: str = "USD"
    sources: list[PriceSource]
    failed_sources: dict[str, str] = Field(default_factory=dict)  # source name -> why it gave no price
    failed_families: dict[str, str] = Field(default_factory=dict)  # failed source name -> its family
    median: Decimal = Field(description="the reading's price by `median_rule` (see the module docstring): what "
                                        "dollar amounts, conditions and cap values use")
    max_deviation_bps: int = Field(description="max - min over every source, in bps of the sources' median")
    median_rule: str = Field(default="", description="how `median` was derived (FAMILY_RULE or SOURCE_RULE); "
                                                     "empty: not recorded, which the audit replay rejects")
    family_medians: dict[str, Decimal] = Field(default_factory=dict,
                                               description="each answering family's median, as `median` used them")

    def families(self) -> list[str]:
        """The declared families that answered, sorted."""
        return sorted({s.family for s in self.sources if s.family})

    def missing_families(self) -> dict[str, str]:
        """Families configured for this token that gave no price at all -> why (their sources' reasons)."""
        answered = set(self.families())
        missing: dict[str, list[str]] = {}
        for name, reason in self.failed_sources.items():
            family = self.failed_families.get(name, "")
            if family and family not in answered:
                missing.setdefault(family, []).append(f"{name}: {reason}")
        return {family: "; ".join(reasons) for family, reasons in sorted(missing.items())}


def median_and_spread(prices: list[Decimal]) -> tuple[Decimal, int]:
    """Median (written plainly: 3000, not 3E+3) and the max-min spread in bps of the median."""
    median = Decimal(format(Decimal(statistics.median(prices)), "f"))
    spread = int((max(prices) - min(prices)) / median * 10_000) if median > 0 else 10**9
    return median, spread


def family_medians(sources: Iterable[PriceSource]) -> dict[str, Decimal]:
    """Each declared family's own median, by family name: one vote per family, however many sources it has."""
    by_family: dict[str, list[Decimal]] = {}
    for s in sources:
        if s.family:
            by_family.setdefault(s.family, []).append(s.price)
    return {family: median_and_spread(prices)[0] for family, prices in sorted(by_family.items())}


def reading_price(sources: list[PriceSource]) -> tuple[Decimal, str, dict[str, Decimal]]:
    """(price, rule, family medians): the median of the declared families' medians (sources without a family get
    no vote); the plain median of the sources only when none names a family (such a reading never passes the
    policy's independence rule, so it never sizes or decides a trade). The one derivation reading and replay share."""
    medians = family_medians(sources)
    if medians:
        return median_and_spread(list(medians.values()))[0], FAMILY_RULE, medians
    return median_and_spread([s.price for s in sources])[0], SOURCE_RULE, {}


def collect_reading(base: str, quote: str, sources: Mapping[str, PriceSourceFn],
                    unavailable: type[Exception] = PriceUnavailable,
                    families: Mapping[str, str] | None = None) -> PriceReading:
    """Ask every source at once; a failed source is reported and the rest still count. None answering: refuse.

    `families`: source name -> its family (see the module docstring); the chain's reader sets it for every
    source. A source without one is recorded with an empty family and counts towards no family."""
    families = families or {}
    readings, failed = [], {}
    with ThreadPoolExecutor(max_workers=max(1, len(sources))) as pool:
        futures = {name: pool.submit(fn) for name, fn in sources.items()}
        for name, fut in futures.items():
            try:
                price, block = fut.result()
                readings.append(PriceSource(name=name, price=price, block_number=block, family=families.get(name, "")))
            except Exception as exc:  # reported in failed_sources; the risk checker counts the families left
                failed[name] = str(exc)
    if not readings:
        raise unavailable(f"no price source for {base}/{quote} answered: {failed or 'no sources configured'}")
    price, rule, medians = reading_price(readings)
    return PriceReading(base=base, quote=quote, sources=readings, failed_sources=failed,
                        failed_families={name: families.get(name, "") for name in failed}, median=price,
                        max_deviation_bps=median_and_spread([r.price for r in readings])[1], median_rule=rule,
                        family_medians=medians)
