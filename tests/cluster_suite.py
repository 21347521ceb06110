"""Run with `python -m pytest tests/cluster_suite.py` (about a minute). Not in the default suite (.ci/run) for now:
inside the long-lived suite process Ray's driver aborted, and in a process of its own the 40-intent test with a
node killed failed once in a fresh-clone CI run (issue 18 stays open until it is stable).

The swarm on a real two-node Ray cluster (ray.cluster_utils), a real PostgreSQL (pgserver) and the anvil devnet.

40 intents over 2 wallets from two drivers while the node holding one wallet's actor is killed: every intent gets
exactly one result, no nonce error, each wallet's cap holds, every transaction in the outbox is mined once and the
chain's nonce count matches the outbox. Also: a local process is refused a wallet the cluster owns, a restarted
actor finishes a signed-but-unsent transaction before new work, a resumed run keeps its recorded policy, and no
key reaches the cluster's logs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agents.risk import RiskPolicy
from swarm.api import Swarm
from swarm.core.errors import Refused
from tools.evm.wallet import Wallet

ray = pytest.importorskip("ray", reason="the test extra installs ray")
pytest_plugins = ["tests.pg_fixtures"]

MB = 1024 * 1024
NODE: dict[str, Any] = {"num_cpus": 1, "object_store_memory": 80 * MB}
INTENT = "sell $20 of ETH for USDC, max 1% slippage"


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    from swarm.cluster.pool import NAMESPACE

    c = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    worker = c.add_node(**NODE)
    c.wait_for_nodes()
    ray.init(address=c.address, namespace=NAMESPACE, log_to_driver=False)
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    @ray.remote(num_cpus=0)
    def where() -> str:
        return ray.get_runtime_context().get_node_id()

    # the worker is schedulable before the tests place an actor there
    on_worker = where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(worker.node_id, soft=False))
    assert ray.get(on_worker.remote(), timeout=120) == worker.node_id
    yield c, worker
    ray.shutdown()
    c.shutdown()


def make_pool(devnet, pg_url, tmp_path, cluster_name, **policy):
    from swarm.cluster import SwarmPool
    return SwarmPool(devnet.manifest_path, store=pg_url, cluster=cluster_name, home=tmp_path / "nodes",
                     policy=RiskPolicy(**policy), anchor=False)


def outbox_rows(pg_url: str, wallet: str) -> list[tuple[str, str, str, int]]:
    import psycopg
    with psycopg.connect(pg_url) as conn:
        return [tuple(r) for r in conn.execute(
            "SELECT o.run_id, o.step, o.tx_hash, o.nonce FROM swarm_outbox o JOIN swarm_run_context c USING (run_id) "
            "WHERE c.context_json::jsonb->>'wallet' = %s AND o.dropped_at IS NULL ORDER BY o.nonce", (wallet,))]


def spent_today(pg_url: str, wallet: str) -> Decimal:
    import psycopg
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT COALESCE(SUM(usd), 0) FROM swarm_spend WHERE wallet = %s AND released_at IS NULL",
                           (wallet.lower(),)).fetchone()
    return Decimal(row[0]) if row else Decimal(0)


DRIVER = """
import json, sys
import ray
from swarm.cluster import SwarmPool
from swarm.cluster.pool import NAMESPACE
args = json.loads(sys.argv[1])
ray.init(address=args["address"], namespace=NAMESPACE, log_to_driver=False)
pool = SwarmPool(args["manifest"], store=args["store"], cluster=args["cluster"], home=args["home"],
                 policy=args["policy"], anchor=False)
print(json.dumps(pool.run_many([tuple(item) for item in args["items"]], timeout=240)))
"""


LOCAL = """
import json, sys
from decimal import Decimal
from agents.risk import RiskPolicy
from swarm.api import Swarm
from tools.evm.wallet import Wallet
a = json.loads(sys.argv[1])
s = Swarm.from_devnet(a["manifest"], Wallet.devnet(a["account"]), home=a["home"], store=a["store"], anchor=False,
                      policy=RiskPolicy(daily_cap_usd=Decimal(a["cap"])))
