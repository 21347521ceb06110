"""Schedule agent: waits a number of blocks between rounds (a bot or the chain's own block time drives it).

The chain's block (EVM) or slot (Solana) height is polled until `blocks` have passed since the
task started, or the timeout ends the wait as failed: the round after it is then refused by its
risk check, never run late without the user knowing.  Every round's risk check reads prices and
runs every rule again at its own time.  While it waits it reports how far it is (`wait_3: 7 of 10 blocks`)
through the run's progress hook: the CLI's status line, a Python caller's `on_progress`, the log.
"""
from __future__ import annotations

import time
from typing import Any, Mapping

from defai_swarm.core.chain import ChainAdapter
from defai_swarm.core.status import TaskStatus
from defai_swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult, generic_description, is_result
from defai_swarm.taskgraph import WaitBlocksTask

POLL_S = 0.2


def block_height(chain: ChainAdapter) -> int:
    """The chain's current height (`ChainAdapter.block_height`: EVM block number, Solana slot)."""
    return int(chain.block_height())


class WaitResult(TaskResult):
    start: int | None = None
    reached: int | None = None


class WaitBlocksPlugin(TaskPlugin[WaitBlocksTask]):
    kind = "wait_blocks"
    task_model = WaitBlocksTask
    result_model = WaitResult

    described = frozenset({"blocks"})  # what describe(task) says

    def describe(self, data: Mapping[str, Any]) -> str:
        """`wait 3 blocks`; a result: the block it started at and the one it reached."""
        if is_result(data):
            if data.get("reached") is not None:
                return f"{data.get('status')}: block {data.get('start')} -> {data.get('reached')}"
            return generic_description(self.kind, data)
        return f"wait {data.get('blocks')} blocks"

    def handle(self, task: WaitBlocksTask, run: RunView, deps: RunDeps) -> WaitResult:
        try:
            start = block_height(deps.chain)
        except Exception as exc:
            return WaitResult(status=TaskStatus.FAILED, reason=str(exc))
        deadline = time.monotonic() + task.timeout_s
        height = told = start
        deps.progress(0, task.blocks, "blocks")
        while height < start + task.blocks:
            if time.monotonic() > deadline:
                return WaitResult(status=TaskStatus.FAILED, start=start, reached=height,
                                  reason=f"only {height - start} of {task.blocks} blocks passed in {task.timeout_s:.0f} s")
            time.sleep(POLL_S)
            height = block_height(deps.chain)
            if height > told:
                told = height
                deps.progress(min(height - start, task.blocks), task.blocks, "blocks")
        return WaitResult(status=TaskStatus.OK, start=start, reached=height,
                          reason=f"{height - start} blocks passed (from {start} to {height})")
