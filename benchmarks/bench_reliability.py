"""Reliability runner: faults, crashes, adversarial intents, concurrency and an attacker with chain access, on a
fresh devnet; prints a table.

    python benchmarks/bench_reliability.py [--fault-runs 30] [--concurrent 200] [--skip-attacks]

Funds lost and double sends are measured on chain, not taken from the swarm's own report:
every wallet transaction in the blocks produced is classified, and each swap's received
amount is checked against its minOut.

The "attacker: ..." rows (issue 12) are an attacker holding another funded devnet account, the feeds' owner key
and control of mining, plus write access to the operator's state directory (tests/security/attacks.py has its
tools). Their columns:
  faults            the attacker's actions (pool pushes, feed writes, front- and back-runs, forgeries anchored)
  runs              the user's runs (swarm runs, or audit verifications of a record the attacker touched)
  funds_lost        from the chain: a wallet transaction nobody recorded, a confirmed swap below its minOut, or
                    the user paying for a swap and receiving less than the independent (feeds-only) minOut
  inputs            forged records given to `swarm audit verify`
  wrongly_executed  a trade that should have been refused, one below the feeds-only minOut, a forged record that
                    verified, a run without a clear end state, a nonce error, a cap overshoot, a spend ledger that
                    is not what moved, or a swarm report that is not what the chain shows
Every scenario starts from the same snapshot (the freshly deployed devnet, feeds re-dated), on wall-clock time.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from defai_swarm.agents.risk import RiskPolicy  # noqa: E402
from defai_swarm.api import RunResult, Swarm  # noqa: E402
from defai_swarm.audit import verify_bundle  # noqa: E402
from tests.reliability.adversarial_intents import CORPUS  # noqa: E402
from tests.security import attacks  # noqa: E402
from tests.test_runtime import KILL_POINTS, swap_graph  # noqa: E402
from defai_swarm.tools.devnet import Devnet  # noqa: E402
from defai_swarm.tools.devnet.fault_proxy import FaultProxy  # noqa: E402
from defai_swarm.tools.devnet.install import install  # noqa: E402
from defai_swarm.tools.devnet.node import free_port  # noqa: E402
from defai_swarm.tools.evm.anchor import EvmAnchorChecker  # noqa: E402
from defai_swarm.tools.evm.rpc import connect  # noqa: E402
from defai_swarm.tools.evm.tokens import TokenRegistry  # noqa: E402
from defai_swarm.tools.evm.uniswap import UniswapV2  # noqa: E402
from defai_swarm.tools.evm.wallet import Wallet  # noqa: E402

CRASH_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from defai_swarm.api import Swarm
from tests.test_runtime import swap_graph
Swarm.from_devnet(Path(sys.argv[1]), home=Path(sys.argv[2]), anchor=False).execute(swap_graph("USDC", "ETH", "100"), run_id="crash")
"""


class Tally:
    def __init__(self):
        self.rows: dict[str, dict] = {}
        self.times: list[float] = []
        self.notes: list[str] = []  # what a row counted, and why; printed under the table
        self.problems: list[str] = []  # a control that failed or a scenario that could not run: the bench fails

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
        from defai_swarm.audit import verify_log
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


# -- an attacker with chain access (issue 12) ---------------------------------------------------------------------
ATTACK_CAP = Decimal(10_000_000)  # the daily cap is not what these scenarios measure (the processes' one does)


def _amount(token, base_units: int) -> str:
    return f"{format(token.from_base(base_units).normalize(), 'f')} {token.symbol}"


