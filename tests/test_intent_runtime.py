"""The intent language's run-time kinds on the real devnet: planned from text, run, checked on chain.

Dollar amounts, shares of the balance, sequences, compound conditions, read-only questions and
exact-output swaps: the derived amount is computed in code at run time from recorded inputs,
logged, and risk-checked before signing.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from defai_swarm.agents.amount_resolver import ResolveAmountPlugin
from defai_swarm.agents.risk import RiskPolicy
from defai_swarm.api import Swarm
from defai_swarm.taskgraph import ResolveAmountTask
from defai_swarm.tools.evm import erc20


@pytest.fixture
def swarm(chain, devnet, wallet, tmp_path):
    s = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, policy=RiskPolicy(), home=tmp_path, anchor=False)
    yield s
    s.close()


def test_dollar_amount_is_converted_at_the_independent_price(swarm, chain, wallet, registry):
    result = swarm.run("sell $250 of ETH for USDC")
    assert result.status == "done", result.summary()
    amount = result.tasks["amount"]
    median = Decimal(amount["inputs"]["price_median"])
    assert median == Decimal(result.tasks["price_eth"]["reading"]["median"])
    eth = registry.resolve("ETH")
    assert int(amount["raw"]) == int((Decimal(250) / median).scaleb(18))  # rounded down to wei
    assert result.tasks["risk_1"]["amount_in"] == amount["raw"]  # the risk check traded exactly the resolved amount
    assert abs(eth.from_base(int(amount["raw"])) * median - 250) < Decimal("0.01")
    assert "$250 / $" in amount["formula"]
    ok, detail = ResolveAmountPlugin().replay({"task": "amount", **amount}, {})  # type: ignore[misc]
    assert ok, detail


def test_share_of_the_balance_is_read_at_run_time(swarm, chain, wallet, registry):
    usdc = registry.resolve("USDC")
    before = erc20.balance_of(chain, usdc, wallet.address)
    result = swarm.run("swap 1% of my USDC to DAI, max 1% slippage")
    assert result.status == "done", result.summary()
    assert int(result.tasks["amount"]["inputs"]["balance_raw"]) == before
    assert int(result.tasks["risk_1"]["amount_in"]) == before // 100
    assert erc20.balance_of(chain, usdc, wallet.address) == before - before // 100


def test_sequence_feeds_the_first_output_into_the_second_step(swarm, chain, wallet, registry):
    result = swarm.run("swap 0.1 ETH to DAI then swap it to USDC")
    assert result.status == "done", result.summary()
    received = int(result.tasks["swap_1"]["outcome"]["received"])
    assert int(result.tasks["s2_amount"]["raw"]) == received
    assert int(result.tasks["s2_risk_1"]["amount_in"]) == received
    assert len(result.tx_hashes) >= 2
    plan = result.plan
    assert plan is not None and [s.kind for s in plan.request.steps] == ["swap", "swap"]
    ops = {r.op: r for r in plan.trace}
    assert len(ops["decompose"].outputs) == 2 and len(ops["aggregate_parts"].inputs) == 2  # branched, aggregated


def test_compound_condition_is_evaluated_in_code(swarm, chain, wallet):
    held = swarm.run("swap 0.1 ETH to USDC if ETH > 100 and ETH < 100000")
    assert held.status == "done", held.summary()
    skipped = swarm.run("swap 0.1 ETH to USDC if ETH > 100000 or ETH < 1")
    assert skipped.status == "skipped" and "not met" in skipped.tasks["risk_1"]["reason"]
    assert skipped.tx_hashes == []


def test_read_only_question_is_answered_and_moves_nothing(swarm, chain, wallet):
    n = chain.eth.get_transaction_count(wallet.address)
    result = swarm.run("what does ETH cost right now?")
    assert result.status == "done", result.summary()
    answer = result.tasks["answer"]["answer"]
    median = Decimal(result.tasks["price_eth"]["reading"]["median"])
    assert answer.startswith(f"ETH = ${median:.2f}")
    quote = swarm.run("how much USDC would I get for 1 ETH?")
    assert quote.status == "done" and "1 ETH -> " in quote.tasks["answer"]["answer"]
    balance = swarm.run("how much DAI do I have?")
    assert balance.status == "done" and balance.tasks["answer"]["answer"].startswith("DAI: ")
    assert result.tx_hashes == [] and chain.eth.get_transaction_count(wallet.address) == n


def test_exact_output_receives_exactly_and_spends_at_most_the_maximum(swarm, chain, wallet, registry):
    dai = registry.resolve("DAI")
    before = erc20.balance_of(chain, dai, wallet.address)
    result = swarm.run("buy exactly 50 DAI with ETH")
    assert result.status == "done", result.summary()
    risk = result.tasks["risk_1"]
    assert int(risk["amount_out"]) == dai.to_base(Decimal(50))
    assert int(risk["route_in"]) <= int(risk["amount_in"])  # the route needs no more than the independent maximum
    outcome = result.tasks["swap_1"]["outcome"]
    assert int(outcome["received"]) >= dai.to_base(Decimal(50))
    assert erc20.balance_of(chain, dai, wallet.address) - before == int(outcome["received"])


def test_all_keeps_back_the_policys_gas_reserve(chain, devnet, wallet, tmp_path):
    s = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, policy=RiskPolicy(gas_reserve=Decimal("0.5")),
              home=tmp_path, anchor=False)
    try:
        plan = s.plan("swap all my ETH to USDC")
    finally:
        s.close()
    assert plan.ok and plan.task_graph is not None, plan.refusal_reason
    [resolve] = [t for t in plan.task_graph.tasks if isinstance(t, ResolveAmountTask)]
    assert resolve.gas_reserve == Decimal("0.5")  # the policy's, recorded in the plan (default 0.01)
