"""Run by tests/test_cluster.py in a pytest process of its own (or by hand: `python -m pytest
tests/cluster_suite.py`, about a minute). Inside the long-lived suite process Ray's driver aborted (std::bad_alloc
at its first task submission after hundreds of earlier tests); in a fresh process it runs as a user's driver would.

The swarm on a real two-node Ray cluster (ray.cluster_utils), a real PostgreSQL (pgserver) and the anvil devnet.

40 intents over 2 wallets from two drivers while the node holding one wallet's actor is killed: every intent gets
exactly one result, no nonce error, each wallet's cap holds with no reservation left without its trade, every
transaction in the outbox is mined once and the chain's nonce count matches the outbox. Also: a local process is
refused a wallet the cluster owns, a restarted actor finishes a signed-but-unsent transaction before new work, a run
id belongs to one wallet, a resumed run keeps the stricter of the actor's and its recorded policy, plans share a
pool of model actors, a bot schedule survives its actor, and no key reaches the cluster's logs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from defai_swarm.agents.risk import RiskPolicy
from defai_swarm.api import Swarm
from defai_swarm.cluster import SwarmPool
from defai_swarm.core.errors import Refused
from tests.cluster_helpers import INTENT, MB, make_pool, outbox_rows, spent_today, unreleased_reservations
from defai_swarm.tools.evm.wallet import Wallet

# How long a call may take before the test calls it hung: a guard against deadlocks on a machine whose cores are
# busy with other work (Ray's workers run niced), never a check of how fast anything is.
PATIENCE = 900

ray = pytest.importorskip("ray", reason="the test extra installs ray")
pytest_plugins = ["tests.pg_fixtures", "tests.cluster_helpers"]


DRIVER = """
import json, sys
import ray
from defai_swarm.cluster import SwarmPool
from defai_swarm.cluster.pool import NAMESPACE
args = json.loads(sys.argv[1])
ray.init(address=args["address"], namespace=NAMESPACE, log_to_driver=False)
pool = SwarmPool(args["manifest"], store=args["store"], cluster=args["cluster"], home=args["home"],
                 policy=args["policy"], anchor=False)
print(json.dumps(pool.run_many([tuple(item) for item in args["items"]], timeout=900)))
"""


LOCAL = """
import json, sys
from decimal import Decimal
from defai_swarm.agents.risk import RiskPolicy
from defai_swarm.api import Swarm
from defai_swarm.cluster import SwarmPool
from defai_swarm.tools.evm.wallet import Wallet
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
                          env={**os.environ, "SWARM_FAULT_KILL_AT": kill_at}, timeout=PATIENCE)
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
    fresh = ray.get(pool.submit("c", INTENT), timeout=PATIENCE)
    assert fresh["status"] == "done", fresh["reasons"]
    again = ray.get(pool.submit("c", INTENT, run_id="signed-not-sent"), timeout=PATIENCE)  # a retried call: reported
    assert again["via"] == "resume" and again["status"] == "done" and again["tx_hashes"] == [rows[0][2]]
    assert [r[3] for r in outbox_rows(pg_url, address)] == [before, before + 1]
    assert chain.eth.get_transaction_count(address) == before + 2
    pool.stop_wallet("c")