class AttackWorld:
    """What the attack scenarios share: the devnet, the user (dev account 1), the attacker (another funded
    account), a stage every scenario starts from, and the tally."""

    def __init__(self, devnet, home: Path, tally: Tally, stage: attacks.Stage):
        self.devnet, self.home, self.tally, self.stage = devnet, home, tally, stage
        self.w3 = connect(devnet.manifest.rpc_url)
        self.registry = TokenRegistry.from_manifest(devnet.manifest)
        self.uniswap = UniswapV2.from_manifest(self.w3, devnet.manifest, self.registry)
        self.user = Wallet.devnet(1)
        self.attacker = attacks.attacker_of(devnet, self.user.address, Wallet.devnet(2).address)
        self.config = ["--config", str(devnet.manifest_path)]

    def swarm(self, name: str, anchor: bool = False) -> Swarm:
        return Swarm(w3=connect(self.devnet.manifest.rpc_url), manifest=self.devnet.manifest, wallet=self.user,
                     home=self.home / name, policy=RiskPolicy(daily_cap_usd=ATTACK_CAP), anchor=anchor)

    def execute(self, swarm: Swarm, graph) -> RunResult:
        return swarm.execute(graph)  # not timed: "time per intent" stays the other sections' measure

    def nonce(self) -> int:
        return self.w3.eth.get_transaction_count(self.user.address, "pending")

    def judge(self, row: str, case: str, r: RunResult, start: int, token_in: str, token_out: str, floor: int) -> dict:
        """One user run after an attack, read from the chain: funds lost, double sends, a confirmed swap below the
        feeds-only floor, a run without a clear end state (or a report the chain contradicts)."""
        lost, double = audit_chain(self.w3, self.user.address, start, [r])
        t_in, t_out = self.registry.resolve(token_in), self.registry.resolve(token_out)
        paid = attacks.spent_on_chain(self.w3, t_in, self.user.address, start)
        received = attacks.received_on_chain(self.w3, t_out, self.user.address, start)
        confirmed = [t["outcome"] for t in r.tasks.values() if (t.get("outcome") or {}).get("status") == "confirmed"]
        reported = (sum(int(o["amount_in"]) for o in confirmed), sum(int(o["received"]) for o in confirmed))
        mismatch = int((paid, received) != reported)
        below = int(paid > 0 and received < floor)
        unclear = int(not (r.status == "done" or (r.status in ("refused", "skipped", "failed") and r.reasons)))
        self.tally.notes.append(
            f"{row} / {case}: {r.status}; on chain paid (gas aside) {_amount(t_in, paid)}, received "
            f"{_amount(t_out, received)} (feeds-only minOut {_amount(t_out, floor)})"
            + (f"; {r.reasons[0][:140]}" if r.reasons else ""))
        if mismatch:
            self.tally.notes.append(f"  ! the swarm reported (paid, received) {reported}, the chain shows "
                                    f"{(paid, received)}")
        if below:
            risk = r.tasks.get("risk_1", {})
            median = ((risk.get("input") or {}).get("price_in") or {}).get("median")
            self.tally.notes.append(f"  ! received {_amount(t_out, received)} < the feeds-only minOut "
                                    f"{_amount(t_out, floor)}; the run's own minOut was "
                                    f"{_amount(t_out, int(risk.get('min_out') or 0))} ({t_in.symbol} median {median})")
        return {"lost": lost, "double": double, "below": below, "unclear": unclear + mismatch}


def attack_market_moves(a: AttackWorld) -> None:
    """The attacker dumps ETH into the WETH/USDC pool right before the user's swap (and once into both WETH pools,
    staying within the policy's 200 bps source spread): refused, or received at least the feeds-only minOut."""
    row, slippage = "attacker: market moves", 100
    weth = a.registry.resolve("WETH")
    cases = [("ETH", "USDC", "1", "-0.3", ("USDC",)), ("ETH", "USDC", "1", "-1", ("USDC",)),
             ("ETH", "USDC", "1", "-3", ("USDC",)), ("ETH", "USDC", "1", "-18", ("USDC",)),
             ("USDC", "ETH", "3000", "-0.3", ("USDC",)), ("USDC", "ETH", "3000", "-3", ("USDC",)),
             ("ETH", "USDC", "1", "-1.5", ("USDC", "DAI"))]
    for i, (tin, tout, amount, move, pools) in enumerate(cases):
        a.stage.reset()
        for stable in pools:
            spot = a.uniswap.spot_price(weth, a.registry.resolve(stable))[0]
            attacks.push_eth_price(a.w3, a.uniswap, a.registry, a.attacker, stable, spot * (1 + Decimal(move) / 100))
        floor = attacks.oracle_min_out(a.w3, a.devnet, a.registry, tin, tout, Decimal(amount), slippage)
        swarm = a.swarm(f"market{i}")
        start = a.w3.eth.block_number
        r = a.execute(swarm, swap_graph(tin, tout, amount, slippage_bps=slippage))
        swarm.close()
        where = " and ".join(f"WETH/{p}" for p in pools)
        j = a.judge(row, f"{amount} {tin}->{tout} after a {move}% dump into {where}", r, start, tin, tout, floor)
        a.tally.add(row, faults=len(pools), runs=1, funds_lost=j["lost"], double_sends=j["double"],
                    wrongly_executed=j["below"] + j["unclear"])


