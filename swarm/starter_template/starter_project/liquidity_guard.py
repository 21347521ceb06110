"""Agent: refuse a swap whose USD value is too large a share of the pool it trades against.

    swarm = Swarm.from_devnet()
    swarm.use(LiquidityGuard(max_share=Decimal("0.001")))
    swarm.run("swap 3 ETH to USDC")   # refused: $9,000 is over 0.1% of a $6M pool

A task plugin: `extend_plan` puts one `liquidity_guard` task in front of the risk check of every swap;
its result is checkpointed, written to the audit log and replayed like a built-in agent's, and a
refusal here makes the risk check refuse, so the swap is never signed.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Literal

from defai_swarm.core.errors import SwarmError
from defai_swarm.core.status import TaskStatus
from defai_swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult
from defai_swarm.taskgraph import SwapTask, Task, TaskGraph
from starter_project.pool_depth import pool_depth


class LiquidityGuardTask(Task):
    kind: Literal["liquidity_guard"] = "liquidity_guard"
    swap_task: str  # the swap this task guards
    token_in: str
    token_out: str
    amount_in: Decimal | None = None  # the swap's amount, as planned: exactly one of these three
    amount_task: str | None = None  # "$200 of ETH", "half of it": resolved at run time by this task
    amount_out: Decimal | None = None  # exact output: the trade measured on the token_out side
    max_share: Decimal  # of the pool's USD depth

    def symbols(self) -> set[str]:
        return {self.token_in, self.token_out}


class LiquidityGuardResult(TaskResult):
    pair: str = ""
    block_number: int | None = None
    token: str = ""  # the side the trade is measured on (token_in, or token_out for exact output)
    amount: Decimal | None = None  # the trade, in that token
    reserve: Decimal | None = None  # the pool's reserve of that token
    price_usd: Decimal | None = None
    trade_usd: Decimal | None = None
    depth_usd: Decimal | None = None
    share: Decimal | None = None
    max_share: Decimal | None = None


def decide(amount: Decimal, reserve: Decimal, price_usd: Decimal, max_share: Decimal
           ) -> tuple[Decimal, Decimal, Decimal, bool]:
    """(trade_usd, depth_usd, share, ok): the rule, shared by `handle` and `replay` (amount, reserve and price
    all of one token of the pool)."""
    trade_usd = amount * price_usd
    depth_usd = 2 * reserve * price_usd
    share = trade_usd / depth_usd
    return trade_usd, depth_usd, share, share <= max_share


class LiquidityGuard(TaskPlugin[LiquidityGuardTask]):
    kind = "liquidity_guard"
    task_model = LiquidityGuardTask
    result_model = LiquidityGuardResult
    chains = frozenset({"evm"})  # reads Uniswap V2 reserves

    def __init__(self, max_share: Decimal | str = Decimal("0.001")):
        self.max_share = Decimal(max_share)

    def extend_plan(self, graph: TaskGraph) -> TaskGraph:
        for swap in graph.swaps():
            risk = graph.by_id()[swap.risk_task]  # the guard runs when the risk check could: amount resolved
            guard = LiquidityGuardTask(id=f"guard_{swap.id}", swap_task=swap.id, token_in=swap.token_in,
                                       token_out=swap.token_out, amount_in=swap.amount_in, amount_task=swap.amount_task,
                                       amount_out=swap.amount_out, max_share=self.max_share, depends_on=risk.depends_on)
            graph = graph.with_task(guard, before=(swap.risk_task,))
        return graph

    def validate(self, task: LiquidityGuardTask, graph: TaskGraph) -> list[str]:
        swap = graph.by_id().get(task.swap_task)
        if not isinstance(swap, SwapTask):
            return [f"{task.id}: guards unknown swap {task.swap_task}"]
        errors = []
        if (swap.token_in, swap.token_out, swap.amount_in, swap.amount_task, swap.amount_out) != (
                task.token_in, task.token_out, task.amount_in, task.amount_task, task.amount_out):
            errors.append(f"{task.id}: checks a different trade than {swap.id}")
        if task.id not in graph.ancestors(swap.risk_task):
            errors.append(f"{task.id}: does not run before {swap.risk_task}")
        return errors

    def handle(self, task: LiquidityGuardTask, run: RunView, deps: RunDeps) -> LiquidityGuardResult:
        # the trade in the token whose amount is known: exact input (written, or resolved at run time by its
        # resolve_amount task), or the exact output
        side, other, amount = task.token_in, task.token_out, task.amount_in
        if task.amount_out is not None:
            side, other, amount = task.token_out, task.token_in, task.amount_out
        elif task.amount_task is not None:
            resolved = run.result(task.amount_task)
            if resolved.get("status") != TaskStatus.OK or resolved.get("amount") is None:
                return LiquidityGuardResult(status=TaskStatus.REFUSED, max_share=task.max_share,
                                            reason=f"no amount to check: {task.amount_task} "
                                                   f"{resolved.get('reason') or 'did not resolve'}")
            amount = Decimal(resolved["amount"])
        if amount is None:  # never let a trade through unmeasured
            return LiquidityGuardResult(status=TaskStatus.REFUSED, max_share=task.max_share,
                                        reason=f"{task.swap_task} has no amount to check")
        try:
            depth = pool_depth(deps.chain, side, other)  # type: ignore[arg-type]
        except SwarmError as exc:
            return LiquidityGuardResult(status=TaskStatus.REFUSED, token=side, amount=amount, max_share=task.max_share,
                                        reason=f"cannot measure the {task.token_in}/{task.token_out} pool: {exc}")
        trade_usd, depth_usd, share, ok = decide(amount, depth.reserve_a, depth.price_a_usd, task.max_share)
        return LiquidityGuardResult(
            status=TaskStatus.OK if ok else TaskStatus.REFUSED, pair=depth.pair, block_number=depth.block_number,
            token=side, amount=amount, reserve=depth.reserve_a, price_usd=depth.price_a_usd, trade_usd=trade_usd,
            depth_usd=depth_usd, share=share, max_share=task.max_share,
            reason=f"trade ${trade_usd:,.2f} is {share:.4%} of the {depth.pair} pool (${depth_usd:,.0f}), "
                   f"max {task.max_share:.2%}")

    def replay(self, payload: dict, run_context: dict) -> tuple[bool, str] | None:
        """The logged reserve and price, through the same rule: the logged numbers and verdict must follow."""
        if payload.get("reserve") is None:  # no amount or no pool measured: only a refusal is right
            return payload["status"] == TaskStatus.REFUSED, f"nothing measured, logged {payload['status']}"
        trade_usd, depth_usd, share, ok = decide(Decimal(payload["amount"]), Decimal(payload["reserve"]),
                                                 Decimal(payload["price_usd"]), Decimal(payload["max_share"]))
        matches = (Decimal(payload["trade_usd"]) == trade_usd and Decimal(payload["depth_usd"]) == depth_usd
                   and Decimal(payload["share"]) == share and (payload["status"] == TaskStatus.OK) == ok)
        return matches, f"{share:.4%} of the {payload['pair']} pool, max {Decimal(payload['max_share']):.2%}: " \
                        f"{'ok' if ok else 'refused'} (logged {payload['status']})"
