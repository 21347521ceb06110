"""Shared parts of the Ray cluster suites (tests/cluster_suite.py, tests/cluster_kill_suite.py): a real two-node
Ray cluster (ray.cluster_utils, one CPU and 80 MB of object store per node), pools on the suite's PostgreSQL, and
readers of what the store holds."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from defai_swarm.agents.risk import RiskPolicy
from defai_swarm.cluster import SwarmPool

ray = pytest.importorskip("ray", reason="the test extra installs ray")

MB = 1024 * 1024
NODE: dict[str, Any] = {"num_cpus": 1, "object_store_memory": 80 * MB}
INTENT = "sell $20 of ETH for USDC, max 1% slippage"


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    from defai_swarm.cluster.pool import NAMESPACE

    # Ray starts its workers at nice 15 (RAY_worker_niceness): behind any full-priority process (another suite, a
    # busy loop) the model and wallet actors then starve past every hang guard. A test cluster runs them at the
    # suite's own priority, as an operator's dedicated nodes effectively do.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_worker_niceness", "0")
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
    assert ray.get(on_worker.remote(), timeout=900) == worker.node_id
    yield c, worker
    ray.shutdown()
    c.shutdown()


def make_pool(devnet, pg_url, tmp_path, cluster_name, **policy):
    return SwarmPool(devnet.manifest_path, store=pg_url, cluster=cluster_name, home=tmp_path / "nodes",
                     policy=RiskPolicy(**policy), anchor=False)


def outbox_rows(pg_url: str, wallet: str) -> list[tuple[str, str, str, int]]:
    import psycopg
    with psycopg.connect(pg_url) as conn:
        return [tuple(r) for r in conn.execute(
            "SELECT o.run_id, o.step, o.tx_hash, o.nonce FROM swarm_outbox o JOIN swarm_run_context c USING (run_id) "
            "WHERE c.context_json::jsonb->>'wallet' = %s AND o.dropped_at IS NULL ORDER BY o.nonce", (wallet,))]


def unreleased_reservations(pg_url: str, wallet: str) -> list[tuple[str, str, Decimal]]:
    import psycopg
    with psycopg.connect(pg_url) as conn:
        return [(r[0], r[1], Decimal(r[2])) for r in conn.execute(
            "SELECT run_id, step, usd FROM swarm_spend WHERE wallet = %s AND released_at IS NULL ORDER BY reserved_at",
            (wallet.lower(),))]


def spent_today(pg_url: str, wallet: str) -> Decimal:
    return sum((usd for _run, _step, usd in unreleased_reservations(pg_url, wallet)), Decimal(0))
