"""Price reader agent: one token's USD price from the chain's independent sources, with their spread.

The sources are the chain adapter's (EVM: feed + pools; Solana: Pyth + Hermes + Jupiter), each
with its family (who can move it: `oracle:chainlink`, `dex:uniswap-v2`, `oracle:pyth`, `dex:jupiter`);
the agent records what every source said, which failed and why, and refuses nothing itself: the
risk checker requires independent families (`SwapPolicy.min_source_families`) and a small spread.
"""
from __future__ import annotations

from swarm.core.errors import SwarmError
from swarm.core.prices import PriceReading, PriceSource, collect_reading, median_and_spread
from swarm.core.status import TaskStatus
from swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult
from swarm.taskgraph import ReadPriceTask


class PriceResult(TaskResult):
    reading: PriceReading | None = None


class ReadPricePlugin(TaskPlugin[ReadPriceTask]):
    kind = "read_price"
    task_model = ReadPriceTask
    result_model = PriceResult

    def handle(self, task: ReadPriceTask, run: RunView, deps: RunDeps) -> PriceResult:
        if task.quote != "USD":
            return PriceResult(status=TaskStatus.FAILED, reason=f"only USD quotes are supported, got {task.quote}")
        try:
            reading = deps.chain.read_price(task.base)
        except SwarmError as exc:
            return PriceResult(status=TaskStatus.FAILED, reason=str(exc))
        return PriceResult(status=TaskStatus.OK, reading=reading)

    def replay(self, payload: dict, run_context: dict) -> tuple[bool, str] | None:
        """The median and spread recomputed from the logged sources."""
        if payload.get("status") != TaskStatus.OK:
            return None
        reading = PriceReading.model_validate(payload["reading"])
        median, spread = median_and_spread([s.price for s in reading.sources])
        ok = median == reading.median and spread == reading.max_deviation_bps
        return ok, f"median {median} (logged {reading.median}), spread {spread} bps (logged {reading.max_deviation_bps})"


__all__ = ["PriceReading", "PriceResult", "PriceSource", "ReadPricePlugin", "collect_reading", "median_and_spread"]
