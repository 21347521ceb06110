"""A custom narrow agent in one file: keep a floor of the token you pay with (e.g. ETH for gas).

    swarm = Swarm.from_devnet()
    swarm.use(BalanceFloor({"ETH": Decimal("0.5")}))
    swarm.run("swap 2 ETH to USDC")   # refused if it would leave less than 0.5 ETH

The plugin adds one `balance_floor` task in front of the risk check of every swap that
pays with a guarded token (`extend_plan`); the task reads the balance through the chain
adapter (any chain), and its result is checkpointed, written to the audit log and
replayed by `swarm audit replay` like any built-in agent's. A refusal here stops the swap
before anything is signed.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Literal

from swarm.core.status import TaskStatus
from swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult
from swarm.taskgraph import Task, TaskGraph


class BalanceFloorTask(Task):
    kind: Literal["balance_floor"] = "balance_floor"
    token: str
    spend: Decimal  # what the graph's swaps pay with this token, in total
    floor: Decimal

    def symbols(self) -> set[str]:
        return {self.token}


class BalanceFloorResult(TaskResult):
    balance: Decimal
    spend: Decimal
    floor: Decimal
    left_after: Decimal


class BalanceFloor(TaskPlugin[BalanceFloorTask]):
    kind = "balance_floor"
    task_model = BalanceFloorTask
    result_model = BalanceFloorResult

    def __init__(self, floors: dict[str, Decimal]):
        self.floors = {symbol.upper(): Decimal(amount) for symbol, amount in floors.items()}

    def extend_plan(self, graph: TaskGraph) -> TaskGraph:
        for token, floor in self.floors.items():
            swaps = [s for s in graph.swaps() if s.token_in.upper() == token]
            if swaps:
                task = BalanceFloorTask(id=f"floor_{token.lower()}", token=token, floor=floor,
                                        spend=sum((s.amount_in for s in swaps), Decimal(0)))
                graph = graph.with_task(task, before=tuple(s.risk_task for s in swaps))
        return graph

    def handle(self, task: BalanceFloorTask, run: RunView, deps: RunDeps) -> BalanceFloorResult:
        token = deps.chain.token(task.token)
        balance = token.from_base(deps.chain.balance_of(token.symbol))
        left = balance - task.spend
        ok = left >= task.floor
        return BalanceFloorResult(status=TaskStatus.OK if ok else TaskStatus.REFUSED, balance=balance, spend=task.spend,
                                  floor=task.floor, left_after=left,
                                  reason=f"{left} {token.symbol} left after spending {task.spend}, floor {task.floor}")

    def replay(self, payload: dict, run_context: dict) -> tuple[bool, str] | None:
        """The logged balance minus the spend, against the floor: the logged verdict must follow from them."""
        left = Decimal(payload["balance"]) - Decimal(payload["spend"])
        ok = left >= Decimal(payload["floor"])
        matches = Decimal(payload["left_after"]) == left and (payload["status"] == TaskStatus.OK) == ok
        return matches, f"{left} left after the swaps, floor {payload['floor']}: {'ok' if ok else 'refused'}"
