"""Price reader agent: one token's USD price from the chain's independent sources, with their spread.

The sources are the chain adapter's (EVM: feed + pools; Solana: Pyth + Hermes + Jupiter), each
with its family (who can move it: `oracle:chainlink`, `dex:uniswap-v2`, `oracle:pyth`, `dex:jupiter`);
the agent records what every source said, which failed and why, and refuses nothing itself: the
risk checker requires independent families (`SwapPolicy.min_source_families`) and a small spread.
The reading's price is the median of the family medians (`defai_swarm.core.prices`): it records the rule and
each family's median, and `replay` derives all of them again from the logged sources.
"""
from __future__ import annotations

from typing import Any, Mapping

from defai_swarm.core.errors import SwarmError
from defai_swarm.core.prices import PriceReading, PriceSource, collect_reading, median_and_spread, reading_price
from defai_swarm.core.status import TaskStatus
from defai_swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult, generic_description, is_result
from defai_swarm.taskgraph import ReadPriceTask


class PriceResult(TaskResult):
    reading: PriceReading | None = None


class ReadPricePlugin(TaskPlugin[ReadPriceTask]):
    kind = "read_price"
    task_model = ReadPriceTask
    result_model = PriceResult

    described = frozenset({"base", "quote"})  # what describe(task) says

    def describe(self, data: Mapping[str, Any]) -> str:
        """`read price ETH/USD`; a result: its median, sources and spread."""
        reading = data.get("reading")
        if is_result(data) and isinstance(reading, dict):
            return (f"{data.get('status')}: {reading.get('base')}/{reading.get('quote')} median "
                    f"{reading.get('median')} from {len(reading.get('sources') or [])} sources, "
                    f"spread {reading.get('max_deviation_bps')} bps")
        if is_result(data):
            return generic_description(self.kind, data)
        return f"read price {data.get('base')}/{data.get('quote', 'USD')}"

    def handle(self, task: ReadPriceTask, run: RunView, deps: RunDeps) -> PriceResult:
        if task.quote != "USD":
            return PriceResult(status=TaskStatus.FAILED, reason=f"only USD quotes are supported, got {task.quote}")
        try:
            reading = deps.chain.read_price(task.base)
        except SwarmError as exc:
            return PriceResult(status=TaskStatus.FAILED, reason=str(exc))
        return PriceResult(status=TaskStatus.OK, reading=reading)

    def replay(self, payload: dict, run_context: dict) -> tuple[bool, str] | None:
        """The price (its rule and the family medians it used) and the spread recomputed from the logged sources."""
        if payload.get("status") != TaskStatus.OK:
            return None
        reading = PriceReading.model_validate(payload["reading"])
        price, rule, medians = reading_price(reading.sources)
        spread = median_and_spread([s.price for s in reading.sources])[1]
        ok = (price, rule, medians, spread) == (reading.median, reading.median_rule, reading.family_medians,
                                                reading.max_deviation_bps)
        families = ", ".join(f"{f} {m}" for f, m in medians.items()) or "none declared"
        return ok, (f"price {price} by the {rule} (logged {reading.median} by {reading.median_rule or 'no rule'}); "
                    f"family medians {families}; spread {spread} bps (logged {reading.max_deviation_bps})")


__all__ = ["PriceReading", "PriceResult", "PriceSource", "ReadPricePlugin", "collect_reading", "median_and_spread"]
