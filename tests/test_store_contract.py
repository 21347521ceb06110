"""One contract for the run store (outbox, runs, run context) and the spend ledger, run against both stores:
the embedded SQLite files and a real PostgreSQL server (pgserver). Whatever holds for one machine holds for the
cluster's shared database."""
from __future__ import annotations

import json
import multiprocessing
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from defai_swarm.core.chain import ChainIdentity
from defai_swarm.core.errors import ConfigError, Refused
from defai_swarm.core.outbox import AlreadySigned
from defai_swarm.ledger import SpendLedger
from defai_swarm.store import RunRecord, RunStore
from defai_swarm.stores import open_stores, store_url
from defai_swarm.tools.evm.tx import SignedTx

pytest_plugins = ["tests.pg_fixtures"]

IDENTITY = ChainIdentity(family="evm", chain_id="31337", genesis_hash="0x" + "ab" * 32)
WALLET = "0x" + "12" * 20


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def where(request, tmp_path) -> str:
    """The store's location: a state directory (SQLite) or a database URL (PostgreSQL)."""
    if request.param == "sqlite":
        return str(tmp_path / "home")
    return request.getfixturevalue("pg_url")


def run_store(where: str):
    if where.startswith("postgresql://"):
        from defai_swarm.stores.postgres import PgRunStore
        return PgRunStore(where)
    return RunStore(Path(where) / "runs.sqlite")


def ledger(where: str, wallet: str = WALLET, owner: str | None = None):
    if where.startswith("postgresql://"):
        from defai_swarm.stores.postgres import PgSpendLedger
        return PgSpendLedger.for_wallet(where, IDENTITY, wallet, owner=owner)
    return SpendLedger.for_wallet(Path(where) / "ledger.sqlite", IDENTITY, wallet)


def signed(nonce: int, tag: str = "a") -> SignedTx:
    return SignedTx(hash="0x" + (tag * 64)[:64], nonce=nonce, raw="0x" + "ff" * 8, gas=21000, max_fee_per_gas=10**9)


def test_outbox_signs_a_step_once(where):
    store = run_store(where)
    assert store.signed_for("r1", "swap_1", SignedTx) is None
    store.record_signed("r1", "swap_1", signed(7))
    with pytest.raises(AlreadySigned):
        store.record_signed("r1", "swap_1", signed(8, "b"))
    again = run_store(where)  # another process (or machine) sees the same row
    assert again.signed_for("r1", "swap_1", SignedTx) == signed(7)
    with pytest.raises(AlreadySigned):
        again.record_signed("r1", "swap_1", signed(9, "c"))


def test_outbox_lists_sent_in_nonce_order_and_keeps_dropped_rows(where):
    store = run_store(where)
    store.record_signed("r1", "swap_2", signed(5, "b"))
    store.record_signed("r1", "swap_1:approve", signed(3, "c"))
    store.record_signed("r1", "swap_1", signed(4, "a"))
    store.record_signed("r2", "swap_1", signed(6, "d"))
    assert store.sent_ids("r1") == [signed(3, "c").hash, signed(4, "a").hash, signed(5, "b").hash]
    store.mark_dropped("r1", "swap_2", "nonce consumed by another transaction")
    assert store.dropped_reason("r1", "swap_2") == "nonce consumed by another transaction"
    assert store.dropped_reason("r1", "swap_1") is None
    assert signed(5, "b").hash not in store.sent_ids("r1")
    assert store.dropped("r1") == [{"step": "swap_2", "tx_hash": signed(5, "b").hash, "nonce": 5,
                                    "reason": "nonce consumed by another transaction"}]
    assert store.signed_for("r1", "swap_2", SignedTx) is not None  # kept: never signed again
    with pytest.raises(AlreadySigned):
        store.record_signed("r1", "swap_2", signed(10, "e"))


def test_has_signed_counts_fund_moving_steps_only(where):
    store = run_store(where)
    store.record_signed("r1", "swap_1:approve", signed(1, "a"))
    assert store.has_signed("r1", "swap_1:") is False
    store.record_signed("r1", "swap_1:swap", signed(2, "b"))
    assert store.has_signed("r1", "swap_1:") is True
    assert store.has_signed("r1", "swap_10:") is False
    store.mark_dropped("r1", "swap_1:swap", "refused at send")
    assert store.has_signed("r1", "swap_1:") is False