def test_a_run_id_is_one_wallets_and_a_resume_keeps_the_stricter_policy(cluster, devnet, chain, pg_url, tmp_path):
    """Issue 24, findings 2 and 3 through the actors: one run id sent to two wallets at once is claimed by one of
    them (the other is refused, writes nothing); another wallet never continues a stored run; a run planned under
    a $1000 cap resumes under the actor's own $10 (a stored policy tightens, never loosens)."""
    killed_local_run(devnet, pg_url, tmp_path, 8, "planned-under-1000", "1000", "after_plan")
    pool = make_pool(devnet, pg_url, tmp_path, "policy", daily_cap_usd="10")  # today's policy: $10 a day
    pool.wallet("d", "devnet:8")
    pool.wallet("x", "devnet:1")  # another wallet asked to continue d's run: its key never signs it
    addresses = {"d": Wallet.devnet(8).address, "x": Wallet.devnet(1).address}
    x_nonce = chain.eth.get_transaction_count(addresses["x"])
    hijack = ray.get(pool.submit("x", INTENT, run_id="planned-under-1000"), timeout=PATIENCE)
    assert hijack["status"] == "failed" and "belongs to wallet" in hijack["reasons"][0], hijack
    assert chain.eth.get_transaction_count(addresses["x"]) == x_nonce

    both = ray.get([pool.submit(label, "swap 0.001 ETH to USDC", run_id="one-id") for label in ("d", "x")],
                   timeout=PATIENCE)
    assert sorted(r["via"] for r in both) == ["refused", "run"], both
    winner = next(label for label, r in zip(("d", "x"), both, strict=True) if r["via"] == "run")
    loser = next(r for r in both if r["via"] == "refused")
    assert "already exists" in loser["reasons"][0] or "belongs to wallet" in loser["reasons"][0], loser
    import psycopg
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT context_json::jsonb->>'wallet' FROM swarm_run_context "
                           "WHERE run_id='one-id'").fetchone()
    assert row is not None and row[0] == addresses[winner]  # the loser never rebound it
    pool.stop_wallet("x")

    resumed = ray.get(pool.submit("d", INTENT, run_id="planned-under-1000"), timeout=PATIENCE)
    assert resumed["via"] == "resume" and resumed["status"] == "refused", resumed  # its recorded $1000 loosens nothing
    assert "daily_cap_usd" in " ".join(resumed["reasons"]), resumed["reasons"]
    new = ray.get(pool.submit("d", INTENT), timeout=PATIENCE)
    assert new["status"] == "refused" and "daily_cap_usd" in " ".join(new["reasons"])  # new work: today's $10
    assert len(pool.read_prices(["ETH", "USDC"])) == 2  # read-only tasks, no key
    pool.stop_wallet("d")


def test_a_wallet_that_cannot_start_is_one_clear_error(cluster, devnet, pg_url, tmp_path):
    """A key reference not set on the node, or a store that does not answer: one line naming the cause when the
    wallet is added, not a dead actor found at the first intent."""
    from defai_swarm.core.errors import ConfigError

    pool = make_pool(devnet, pg_url, tmp_path, "broken", daily_cap_usd="10")
    with pytest.raises(ConfigError, match=r"wallet 'k' could not start on the cluster: wallet key reference "
                                          r"env:SWARM_TEST_UNSET_KEY: the variable is not set on this node"):
        pool.wallet("k", "env:SWARM_TEST_UNSET_KEY")
    nowhere = SwarmPool(devnet.manifest_path, store="postgresql://nobody@127.0.0.1:1/none", cluster="broken-store",
                        home=tmp_path / "nodes", anchor=False)
    with pytest.raises(ConfigError, match=r"wallet 's' could not start on the cluster: connection failed"):
        nowhere.wallet("s", "devnet:5")
    with pytest.raises(ConfigError, match="a wallet key is given by reference"):
        pool.wallet("pasted", "0x" + "ab" * 32)


