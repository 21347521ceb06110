"""SolanaChain, the Solana `ChainAdapter`, against the in-process local chain (LiteSVM behind a JSON-RPC
endpoint), Jupiter and Hermes stand-ins speaking their wire formats: identity, prices, quotes, the Solana
pre-trade rules next to the shared decision, the executor contract (confirm and record; re-raise while a
signed transaction's fate is unknown; resume the same signature, never a second one)."""
import time
from decimal import Decimal

import pytest
from solders.hash import Hash
from solders.keypair import Keypair

from defai_swarm.core.chain import ChainIdentity, Quote
from defai_swarm.core.errors import ChainMismatch, ConfigError, RpcUnavailable, TxFateUnknown
from defai_swarm.core.outbox import Outbox
from defai_swarm.core.policy import SwapCheck, SwapPolicy, TokenFacts, decide
from defai_swarm.store import RunStore
from tests.solana_fakes import (FakeHermes, FakeJupiter, LocalChain, ext_transfer_fee, fund_tokens, put_account,
                                pyth_legacy_price, pyth_price_update_v2, revoke_mint_authority)
from defai_swarm.tools.solana.chain import KNOWN_GENESIS, SolanaChain, SolanaQuote
from defai_swarm.tools.solana.config import SolanaChainConfig
from defai_swarm.tools.solana.executor import MemoryOutbox, SolanaSwapOutcome
from defai_swarm.tools.solana.policy import SolanaRiskPolicy
from defai_swarm.tools.solana.prices import PythFeed
from defai_swarm.tools.solana.programs import PYTH_RECEIVER_PROGRAM, TOKEN_2022_PROGRAM, TOKEN_PROGRAM
from defai_swarm.tools.solana.pyth import PYTH_ORACLE_MAINNET
from defai_swarm.tools.solana.tokens import SOL
from defai_swarm.tools.solana.tx import SignedSolanaTx

GENESIS = str(Hash.new_unique())
JUP_FEED = bytes(range(32))
USDC_FEED = "ef" * 32
USDC_IN = 100 * 10**6


class Outage:
    """Makes the local RPC unreachable from the first sendTransaction on (connections dropped unanswered),
    until `end()`. With `deliver`, that send is processed first (the tx lands) and only its answer is lost."""

    def __init__(self, server, deliver: bool):
        self.down, self.armed = False, True
        original = server.handle_post

        def handle_post(path, body):
            if self.down:
                return None
            if self.armed and isinstance(body, dict) and body.get("method") == "sendTransaction":
                self.armed, self.down = False, True
                if deliver:
                    server.lose_send_responses = 1  # lands, then the connection drops instead of the answer
                    return original(path, body)
                return None  # the bytes never reach the node
            return original(path, body)

        server.handle_post = handle_post

    def end(self) -> None:
        self.down = False


