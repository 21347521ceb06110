"""Intents per second on a Ray cluster (one wallet actor per wallet, PostgreSQL as the shared store) against the
single-process runtime, on a fresh anvil devnet; prints a table.

    python benchmarks/bench_cluster.py [--intents 24] [--big 200] [--big-wallets 4] [--cpus 2]

Rows:
  single process      one Swarm (SQLite files), intents one after another (today's default)
  ... (PostgreSQL)    the same on the cluster's store (outbox, ledger, checkpoints and audit log in PostgreSQL)
  cluster, N workers  N wallet actors (N wallets), the same number of intents spread over them, submitted at once
  cluster, big run    --big intents over --big-wallets wallets (the issue's 200-intent, 4-wallet run)
Every intent is "sell $20 of ETH for USDC" (plan, two price reads, risk check, one signed swap, receipt); audit on
(in PostgreSQL on the cluster rows), anchoring off in every row (an anchor is one more transaction per run). `errors` counts nonce errors and runs
without an end state; `sent_twice` compares the chain's transaction count with the outbox. The machine's core
count bounds everything here: with N actors on 2 cores the actors share them (README "Scale-out" has the
projection for more machines).
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from decimal import Decimal
from pathlib import Path

INTENT = "sell $20 of ETH for USDC, max 1% slippage"


def single_process(devnet, home: Path, n: int, store: str | None = None) -> dict:
    from defai_swarm.agents.risk import RiskPolicy
    from defai_swarm.api import Swarm
    from defai_swarm.tools.evm.wallet import Wallet

    swarm = Swarm.from_devnet(devnet.manifest_path, Wallet.devnet(9), home=home, anchor=False,
                              policy=RiskPolicy(daily_cap_usd=Decimal(10**9)), store=store)
    swarm.run(INTENT)  # warm: imports, connections, first plan
    start = time.perf_counter()
    statuses = [swarm.run(INTENT).status for _ in range(n)]
    elapsed = time.perf_counter() - start
    swarm.close()
    return {"row": "single process" + (" (PostgreSQL)" if store else ""), "wallets": 1, "intents": n, "seconds": elapsed,
            "done": sum(s == "done" for s in statuses), "errors": sum(s != "done" for s in statuses), "sent_twice": 0}


def cluster_row(pool, devnet, label: str, wallets: list[int], n: int, tag: str) -> dict:
    from web3 import Web3

    from defai_swarm.tools.evm.wallet import Wallet

    w3 = Web3(Web3.HTTPProvider(devnet.manifest.rpc_url))
    names = [f"{tag}-{i}" for i in wallets]
    for name, index in zip(names, wallets, strict=True):
        pool.wallet(name, f"devnet:{index}")
    for name in names:  # actors started and warm (one run each) before the clock starts
        pool.run_many([(name, INTENT)])
    before = {i: w3.eth.get_transaction_count(Web3.to_checksum_address(Wallet.devnet(i).address)) for i in wallets}
    items = [(names[k % len(names)], INTENT) for k in range(n)]
    start = time.perf_counter()
    results = pool.run_many(items, timeout=1800)
    elapsed = time.perf_counter() - start
    sent = sum(w3.eth.get_transaction_count(Web3.to_checksum_address(Wallet.devnet(i).address)) - before[i]
               for i in wallets)
    hashes = [h for r in results for h in r["tx_hashes"]]
    errors = sum(1 for r in results if r["status"] != "done" or "nonce" in " ".join(r["reasons"]).lower())
    for name in names:
        pool.stop_wallet(name)
    return {"row": label, "wallets": len(wallets), "intents": n, "seconds": elapsed,
            "done": sum(r["status"] == "done" for r in results), "errors": errors,
            "sent_twice": abs(sent - len(set(hashes))) + (len(hashes) - len(set(hashes)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intents", type=int, default=24, help="intents per row of the 1/2/4-worker table")
    parser.add_argument("--big", type=int, default=200, help="intents of the big run (0 skips it)")
    parser.add_argument("--big-wallets", type=int, default=4)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs the local Ray head offers")
    args = parser.parse_args()

    import pgserver
    import ray

    from defai_swarm.agents.risk import RiskPolicy
    from defai_swarm.cluster import SwarmPool
    from defai_swarm.cluster.pool import NAMESPACE
    from defai_swarm.tools.devnet import Devnet
    from defai_swarm.tools.devnet.install import install
    from defai_swarm.tools.devnet.node import free_port

    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    os.environ["SWARM_LEDGER"] = str(work / "ledger.sqlite")  # never the user's ledger (Ray's processes inherit it)
    pgdata = tempfile.mkdtemp(prefix="bench-cluster-pg-")  # directly under /tmp: pgserver's own user must enter it
    install()
    rows: list[dict] = []
    with Devnet.start(port=free_port(), manifest_path=work / "devnet" / "manifest.json") as devnet:
        server = pgserver.get_server(pgdata, cleanup_mode="stop")  # pyright: ignore[reportPrivateImportUsage]
        try:
            rows.append(single_process(devnet, work / "single", args.intents))
            rows.append(single_process(devnet, work / "single-pg", args.intents, store=server.get_uri()))
            ray.init(num_cpus=args.cpus, object_store_memory=100 * 1024 * 1024, namespace=NAMESPACE,
                     include_dashboard=False, log_to_driver=False)
            pool = SwarmPool(devnet.manifest_path, store=server.get_uri(), cluster="bench", home=work / "nodes",
                             policy=RiskPolicy(daily_cap_usd=Decimal(10**9)), anchor=False)
            accounts = iter(range(1, 9))
            for workers in (1, 2, 4):
                picked = [next(accounts) for _ in range(workers)] if workers < 4 else [5, 6, 7, 8]
                rows.append(cluster_row(pool, devnet, f"cluster, {workers} worker(s)", picked, args.intents,
                                        f"w{workers}"))
            if args.big:
                rows.append(cluster_row(pool, devnet, "cluster, big run", list(range(1, 1 + args.big_wallets)),
                                        args.big, "big"))
            ray.shutdown()
        finally:
            server.cleanup()
            shutil.rmtree(pgdata, ignore_errors=True)
            shutil.rmtree(work, ignore_errors=True)

    base = rows[0]["intents"] / rows[0]["seconds"]
    print(f"\n{'row':<30}{'wallets':>8}{'intents':>9}{'seconds':>9}{'intents/s':>11}{'vs single':>11}"
          f"{'done':>6}{'errors':>8}{'sent twice':>12}")
    for r in rows:
        rate = r["intents"] / r["seconds"]
        print(f"{r['row']:<30}{r['wallets']:>8}{r['intents']:>9}{r['seconds']:>9.1f}{rate:>11.2f}{rate / base:>10.2f}x"
              f"{r['done']:>6}{r['errors']:>8}{r['sent_twice']:>12}")


if __name__ == "__main__":
    main()
