"""Issue 23, finding 2: one daily cap per wallet, whichever store a process uses.

The attack: with a $100 cap, `SWARM_STORE=postgresql://... swarm run "sell $60 of ETH for USDC"` is done, then the
same command without `SWARM_STORE` (the machine's SQLite ledger) was done too: $120 in one day, each ledger
seeing only its own $60. Now the machine's ledger file names the one ledger that keeps a wallet's day
(`defai_swarm.ledger.claim_cap_day`): the second store is refused before anything is signed, in either order, and two
processes first-reserving through different ledgers at once bind the day exactly once. Real anvil devnet, real
PostgreSQL (pgserver), real SQLite; every test has its own `SWARM_LEDGER` (tests/conftest.py).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import re
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from defai_swarm.agents.risk import RiskPolicy
from defai_swarm.api import Swarm
from defai_swarm.core.chain import ChainIdentity
from defai_swarm.core.errors import Refused
from defai_swarm.core.status import RunStatus
from defai_swarm.exitcodes import ExitCode
from defai_swarm.ledger import SpendLedger, chain_key, default_ledger_path, utc_day
from defai_swarm.tools.evm.wallet import Wallet

pytest_plugins = ["tests.pg_fixtures"]

ROOT = Path(__file__).resolve().parents[2]
INTENT = "sell $60 of ETH for USDC"
CAP = Decimal(100)
IDENTITY = ChainIdentity(family="evm", chain_id="31337", genesis_hash="0x" + "cd" * 32)
SAID = "keeps its daily cap for"


def cli_run(devnet, home: Path, policy: Path, store: str | None) -> subprocess.CompletedProcess:
    """`swarm run INTENT` as an operator types it: with `SWARM_STORE` set, or without (the SQLite ledger)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SWARM_STORE", "SWARM_PRIVATE_KEY")}
    env.update(SWARM_HOME=str(home), PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p))
    if store is not None:
        env["SWARM_STORE"] = store
    return subprocess.run([sys.executable, "-m", "defai_swarm.cli", "run", INTENT, "--manifest", str(devnet.manifest_path),
                           "--policy", str(policy), "--no-anchor", "--json"], capture_output=True, text=True,
                          timeout=180, env=env, cwd=ROOT)


def test_a_sale_through_postgresql_then_the_sqlite_ledger_is_refused_before_signing(devnet, chain, pg_url, tmp_path):
    """The exact attack, through the CLI: PostgreSQL first ($60, done), then the default SQLite ledger: refused
    with one line naming where the cap is kept (no password), the wallet's nonce unchanged."""
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"daily_cap_usd": str(CAP)}))
    address = Wallet.devnet(1).address
    first = cli_run(devnet, tmp_path / "home", policy, pg_url)
    assert first.returncode == ExitCode.DONE, first.stderr[-2000:]
    assert json.loads(first.stdout)["status"] == "done"
    nonce = chain.eth.get_transaction_count(address)
    second = cli_run(devnet, tmp_path / "home", policy, None)
    assert second.returncode == ExitCode.REFUSED, (second.stdout[-2000:], second.stderr[-2000:])
    output = second.stdout + second.stderr
    assert f"wallet {address.lower()} {SAID}" in output and "the PostgreSQL ledger" in output, output
    assert "Traceback" not in output
    assert chain.eth.get_transaction_count(address) == nonce  # nothing signed
    assert SpendLedger.for_wallet(None, chain_identity(devnet), address).spent_today() == 0


def chain_identity(devnet) -> ChainIdentity:
    from defai_swarm.tools.evm.chain import EvmChain
    return EvmChain.from_config(devnet.manifest, Wallet.devnet(1)).identity


def make_swarm(devnet, w3, home: Path, store: str | None) -> Swarm:
    return Swarm(w3=w3, manifest=devnet.manifest, wallet=Wallet.devnet(1), home=home, store=store,
                 policy=RiskPolicy(daily_cap_usd=CAP), audit=False, anchor=False)


def test_a_sale_through_the_sqlite_ledger_then_postgresql_is_refused_before_signing(devnet, chain, pg_url, tmp_path,
                                                                                  monkeypatch):
    """The other order: the SQLite ledger first ($60, done), then the same wallet through PostgreSQL: refused
    before signing; the PostgreSQL ledger holds nothing."""
    monkeypatch.delenv("SWARM_STORE", raising=False)
    address = Wallet.devnet(1).address
    local = make_swarm(devnet, chain, tmp_path / "a", None)
    try:
        assert local.run(INTENT).status == RunStatus.DONE
    finally:
        local.close()
    nonce = chain.eth.get_transaction_count(address)
    shared = make_swarm(devnet, chain, tmp_path / "b", pg_url)
    try:
        result = shared.run(INTENT)
        assert result.status == RunStatus.REFUSED and not result.tx_hashes
        where = re.escape(f"in another ledger, the SQLite ledger {default_ledger_path()},")
        assert re.search(f"wallet {address.lower()} {SAID} .* {where}", " ".join(result.reasons)), result.reasons
        assert shared.ledger.spent_today() == 0
    finally:
        shared.close()
    assert chain.eth.get_transaction_count(address) == nonce


