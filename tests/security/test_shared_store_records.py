"""Issue 24, findings 2 and 3: the shared store (a cluster's PostgreSQL, or any store a process resumes from) is
not a way to make a wallet sign.

2. One run id sent to two wallets at the same moment: exactly one claims it (one atomic insert bound to its
   wallet); the other writes nothing, and the winner's context is never overwritten.
3. Rows written by anyone holding the store's credentials (a planted run, context, outbox row or checkpoint) are
   refused on resume and on a wallet actor's restart recovery: nothing is signed. A stored policy only tightens
   the resuming process's own policy.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from defai_swarm.api import RunResult, Swarm
from defai_swarm.core.errors import Refused
from tests.test_runtime import swap_graph
from defai_swarm.tools.evm.chain import EvmChain
from defai_swarm.tools.evm.policy import RiskPolicy
from defai_swarm.tools.evm.tx import SignedTx
from defai_swarm.tools.evm.wallet import Wallet

pytest_plugins = ["tests.pg_fixtures"]

REFUSED_INTENT = "swap 50 ETH to USDC"  # over the default $10,000 trade limit: refused by the risk check, never sent
SEAL_PREFIX = b"swarm-seal1:"  # how a sealed checkpoint blob starts (an attacker who read the code knows it)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request) -> str | None:
    """Where the swarm keeps its runs: None (the state directory's SQLite files) or a PostgreSQL URL."""
    return None if request.param == "sqlite" else request.getfixturevalue("pg_url")


def audit_entries(where: str | Path, run_id: str) -> list:
    from defai_swarm.stores import open_audit_log
    with open_audit_log(where) as log:
        return log.entries(run_id)


# -- finding 2: one run id, two wallets ---------------------------------------------------------------------------

def test_one_run_id_sent_to_two_wallets_at_once_is_claimed_by_one(devnet, chain, pg_url, tmp_path):
    """Each round, two swarms on the shared store (wallets 1 and 2) are released together by a barrier to run
    the same run id: one runs it, the other is refused and writes nothing (no audit entry, no context), and the
    stored context is the winner's."""
    wallets = [Wallet.devnet(1), Wallet.devnet(2)]
    swarms = [Swarm(w3=chain, manifest=devnet.manifest, wallet=w, home=tmp_path / f"w{i}", store=pg_url,
                    anchor=False) for i, w in enumerate(wallets)]
    try:
        for round_no in range(6):
            run_id = f"race-{round_no}"
            barrier = threading.Barrier(2)
            outcome: dict[int, object] = {}

            def submit(i: int, run_id: str, barrier: threading.Barrier, outcome: dict[int, object]) -> None:
                barrier.wait()
                try:
                    outcome[i] = swarms[i].run(REFUSED_INTENT, run_id=run_id)
                except Exception as exc:  # noqa: BLE001 - the loser's error is what the test looks at
                    outcome[i] = exc
            threads = [threading.Thread(target=submit, args=(i, run_id, barrier, outcome)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            refused = [i for i, o in outcome.items() if isinstance(o, Exception)]
            assert len(refused) == 1, outcome
            loser = refused[0]
            winner = 1 - loser
            assert isinstance(outcome[loser], Refused) and "already" in str(outcome[loser]), outcome[loser]
            ran = outcome[winner]
            assert isinstance(ran, RunResult) and ran.status == "refused", ran  # the risk check's: the run ran
            stored = swarms[winner].store.load_context(run_id)
            assert stored is not None and stored[1]["wallet"] == wallets[winner].address  # never overwritten by the loser
            intents = [e for e in audit_entries(pg_url, run_id) if e.kind == "intent"]
            assert [e.payload["wallet"] for e in intents] == [wallets[winner].address]
    finally:
        for s in swarms:
            s.close()


# -- finding 3: planted rows -------------------------------------------------------------------------------------

def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def plant_run(store: str | None, home: Path, chain, devnet, wallet: Wallet, run_id: str, step: str = "x") -> None:
    """What someone holding only the store's credentials can write: a run selling 2 ETH at 5,000 bps slippage,
    a context naming `wallet` with caps at 1e8 and no honeypot check, and an open outbox row (a made-up signed
    transaction at the wallet's next nonce) so a restarted wallet actor picks the run up."""
    identity = EvmChain(devnet.manifest, wallet, w3=chain).identity
    loose = RiskPolicy(max_trade_usd=Decimal(10**8), daily_cap_usd=Decimal(10**8), max_slippage_bps=5000,
                       require_honeypot_check=False)
    context = {"wallet": wallet.address, "chain": identity.label, "chain_identity": identity.model_dump(mode="json"),
               "chain_id": int(identity.chain_id), "policy": loose.model_dump(mode="json"), "model": None}
    graph = swap_graph("ETH", "USDC", "2", slippage_bps=5000)
    nonce = chain.eth.get_transaction_count(wallet.address)
    fake = SignedTx(hash="0x" + "5a" * 32, nonce=nonce, raw="0x" + "ff" * 8, gas=21000, max_fee_per_gas=10**9)
    rows = [("runs", ("run_id", "intent", "plan_json", "created_at"), (run_id, graph.intent, graph.model_dump_json(),
                                                                        _now())),
            ("run_context", ("run_id", "chain", "context_json"), (run_id, identity.label, json.dumps(context))),
            ("outbox", ("run_id", "step", "tx_hash", "nonce", "signed_json", "created_at"),
             (run_id, step, fake.hash, nonce, fake.model_dump_json(), _now()))]
    if store is None:
        db = sqlite3.connect(home / "runs.sqlite")
        with db:
            for table, columns, values in rows:
                db.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(values))})",
                           values)
        db.close()
        return
    import psycopg
    from psycopg import sql
    with psycopg.connect(store, autocommit=True) as conn:
        for table, columns, values in rows:
            conn.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier(f"swarm_{table}"), sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.Placeholder() * len(values))), values)