def attack_oracle_outage(a: AttackWorld) -> None:
    """The ETH/USD feed stale or zero, both WETH pools pushed 18 % down by the attacker: refused, nothing signed."""
    row = "attacker: oracle outage"
    cases = [("stale", True, None), ("zero", True, None), ("stale", True, ("<", "2900")), ("stale", False, None)]
    for i, (outage, push, condition) in enumerate(cases):
        a.stage.reset()
        floor = attacks.oracle_min_out(a.w3, a.devnet, a.registry, "ETH", "USDC", Decimal(1), 50)  # the real price
        if outage == "stale":
            attacks.set_feed(a.w3, a.devnet, "ETH/USD", 3000, age_seconds=2 * 3600)
        else:
            attacks.set_feed(a.w3, a.devnet, "ETH/USD", 0)
        if push:
            for stable in ("USDC", "DAI"):
                attacks.push_eth_price(a.w3, a.uniswap, a.registry, a.attacker, stable, Decimal(2460))
        swarm = a.swarm(f"outage{i}")
        start, n = a.w3.eth.block_number, a.nonce()
        r = a.execute(swarm, swap_graph("ETH", "USDC", "1", condition=condition))
        swarm.close()
        signed = a.nonce() - n + len(r.tx_hashes)
        case = f"feed {outage}" + (", both pools pushed to 2460" if push else ", pools honest") + \
            (f", condition ETH {' '.join(condition)}" if condition else "")
        j = a.judge(row, case, r, start, "ETH", "USDC", floor)
        wrong = int(signed > 0 or r.status != "refused" or not r.reasons)
        if wrong:
            a.tally.notes.append(f"  ! {case}: {signed} transaction(s) signed, status {r.status} (must refuse)")
        a.tally.add(row, faults=1 + 2 * push, runs=1, funds_lost=j["lost"], double_sends=j["double"],
                    wrongly_executed=max(wrong, j["below"] + j["unclear"]))


def attack_sandwich(a: AttackWorld) -> None:
    """Automine off; the user's 1 ETH -> USDC swap waits in the mempool; the attacker reads its amountOutMin,
    front-runs with a higher tip (a large dump, or the largest that still leaves the user its minOut), mines,
    back-runs. The user's swap reverts at minOut (only gas lost) or receives at least minOut."""
    for i, (kind, slippage) in enumerate([("large", 50), ("largest-safe", 50), ("largest-safe", 100)]):
        _sandwich_once(a, f"sandwich{i}", kind, slippage)