# -- the binding itself, without a chain ---------------------------------------------------------------------

def pg_ledger(url: str, wallet: str):
    """The wallet's PostgreSQL ledger; the machine's ledger is `$SWARM_LEDGER`, as for a `swarm` process."""
    from defai_swarm.stores.postgres import PgSpendLedger
    return PgSpendLedger.for_wallet(url, IDENTITY, wallet)


def local_ledger(wallet: str) -> SpendLedger:
    """The wallet's SQLite ledger at `$SWARM_LEDGER`: what a process without `SWARM_STORE` reserves in."""
    return SpendLedger.for_wallet(None, IDENTITY, wallet)


def _first_reservations(kind: str, url: str, wallets: list[str], barrier, results) -> None:
    """One process reserving $10 for each wallet through one kind of ledger, in step with the other process."""
    ledgers = [pg_ledger(url, w) if kind == "pg" else local_ledger(w) for w in wallets]
    outcome = {}
    for wallet, book in zip(wallets, ledgers, strict=True):
        barrier.wait(timeout=600)  # both reserve this wallet's first $10 at once (the timeout: a hang guard)
        try:
            outcome[wallet] = "ok" if book.reserve_spend("r1", "swap_1", Decimal(10), CAP)[0] else "over cap"
        except Refused as exc:
            outcome[wallet] = "refused" if SAID in str(exc) else str(exc)
    results.put((kind, outcome))


def test_two_processes_first_reserving_through_different_ledgers_bind_the_day_once(pg_url):
    """A PostgreSQL process and a SQLite process race the first reservation of eight wallets: for each wallet
    exactly one wins, the other is refused, and the machine's ledger names the winner."""
    path = default_ledger_path()  # this test's SWARM_LEDGER, inherited by both processes
    wallets = ["0x" + f"{i:02x}" * 20 for i in range(1, 9)]
    pg_ledger(pg_url, wallets[0])  # the tables exist before the race
    local_ledger(wallets[0])
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_first_reservations, args=(kind, pg_url, wallets, barrier, results))
             for kind in ("pg", "sqlite")]
    for p in procs:
        p.start()
    outcomes = dict(results.get(timeout=600) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    for wallet in wallets:
        got = {kind: outcomes[kind][wallet] for kind in ("pg", "sqlite")}
        assert sorted(got.values()) == ["ok", "refused"], (wallet, got)
        winner = next(kind for kind, said in got.items() if said == "ok")
        books = {"pg": pg_ledger(pg_url, wallet), "sqlite": local_ledger(wallet)}
        assert {kind: book.spent_today() for kind, book in books.items()} \
            == {kind: Decimal(10) if kind == winner else Decimal(0) for kind in books}, wallet
        with sqlite3.connect(path) as db:  # the machine's ledger names the winner as the keeper of the day
            bound = db.execute("SELECT ledger_id FROM cap_binding WHERE chain=? AND wallet=? AND day=?",
                               (chain_key(IDENTITY), wallet, utc_day())).fetchall()
        assert bound == [(books[winner].ledger_id,)], wallet


def test_the_binding_is_per_day_and_names_no_password(pg_url):
    """Another day's binding does not hold today's reservations back (the cap is per day, so the next UTC day a
    wallet may move); today's refusal names the database by host and name only, never its password."""
    path = default_ledger_path()
    wallet = "0x" + "ee" * 20
    local = local_ledger(wallet)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO cap_binding VALUES (?, ?, '2000-01-01', 'some-other-ledger', 'elsewhere', 'then')",
                   (chain_key(IDENTITY), wallet))
    assert local.reserve_spend("r1", "swap_1", Decimal(10), CAP) == (True, Decimal(0))
    user, _, rest = pg_url.partition("://")[2].partition("@")
    with_password = f"postgresql://{user.split(':')[0]}:hunter2@{rest}"
    shared = pg_ledger(with_password, wallet)
    with pytest.raises(Refused) as refused:
        shared.reserve_spend("r2", "swap_1", Decimal(10), CAP)
    assert "hunter2" not in str(refused.value) and "\n" not in str(refused.value)
    assert f"in {shared.description}" in str(refused.value) and "hunter2" not in shared.description
    assert shared.spent_today() == 0


def test_reservations_made_before_bindings_existed_keep_the_day_in_their_ledger(pg_url):
    """A ledger file written by the previous version (today's reservation, no binding row): the day is its, so
    PostgreSQL is refused."""
    path = default_ledger_path()
    wallet = "0x" + "dd" * 20
    local_ledger(wallet)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO spend VALUES (?, ?, 'home', 'old', 'swap_1', ?, '60', 'earlier', NULL)",
                   (chain_key(IDENTITY), wallet, utc_day()))
    with pytest.raises(Refused, match=SAID):
        pg_ledger(pg_url, wallet).reserve_spend("r1", "swap_1", Decimal(60), CAP)
    assert local_ledger(wallet).reserve_spend("r2", "swap_1", Decimal(60), CAP) == (False, Decimal(60))  # counted
