"""An N-part split approves once for the remaining total and leaves no allowance behind: the swap agent passes
each part the remaining total of its split (from the plan's tasks), and a part that never reaches the executor
(refused by risk) resets what is left to zero. Real planner graphs and a real anvil devnet."""
from __future__ import annotations

from decimal import Decimal

from defai_swarm.agents.swap_executor import approval_total, split_parts
from defai_swarm.api import Swarm
from defai_swarm.taskgraph import SwapTask
from defai_swarm.tools.evm import erc20
from defai_swarm.tools.evm.chain import EvmChain


def swaps(swarm: Swarm, intent: str) -> list[SwapTask]:
    plan = swarm.plan(intent)
    assert plan.ok and plan.task_graph is not None, plan.refusal_reason
    return plan.task_graph.swaps()


def test_remaining_total_comes_from_the_plans_parts(make_swarm):
    swarm = make_swarm()
    graph = swarm.plan("swap 300 USDC to DAI in 3 parts").task_graph
    assert graph is not None
    usdc = swarm.chain.token("USDC")
    totals = [approval_total(s, graph, usdc.to_base(Decimal(100)), usdc.to_base) for s in graph.swaps()]
    assert totals == [300 * 10**6, 200 * 10**6, None]  # the last part approves just itself
    assert [len(split_parts(s, graph)) for s in graph.swaps()] == [3, 2, 1]
    derived = swarm.plan("swap $300 of USDC to DAI in 3 parts").task_graph
    assert derived is not None
    assert approval_total(derived.swaps()[0], derived, 99_000_000, usdc.to_base) == 297_000_000  # equal parts
    # a schedule's parts are blocks apart, an exact output approves its own max_in, a lone swap needs no total
    for intent in ("swap 300 USDC to DAI in 3 parts, one every 5 blocks", "buy exactly 300 DAI with USDC in 3 parts",
                   "swap 100 USDC to DAI"):
        graph = swarm.plan(intent).task_graph
        assert graph is not None, intent
        assert all(approval_total(s, graph, 1, usdc.to_base) is None for s in graph.swaps()), intent


def approvals_and_allowance(swarm: Swarm, result) -> tuple[int, int]:
    approvals = sum(1 for t in result.tasks.values() if (t.get("outcome") or {}).get("approve_tx"))
    chain = swarm.chain
    assert isinstance(chain, EvmChain)
    return approvals, erc20.allowance(swarm.w3, chain.token("USDC"), swarm.wallet.address, chain.uniswap.router_address)


def test_a_three_part_split_approves_once_and_ends_at_zero(make_swarm):
    swarm = make_swarm()
    result = swarm.run("swap 300 USDC to DAI in 3 parts")
    assert result.status == "done", result.summary()
    assert [result.tasks[f"swap_{i}"]["status"] for i in (1, 2, 3)] == ["confirmed"] * 3
    approvals, allowance = approvals_and_allowance(swarm, result)
    assert allowance == 0
    assert approvals == 1  # one exact approval for the split's total, not one per part


def test_a_split_abandoned_at_its_second_part_ends_at_zero(make_swarm):
    swarm = make_swarm(daily_cap_usd=150)  # part 1 ($100) fits, part 2 ($200 in total) does not
    result = swarm.run("swap 300 USDC to DAI in 3 parts")
    assert result.status == "partial", result.summary()
    assert result.tasks["swap_1"]["status"] == "confirmed" and result.tasks["swap_2"]["status"] == "refused"
    approvals, allowance = approvals_and_allowance(swarm, result)
    assert approvals == 1 and "approval was reset to 0" in result.tasks["swap_2"]["reason"], result.tasks["swap_2"]
    assert allowance == 0  # nothing approved for parts 2 and 3 is left on the router