def _sandwich_once(a: AttackWorld, name: str, kind: str, slippage: int) -> None:
    row = "attacker: sandwich"
    weth, usdc = a.registry.resolve("WETH"), a.registry.resolve("USDC")
    a.stage.reset()
    attacks.approve_router(a.w3, a.uniswap, a.registry, a.attacker, "USDC")  # for the back-run
    floor = attacks.oracle_min_out(a.w3, a.devnet, a.registry, "ETH", "USDC", Decimal(1), slippage)
    swarm = a.swarm(name)
    start, n = a.w3.eth.block_number, a.nonce()
    results: list = []

    def run() -> None:
        try:
            results.append(a.execute(swarm, swap_graph("ETH", "USDC", "1", slippage_bps=slippage)))
        except Exception as exc:  # noqa: BLE001 - raised again below, in this thread
            results.append(exc)
    user = threading.Thread(target=run)
    order, faults = "", 0
    attacks.rpc(a.w3, "evm_setAutomine", False)
    try:
        user.start()
        attacks.wait_until(lambda: attacks.pending_tx(a.w3, a.user.address, n) is not None or not user.is_alive(),
                           "the user's swap in the mempool", timeout=60)
        victim = attacks.pending_tx(a.w3, a.user.address, n)
        if victim is not None:
            _, _, victim_in, victim_min = attacks.victim_terms(a.uniswap, victim)
            res = a.uniswap.reserves(weth, usdc)
            wei = 50 * 10**18 if kind == "large" else \
                attacks.largest_front_run(res.reserve_a, res.reserve_b, victim_in, victim_min) * 999 // 1000
            before = attacks.balance(a.w3, usdc, a.attacker.address)
            front = attacks.dump_eth(a.w3, a.uniswap, a.registry, a.attacker, "USDC", wei, tip_gwei=50, wait=False)
            attacks.rpc(a.w3, "evm_mine")
            f, v = a.w3.eth.get_transaction_receipt(front), a.w3.eth.get_transaction_receipt(victim["hash"])
            ahead = (f["blockNumber"], f["transactionIndex"]) < (v["blockNumber"], v["transactionIndex"])
            gained = attacks.balance(a.w3, usdc, a.attacker.address) - before
            attacks.sell_for_eth(a.w3, a.uniswap, a.registry, a.attacker, "USDC", gained, wait=False)
            attacks.rpc(a.w3, "evm_mine")
            faults = 2
            order = (f"front-run of {wei / 10**18:.4f} ETH {'ahead' if ahead else 'NOT ahead'}, "
                     f"the user's swap {'reverted' if v['status'] == 0 else 'landed'}")
            if not ahead:
                a.tally.problems.append(f"{row}: the front-run was not mined ahead of the user's swap ({name})")
    finally:
        attacks.rpc(a.w3, "evm_setAutomine", True)
        user.join(120)
        swarm.close()
    r = results[0] if results else RuntimeError("the user's run did not finish")
    if isinstance(r, Exception):
        raise r
    j = a.judge(row, f"{kind} front-run, {slippage} bps ({order or 'never in the mempool'})", r, start, "ETH", "USDC",
                floor)
    a.tally.add(row, faults=faults, runs=1, funds_lost=j["lost"] + j["below"], double_sends=j["double"],
                wrongly_executed=j["unclear"])


def attack_forged_bundle(a: AttackWorld) -> None:
    """A real run's exported bundle, edited: re-signed with a fresh key and re-anchored from the attacker's
    account (or edited only). `swarm audit verify --bundle` must exit non-zero on every forgery."""
    row = "attacker: forged bundle"
    a.stage.reset()
    op, reviewer = a.home / "operator-bundle", a.home / "reviewer"
    swarm = a.swarm("operator-bundle", anchor=True)
    r = a.execute(swarm, swap_graph("ETH", "DAI", "0.1"))
    swarm.close()
    if swarm.auditor is not None:
        swarm.auditor.log.close()
    if r.status != "done" or r.anchor is None:
        a.tally.problems.append(f"{row}: the honest run did not finish anchored: {r.summary()}")
        return
    honest = op / "run.json"
    (rc, out), = attacks.audit_clis([(op, ["export", r.run_id, "-o", str(honest)])])
    if rc != 0:
        a.tally.problems.append(f"{row}: export failed: {out[-500:]}")
        return
    bundle = json.loads(honest.read_text())
    forged, forger = attacks.forge_bundle(bundle, a.w3, a.attacker)
    # control: the forgery is self-consistent (its own key, its own sender): only pinning can catch it
    self_check = verify_bundle(forged, trusted_vkey=forger.vkey,
                               anchor_checker=EvmAnchorChecker(a.w3, expected_sender=a.attacker.address))
    if not self_check.ok:
        a.tally.problems.append(f"{row}: the forgery is not even self-consistent: {self_check.reason}")
    paths = {name: op / f"{name}.json" for name in ("forged", "edited")}
    paths["forged"].write_text(json.dumps(forged))
    paths["edited"].write_text(json.dumps(attacks.edited_bundle(bundle)))
    cases = [("honest bundle, operator's machine (control)", op, ["--bundle", str(honest)]),
             ("re-signed + re-anchored by the attacker, operator's machine", op, ["--bundle", str(paths["forged"])]),
             ("the same, verifier told --vkey <forger's key>", op,
              ["--bundle", str(paths["forged"]), "--vkey", forger.vkey]),
             ("the same, reviewer with no key of its own", reviewer, ["--bundle", str(paths["forged"])]),
             ("an entry edited, nothing re-signed", op, ["--bundle", str(paths["edited"])])]
    verdicts = attacks.audit_clis([(home, ["verify", *args, *a.config]) for _, home, args in cases])
    for (case, _, _), (rc, out) in zip(cases, verdicts, strict=True):
        last = next((ln.strip() for ln in reversed(out.splitlines()) if ln.strip()), "")
        a.tally.notes.append(f"{row} / {case}: exit {rc}: {last[:120]}")
        if case.endswith("(control)"):
            if rc != 0:
                a.tally.problems.append(f"{row}: the honest bundle did not verify: {out[-800:]}")
            continue
        a.tally.add(row, runs=1, inputs=1, wrongly_executed=int(rc == 0))
    a.tally.add(row, faults=1)  # the forger's anchor transaction


