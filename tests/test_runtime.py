"""The runtime and the three narrow agents on the devnet, driven by hand-built task graphs."""
from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest

from defai_swarm.api import Swarm
from defai_swarm.audit import verify_log
from defai_swarm.taskgraph import CheckRiskTask, Condition, ReadPriceTask, SwapTask, TaskGraph
from defai_swarm.tools.devnet.contracts import abi
from defai_swarm.tools.evm import erc20


def swap_graph(token_in: str, token_out: str, amount: str, slippage_bps: int = 50, parts: int = 1,
               condition: tuple[str, str] | None = None) -> TaskGraph:
    """The planner's shape: price reads, then risk_i -> swap_i per part, parts in sequence."""
    p_in, p_out = f"price_{token_in.lower()}", f"price_{token_out.lower()}"
    tasks = [ReadPriceTask(id=p_in, base=token_in), ReadPriceTask(id=p_out, base=token_out)]
    cond = Condition(base=token_in, op=condition[0], threshold=Decimal(condition[1]), source_task=p_in) if condition else None
    part = Decimal(amount) / parts
    for i in range(1, parts + 1):
        deps = (p_in, p_out) + ((f"swap_{i - 1}",) if i > 1 else ())
        tasks.append(CheckRiskTask(id=f"risk_{i}", swap_task=f"swap_{i}", depends_on=deps))
        tasks.append(SwapTask(id=f"swap_{i}", token_in=token_in, token_out=token_out, amount_in=part,
                              max_slippage_bps=slippage_bps, condition=cond, price_tasks=(p_in, p_out),
                              risk_task=f"risk_{i}", depends_on=(f"risk_{i}",)))
    return TaskGraph(intent=f"swap {amount} {token_in} to {token_out}", tasks=tuple(tasks))


def nonce(chain, wallet) -> int:
    return chain.eth.get_transaction_count(wallet.address, "pending")


def test_conditional_swap_executes_when_condition_holds(make_swarm, chain, wallet, registry):
    swarm = make_swarm()
    usdc = registry.resolve("USDC")
    before = erc20.balance_of(chain, usdc, wallet.address)
    result = swarm.execute(swap_graph("ETH", "USDC", "1", condition=(">", "2500")))
    assert result.status == "done", result.summary()
    swap = result.tasks["swap_1"]["outcome"]
    assert int(swap["received"]) >= int(swap["min_out"]) > 0
    assert erc20.balance_of(chain, usdc, wallet.address) - before == int(swap["received"])
    assert len(result.tx_hashes) == 1
    risk = result.tasks["risk_1"]["decision"]
    assert risk["approved"] and all(r["passed"] for r in risk["rules"])


def test_conditional_swap_does_nothing_when_condition_fails(make_swarm, chain, wallet):
    swarm = make_swarm()
    n = nonce(chain, wallet)
    result = swarm.execute(swap_graph("ETH", "USDC", "1", condition=(">", "5000")))
    assert result.status == "skipped"
    assert "not met" in result.tasks["risk_1"]["reason"]
    assert result.tx_hashes == [] and nonce(chain, wallet) == n


def test_split_swap_runs_parts_in_sequence(make_swarm, chain, wallet, registry):
    swarm = make_swarm()
    n = nonce(chain, wallet)
    usdc = registry.resolve("USDC")
    result = swarm.execute(swap_graph("USDC", "DAI", "3000", slippage_bps=100, parts=3))
    assert result.status == "done", result.summary()
    outcomes = [result.tasks[f"swap_{i}"]["outcome"] for i in (1, 2, 3)]
    assert [int(o["amount_in"]) for o in outcomes] == [usdc.to_base("1000")] * 3
    assert [bool(o["approve_tx"]) for o in outcomes] == [True, False, False]  # one exact approval for the split's total
    blocks = [o["block_number"] for o in outcomes]
    assert blocks == sorted(blocks) and len(set(blocks)) == 3
    assert nonce(chain, wallet) == n + 4  # one approval, three swaps
    assert erc20.allowance(chain, usdc, wallet.address, swarm.uniswap.router_address) == 0


@pytest.mark.parametrize("graph, policy, rule", [
    (swap_graph("ETH", "USDC", "5"), {}, "max_trade_usd"),  # $15k > $10k
    (swap_graph("ETH", "USDC", "1", slippage_bps=500), {}, "max_slippage"),
    (swap_graph("ETH", "USDC", "60", slippage_bps=50), {"max_trade_usd": 10**6, "daily_cap_usd": 10**6},
     "quote_meets_min_out"),  # ~6% price impact cannot fit in 0.5%
    (swap_graph("ETH", "HONEY", "0.1"), {"token_allowlist": frozenset({"ETH", "HONEY"})}, "sell_back_simulation"),
    (swap_graph("ETH", "FOT", "0.1"), {}, "allowlist"),
])
def test_refusals_send_nothing(make_swarm, chain, wallet, graph, policy, rule):
    swarm = make_swarm(**policy)
    n = nonce(chain, wallet)
    result = swarm.execute(graph)
    assert result.status == "refused"
    failed = [r["rule"] for r in result.tasks["risk_1"]["decision"]["rules"] if not r["passed"]]
    assert rule in failed, result.summary()
    assert rule in result.tasks["swap_1"]["reason"]
    assert result.tx_hashes == [] and nonce(chain, wallet) == n


