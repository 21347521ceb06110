"""Reliability runner: faults, crashes, adversarial intents and concurrency on a fresh devnet; prints a table.

    python benchmarks/bench_reliability.py [--fault-runs 30] [--concurrent 200]

Funds lost and double sends are measured on chain, not taken from the swarm's own report:
every wallet transaction in the blocks produced is classified, and each swap's received
amount is checked against its minOut.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.risk import RiskPolicy  # noqa: E402
from swarm.api import Swarm  # noqa: E402
from tests.reliability.adversarial_intents import CORPUS  # noqa: E402
from tests.test_runtime import KILL_POINTS, swap_graph  # noqa: E402
from tools.devnet import Devnet  # noqa: E402
from tools.devnet.fault_proxy import FaultProxy  # noqa: E402
from tools.devnet.install import install  # noqa: E402
from tools.devnet.node import free_port  # noqa: E402
from tools.evm.rpc import connect  # noqa: E402
from tools.evm.wallet import Wallet  # noqa: E402

CRASH_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from swarm.api import Swarm
from tests.test_runtime import swap_graph
Swarm.from_devnet(Path(sys.argv[1]), home=Path(sys.argv[2]), anchor=False).execute(swap_graph("USDC", "ETH", "100"), run_id="crash")
"""


class Tally:
    def __init__(self):
        self.rows: dict[str, dict] = {}
        self.times: list[float] = []

    def add(self, section: str, **counts):
        row = self.rows.setdefault(section, {"faults": 0, "runs": 0, "funds_lost": 0, "double_sends": 0,
                                             "inputs": 0, "wrongly_executed": 0})
        for k, v in counts.items():
            row[k] += v


def audit_chain(w3, wallet: str, start_block: int, swarm_runs: list) -> tuple[int, int]:
    """(funds lost, double sends) from the chain: unknown destinations, received < minOut, one step sent twice."""
    lost = double = 0
    txs = [tx for n in range(start_block + 1, w3.eth.block_number + 1)
           for tx in w3.eth.get_block(n, full_transactions=True)["transactions"] if tx["from"] == wallet]
    hashes = {"0x" + bytes(tx["hash"]).hex() for tx in txs}
    for r in swarm_runs:
        for task in r.tasks.values():
            outcome = task.get("outcome") or {}
            if outcome.get("status") == "confirmed" and int(outcome["received"]) < int(outcome["min_out"]):
                lost += 1
        double += max(0, len(r.tx_hashes) - len(set(r.tx_hashes)))
    per_nonce = {}
    for tx in txs:
        per_nonce[tx["nonce"]] = per_nonce.get(tx["nonce"], 0) + 1
    double += sum(c - 1 for c in per_nonce.values())
    recorded = {h for r in swarm_runs for h in r.tx_hashes}
    lost += len(hashes - recorded - {r.anchor["tx_id"] for r in swarm_runs if r.anchor})  # a tx nobody recorded
    return lost, double


def faults_section(devnet, home: Path, runs: int, tally: Tally, rng: random.Random) -> None:
    w3 = connect(devnet.manifest.rpc_url)
    with FaultProxy(devnet.manifest.rpc_url) as proxy:
        swarm = Swarm(w3=connect(proxy.url, timeout=5), manifest=devnet.manifest, wallet=Wallet.devnet(1),
                      home=home, anchor=False)
        start, results = w3.eth.block_number, []
        for _ in range(runs):
            for method in rng.sample(["eth_call", "eth_getBlockByNumber", "eth_blockNumber", "eth_getTransactionCount",
                                      "eth_estimateGas"], 2):
                proxy.inject(rng.choice(["drop", "rpc_error", "rate_limit", "delay"]), {method},
                             times=rng.randint(1, 3), delay_seconds=0.05)
            if rng.random() < 0.3:
                proxy.inject("lose_response", {"eth_sendRawTransaction"})
            t = time.monotonic()
            r = swarm.execute(swap_graph("ETH", "USDC", "0.05", slippage_bps=100))
            if r.status == "failed":
                proxy.clear()
                r = swarm.resume(r.run_id)
            tally.times.append(time.monotonic() - t)
            proxy.clear()
            results.append(r)
        lost, double = audit_chain(w3, swarm.wallet.address, start, results)
        # a clear end state: done, or refused with a reason (the pool moves as the runs trade); never half-done
        unclear = sum(not (r.status == "done" or (r.status == "refused" and r.reasons)) for r in results)
        tally.add("rpc faults", faults=sum(proxy.stats.injected.values()), runs=runs, funds_lost=lost, double_sends=double,
                  wrongly_executed=unclear)
        swarm.close()