@pytest.fixture
def world(tmp_path):
    chain = LocalChain()
    chain.server.genesis_hash = GENESIS  # what getGenesisHash answers
    usdc = chain.token("USDC", 6, fund=1_000 * 10**6)  # keeps its mint authority, like the real USDC
    jup = chain.token("JUP", 6)
    fee = chain.token("FEE", 6, program=TOKEN_2022_PROGRAM,  # a Token-2022 mint that takes 2.5 % of every transfer
                      extensions=[lambda m: ext_transfer_fee(m, chain.issuer.pubkey(), basis_points=250)])
    pool = Keypair()
    chain.svm.airdrop(pool.pubkey(), 10**10)
    fund_tokens(chain.svm, chain.issuer, usdc.mint_pubkey, pool.pubkey(), 500_000 * 10**6, 6)
    fund_tokens(chain.svm, chain.issuer, jup.mint_pubkey, pool.pubkey(), 1_000_000 * 10**6, 6)  # $0.50
    revoke_mint_authority(chain.svm, chain.issuer, jup.mint_pubkey)
    usdt = chain.token("USDT", 6)  # a USDC/USDT pool: Jupiter's (DEX) price for USDC, next to Pyth's
    fund_tokens(chain.svm, chain.issuer, usdt.mint_pubkey, pool.pubkey(), 500_000 * 10**6, 6)
    fund_tokens(chain.svm, chain.issuer, fee.mint_pubkey, pool.pubkey(), 1_000_000 * 10**6, 6, TOKEN_2022_PROGRAM)
    revoke_mint_authority(chain.svm, chain.issuer, fee.mint_pubkey, TOKEN_2022_PROGRAM)
    jupiter = FakeJupiter(chain.server, pool, {usdc.mint: (usdc.mint_pubkey, 6, TOKEN_PROGRAM),
                                               jup.mint: (jup.mint_pubkey, 6, TOKEN_PROGRAM),
                                               usdt.mint: (usdt.mint_pubkey, 6, TOKEN_PROGRAM),
                                               fee.mint: (fee.mint_pubkey, 6, TOKEN_2022_PROGRAM)}).start()
    hermes = FakeHermes().start()
    now = int(time.time())
    jup_account = put_account(chain.svm, Keypair().pubkey(), PYTH_RECEIVER_PROGRAM,
                              pyth_price_update_v2(JUP_FEED, 50_100_000, 100_000, -8, now - 5))  # $0.501
    usdc_account = put_account(chain.svm, Keypair().pubkey(), PYTH_ORACLE_MAINNET,
                               pyth_legacy_price(99_990_000, 20_000, -8, now - 2))  # $0.9999
    hermes.set_price(JUP_FEED.hex(), 49_900_000, 50_000, -8, now - 1)  # $0.499
    hermes.set_price(USDC_FEED, 100_000_000, 10_000, -8, now - 1)  # $1
    config = SolanaChainConfig(
        cluster="localnet", rpc_url=chain.server.url, jupiter_url=jupiter.url + "/swap/v1", hermes_url=hermes.url,
        genesis_hash=GENESIS, tokens=[SOL, usdc, jup, fee],
        pyth_feeds={"JUP": PythFeed(account=str(jup_account), feed_id=JUP_FEED.hex()),
                    "USDC": PythFeed(account=str(usdc_account), feed_id=USDC_FEED)},
        authority_allowlist=[usdc.mint])
    adapters = []

    def connect(cfg: SolanaChainConfig = config) -> SolanaChain:
        adapter = SolanaChain.from_config(cfg, wallet=chain.wallet)
        adapters.append(adapter)
        s = adapter.sender  # local chain: poll fast, give up on a silent node quickly
        s.poll_seconds, s.rebroadcast_seconds, s.timeout_seconds = 0.01, 0.05, 1.0
        return adapter

    yield type("World", (), dict(chain=chain, usdc=usdc, usdt=usdt, jup=jup, fee=fee, jupiter=jupiter, hermes=hermes,
                                 config=config, connect=staticmethod(connect), chain_dir=tmp_path))
    for adapter in adapters:
        adapter.close()
    hermes.close(), jupiter.close(), chain.close()


def test_identity_is_checked_at_connect(world):
    adapter = world.connect()
    assert adapter.identity == ChainIdentity(family="solana", chain_id="localnet", genesis_hash=GENESIS)
    assert adapter.identity.label == "solana:localnet" and adapter.verify_identity() == adapter.identity
    assert adapter.wallet_address == world.chain.wallet.address
    cases = [
        (world.config.model_copy(update={"genesis_hash": str(Hash.new_unique())}), "different (or reset) chain"),
        (world.config.model_copy(update={"cluster": "devnet"}), "is chain solana:localnet, but the configuration says solana:devnet"),
        (world.config.model_copy(update={"genesis_hash": None}), "has no genesis_hash"),
    ]
    for config, expected in cases:
        with pytest.raises(ChainMismatch) as info:
            SolanaChain.from_config(config, wallet=world.chain.wallet)
        message = str(info.value)
        assert expected in message and "\n" not in message  # one line, saying what is wrong and what to do
    # a node answering with mainnet's genesis is mainnet, whatever the configuration calls it
    world.chain.server.genesis_hash = KNOWN_GENESIS["mainnet"]
    with pytest.raises(ChainMismatch, match="is chain solana:mainnet"):
        SolanaChain.from_config(world.config, wallet=world.chain.wallet)


