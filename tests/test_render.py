"""`swarm plan`'s tree and the run output say what each task does in words: derived and exact-output swaps name
their amount (never "None"), every condition reads as a condition (never a raw dict), a question's answer is an
explicit `answer:` line. Planned and run through `swarm plan` (its `main`) and a Swarm on the session devnet."""
from __future__ import annotations

import pytest

from rich.console import Console

from defai_swarm import cli
from defai_swarm.cli import main
from defai_swarm.render import answers


@pytest.fixture
def plan_text(devnet, chain, tmp_path, monkeypatch, capsys):
    for name in ("SWARM_MODEL", "SWARM_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SWARM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SWARM_LEDGER", str(tmp_path / "ledger.sqlite"))
    monkeypatch.setenv("SWARM_MANIFEST", str(devnet.manifest_path))
    # wide enough that no tree line is cropped (a pipe gets 80 columns), whatever console the process made first
    monkeypatch.setattr(cli.console, "_console", Console(soft_wrap=True, width=240))

    def plan(intent: str) -> str:
        capsys.readouterr()
        assert main(["plan", intent]) == 0
        out = capsys.readouterr().out
        assert "None" not in out and "{'" not in out, out  # no missing amount, no raw dict
        return out
    return plan


def test_exact_output_swap_names_what_it_buys(plan_text):
    assert "swap_1  buy exactly 100 USDC with ETH  (swap)" in plan_text("buy exactly 100 USDC with ETH")


def test_derived_amounts_name_the_task_they_come_from(plan_text):
    out = plan_text("swap $100 of ETH to DAI")
    assert "swap_1  swap ETH -> DAI, the amount from task amount  (swap)" in out
    out = plan_text("swap 1 ETH to USDC and then swap half of it to DAI")
    assert "swap_1  swap 1 ETH -> USDC  (swap)" in out
    assert "s2_swap_1  swap USDC -> DAI, the amount from task s2_amount  (swap)" in out
    assert "s2_amount  resolve amount: 50% of what swap_1 received (USDC)  (resolve_amount)" in out
    out = plan_text("swap 30% of my USDC to DAI in 3 parts")
    assert "amount  resolve amount: 30% of the USDC balance, in 3 parts  (resolve_amount)" in out
    assert "amount task:" not in out  # said once, on the swap's line


def test_every_condition_reads_as_a_condition(plan_text):
    out = plan_text("swap 0.1 ETH to DAI if ETH > 2000 and ETH < 5000")
    assert "only if ETH/USD > 2,000 (price from price_eth)" in out
    assert "and only if ETH/USD < 5,000 (price from price_eth)" in out
    assert "combine" not in out
    out = plan_text("swap 0.1 ETH to DAI if ETH > 2000 or ETH < 1000")
    assert "or if ETH/USD < 1,000 (price from price_eth)" in out
    assert "only if ETH/DAI > 2,000 (price from price_eth over price_dai)" in plan_text("swap 0.1 ETH to DAI if ETH/DAI > 2000")


def test_a_question_plans_and_prints_its_answer(plan_text, devnet, tmp_path):
    assert "answer  answer: price of ETH  (answer)" in plan_text("what is the price of ETH")
    out = plan_text("how much USDC would I get for 1 ETH")
    assert "quote  read quote 1 ETH -> USDC  (read_quote)" in out and "answer: quote 1 ETH -> USDC" in out
    from defai_swarm.api import Swarm

    swarm = Swarm.from_devnet(devnet.manifest_path, home=tmp_path / "run")
    try:
        result = swarm.run("what is the price of ETH")
    finally:
        swarm.close()
    assert result.status == "done"
    [line] = answers(result)
    assert line.startswith("ETH = $") and "median of" in line


def test_a_question_run_prints_one_answer_line(plan_text, capsys):
    plan_text("what is the price of ETH")  # sets up the environment (home, ledger, manifest) for main()
    capsys.readouterr()
    assert main(["run", "what is the price of ETH", "--no-anchor"]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    [answer] = [line for line in lines if line.startswith("answer: ")]
    assert answer.startswith("answer: ETH = $") and "median of" in answer, lines


def test_a_refusal_that_lists_its_causes_in_brackets_stays_one_line():
    """`render.refusals` splits a reason into its rules at the top level only: the planner's "no valid reading
    (parser: ...; t2 (model): ...)" used to print as two broken lines."""
    from types import SimpleNamespace

    from defai_swarm.render import refusals
    planner = ("no valid reading of the intent (parser: 'swp' is not a verb this planner reads; "
               "slippage_bps: 500 is above the policy's maximum 100)")
    risk = "risk_1: max_trade_usd: trade $150,000.00, limit $10,000.00; daily_cap_usd: spent today $0.00 + $150,000.00"
    assert refusals(SimpleNamespace(reasons=[planner, risk, risk])) == [
        planner, "max_trade_usd: trade $150,000.00, limit $10,000.00", "daily_cap_usd: spent today $0.00 + $150,000.00"]