def test_runs_and_context_round_trip(where):
    store = run_store(where)
    assert store.load_run("r1") is None and store.load_context("r1") is None and store.run_record("r1") is None
    context = json.dumps({"policy": {"daily_cap_usd": "100"}, "wallet": WALLET})
    assert store.claim_run("r1", "evm:31337", context, "c0ffee") is True
    store.save_run("r1", "swap 1 ETH to USDC", '{"tasks": []}', "beef")
    other = run_store(where)
    assert other.load_run("r1") == ("swap 1 ETH to USDC", '{"tasks": []}')
    assert other.load_context("r1") == ("evm:31337", {"policy": {"daily_cap_usd": "100"}, "wallet": WALLET})
    assert other.run_record("r1") == RunRecord("evm:31337", context, "c0ffee", "swap 1 ETH to USDC", '{"tasks": []}',
                                               "beef")


def test_a_run_id_is_claimed_once_and_never_rebound(where):
    """Issue 24 finding 2: in each of 20 rounds, two threads (each with its own connection) released by a barrier
    claim the same run id for two wallets: exactly one wins, and the stored context is the winner's, untouched by
    the loser (before, the second writer's upsert replaced the first's wallet and policy)."""
    wallets = [WALLET, "0x" + "34" * 20]
    stores = [run_store(where), run_store(where)]
    for n in range(20):
        run_id, barrier, won = f"claim-{n}", threading.Barrier(2), {}

        def claim(i: int, run_id: str, barrier: threading.Barrier, won: dict[int, bool]) -> None:
            barrier.wait()
            won[i] = stores[i].claim_run(run_id, "evm:31337", json.dumps({"wallet": wallets[i]}), None)
        threads = [threading.Thread(target=claim, args=(i, run_id, barrier, won)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(won.values()) == [False, True], won
        winner = next(i for i, w in won.items() if w)
        assert run_store(where).load_context(run_id) == ("evm:31337", {"wallet": wallets[winner]})
        assert stores[1 - winner].claim_run(run_id, "evm:31337", json.dumps({"wallet": wallets[1 - winner]}),
                                            None) is False
        assert run_store(where).load_context(run_id) == ("evm:31337", {"wallet": wallets[winner]})


def test_ledger_reserves_within_the_cap_idempotently(where):
    book, cap = ledger(where), Decimal("100")
    assert book.reserve_spend("r1", "swap_1", Decimal("60"), cap) == (True, Decimal(0))
    assert book.reserve_spend("r1", "swap_1", Decimal("60"), cap) == (True, Decimal(0))  # the same step again
    assert book.reserve_spend("r2", "swap_1", Decimal("50"), cap) == (False, Decimal("60"))
    assert book.reserve_spend("r2", "swap_1", Decimal("40"), cap) == (True, Decimal("60"))
    assert book.spent_today() == Decimal("100")
    assert book.spent_today(exclude=("r1", "swap_1")) == Decimal("40")
    book.release_spend("r1", "swap_1")
    assert ledger(where).spent_today() == Decimal("40")
    assert [r["run_id"] for r in book.reservations(include_released=True)] == ["r1", "r2"]
    assert book.reserve_spend("r1", "swap_1", Decimal("30"), cap) == (True, Decimal("40"))  # re-reserved after release
    assert book.spent_today() == Decimal("70")


def test_ledger_keys_are_per_wallet(where):
    cap = Decimal("10")
    assert ledger(where).reserve_spend("r1", "s", Decimal("10"), cap)[0]
    assert ledger(where, wallet="0x" + "34" * 20).reserve_spend("r1", "s", Decimal("10"), cap)[0]
    assert ledger(where, wallet=WALLET.upper().replace("0X", "0x")).reserve_spend("r2", "s", Decimal("1"), cap)[0] is False


def _reserve_many(where: str, worker: int, start, results) -> None:
    book = ledger(where)
    start.wait()
    won = [i for i in range(15) if book.reserve_spend(f"w{worker}-r{i}", "swap_1", Decimal("7"), Decimal("100"))[0]]
    results.put((worker, won))


def test_two_processes_never_reserve_past_the_cap(where):
    """Two processes race 15 reservations of $7 each against a $100 cap: exactly 14 win, $98, never more."""
    ledger(where)  # tables exist before the race
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_reserve_many, args=(where, w, start, results)) for w in (1, 2)]
    for p in procs:
        p.start()
    start.set()
    won = dict(results.get(timeout=600) for _ in procs)  # a hang guard under load, not a speed check
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert len(won[1]) + len(won[2]) == 14
    assert ledger(where).spent_today() == Decimal("98")