def test_read_price_from_agreeing_independent_sources(world):
    adapter = world.connect()
    jup = adapter.read_price("jup")
    names = {s.name: s.price for s in jup.sources}
    assert set(names) == {"pyth:JUP/USD", "hermes:JUP/USD", "jupiter:JUP/USDC"} and jup.failed_sources == {}
    assert names["pyth:JUP/USD"] == Decimal("0.501") and names["hermes:JUP/USD"] == Decimal("0.499")
    pyth = (names["pyth:JUP/USD"] + names["hermes:JUP/USD"]) / 2  # one family, one vote (issue 24)
    assert 0 < jup.max_deviation_bps < 200 and jup.median == (pyth + names["jupiter:JUP/USDC"]) / 2
    usdc = adapter.read_price("USDC")
    assert {s.name for s in usdc.sources} == {"pyth:USDC/USD", "hermes:USDC/USD"} and usdc.max_deviation_bps <= 1


def test_quote_is_a_jupiter_exact_in_route(world):
    adapter = world.connect()
    q = adapter.quote("USDC", "JUP", USDC_IN)
    assert isinstance(q, Quote) and isinstance(q, SolanaQuote)
    assert (q.token_in, q.token_out, q.amount_in, q.route) == ("USDC", "JUP", USDC_IN, "jupiter:LocalStandInPool")
    assert q.amount_out == q.jupiter.out_amount > 0 and q.slippage_bps == q.requested_slippage_bps == 50
    assert q.other_amount_threshold == q.amount_out * 9_950 // 10_000 and 0 < q.price_impact_bps <= 100
    assert "jupiter" not in q.model_dump()  # the chain-neutral record: no raw route in the audit log


def test_pre_trade_checks_refuse_transfer_fee_mint_and_pass_usdc(world):
    adapter = world.connect()
    policy = SolanaRiskPolicy(token_allowlist=frozenset({"USDC", "JUP", "FEE"}), authority_allowlist=frozenset())
    q = adapter.quote("USDC", "JUP", USDC_IN)
    rules = adapter.pre_trade_checks(policy, "USDC", "JUP", USDC_IN, q, 50)
    assert all(r.passed for r in rules), [r for r in rules if not r.passed]
    names = {r.rule for r in rules}
    assert {"quote_slippage_within_request", "max_price_impact", "quote_matches_request", "mint_authority:USDC",
            "no_transfer_fee:JUP"} <= names  # USDC keeps its authorities: allowlisted by the chain configuration
    assert "(allowlisted issuer)" in next(r.detail for r in rules if r.rule == "mint_authority:USDC")

    fee_rules = adapter.pre_trade_checks(policy, "USDC", "FEE", USDC_IN, adapter.quote("USDC", "FEE", USDC_IN), 50)
    assert {r.rule for r in fee_rules if not r.passed} == {"no_transfer_fee:FEE"}
    assert "250 bps" in next(r.detail for r in fee_rules if r.rule == "no_transfer_fee:FEE")

    strict = adapter.pre_trade_checks(policy, "USDC", "JUP", USDC_IN, q, 50)
    assert strict == rules  # deterministic for the same chain state
    unlisted = SolanaChain.from_config(world.config.model_copy(update={"authority_allowlist": []}),
                                       wallet=world.chain.wallet)
    try:
        failed = {r.rule for r in unlisted.pre_trade_checks(policy, "USDC", "JUP", USDC_IN, q, 50) if not r.passed}
    finally:
        unlisted.close()
    assert failed == {"mint_authority:USDC"}

    # a quote fetched at a wider slippage than requested is fetched again; Jupiter inflating it is refused
    tighter = adapter.pre_trade_checks(SwapPolicy(), "USDC", "JUP", USDC_IN, q, 20)
    assert all(r.passed for r in tighter) and "requested 20 bps" in tighter[0].detail
    world.jupiter.mode = "inflated_slippage"
    inflated = adapter.pre_trade_checks(policy, "USDC", "JUP", USDC_IN, adapter.quote("USDC", "JUP", USDC_IN), 50)
    assert {r.rule for r in inflated if not r.passed} == {"quote_slippage_within_request"}