def attack_forged_log(a: AttackWorld) -> None:
    """Finished, anchored runs whose entries are then rewritten in the audit SQLite database. `swarm audit verify
    RUN` must exit non-zero on every one."""
    row = "attacker: forged local log"
    a.stage.reset()
    op = a.home / "operator-log"
    swarm = a.swarm("operator-log", anchor=True)
    runs = [a.execute(swarm, swap_graph("ETH", "DAI", "0.05")) for _ in range(4)]
    swarm.close()
    if swarm.auditor is not None:
        swarm.auditor.log.close()
    if any(r.status != "done" or r.anchor is None for r in runs):
        a.tally.problems.append(f"{row}: an honest run did not finish anchored: " +
                                "; ".join(r.summary() for r in runs))
        return
    ids = [r.run_id for r in runs]
    for rid, (rc, out) in zip(ids, attacks.audit_clis([(op, ["verify", rid, *a.config]) for rid in ids]), strict=True):
        if rc != 0:
            a.tally.problems.append(f"{row}: honest run {rid} did not verify (control): {out[-800:]}")
    cases = ["an entry edited, its leaf hash left", "an entry edited and re-hashed, nothing re-signed",
             "rewritten, re-signed with the machine key, re-anchored from the attacker's account",
             "rewritten 2 h back-dated, re-signed, re-anchored by the operator's own account"]
    attacks.edit_log(op, ids[0], rehash=False)
    attacks.edit_log(op, ids[1], rehash=True)
    attacks.rewrite_log(op, ids[2], attacks.evm_anchorer(a.w3, a.attacker), intent_wallet=a.attacker.address)
    attacks.rewrite_log(op, ids[3], attacks.evm_anchorer(a.w3, a.user), backdate=timedelta(hours=2))
    verdicts = attacks.audit_clis([(op, ["verify", rid, *a.config]) for rid in ids])
    for case, (rc, out) in zip(cases, verdicts, strict=True):
        last = next((ln.strip() for ln in reversed(out.splitlines()) if ln.strip()), "")
        a.tally.notes.append(f"{row} / {case}: exit {rc}: {last[:120]}")
        a.tally.add(row, faults=1, runs=1, inputs=1, wrongly_executed=int(rc == 0))