def test_open_stores_picks_the_backend(where, tmp_path):
    home = tmp_path / "state"
    home.mkdir()
    url = where if where.startswith("postgresql://") else None
    stores = open_stores(home, IDENTITY, WALLET, store=url)
    try:
        assert stores.shared is (url is not None)
        stores.run_store.save_run("r1", "x", "{}")
        assert run_store(where if url else str(home)).load_run("r1") == ("x", "{}")
        if url is None:
            assert (home / "checkpoints.sqlite").exists()
        else:
            import psycopg
            with psycopg.connect(url) as conn:
                row = conn.execute("SELECT count(*) FROM checkpoint_migrations").fetchone()
                assert row is not None and row[0] > 0
    finally:
        stores.close()


def test_store_url_refuses_unknown_schemes(monkeypatch):
    monkeypatch.delenv("SWARM_STORE", raising=False)
    assert store_url() is None
    monkeypatch.setenv("SWARM_STORE", "mysql://h/db")
    with pytest.raises(ConfigError, match="postgresql://"):
        store_url()
    assert store_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_unreachable_store_is_one_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        open_stores(tmp_path, IDENTITY, WALLET, store="postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    assert "cannot reach the shared store" in str(err.value) and "secret" not in str(err.value)
    assert "\n" not in str(err.value)


def test_wallet_registered_to_a_cluster_is_refused_to_others(pg_url, tmp_path):
    from defai_swarm.stores.postgres import PgSpendLedger
    actor = PgSpendLedger.for_wallet(pg_url, IDENTITY, WALLET, owner="actor-token")
    actor.register_owner("actor-token", "test-cluster")
    assert actor.reserve_spend("r1", "swap_1", Decimal("5"), Decimal("100"))[0]
    with pytest.raises(Refused, match="registered to cluster 'test-cluster'"):
        ledger(pg_url).reserve_spend("r2", "swap_1", Decimal("5"), Decimal("100"))
    with pytest.raises(Refused, match="registered to cluster"):
        open_stores(tmp_path, IDENTITY, WALLET, store=pg_url)
    assert ledger(pg_url).spent_today() == Decimal("5")
    other_wallet = open_stores(tmp_path, IDENTITY, "0x" + "56" * 20, store=pg_url)  # other wallets are free
    other_wallet.close()


def test_local_cli_refuses_a_wallet_the_cluster_owns(devnet, chain, pg_url, tmp_path):
    """`swarm run` pointed at the shared store (SWARM_STORE) for a cluster's wallet: one line, exit REFUSED, nothing
    signed."""
    import os
    import subprocess
    import sys

    from defai_swarm.exitcodes import ExitCode
    from defai_swarm.ledger import chain_key
    from defai_swarm.stores.postgres import PgSpendLedger
    from defai_swarm.tools.evm.chain import EvmChain
    from defai_swarm.tools.evm.wallet import Wallet

    wallet = Wallet.devnet(1)
    identity = EvmChain.from_config(devnet.manifest, wallet).identity
    PgSpendLedger(pg_url, chain_key(identity), wallet.address.lower()).register_owner("actor-token", "prod")
    before = chain.eth.get_transaction_count(wallet.address)
    done = subprocess.run([sys.executable, "-m", "defai_swarm.cli", "run", "sell $20 of ETH for USDC", "--manifest",
                           str(devnet.manifest_path), "--no-anchor"], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "SWARM_STORE": pg_url, "SWARM_HOME": str(tmp_path / "home")})
    assert done.returncode == ExitCode.REFUSED, done.stderr
    output = done.stdout + done.stderr
    assert "registered to cluster 'prod'" in output and "Traceback" not in output
    assert chain.eth.get_transaction_count(wallet.address) == before