def test_a_planted_run_is_never_resumed(store, devnet, chain, tmp_path):
    """`swarm resume` (SQLite state directory, or SWARM_STORE=postgresql://...) of a run nobody with the wallet's
    key wrote: refused, nothing signed."""
    wallet = Wallet.devnet(2)
    swarm = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path, store=store, anchor=False)
    try:
        plant_run(store, tmp_path, chain, devnet, wallet, "planted-1")
        before = chain.eth.get_transaction_count(wallet.address)
        with pytest.raises(Refused, match="not authenticated"):
            swarm.resume("planted-1")
        with pytest.raises(Refused, match="not authenticated"):
            swarm.resume("planted-1", approve=True)
        assert chain.eth.get_transaction_count(wallet.address, "pending") == before
    finally:
        swarm.close()


def test_a_restarted_wallet_actor_signs_no_planted_run(devnet, chain, pg_url, tmp_path, caplog):
    """The wallet actor's restart recovery (and a driver's retried call) on planted rows: refused and logged,
    nothing signed, the operator's policy untouched. In-process (the actor class without Ray): the same code a
    restarted actor runs."""
    from defai_swarm.cluster.wallet_actor import WalletActor, WalletSpec

    wallet = Wallet.devnet(3)
    make_tables(pg_url)
    plant_run(pg_url, tmp_path, chain, devnet, wallet, "planted-1")
    plant_run(pg_url, tmp_path, chain, devnet, wallet, "planted-2", step="swap_1:swap")
    before = chain.eth.get_transaction_count(wallet.address)
    eth = chain.eth.get_balance(wallet.address)
    operator = RiskPolicy(daily_cap_usd=Decimal(1000)).model_dump(mode="json")
    spec = WalletSpec(label="a", key="devnet:3", chain_config=str(devnet.manifest_path), store=pg_url,
                      home=str(tmp_path / "nodes"), policy=operator, anchor=False)
    with caplog.at_level("WARNING"):
        actor = WalletActor(spec)
    try:
        assert actor.recovered == []
        assert [r["run_id"] for r in actor.info()["refused"]] == ["planted-1", "planted-2"]
        assert "not authenticated" in caplog.text
        retried = actor.submit("planted-1", "swap 0.01 ETH to USDC")  # a driver asking for that id
        assert retried["via"] == "refused" and "not authenticated" in retried["reasons"][0], retried
        assert chain.eth.get_transaction_count(wallet.address, "pending") == before
        assert chain.eth.get_balance(wallet.address) == eth
    finally:
        actor.swarm.close()