def attack_processes(a: AttackWorld, processes: int, swaps_each: int = 2) -> None:
    """`processes` OS processes, one wallet, two per state directory, released at once, each swapping 0.01 ETH
    `swaps_each` times under a $150 cap (about 5 of the swaps fit, whatever the state directory)."""
    row = f"attacker: {processes} processes"
    a.stage.reset()
    cap, amount = Decimal(150), "0.01"
    previous = os.environ.get("SWARM_LEDGER")
    os.environ["SWARM_LEDGER"] = str(a.home / "processes-ledger" / "ledger.sqlite")  # this scenario's own cap
    try:
        homes = [a.home / f"process-home{i // 2}" for i in range(processes)]
        start, n = a.w3.eth.block_number, a.nonce()
        usdc = a.registry.resolve("USDC")
        go = a.home / "go"
        go.unlink(missing_ok=True)
        outputs = attacks.swarm_processes(a.devnet.manifest_path, homes, go, swaps_each, cap, amount)
        results: list[RunResult] = []
        wrong = 0
        for code, lines, err in outputs:
            if code != 0:
                wrong += 1
                a.tally.notes.append(f"  ! a process exited {code}: {err.strip().splitlines()[-1:] }")
            for line in lines:
                if line.startswith("{"):
                    results.append(RunResult.model_validate_json(line))
                elif line.startswith("error"):
                    wrong += 1
                    a.tally.notes.append(f"  ! a run raised: {line[:200]}")
        lost, double = audit_chain(a.w3, a.user.address, start, results)
        done = [r for r in results if r.status == "done"]
        nonce_errors = [x for r in results for x in r.reasons if "nonce" in x.lower()]
        unclear = [r for r in results if not (r.status == "done" or (r.status == "refused" and r.reasons))]
        txs = attacks.wallet_txs(a.w3, a.user.address, start)
        ok_txs = [tx for tx in txs if a.w3.eth.get_transaction_receipt(tx["hash"])["status"] == 1]
        eth_moved = sum(int(tx["value"]) for tx in ok_txs)
        usdc_in = attacks.received_on_chain(a.w3, usdc, a.user.address, start)
        confirmed = [r.tasks["swap_1"]["outcome"] for r in done]
        moved_matches = (usdc_in == sum(int(o["received"]) for o in confirmed)
                         and eth_moved == sum(int(o["amount_in"]) for o in confirmed)
                         and len(txs) == a.nonce() - n == sum(len(r.tx_hashes) for r in results))
        eth_usd = attacks.feed_usd(a.w3, a.devnet, "ETH/USD")
        moved_usd = Decimal(eth_moved).scaleb(-18) * eth_usd
        # swaps that landed after the cap was used up, in chain order (0.5 %: the decisions value at the median)
        cumulative, over_cap = Decimal(0), 0
        for tx in ok_txs:
            cumulative += Decimal(int(tx["value"])).scaleb(-18) * eth_usd
            over_cap += cumulative > cap * Decimal("1.005")
        checker = Swarm(w3=a.w3, manifest=a.devnet.manifest, wallet=a.user, home=homes[0], audit=False, anchor=False,
                        policy=RiskPolicy(daily_cap_usd=cap, require_honeypot_check=False, max_slippage_bps=100))
        ledger = checker.deps.ledger.spent_today()
        checker.close()
        booked = sum(Decimal(r.tasks["risk_1"]["decision"]["trade_usd"]) for r in done)
        wrong += bool(nonce_errors) + len(unclear) + (not moved_matches) + over_cap + (ledger != booked)
        a.tally.notes.append(
            f"{row}: {len(results)} runs in {len(set(homes))} state dirs: {len(done)} done, "
            f"{sum(r.status == 'refused' for r in results)} refused; on chain {len(txs)} tx, "
            f"{_amount(a.registry.resolve('ETH'), eth_moved)} -> {_amount(usdc, usdc_in)} "
            f"(${moved_usd:.2f} of a ${cap} cap); "
            f"spend ledger ${ledger:.2f}, done runs ${booked:.2f}")
        for what, bad in (("nonce errors", nonce_errors), ("runs without a clear end",
                                                           [f"{r.status}: {r.reasons[:1]}" for r in unclear])):
            if bad:
                a.tally.notes.append(f"  ! {what}: {bad[:4]}")
        if not moved_matches:
            a.tally.notes.append("  ! what moved on chain is not the sum of the confirmed swaps")
        if over_cap:
            a.tally.notes.append(f"  ! ${moved_usd:.2f} moved under a ${cap} daily cap: {over_cap} swap(s) landed "
                                 f"after it was used up")
        if ledger != booked:
            a.tally.notes.append(f"  ! the spend ledger says ${ledger:.2f}, the done runs booked ${booked:.2f}")
        a.tally.add(row, runs=len(results), funds_lost=lost, double_sends=double, wrongly_executed=wrong)
    finally:
        if previous is None:
            os.environ.pop("SWARM_LEDGER", None)
        else:
            os.environ["SWARM_LEDGER"] = previous