def test_price_sources_disagree_refuses(make_swarm, chain, devnet, wallet):
    feed = devnet.manifest.feeds["ETH/USD"]
    chain.eth.wait_for_transaction_receipt(chain.eth.contract(address=feed.address, abi=abi("PriceFeed")).functions
                                           .set_answer(2000 * 10**8, 0).transact({"from": devnet.manifest.deployer}))
    swarm = make_swarm()
    n = nonce(chain, wallet)
    result = swarm.execute(swap_graph("ETH", "USDC", "1"))
    assert result.status == "refused"
    assert "price_sources_agree:ETH" in result.tasks["swap_1"]["reason"]
    assert nonce(chain, wallet) == n


def test_unknown_token_graph_is_refused_before_running(make_swarm, chain, wallet):
    swarm = make_swarm()
    result = swarm.execute(swap_graph("ETH", "PEPE", "1"))
    assert result.status == "refused"
    assert any("unknown token 'PEPE'" in r for r in result.reasons)
    assert result.tasks == {}


def test_parallel_price_reads_overlap(make_swarm):
    swarm = make_swarm()
    result = swarm.execute(swap_graph("ETH", "USDC", "0.1"))
    trace = {t["task"]: t for t in swarm.trace(result.run_id)}
    a, b = trace["price_eth"], trace["price_usdc"]
    assert max(a["start"], b["start"]) < min(a["end"], b["end"]), "price reads ran one after the other"
    assert trace["risk_1"]["start"] >= max(a["end"], b["end"])


def test_daily_cap_spans_runs(make_swarm, chain, wallet):
    swarm = make_swarm(daily_cap_usd=Decimal(5000))
    assert swarm.execute(swap_graph("ETH", "USDC", "1")).status == "done"
    second = swarm.execute(swap_graph("ETH", "USDC", "1"))
    assert second.status == "refused" and "daily_cap_usd" in second.tasks["swap_1"]["reason"]


def test_human_approval_interrupt_and_resume(make_swarm, chain, wallet):
    swarm = make_swarm(human_approval_above_usd=Decimal(1000))
    n = nonce(chain, wallet)
    waiting = swarm.execute(swap_graph("ETH", "USDC", "1"))
    assert waiting.status == "awaiting_approval"
    assert "approve swap 1 ETH -> USDC" in waiting.pending_approval[0]["question"]
    assert nonce(chain, wallet) == n
    done = swarm.resume(waiting.run_id, approve=True)
    assert done.status == "done" and len(done.tx_hashes) == 1
    declined = swarm.execute(swap_graph("ETH", "USDC", "1", slippage_bps=100))  # the first swap moved the pool
    refused = swarm.resume(declined.run_id, approve=False)
    assert refused.status == "refused" and "operator declined" in refused.tasks["swap_1"]["reason"]
    assert nonce(chain, wallet) == n + 1


CRASH_SCRIPT = """
import sys
from pathlib import Path
from defai_swarm.api import Swarm
from defai_swarm.audit import verify_log
from tests.test_runtime import swap_graph
swarm = Swarm.from_devnet(Path(sys.argv[1]), home=Path(sys.argv[2]), anchor=False)
swarm.execute(swap_graph("USDC", "ETH", "1500"), run_id="crash-run")
print("not killed")
"""


KILL_POINTS = [  # every step boundary of a token -> ETH swap run (it needs an approval, then the swap)
    "after_plan", "after_task:price_usdc", "after_task:risk_1",
    "after_sign:swap_1:approve", "after_send:swap_1:approve", "after_receipt:swap_1:approve",
    "after_sign:swap_1:swap", "after_send:swap_1:swap", "after_receipt:swap_1:swap", "after_task:swap_1"]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_killed_run_resumes_without_a_second_swap(chain, devnet, wallet, tmp_path, registry, kill_at):
    usdc = registry.resolve("USDC")
    n, before = nonce(chain, wallet), erc20.balance_of(chain, usdc, wallet.address)
    env = {**os.environ, "SWARM_FAULT_KILL_AT": kill_at}
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(devnet.manifest_path), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=120, cwd=os.getcwd())
    assert proc.returncode == -9, proc.stdout + proc.stderr
    swarm = Swarm.from_devnet(devnet.manifest_path, home=tmp_path, anchor=False)
    try:
        result = swarm.resume("crash-run")
        audit = verify_log(swarm.auditor.log, "crash-run")
        assert audit.ok, audit.reason  # the killed process's entries and the resumed ones form one valid log
        assert [e.payload["event"] for e in swarm.auditor.log.entries("crash-run") if e.kind == "tx"].count("signed") == 2
    finally:
        swarm.close()
    assert result.status == "done", result.summary()
    assert nonce(chain, wallet) == n + 2  # one exact approval, one swap: nothing twice
    assert before - erc20.balance_of(chain, usdc, wallet.address) == usdc.to_base("1500")
    assert len(result.tx_hashes) == 2


def test_closing_a_swarm_releases_its_sqlite_files(chain, devnet, wallet, tmp_path):
    """A process that makes many swarms over many state directories (a bot host, a test suite) keeps no handle
    to the files of a closed one."""
    import os

    def open_sqlite_files() -> set[str]:
        names = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith(str(tmp_path)):
                names.add(target)
        return names

    for n in range(3):
        s = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path / f"home{n}", anchor=False)
        result = s.execute(swap_graph("ETH", "USDC", "0.01"))
        assert result.status == "done", result.summary()
        assert open_sqlite_files()  # in use while open
        s.close()
    assert open_sqlite_files() == set()