def test_shared_decision_with_the_chain_rules_approves(world):
    adapter = world.connect(world.config.model_copy(update={"tokens": [*world.config.tokens, world.usdt]}))
    policy = SolanaRiskPolicy(token_allowlist=frozenset({"USDC", "JUP"}))
    q = adapter.quote("USDC", "JUP", USDC_IN)
    usdc, jup = adapter.token("USDC"), adapter.token("JUP")
    check = SwapCheck(chain=adapter.identity.label, token_in=TokenFacts(symbol="USDC", decimals=usdc.decimals),
                      token_out=TokenFacts(symbol="JUP", decimals=jup.decimals), amount_in=USDC_IN, slippage_bps=100,
                      recipient=adapter.wallet_address, wallet=adapter.wallet_address,
                      price_in=adapter.read_price("USDC"), price_out=adapter.read_price("JUP"), quote_out=q.amount_out,
                      spent_today_usd=Decimal(0),
                      chain_rules=adapter.pre_trade_checks(policy, "USDC", "JUP", USDC_IN, q, 100))
    decision = decide(policy, check)
    assert decision.approved, decision.reason
    assert 0 < decision.min_out <= q.amount_out


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_executor_swap_confirms_and_records(world, store, tmp_path):
    adapter = world.connect()
    outbox: Outbox = MemoryOutbox() if store == "memory" else RunStore(tmp_path / "runs.sqlite")
    events = []
    executor = adapter.executor(outbox, lambda run_id, kind, payload: events.append((run_id, kind, payload)),
                                SolanaRiskPolicy())
    before_in, before_out = adapter.balance_of("USDC"), adapter.balance_of("JUP")
    min_out = adapter.quote("USDC", "JUP", USDC_IN).amount_out * 99 // 100
    out = executor.execute("run1", "s1", "USDC", "JUP", USDC_IN, min_out, 100)
    assert isinstance(out, SolanaSwapOutcome) and out.status == "confirmed", out.reason
    assert out.received == adapter.balance_of("JUP") - before_out >= min_out
    assert before_in - adapter.balance_of("USDC") == USDC_IN
    assert out.tx_ids() == [out.signature] == outbox.sent_ids("run1")
    assert [(kind, p["event"], p["step"], p["signature"]) for _, kind, p in events] == [
        ("tx", "signed", "s1:swap#0", out.signature), ("tx", "confirmed", "s1:swap#0", out.signature)]
    assert events[-1][2]["received"] == out.received and {e[0] for e in events} == {"run1"}
    text = repr(events) + repr(adapter) + repr(out)
    assert adapter.secret_markers() and not any(m in text for m in adapter.secret_markers())
    unknown = executor.execute("run1", "s2", "USDC", "PEPE", USDC_IN, 1, 100)
    assert unknown.status == "refused" and "unknown token 'PEPE'" in unknown.reason