def make_tables(url: str) -> None:
    """The shared store's tables, as a first wallet actor or process would have created them."""
    from defai_swarm.stores.postgres import PgRunStore
    PgRunStore(url).db.close()


# -- finding 3: a tampered checkpoint of a real run -------------------------------------------------------------

class StrippingSerde:
    """An attacker's LangGraph serializer: reads blobs with or without the swarm's seal, writes them plain."""

    def __init__(self) -> None:
        from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
        self.inner = JsonPlusSerializer()

    def dumps_typed(self, obj):
        return self.inner.dumps_typed(obj)

    def loads_typed(self, data):
        typ, blob = data
        if blob.startswith(SEAL_PREFIX):
            blob = blob[len(SEAL_PREFIX) + 32:]
        return self.inner.loads_typed((typ, blob))


def attacker_saver(store: str | None, home: Path):
    if store is None:
        from langgraph.checkpoint.sqlite import SqliteSaver
        return SqliteSaver(sqlite3.connect(home / "checkpoints.sqlite", check_same_thread=False),
                           serde=StrippingSerde())
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    conn: Any = psycopg.connect(store, autocommit=True, prepare_threshold=0, row_factory=dict_row)  # type: ignore[arg-type]
    return PostgresSaver(conn, serde=StrippingSerde())


def test_a_tampered_checkpoint_never_reaches_the_swap(store, devnet, chain, tmp_path):
    """A real run waits for an operator's approval of 0.1 ETH. Someone with the store's credentials rewrites its
    checkpoint (LangGraph's own update_state) so the risk check 'approved' 2 ETH for at least 1 base unit of USDC,
    next step the swap (before the fix the wallet signed it). Resuming it is refused: nothing is signed."""
    from defai_swarm.runtime import Runtime

    wallet = Wallet.devnet(4)
    policy = RiskPolicy(human_approval_above_usd=Decimal(100))
    swarm = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path, store=store, policy=policy,
                  anchor=False)
    try:
        graph = swap_graph("ETH", "USDC", "0.1")
        waiting = swarm.execute(graph)
        assert waiting.status == "awaiting_approval"
        saver = attacker_saver(store, tmp_path)
        app = Runtime(swarm.plugins, saver).compile(graph)
        config: Any = {"configurable": {"thread_id": waiting.run_id}}
        assert app.get_state(config).next == ("risk_1",)
        forged = {"status": "approved", "reason": "all rules passed", "amount_in": str(2 * 10**18), "min_out": "1"}
        app.update_state(config, {"results": {"risk_1": forged}}, as_node="risk_1")
        assert "swap_1" in app.get_state(config).next
        before = chain.eth.get_transaction_count(wallet.address)
        try:
            outcome: object = swarm.resume(waiting.run_id)
        except Refused as exc:
            outcome = exc
        assert chain.eth.get_transaction_count(wallet.address, "pending") == before, outcome  # nothing signed
        assert isinstance(outcome, Refused) and "not authenticated" in str(outcome), outcome
    finally:
        swarm.close()


# -- finding 3: a stored policy only tightens -------------------------------------------------------------------

