"""A custom narrow agent in one file: keep a floor of the token you pay with (e.g. ETH for gas).

    swarm = Swarm.from_devnet()
    swarm.use(BalanceFloor({"ETH": Decimal("0.5")}))
    swarm.run("swap 2 ETH to USDC")   # refused if it would leave less than 0.5 ETH

The plugin adds one `balance_floor` task in front of the risk check of every swap (and
every part of a split) that pays with a guarded token (`extend_plan`); the task reads the
balance at run time through the chain adapter (any chain), so earlier parts and steps are
already spent, and its result is checkpointed, written to the audit log and replayed by
`swarm audit replay` like any built-in agent's. A refusal here stops the swap before
anything is signed. An amount only known at run time ("$200 of ETH", "half of it") is
read from the task that resolves it; an exact-output swap's input is only set by its risk
check, after this task, so the floor refuses it rather than let it through unchecked.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Literal

from defai_swarm.core.status import TaskStatus
from defai_swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult
from defai_swarm.taskgraph import Task, TaskGraph


class BalanceFloorTask(Task):
    kind: Literal["balance_floor"] = "balance_floor"
    token: str
    swap_task: str  # the swap this floor guards
    spend: Decimal | None = None  # what the swap pays, when the plan says it
    amount_task: str | None = None  # else the task that resolves it at run time
    floor: Decimal

    def symbols(self) -> set[str]:
        return {self.token}


class BalanceFloorResult(TaskResult):
    balance: Decimal | None = None
    spend: Decimal | None = None
    floor: Decimal
    left_after: Decimal | None = None


class BalanceFloor(TaskPlugin[BalanceFloorTask]):
    kind = "balance_floor"
    task_model = BalanceFloorTask
    result_model = BalanceFloorResult

    def __init__(self, floors: dict[str, Decimal]):
        self.floors = {symbol.upper(): Decimal(amount) for symbol, amount in floors.items()}

    def extend_plan(self, graph: TaskGraph) -> TaskGraph:
        for swap in graph.swaps():
            floor = self.floors.get(swap.token_in.upper())
            if floor is not None:
                risk = graph.by_id()[swap.risk_task]  # run when the risk check could: after earlier parts
                task = BalanceFloorTask(id=f"floor_{swap.id}", token=swap.token_in, swap_task=swap.id, floor=floor,
                                        spend=swap.amount_in, amount_task=swap.amount_task, depends_on=risk.depends_on)
                graph = graph.with_task(task, before=(swap.risk_task,))
        return graph

    def handle(self, task: BalanceFloorTask, run: RunView, deps: RunDeps) -> BalanceFloorResult:
        spend = task.spend
        if spend is None and task.amount_task is not None:
            resolved = run.result(task.amount_task)
            spend = Decimal(resolved["amount"]) if resolved.get("status") == TaskStatus.OK else None
        if spend is None:  # exact output, or an amount that did not resolve: never let it through unchecked
            return BalanceFloorResult(status=TaskStatus.REFUSED, floor=task.floor,
                                      reason=f"cannot tell what {task.swap_task} spends before its risk check: "
                                             f"refused to keep the {task.token} floor {task.floor}")
        token = deps.chain.token(task.token)
        balance = token.from_base(deps.chain.balance_of(token.symbol))
        left = balance - spend
        ok = left >= task.floor
        return BalanceFloorResult(status=TaskStatus.OK if ok else TaskStatus.REFUSED, balance=balance, spend=spend,
                                  floor=task.floor, left_after=left,
                                  reason=f"{left} {token.symbol} left after spending {spend}, floor {task.floor}")

    def replay(self, payload: dict, run_context: dict) -> tuple[bool, str] | None:
        """The logged balance minus the spend, against the floor: the logged verdict must follow from them."""
        if payload.get("spend") is None:  # the spend was unknown: only a refusal is right
            return payload["status"] == TaskStatus.REFUSED, f"spend unknown, logged {payload['status']}"
        left = Decimal(payload["balance"]) - Decimal(payload["spend"])
        ok = left >= Decimal(payload["floor"])
        matches = Decimal(payload["left_after"]) == left and (payload["status"] == TaskStatus.OK) == ok
        return matches, f"{left} left after the swap, floor {payload['floor']}: {'ok' if ok else 'refused'}"
