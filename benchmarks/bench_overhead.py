"""What the library costs on top of the chain: `Swarm.run` next to a minimal hand-written web3.py swap.

    python benchmarks/bench_overhead.py [--runs 7] [--threads 8] [--intents 20] [--parts 1,2,4,8,16]

Both sides run in this process against one fresh anvil devnet (Uniswap V2, feeds, Multicall3), each
measurement between an `evm_snapshot` and an `evm_revert` that are outside the timed region. JSON-RPC
requests are counted per method at the transport (the HTTP session both sides post through). The
library runs with everything it does in production: planning (no model), price families, the risk
checks, the sell-back probe, simulation, the cross-process nonce lock, the outbox, the spend ledger,
the audit log (durable) and its checkpoint; the anchor (one more transaction the script does not
send) is measured separately. Start-up rows run `swarm --help` and `swarm plan` as processes.

Numbers from a shared machine are noisy: compare the two sides of one run, not runs with each other.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from web3 import Web3  # noqa: E402

from defai_swarm.tools.devnet import Devnet  # noqa: E402
from defai_swarm.tools.devnet.contracts import abi  # noqa: E402
from defai_swarm.tools.devnet.node import free_port  # noqa: E402
from defai_swarm.tools.evm.rpc import connect  # noqa: E402
from defai_swarm.tools.evm.wallet import Wallet  # noqa: E402

INTENT = "swap 1 ETH to USDC, max 0.5% slippage"
TARGETS = {"requests": 20, "time_ratio": 2.0, "throughput_ratio": 0.5, "part_ratio": 1.2, "plan_s": 1.5,
           "plan_rss_mb": 120, "help_s": 0.3}


class CountingSession(requests.Session):
    """Counts JSON-RPC requests per method as they leave for the node."""

    def __init__(self):
        super().__init__()
        self.trust_env = False
        self.counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def post(self, url, data=None, **kw):  # type: ignore[override]
        body = json.loads(data or b"{}")
        with self._lock:
            for call in body if isinstance(body, list) else [body]:
                self.counts[call.get("method", "?")] += 1
        return super().post(url, data=data, **kw)

    def take(self) -> dict[str, int]:
        with self._lock:
            out = dict(self.counts)
            self.counts.clear()
        return out


def stats(samples: list[float]) -> str:
    return (f"{statistics.median(samples) * 1000:7.1f} ms (min {min(samples) * 1000:.1f}, "
            f"max {max(samples) * 1000:.1f})")


class Bench:
    def __init__(self, devnet: Devnet, ledger_dir: Path):
        self.devnet, self.ledger_dir = devnet, ledger_dir
        self.admin = connect(devnet.manifest.rpc_url)
        self.wallet = Wallet.devnet(1)

    # -- chain state outside the timed region
    def snapshot(self) -> str:
        return self.admin.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type,index]

    def revert(self, snap: str, swarms=()) -> None:
        self.admin.provider.make_request("evm_revert", [snap])  # type: ignore[arg-type]
        for swarm in swarms:  # the revert took back their transactions: their nonce counters start over
            nonces = swarm.chain.sender.nonces
            nonces._next, nonces._released = 0, []
        for record in (self.ledger_dir / "nonces").glob("*.json"):  # highest-broadcast records the revert erased
            record.unlink()

    # -- the hand-written script: quote, minOut, sign, send, wait
    def script_swap(self, w3: Web3, amount_wei: int = 10**18, nonce: int | None = None) -> None:
        m = self.devnet.manifest
        router = w3.eth.contract(address=Web3.to_checksum_address(m.router), abi=abi("UniswapV2Router02"))
        usdc = m.tokens["USDC"].address
        path = [Web3.to_checksum_address(m.weth), Web3.to_checksum_address(usdc)]
        out = router.functions.getAmountsOut(amount_wei, path).call()[-1]
        me = self.wallet.address
        deadline = w3.eth.get_block("latest")["timestamp"] + 300  # type: ignore[typeddict-item]
        tx = router.functions.swapExactETHForTokens(out * 995 // 1000, path, me, deadline).build_transaction(
            {"from": me, "value": amount_wei, "nonce": w3.eth.get_transaction_count(me) if nonce is None else nonce})
        # the same gas headroom the library adds (Uniswap's price accumulators cost more in a block with a new time)
        tx["gas"] = int(tx["gas"] * 1.2) + 50_000  # type: ignore[operator]
        signed = self.wallet.sign_transaction(tx)
        receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction),
                                                      poll_latency=0.05)
        assert receipt["status"] == 1

    def script_w3(self) -> tuple[Web3, CountingSession]:
        session = CountingSession()
        provider = Web3.HTTPProvider(self.devnet.manifest.rpc_url, session=session, exception_retry_configuration=None)
        return Web3(provider), session

    def swarm(self, home: Path, anchor: bool):
        from defai_swarm.api import Swarm
        from defai_swarm.tools.evm.chain import EvmChain
        from defai_swarm.tools.evm.policy import RiskPolicy

        session = CountingSession()
        chain = EvmChain(self.devnet.manifest, self.wallet, w3=connect(self.devnet.manifest.rpc_url, session=session))
        policy = RiskPolicy(daily_cap_usd=Decimal(10**12), max_trade_usd=Decimal(10**9))  # many runs, one ledger
        return Swarm(chain, policy=policy, home=home, anchor=anchor), session


def timed_runs(bench: Bench, runs: int, fn, swarms=()) -> tuple[list[float], dict[str, int]]:
    times, counts = [], collections.Counter()
    for _ in range(runs):
        snap = bench.snapshot()
        t = time.perf_counter()
        counted = fn()
        times.append(time.perf_counter() - t)
        counts = collections.Counter(counted)  # the last run's counts (every run asks the same)
        bench.revert(snap, swarms)
    return times, dict(counts)


def one_swap(bench: Bench, runs: int, home: Path) -> list[tuple]:
    """The script and the library (anchor off, anchor on) in turns, one run of each per round, so a burst of load
    from other jobs on a shared machine hits all three alike; wall time and this process's CPU time per run."""
    rows = []
    w3, session = bench.script_w3()
    snap = bench.snapshot()
    bench.script_swap(w3)  # warm: contract objects, connection
    bench.revert(snap)
    session.take()
    swarms = {anchor: bench.swarm(home / f"anchor-{anchor}", anchor) for anchor in (False, True)}
    everyone = [swarm for swarm, _ in swarms.values()]
    for swarm, sw_session in swarms.values():
        snap = bench.snapshot()
        swarm.run(INTENT)  # warm: code paths, pair addresses, multicall lookup
        bench.revert(snap, everyone)
        sw_session.take()

    def script():
        bench.script_swap(w3)
        return session.take()

    def library(anchor: bool):
        swarm, sw_session = swarms[anchor]
        result = swarm.run(INTENT)
        assert result.status == "done", result.summary()
        return sw_session.take()

    sides = {"script": script, False: lambda: library(False), True: lambda: library(True)}
    times: dict = {k: [] for k in sides}
    cpu: dict = {k: [] for k in sides}
    counts: dict = {}
    for _ in range(runs):
        for key, fn in sides.items():
            snap = bench.snapshot()
            t, c = time.perf_counter(), time.process_time()
            counted = fn()
            times[key].append(time.perf_counter() - t)
            cpu[key].append(time.process_time() - c)
            counts[key] = collections.Counter(counted)  # the last run's counts (every run asks the same)
            bench.revert(snap, everyone)
    for swarm in everyone:
        swarm.close()
    s_times, l_times, a_times = times["script"], times[False], times[True]
    s_counts, l_counts, a_counts = counts["script"], counts[False], counts[True]
    fmt = lambda c: ", ".join(f"{k} {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1]))  # noqa: E731
    cpu_ms = lambda k: f"{statistics.median(cpu[k]) * 1000:.0f} ms"  # noqa: E731
    ratio = statistics.median(l_times) / statistics.median(s_times)
    rows.append(("hand-written web3.py swap", stats(s_times), cpu_ms("script"), sum(s_counts.values()), fmt(s_counts)))
    rows.append(("Swarm.run, audit on, anchor off", stats(l_times), cpu_ms(False), sum(l_counts.values()),
                 fmt(l_counts)))
    rows.append(("Swarm.run, audit on, anchor on", stats(a_times), cpu_ms(True), sum(a_counts.values()),
                 fmt(a_counts)))
    anchor_ms = (statistics.median(a_times) - statistics.median(l_times)) * 1000
    anchor_req = sum(a_counts.values()) - sum(l_counts.values())
    summary = {"ratio": ratio, "min_ratio": min(l_times) / min(s_times),
               "cpu_ratio": statistics.median(cpu[False]) / statistics.median(cpu["script"]),
               "requests_anchor_on": sum(a_counts.values()), "anchor_ms": anchor_ms,
               "anchor_requests": anchor_req, "library_ms": statistics.median(l_times) * 1000,
               "script_ms": statistics.median(s_times) * 1000}
    return rows + [("_summary", summary)]


def split_graph(parts: int, usdc_per_part: Decimal):
    from defai_swarm.taskgraph import CheckRiskTask, ReadPriceTask, SwapTask, TaskGraph

    tasks: list = [ReadPriceTask(id="price_usdc", base="USDC"), ReadPriceTask(id="price_eth", base="ETH")]
    for i in range(1, parts + 1):
        deps = ("price_usdc", "price_eth") + ((f"swap_{i - 1}",) if i > 1 else ())
        tasks.append(CheckRiskTask(id=f"risk_{i}", swap_task=f"swap_{i}", depends_on=deps))
        tasks.append(SwapTask(id=f"swap_{i}", token_in="USDC", token_out="ETH", amount_in=usdc_per_part,
                              max_slippage_bps=100, price_tasks=("price_usdc", "price_eth"), risk_task=f"risk_{i}",
                              depends_on=(f"risk_{i}",)))
    return TaskGraph(intent=f"swap {usdc_per_part * parts} USDC to ETH in {parts} parts", tasks=tuple(tasks))


def scaling(bench: Bench, runs: int, home: Path, parts_list: list[int]) -> list[tuple]:
    """N parts of 500 USDC -> ETH (a token input: approvals matter), anchor off."""
    swarm, session = bench.swarm(home / "split", anchor=False)
    snap = bench.snapshot()
    swarm.execute(split_graph(1, Decimal(500)))  # warm
    bench.revert(snap, [swarm])
    session.take()
    medians: dict[int, tuple[float, int]] = {}
    rows = []
    for n in parts_list:
        def run(n=n):
            result = swarm.execute(split_graph(n, Decimal(500)))
            assert result.status == "done", result.summary()
            return session.take()
        times, counts = timed_runs(bench, max(3, runs // 2) if n >= 8 else runs, run, [swarm])
        medians[n] = (statistics.median(times), sum(counts.values()))
        approvals = counts.get("eth_sendRawTransaction", 0) - n
        rows.append((f"{n} part(s) of 500 USDC -> ETH", stats(times), sum(counts.values()),
                     f"{counts.get('eth_sendRawTransaction', 0)} transactions ({approvals} approval(s))"))
    swarm.close()
    one_t, one_r = medians[parts_list[0]]
    last = parts_list[-1]
    per_part_t = (medians[last][0] - one_t) / (last - parts_list[0]) if last != parts_list[0] else 0.0
    per_part_r = (medians[last][1] - one_r) / (last - parts_list[0]) if last != parts_list[0] else 0.0
    return rows + [("_summary", {"per_part_ms": per_part_t * 1000, "per_part_requests": per_part_r,
                                 "one_swap_ms": one_t * 1000, "part_ratio": per_part_t / one_t if one_t else 0.0})]


def throughput(bench: Bench, threads: int, intents: int, home: Path) -> list[tuple]:
    """`intents` small swaps on one wallet from `threads` threads: the library (one Swarm shared) and the script."""
    results = {}
    w3, _ = bench.script_w3()
    me = bench.wallet.address
    nonce_lock = threading.Lock()

    def fan_out(work) -> float:
        todo = list(range(intents))
        lock = threading.Lock()

        def worker():
            while True:
                with lock:
                    if not todo:
                        return
                    todo.pop()
                work()
        pool = [threading.Thread(target=worker) for _ in range(threads)]
        t = time.perf_counter()
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        return time.perf_counter() - t

    snap = bench.snapshot()
    counter = {"nonce": w3.eth.get_transaction_count(me)}

    def script_work():
        with nonce_lock:  # a script on one wallet must hand out nonces itself
            nonce, counter["nonce"] = counter["nonce"], counter["nonce"] + 1
        bench.script_swap(w3, 10**16, nonce)
    results["script"] = intents / fan_out(script_work)
    bench.revert(snap)

    swarm, _ = bench.swarm(home / "throughput", anchor=False)
    snap = bench.snapshot()
    failures: list[str] = []

    def library_work():
        result = swarm.run("swap 0.01 ETH to USDC, max 0.5% slippage")
        if result.status != "done":
            failures.append(result.summary())
    results["library"] = intents / fan_out(library_work)
    bench.revert(snap, [swarm])
    swarm.close()
    ratio = results["library"] / results["script"]
    return [(f"hand-written script, {threads} threads", f"{results['script']:.1f} intents/s", intents, ""),
            (f"Swarm.run, {threads} threads, one wallet", f"{results['library']:.1f} intents/s", intents,
             f"{len(failures)} not done" if failures else "all done"),
            ("_summary", {"throughput_ratio": ratio, "failures": failures[:3]})]


MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
elapsed = time.perf_counter() - t
print(json.dumps({"seconds": elapsed, "peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "rc": proc.returncode, "out": (proc.stdout + proc.stderr)[-400:]}))
"""


def startup(manifest_path: Path, home: Path, runs: int) -> list[tuple]:
    """`swarm --help` and `swarm plan` as processes: wall time and peak RSS of that process alone (measured by a
    small parent that runs only it)."""
    swarm_bin = str(Path(sys.executable).with_name("swarm"))
    env = {**os.environ, "SWARM_HOME": str(home)}
    rows, summary = [], {}
    for key, name, args in (("help", "swarm --help", [swarm_bin, "--help"]),
                            ("plan", "swarm plan \"swap 1 ETH to USDC\" (no model)",
                             [swarm_bin, "plan", "swap 1 ETH to USDC", "--manifest", str(manifest_path)])):
        times, peaks = [], []
        for _ in range(runs):
            proc = subprocess.run([sys.executable, "-c", MEASURE, *args], env=env, capture_output=True, text=True,
                                  timeout=180)
            m = json.loads(proc.stdout)
            assert m["rc"] == 0, m["out"]
            times.append(m["seconds"])
            peaks.append(m["peak_kb"] / 1024)
        rows.append((name, stats(times), f"peak RSS {statistics.median(peaks):.0f} MB (max {max(peaks):.0f})"))
        summary[key] = (statistics.median(times), statistics.median(peaks))
    return rows + [("_summary", summary)]


def table(title: str, rows: list[tuple], headers: tuple[str, ...]) -> None:
    print(f"\n{title}\n")
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "overhead benchmark").splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--intents", type=int, default=20)
    ap.add_argument("--parts", default="1,2,4,8,16")
    ap.add_argument("--skip", default="", help="comma list of sections to skip: swap,split,throughput,startup")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    parts = [int(p) for p in args.parts.split(",")]
    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        os.environ["SWARM_LEDGER"] = str(base / "ledger" / "ledger.sqlite")  # never the user's ledger or locks
        with Devnet.start(port=free_port(), manifest_path=base / "devnet" / "manifest.json") as devnet:
            bench = Bench(devnet, base / "ledger")
            verdicts = []
            if "swap" not in skip:
                rows = one_swap(bench, args.runs, base)
                s = rows.pop()[1]
                table(f"One intent: \"{INTENT}\" (median of {args.runs}, min, max; the three sides in turns)", rows,
                      ("side", "wall time", "CPU time (median)", "JSON-RPC requests", "per method"))
                verdicts += [
                    ("requests per intent, audit + anchor included", f"{s['requests_anchor_on']}",
                     f"<= {TARGETS['requests']}", s["requests_anchor_on"] <= TARGETS["requests"]),
                    ("wall time vs the script, anchor off", f"{s['ratio']:.2f}x (fastest runs {s['min_ratio']:.2f}x, "
                     f"CPU {s['cpu_ratio']:.2f}x)", f"<= {TARGETS['time_ratio']}x", s["ratio"] <= TARGETS["time_ratio"]),
                    ("anchor cost (reported separately)", f"{s['anchor_ms']:.0f} ms, {s['anchor_requests']} requests",
                     "-", None)]
            if "split" not in skip:
                rows = scaling(bench, args.runs, base, parts)
                s = rows.pop()[1]
                table("N-part split, USDC -> ETH, 500 USDC per part, anchor off", rows,
                      ("parts", "wall time", "JSON-RPC requests", "transactions"))
                verdicts.append(("each extra part vs one plain swap", f"{s['part_ratio']:.2f}x "
                                 f"({s['per_part_ms']:.0f} ms, {s['per_part_requests']:.1f} requests per part)",
                                 f"<= {TARGETS['part_ratio']}x", s["part_ratio"] <= TARGETS["part_ratio"]))
            if "throughput" not in skip:
                rows = throughput(bench, args.threads, args.intents, base)
                s = rows.pop()[1]
                table(f"Throughput: {args.intents} swaps of 0.01 ETH", rows, ("side", "rate", "intents", "note"))
                verdicts.append(("8-thread throughput vs the script", f"{s['throughput_ratio']:.2f}x",
                                 f">= {TARGETS['throughput_ratio']}x",
                                 s["throughput_ratio"] >= TARGETS["throughput_ratio"]))
            if "startup" not in skip:
                rows = startup(devnet.manifest_path, base / "cli-home", max(3, args.runs // 2))
                s = rows.pop()[1]
                table("Start-up (processes)", rows, ("command", "wall time", "memory"))
                help_s = s["help"][0]
                plan_s, plan_mb = s["plan"]
                verdicts += [("swarm --help", f"{help_s:.2f} s", f"< {TARGETS['help_s']} s",
                              help_s < TARGETS["help_s"]),
                             ("swarm plan, no model: time", f"{plan_s:.2f} s", f"< {TARGETS['plan_s']} s",
                              plan_s < TARGETS["plan_s"]),
                             ("swarm plan, no model: peak RSS", f"{plan_mb:.0f} MB", f"< {TARGETS['plan_rss_mb']} MB",
                              plan_mb < TARGETS["plan_rss_mb"])]
            table("Targets (issue 14)", [(what, got, want, "-" if ok is None else ("met" if ok else "MISSED"))
                                         for what, got, want, ok in verdicts], ("target", "measured", "goal", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