def crash_section(devnet, home: Path, tally: Tally) -> None:
    w3 = connect(devnet.manifest.rpc_url)
    wallet = Wallet.devnet(1)
    for i, point in enumerate(KILL_POINTS):
        run_home = home / f"crash{i}"
        n = w3.eth.get_transaction_count(wallet.address)
        proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(devnet.manifest_path), str(run_home),
                               str(Path(__file__).resolve().parents[1])],
                              env={**os.environ, "SWARM_FAULT_KILL_AT": point}, capture_output=True, timeout=120)
        swarm = Swarm.from_devnet(devnet.manifest_path, home=run_home, anchor=False)
        t = time.monotonic()
        r = swarm.resume("crash")
        tally.times.append(time.monotonic() - t)
        sent = w3.eth.get_transaction_count(wallet.address) - n
        from swarm.audit import verify_log
        ok = r.status == "done" and sent == 2 and verify_log(swarm.auditor.log, "crash").ok and proc.returncode == -9
        tally.add("crash + resume", faults=1, runs=1, double_sends=max(0, sent - 2), wrongly_executed=0 if ok else 1)
        swarm.close()


def adversarial_section(devnet, home: Path, tally: Tally) -> None:
    w3 = connect(devnet.manifest.rpc_url)
    swarm = Swarm(w3=w3, manifest=devnet.manifest, wallet=Wallet.devnet(1), home=home, anchor=False)
    start, results, wrong = w3.eth.block_number, [], 0
    for text, expected in CORPUS:
        t = time.monotonic()
        r = swarm.run(text)
        tally.times.append(time.monotonic() - t)
        results.append(r)
        got = (r.plan.slots.token_in, r.plan.slots.token_out, str(r.plan.slots.amount_in), r.plan.slots.parts) \
            if r.plan is not None and r.plan.ok else None
        wrong += got != expected or (expected is None and bool(r.tx_hashes))
    lost, double = audit_chain(w3, swarm.wallet.address, start, results)
    tally.add("adversarial intents", runs=len(CORPUS), inputs=len(CORPUS), funds_lost=lost, double_sends=double,
              wrongly_executed=wrong)
    swarm.close()


def concurrency_section(devnet, home: Path, n: int, tally: Tally) -> None:
    w3 = connect(devnet.manifest.rpc_url)
    policy = RiskPolicy(daily_cap_usd=Decimal(1500), require_honeypot_check=False, max_slippage_bps=100)
    swarm = Swarm(w3=w3, manifest=devnet.manifest, wallet=Wallet.devnet(2), home=home, policy=policy, anchor=False)
    start = w3.eth.block_number

    def one(_):
        t = time.monotonic()
        r = swarm.execute(swap_graph("ETH", "USDC", "0.01", slippage_bps=100))
        tally.times.append(time.monotonic() - t)
        return r

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(n)))
    lost, double = audit_chain(w3, swarm.wallet.address, start, results)
    spent = sum(Decimal(r.tasks["risk_1"]["decision"]["trade_usd"]) for r in results if r.status == "done")
    tally.add("concurrency (8 threads)", runs=n, funds_lost=lost, double_sends=double,
              wrongly_executed=int(spent > policy.daily_cap_usd))
    swarm.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fault-runs", type=int, default=30)
    ap.add_argument("--concurrent", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    install()
    tally, rng = Tally(), random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp, \
            Devnet.start(port=free_port(), manifest_path=Path(tmp) / "manifest.json") as devnet:
        faults_section(devnet, Path(tmp) / "faults", args.fault_runs, tally, rng)
        crash_section(devnet, Path(tmp), tally)
        adversarial_section(devnet, Path(tmp) / "adv", tally)
        concurrency_section(devnet, Path(tmp) / "conc", args.concurrent, tally)
    cols = ["faults", "runs", "funds_lost", "double_sends", "inputs", "wrongly_executed"]
    print(f"{'section':<26}" + "".join(f"{c:>18}" for c in cols))
    for name, row in tally.rows.items():
        print(f"{name:<26}" + "".join(f"{row[c]:>18}" for c in cols))
    total = {c: sum(r[c] for r in tally.rows.values()) for c in cols}
    print(f"{'total':<26}" + "".join(f"{total[c]:>18}" for c in cols))
    q = statistics.quantiles(tally.times, n=20)
    print(f"\ntime per intent over {len(tally.times)} runs: p50 {statistics.median(tally.times) * 1000:.0f} ms, "
          f"p95 {q[18] * 1000:.0f} ms")
    return 0 if total["funds_lost"] == total["double_sends"] == total["wrongly_executed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