@pytest.mark.parametrize("landed", [True, False], ids=["landed-answer-lost", "never-reached-node"])
def test_unknown_fate_raises_then_resume_confirms_the_same_signature(world, landed):
    adapter = world.connect()
    server, outbox, events = world.chain.server, MemoryOutbox(), []
    executor = adapter.executor(outbox, lambda run_id, kind, payload: events.append(payload), SolanaRiskPolicy())
    before = adapter.balance_of("JUP")
    outage = Outage(server, deliver=landed)
    with pytest.raises((TxFateUnknown, RpcUnavailable)) as info:  # not `failed`: the step stays open
        executor.execute("run1", "s1", "USDC", "JUP", USDC_IN, 1, 100)
    signed = outbox.signed_for("run1", "s1:swap#0", SignedSolanaTx)
    assert signed is not None and signed.signature in str(info.value)
    assert [e["event"] for e in events] == ["signed"]
    assert (signed.signature in server.landed) is landed  # the node has it, or never saw it
    assert outbox.signed_for("run1", "s1:swap#1", type(signed)) is None

    outage.end()
    out = executor.execute("run1", "s1", "USDC", "JUP", USDC_IN, 1, 100)  # the resume: same (run, step)
    assert out.status == "confirmed" and out.signature == signed.signature, out.reason
    assert [e["event"] for e in events] == ["signed", "resumed", "confirmed"]
    assert set(server.sent_raw) == {signed.signature} and len(server.landed) == 1  # one signature, landed once
    assert sum(kind == "swap" for kind, _ in world.jupiter.requests) == 1  # no second transaction even requested
    assert adapter.balance_of("JUP") - before == out.received > 0
    assert outbox.sent_ids("run1") == [signed.signature]


def test_rpc_error_while_confirming_keeps_the_step_open(world):
    from tests.solana_fakes import _RpcFault

    adapter = world.connect()
    server, outbox = world.chain.server, MemoryOutbox()
    executor = adapter.executor(outbox, lambda *event: None, SolanaRiskPolicy())
    real = server.rpc_getSignatureStatuses

    def behind(*params):
        raise _RpcFault({"code": -32005, "message": "Node is behind by 42 slots", "data": {"numSlotsBehind": 42}})

    server.rpc_getSignatureStatuses = behind  # the node answers, but with a JSON-RPC error, not a status
    with pytest.raises(TxFateUnknown, match="Node is behind"):
        executor.execute("run1", "s1", "USDC", "JUP", USDC_IN, 1, 100)
    signed = outbox.signed_for("run1", "s1:swap#0", SignedSolanaTx)
    assert signed.signature in server.landed
    server.rpc_getSignatureStatuses = real
    out = executor.execute("run1", "s1", "USDC", "JUP", USDC_IN, 1, 100)
    assert out.status == "confirmed" and out.signature == signed.signature and set(server.sent_raw) == {signed.signature}


def test_anchor_and_check_through_the_adapter(world):
    import hashlib

    adapter = world.connect()
    digest = hashlib.sha256(b"signed checkpoint note").digest()
    ref = adapter.anchorer()(digest)
    assert (ref.chain, ref.sender, ref.checkpoint_hash) == ("solana:localnet", adapter.wallet_address, digest.hex())
    ok, detail = adapter.anchor_checker(adapter.wallet_address).check(ref.to_dict(), digest)
    assert ok, detail
    ok, detail = adapter.anchor_checker(str(Keypair().pubkey())).check(ref.to_dict(), digest)
    assert not ok and "wrong signer" in detail
    ok, _ = adapter.anchor_checker(None).check(ref.to_dict(), hashlib.sha256(b"another note").digest())
    assert not ok


def test_read_only_adapter_without_a_wallet(world, monkeypatch):
    monkeypatch.delenv("SWARM_SOLANA_KEYPAIR", raising=False)
    adapter = SolanaChain.from_config(world.config)
    try:
        assert adapter.read_price("JUP").median > 0 and adapter.secret_markers() == []
        with pytest.raises(ConfigError, match="no Solana wallet"):
            adapter.balance_of("SOL")
    finally:
        adapter.close()
    path = world.chain.wallet.write_keypair_file(world.chain_dir / "id.json")
    adapter = SolanaChain.from_config(world.config.model_copy(update={"wallet_path": str(path)}))
    try:
        assert adapter.wallet_address == world.chain.wallet.address
    finally:
        adapter.close()
    with pytest.raises(ConfigError, match="not a valid Solana keypair") as info:
        (world.chain_dir / "bad.json").write_text("[1, 2, 3]")
        SolanaChain.from_config(world.config.model_copy(update={"wallet_path": str(world.chain_dir / "bad.json")}))
    assert "[1, 2, 3]" not in str(info.value)