def attacker_section(devnet, home: Path, tally: Tally, pristine: str | None = None, processes: int = 4) -> None:
    """Market moves, oracle outage, sandwich with automine off, forged bundle, forged local log, concurrent
    processes; one table row each. `pristine`: a snapshot of the freshly deployed devnet (else: the chain as
    it is now), every scenario starts from it."""
    w3 = connect(devnet.manifest.rpc_url)
    previous = os.environ.get("SWARM_LEDGER")
    os.environ["SWARM_LEDGER"] = str(home / "ledger" / "ledger.sqlite")
    stage = attacks.Stage(w3, pristine)
    try:
        stage.reset()
        attacks.redate_feeds(w3, devnet)
        stage.rebase()
        world = AttackWorld(devnet, home, tally, stage)
        scenarios = [attack_market_moves, attack_oracle_outage, attack_sandwich, attack_forged_bundle,
                     attack_forged_log, lambda a: attack_processes(a, processes)]
        for scenario in scenarios:
            try:
                scenario(world)
            except Exception as exc:  # noqa: BLE001 - a scenario that could not run fails the bench, never a silent 0
                tally.problems.append(f"{getattr(scenario, '__name__', 'processes')} raised "
                                      f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}")
    finally:
        attacks.rpc(w3, "evm_setAutomine", True)
        if previous is None:
            os.environ.pop("SWARM_LEDGER", None)
        else:
            os.environ["SWARM_LEDGER"] = previous


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fault-runs", type=int, default=30)
    ap.add_argument("--concurrent", type=int, default=200)
    ap.add_argument("--processes", type=int, default=4, help="OS processes on one wallet in the attacker section")
    ap.add_argument("--skip-attacks", action="store_true", help="leave out the attacker-with-chain-access rows")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    install()
    tally, rng = Tally(), random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp, \
            Devnet.start(port=free_port(), manifest_path=Path(tmp) / "manifest.json") as devnet:
        # the wallets' shared spend ledger and nonce locks: this run's own, never the user's real one
        os.environ["SWARM_LEDGER"] = str(Path(tmp) / "ledger" / "ledger.sqlite")
        pristine = attacks.rpc(devnet.w3(), "evm_snapshot")
        faults_section(devnet, Path(tmp) / "faults", args.fault_runs, tally, rng)
        crash_section(devnet, Path(tmp), tally)
        adversarial_section(devnet, Path(tmp) / "adv", tally)
        concurrency_section(devnet, Path(tmp) / "conc", args.concurrent, tally)
        if not args.skip_attacks:
            t = time.monotonic()
            attacker_section(devnet, Path(tmp) / "attacks", tally, pristine=pristine, processes=args.processes)
            tally.notes.append(f"attacker section: {time.monotonic() - t:.0f} s")
    cols = ["faults", "runs", "funds_lost", "double_sends", "inputs", "wrongly_executed"]
    print(f"{'section':<28}" + "".join(f"{c:>18}" for c in cols))
    for name, row in tally.rows.items():
        print(f"{name:<28}" + "".join(f"{row[c]:>18}" for c in cols))
    total = {c: sum(r[c] for r in tally.rows.values()) for c in cols}
    print(f"{'total':<28}" + "".join(f"{total[c]:>18}" for c in cols))
    q = statistics.quantiles(tally.times, n=20)
    print(f"\ntime per intent over {len(tally.times)} runs: p50 {statistics.median(tally.times) * 1000:.0f} ms, "
          f"p95 {q[18] * 1000:.0f} ms")
    if tally.notes:
        print("\n" + "\n".join(tally.notes))
    for problem in tally.problems:
        print(f"\nPROBLEM: {problem}")
    clean = total["funds_lost"] == total["double_sends"] == total["wrongly_executed"] == 0
    return 0 if clean and not tally.problems else 1


if __name__ == "__main__":
    sys.exit(main())