def test_plans_share_a_model_actor_pool_and_their_thoughts_reach_the_audit_log(cluster, devnet, chain, pg_url,
                                                                               tmp_path, tiny_model_path):
    """Two model actors (one loaded GGUF each) serve the wallet actors' plans; each model call is audited where
    the run is, with the model file's hash, and the wallet actors load no model of their own."""
    from defai_swarm.stores import open_audit_log
    from defai_swarm.llm import file_sha256

    pool = SwarmPool(devnet.manifest_path, store=pg_url, cluster="models", home=tmp_path / "nodes", anchor=False,
                     policy=RiskPolicy(daily_cap_usd="1000"), model=str(tiny_model_path), model_actors=2,
                     model_cpus=0.1)
    models = pool.model_info()
    assert len(models) == 2 and len({m["pid"] for m in models}) == 2
    assert {m["sha256"] for m in models} == {file_sha256(tiny_model_path)}
    pool.wallet("m1", "devnet:3")
    pool.wallet("m2", "devnet:4")
    infos = {label: pool.info(label) for label in ("m1", "m2")}
    for info in infos.values():
        assert info["model"]["via"] == "model actors" and info["model"]["sha256"] == file_sha256(tiny_model_path)
        assert info["pid"] not in {m["pid"] for m in models}
    results = pool.run_many([("m1", INTENT), ("m2", INTENT)], timeout=PATIENCE)
    # the random-weight model's readings are scored invalid and dropped; the parser's plan runs
    assert [r["status"] for r in results] == ["done", "done"], [r["reasons"] for r in results]
    log = open_audit_log(pg_url)
    try:
        for r in results:
            entries = log.entries(r["run_id"])
            calls = [e.payload for e in entries if e.kind == "model_call"]
            thoughts = [e.payload for e in entries if e.kind == "thought" and e.payload["source"] == "model"]
            assert calls and thoughts, [e.kind for e in entries]
            assert {c["model_sha256"] for c in calls} == {file_sha256(tiny_model_path)}
            assert all(t["kept"] is False for t in thoughts)
            # the k readings went out side by side, yet each kept its own seed, in call order
            seeds = [int(t["settings"]["seed"]) for t in thoughts]
            assert seeds == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) >= 2, seeds
    finally:
        log.close()
    assert all(m["served"] > 0 for m in pool.model_info())  # both model actors answered calls
    for label in ("m1", "m2"):
        pool.stop_wallet(label)
    pool.stop_models()


def test_a_bot_schedule_runs_each_round_at_its_block_once_even_when_its_actor_dies(cluster, devnet, chain, pg_url,
                                                                                 tmp_path):
    """3 rounds, 4 blocks apart: the wallet takes other intents between rounds; the schedule actor killed after
    round 1 is restarted, reports round 1 from the store and runs 2 and 3: three trades, none twice."""
    address = Wallet.devnet(2).address
    before = chain.eth.get_transaction_count(address)
    pool = make_pool(devnet, pg_url, tmp_path, "sched", daily_cap_usd="1000")
    pool.wallet("s", "devnet:2")
    start = chain.eth.block_number
    done_ref = pool.schedule("s", INTENT, every_blocks=4, rounds=3, schedule_id="dca", poll_seconds=0.1)

    def wait_rounds(n: int) -> None:
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            if pool.schedule_status("dca")["rounds_done"] >= n:
                return
            ray.wait([done_ref], timeout=0.1)
        raise AssertionError(f"round {n} did not finish: {pool.schedule_status('dca')}")

    wait_rounds(1)
    assert len(outbox_rows(pg_url, address)) == 1  # round 2 waits for its block
    other = ray.get(pool.submit("s", INTENT, run_id="between-rounds"), timeout=PATIENCE)
    assert other["status"] == "done", other["reasons"]  # the wallet is not held by the waiting schedule
    ray.kill(pool._schedule("dca"), no_restart=False)  # the schedule's process dies; Ray restarts it
    while not ray.wait([done_ref], timeout=0.2)[0]:
        chain.provider.make_request("evm_mine", [])  # anvil mines only on transactions: move the blocks on
    rounds = ray.get(done_ref, timeout=PATIENCE)

    assert [r["round"] for r in rounds] == [1, 2, 3]
    assert [r["run_id"] for r in rounds] == ["dca.round1", "dca.round2", "dca.round3"]
    assert [r["status"] for r in rounds] == ["done"] * 3, [r["reasons"] for r in rounds]
    assert rounds[0]["via"] == "resume"  # round 1 reported from the store after the restart, not run again
    rows = outbox_rows(pg_url, address)
    assert sorted(r[0] for r in rows) == ["between-rounds", "dca.round1", "dca.round2", "dca.round3"]
    assert chain.eth.get_transaction_count(address) == before + 4
    for k, r in enumerate(rounds, start=1):
        (tx,) = r["tx_hashes"]
        assert chain.eth.get_transaction_receipt(tx)["blockNumber"] >= start + (k - 1) * 4  # not before its block
    from defai_swarm.core.errors import ConfigError
    with pytest.raises(ConfigError, match="'dca' is taken"):  # an id is used once: no second intent under it
        pool.schedule("s", "swap 1 USDC to ETH", every_blocks=1, rounds=1, schedule_id="dca")
    pool.stop_schedule("dca")
    with pytest.raises(ConfigError, match="'dca' is taken"):  # stopped, its rounds would be reported as the new ones
        pool.schedule("s", INTENT, every_blocks=4, rounds=3, schedule_id="dca")
    pool.stop_wallet("s")