def test_a_resume_runs_under_the_stricter_of_its_own_and_the_recorded_policy(devnet, chain, pg_url, tmp_path):
    """A run started under a $10,000 trade limit (approval above $100) resumed by a process whose own limit is
    $50: the approved trade is checked against $50 and refused; a process with a looser policy (no approval
    threshold) still gets the recorded approval request."""
    wallet = Wallet.devnet(5)
    first = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path, store=pg_url, anchor=False,
                  policy=RiskPolicy(human_approval_above_usd=Decimal(100)))
    waiting = first.execute(swap_graph("ETH", "USDC", "0.1"))
    assert waiting.status == "awaiting_approval"
    first.close()
    before = chain.eth.get_transaction_count(wallet.address)

    looser = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path, store=pg_url, anchor=False,
                   policy=RiskPolicy(max_trade_usd=Decimal(10**6)))
    assert looser.resume(waiting.run_id).status == "awaiting_approval"  # the recorded threshold still holds
    looser.close()

    stricter = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path, store=pg_url, anchor=False,
                     policy=RiskPolicy(max_trade_usd=Decimal(50)))
    result = stricter.resume(waiting.run_id, approve=True)
    stricter.close()
    assert result.status == "refused" and "max_trade" in " ".join(result.reasons), result.reasons
    assert chain.eth.get_transaction_count(wallet.address, "pending") == before
    # the audit log says which policy the resumed decisions were made under, and they replay under it
    from defai_swarm.auditing import replay
    entries = audit_entries(pg_url, waiting.run_id)
    assert [e.payload["policy"]["max_trade_usd"] for e in entries if e.kind == "resume"] == ["50"]
    report = replay(entries)
    assert report.ok, report.reason


def test_stricter_policy_takes_the_stricter_side_of_every_limit():
    from defai_swarm.runrecords import stricter_policy
    from defai_swarm.tools.solana.policy import SolanaRiskPolicy

    own = RiskPolicy(max_trade_usd=Decimal(500), max_slippage_bps=300, human_approval_above_usd=None,
                     require_honeypot_check=False, token_allowlist=frozenset({"ETH", "USDC", "DAI"}))
    recorded = RiskPolicy(max_trade_usd=Decimal(10**8), max_slippage_bps=100, human_approval_above_usd=Decimal(50),
                          require_honeypot_check=True, token_allowlist=frozenset({"ETH", "USDC", "WETH"}),
                          min_source_families=3, gas_reserve=Decimal("0.5"))
    merged = stricter_policy(own, recorded)
    assert merged == RiskPolicy(max_trade_usd=Decimal(500), max_slippage_bps=100, human_approval_above_usd=Decimal(50),
                                require_honeypot_check=True, token_allowlist=frozenset({"ETH", "USDC"}),
                                min_source_families=3, gas_reserve=Decimal("0.5"))
    assert stricter_policy(recorded, own) == merged  # the same whichever side is the process's
    sol = stricter_policy(SolanaRiskPolicy(),
                          SolanaRiskPolicy(max_price_impact_bps=1000, authority_allowlist=frozenset()))
    assert sol.max_price_impact_bps == 100 and sol.authority_allowlist == frozenset()
    with pytest.raises(Refused, match="recorded policy is a SolanaRiskPolicy"):
        stricter_policy(RiskPolicy(), SolanaRiskPolicy())


def test_every_policy_limit_has_a_known_stricter_side():
    """A limit added to a chain's policy must say which way is stricter (defai_swarm.runrecords), else a resume whose
    recorded value differs is refused: this lists the ones that do not."""
    from defai_swarm import runrecords
    from defai_swarm.tools.solana.policy import SolanaRiskPolicy

    known = (runrecords._LOWER | runrecords._HIGHER | runrecords._FEWER | runrecords._EITHER_ON
             | runrecords._LOWER_OR_UNSET)
    assert [f for m in (RiskPolicy, SolanaRiskPolicy) for f in m.model_fields if f not in known] == []