s.run(a["intent"], run_id=a["run_id"])
"""


def killed_local_run(devnet, pg_url, tmp_path, account: int, run_id: str, cap: str, kill_at: str) -> None:
    """A single process on the shared store, SIGKILLed at a fault point in the middle of `run_id`."""
    args = {"manifest": str(devnet.manifest_path), "account": account, "home": str(tmp_path / "local"),
            "store": pg_url, "cap": cap, "intent": INTENT, "run_id": run_id}
    done = subprocess.run([sys.executable, "-c", LOCAL, json.dumps(args)], capture_output=True, text=True,
                          env={**os.environ, "SWARM_FAULT_KILL_AT": kill_at}, timeout=120)
    assert done.returncode == -9, done.stderr[-2000:]


def test_restarted_actor_sends_the_signed_transaction_before_new_work(cluster, devnet, chain, pg_url, tmp_path):
    address = Wallet.devnet(7).address
    before = chain.eth.get_transaction_count(address)
    killed_local_run(devnet, pg_url, tmp_path, 7, "signed-not-sent", "1000", "after_sign:swap_1:swap")
    rows = outbox_rows(pg_url, address)
    assert [(r[0], r[3]) for r in rows] == [("signed-not-sent", before)]  # recorded, never broadcast
    assert chain.eth.get_transaction_count(address, "pending") == before

    pool = make_pool(devnet, pg_url, tmp_path, "recover", daily_cap_usd="1000")
    pool.wallet("c", "devnet:7")
    assert pool.info("c")["recovered"] == ["signed-not-sent"]  # finished first, with its recorded bytes
    assert chain.eth.get_transaction_receipt(rows[0][2])["status"] == 1
    fresh = ray.get(pool.submit("c", INTENT), timeout=120)
    assert fresh["status"] == "done", fresh["reasons"]
    again = ray.get(pool.submit("c", INTENT, run_id="signed-not-sent"), timeout=120)  # a retried call: reported
    assert again["via"] == "resume" and again["status"] == "done" and again["tx_hashes"] == [rows[0][2]]
    assert [r[3] for r in outbox_rows(pg_url, address)] == [before, before + 1]
    assert chain.eth.get_transaction_count(address) == before + 2
    pool.stop_wallet("c")


def test_resumed_run_keeps_its_recorded_policy(cluster, devnet, chain, pg_url, tmp_path):
    killed_local_run(devnet, pg_url, tmp_path, 8, "planned-under-1000", "1000", "after_plan")
    pool = make_pool(devnet, pg_url, tmp_path, "policy", daily_cap_usd="10")  # today's policy: $10 a day
    pool.wallet("d", "devnet:8")
    resumed = ray.get(pool.submit("d", INTENT, run_id="planned-under-1000"), timeout=120)
    assert resumed["via"] == "resume" and resumed["status"] == "done", resumed["reasons"]  # under its own $1000
    new = ray.get(pool.submit("d", INTENT), timeout=120)
    assert new["status"] == "refused" and "daily_cap_usd" in " ".join(new["reasons"])  # new work: today's $10
    assert len(pool.read_prices(["ETH", "USDC"])) == 2  # read-only tasks, no key
    pool.stop_wallet("d")


def test_forty_intents_two_wallets_two_drivers_one_node_killed(cluster, devnet, chain, pg_url, tmp_path):
    c, worker = cluster
    policy = {"daily_cap_usd": "310"}  # 15 x $20 fit, the 16th does not
    pool = make_pool(devnet, pg_url, tmp_path, "forty", **policy)
    keys = {"a": "devnet:5", "b": "devnet:6"}
    addresses = {label: Wallet.devnet(int(ref.split(":")[1])).address for label, ref in keys.items()}
    before = {label: chain.eth.get_transaction_count(a) for label, a in addresses.items()}
    pool.wallet("a", keys["a"], node_id=worker.node_id)  # on the node that will be killed
    pool.wallet("b", keys["b"], node_id=c.head_node.node_id)
    first = {label: pool.info(label) for label in keys}
    assert first["a"]["node"] == worker.node_id and first["a"]["address"] == addresses["a"]

    # a local process pointed at the shared store is refused the cluster's wallets, before it can sign
    with pytest.raises(Refused, match="registered to cluster 'forty'"):
        Swarm.from_devnet(devnet.manifest_path, Wallet.devnet(5), home=tmp_path / "local", store=pg_url, anchor=False)

    items = [(label, INTENT) for label in ("a", "b") for _ in range(10)]
    args = {"address": c.address, "manifest": str(devnet.manifest_path), "store": pg_url, "cluster": "forty",
            "home": str(tmp_path / "nodes"), "policy": policy, "items": items}
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(args)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    refs = [pool.submit(label, text) for label, text in items]
    a_refs = refs[:10]
    ready, _ = ray.wait(a_refs, num_returns=3, timeout=180)
    assert len(ready) == 3
    c.remove_node(worker, allow_graceful=False)  # wallet a's actor dies mid-queue
    mine = ray.get(refs, timeout=300)
    out, err = driver.communicate(timeout=300)
    assert driver.returncode == 0, err[-3000:]
    theirs = json.loads(out.strip().splitlines()[-1])
    results = mine + theirs

    assert len(results) == 40 and len({r["requested_run_id"] for r in results}) == 40
    assert pool.info("a")["node"] != worker.node_id  # restarted elsewhere
    for label, address in addresses.items():
        own = mine[:10] + theirs[:10] if label == "a" else mine[10:] + theirs[10:]
        statuses = sorted(r["status"] for r in own)
        reasons = " ".join(" ".join(r["reasons"]) for r in own)
        assert "nonce" not in reasons.lower(), reasons
        done = statuses.count("done")
        # wallet b: exactly 15 fit the cap. Wallet a's node is killed: an intent caught by the kill may keep its
        # $20 reservation without a trade (the cap errs on the safe side, never over): 14 or 15 done there
        assert statuses == ["done"] * done + ["refused"] * (20 - done), (label, statuses, reasons)
        assert done == 15 or (label == "a" and done == 14), (label, statuses, reasons)
        refused = [r for r in own if r["status"] == "refused"]
        assert all("daily_cap_usd" in " ".join(r["reasons"]) for r in refused), [r for r in refused if not r["reasons"]]
        rows = outbox_rows(pg_url, address)
        hashes = [r[2] for r in rows]
        assert len(rows) == done and len(set(hashes)) == done  # one transaction per executed intent, none twice
        assert [r[3] for r in rows] == list(range(before[label], before[label] + done))
        assert all(chain.eth.get_transaction_receipt(h)["status"] == 1 for h in hashes)
        assert chain.eth.get_transaction_count(address) == before[label] + done
        assert sorted(h for r in own for h in r["tx_hashes"]) == sorted(hashes)
        assert Decimal("299.9") < spent_today(pg_url, address) <= Decimal(policy["daily_cap_usd"])  # cap held

    # no signing key in anything Ray wrote (worker logs, raylet, GCS)
    session = Path(c.head_node.get_session_dir_path())
    secrets = [m for ref in keys.values() for m in Wallet.devnet(int(ref.split(":")[1])).secret_markers()]
    for path in session.rglob("*"):
        if path.is_file() and path.stat().st_size < 50 * MB:
            text = path.read_bytes().decode("utf-8", "replace")
            assert not any(s in text for s in secrets), f"a key leaked into {path}"
    for label in keys:
        pool.stop_wallet(label)