def test_readme_cluster_blocks(cluster, devnet, chain, pg_url, tmp_path, tiny_model_path):
    """The README's Scale-out blocks (`<!-- needs: cluster -->`), run by tests/test_readme_python.py's runner with
    its SUBSTITUTIONS table: a pool with a file key and another key, two intents at once, a model actor pool, a bot
    schedule started, read and stopped. Anvil accounts 9 and 0: no other test here uses them."""
    from eth_account import Account

    from tests.test_readme_python import cluster_blocks, run_blocks
    from defai_swarm.tools.evm.wallet import DEV_MNEMONIC

    Account.enable_unaudited_hdwallet_features()
    key = tmp_path / "treasury.key"
    key.write_text(Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/9").key.hex())
    key.chmod(0o600)
    scope = {"CHAIN_CONFIG": str(devnet.manifest_path), "STORE": pg_url, "NODE_HOME": str(tmp_path / "nodes"),
             "TREASURY_KEY": f"file:{key}", "MM_BOT_KEY": "devnet:0", "TINY_MODEL": str(tiny_model_path)}
    out = run_blocks(cluster_blocks(), scope)
    pool = scope["pool"]
    try:
        lines = out.splitlines()
        assert len(lines) == 2 and all(line.split()[1] == "done" for line in lines), out  # run_many's two results
        assert len(pool.model_info()) == 2 and scope["ref"] is not None
        from defai_swarm.core.errors import ConfigError
        with pytest.raises(ConfigError, match="no schedule 'dca-eth'"):
            pool.schedule_status("dca-eth")  # stopped
        assert pool.info("treasury")["address"] == Account.from_key(key.read_text()).address  # its round finished
    finally:
        for label in ("treasury", "mm-bot"):
            pool.stop_wallet(label)
        pool.stop_models()


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
    ready, _ = ray.wait(a_refs, num_returns=3, timeout=PATIENCE)
    assert len(ready) == 3
    c.remove_node(worker, allow_graceful=False)  # wallet a's actor dies mid-queue
    mine = ray.get(refs, timeout=PATIENCE)
    out, err = driver.communicate(timeout=PATIENCE)
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
        # exactly 15 x $20 fit the cap, also on the wallet whose node was killed mid-queue
        assert statuses == ["done"] * done + ["refused"] * (20 - done), (label, statuses, reasons)
        assert done == 15, (label, statuses, reasons, unreleased_reservations(pg_url, address))
        refused = [r for r in own if r["status"] == "refused"]
        assert all("daily_cap_usd" in " ".join(r["reasons"]) for r in refused), [r["reasons"] for r in refused if "daily_cap_usd" not in " ".join(r["reasons"])]
        rows = outbox_rows(pg_url, address)
        hashes = [r[2] for r in rows]
        assert len(rows) == done and len(set(hashes)) == done  # one transaction per executed intent, none twice
        assert [r[3] for r in rows] == list(range(before[label], before[label] + done))
        assert all(chain.eth.get_transaction_receipt(h)["status"] == 1 for h in hashes)
        assert chain.eth.get_transaction_count(address) == before[label] + done
        assert sorted(h for r in own for h in r["tx_hashes"]) == sorted(hashes)
        held = unreleased_reservations(pg_url, address)
        traded = {r[0] for r in rows}
        assert [r for r in held if r[0] not in traded] == [], (label, held, own)  # no reservation without a trade
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
