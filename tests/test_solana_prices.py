"""Pyth price accounts (both layouts) read through the RPC from LiteSVM, Hermes and Jupiter as price sources
(local servers in their wire formats), the median/spread reading, and a full Solana risk decision."""
import time
from decimal import Decimal

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from defai_swarm.tools.solana.policy import SolanaRiskPolicy
from tests.solana_checks import SolanaRiskChecker, SolanaSwapCheckInput
from tests.solana_fakes import (FakeHermes, FakeJupiter, LocalChain, fund_tokens, put_account, pyth_legacy_price,
                                pyth_price_update_v2, revoke_mint_authority)
from defai_swarm.tools.solana.errors import LayoutError, PriceUnavailable
from defai_swarm.tools.solana.jupiter import JupiterClient
from defai_swarm.tools.solana.programs import PYTH_RECEIVER_PROGRAM, TOKEN_PROGRAM
from defai_swarm.tools.solana.prices import PythFeed, SolanaPriceReader
from defai_swarm.tools.solana.pyth import PYTH_ORACLE_MAINNET, HermesClient, checked, parse_price_account
from defai_swarm.tools.solana.spl import SplTokens
from defai_swarm.tools.solana.tokens import SOL, SolanaTokenRegistry

NOW = 1_750_000_000
FEED = bytes(range(32))


@pytest.mark.parametrize("full", [True, False])
def test_price_update_v2_layout_both_verification_levels(full):
    data = pyth_price_update_v2(FEED, 15_012_345_678, 7_000_000, -8, NOW, full=full, posted_slot=321)
    p = parse_price_account(PYTH_RECEIVER_PROGRAM, data)
    assert (p.price, p.conf, p.expo, p.publish_time, p.slot) == (Decimal("150.12345678"), Decimal("0.07"), -8, NOW, 321)
    assert p.feed_id == FEED.hex() and p.fully_verified is full and p.layout == "price_update_v2"
    if full:
        assert checked(p, 60, 100, FEED.hex(), now=NOW + 10) is p
    else:
        with pytest.raises(PriceUnavailable, match="partially verified"):
            checked(p, 60, 100, now=NOW)


def test_legacy_layout_and_refusals():
    p = parse_price_account(PYTH_ORACLE_MAINNET, pyth_legacy_price(2_500_000, 1_000, -4, NOW, pub_slot=9))
    assert (p.price, p.conf, p.slot, p.layout) == (Decimal("250"), Decimal("0.1"), 9, "legacy_v2")
    with pytest.raises(PriceUnavailable, match="not trading"):
        parse_price_account(PYTH_ORACLE_MAINNET, pyth_legacy_price(1, 1, 0, NOW, status=2))
    with pytest.raises(LayoutError, match="not by a Pyth program"):
        parse_price_account(Keypair().pubkey(), pyth_legacy_price(1, 1, 0, NOW))
    with pytest.raises(LayoutError, match="unrecognised"):
        parse_price_account(PYTH_RECEIVER_PROGRAM, bytes(200))


def test_checked_staleness_confidence_sign_and_feed():
    p = parse_price_account(PYTH_RECEIVER_PROGRAM, pyth_price_update_v2(FEED, 100_00, 2_00, -2, NOW))  # $100 +- $2
    with pytest.raises(PriceUnavailable, match="old"):
        checked(p, 60, 500, now=NOW + 61)
    with pytest.raises(PriceUnavailable, match="confidence interval 200 bps"):
        checked(p, 60, 100, now=NOW)
    with pytest.raises(PriceUnavailable, match="expected"):
        checked(p, 60, 500, feed_id="ab" * 32, now=NOW)
    with pytest.raises(PriceUnavailable, match="future"):
        checked(p, 60, 500, now=NOW - 3600)
    neg = parse_price_account(PYTH_RECEIVER_PROGRAM, pyth_price_update_v2(FEED, -5, 0, 0, NOW))
    with pytest.raises(PriceUnavailable, match="not positive"):
        checked(neg, 60, 500, now=NOW)


@pytest.fixture
def market():
    """USDC and JUP mints (authority revoked on JUP), a pool, Jupiter and Hermes fakes, Pyth accounts in LiteSVM."""
    chain = LocalChain()
    usdc = chain.token("USDC", 6, fund=1_000 * 10**6)
    jup = chain.token("JUP", 6)
    pool = Keypair()
    chain.svm.airdrop(pool.pubkey(), 10**10)
    fund_tokens(chain.svm, chain.issuer, usdc.mint_pubkey, pool.pubkey(), 500_000 * 10**6, 6)
    fund_tokens(chain.svm, chain.issuer, jup.mint_pubkey, pool.pubkey(), 1_000_000 * 10**6, 6)  # $0.50
    revoke_mint_authority(chain.svm, chain.issuer, jup.mint_pubkey)
    usdt = chain.token("USDT", 6)  # a USDC/USDT pool: Jupiter's (DEX) price for USDC, next to Pyth's; its depth
    fund_tokens(chain.svm, chain.issuer, usdt.mint_pubkey, pool.pubkey(), 501_480_438_265, 6)  # makes 1 USDC 0.99995 USDT
    jupiter = FakeJupiter(chain.server, pool, {t.mint: (t.mint_pubkey, 6, TOKEN_PROGRAM) for t in (usdc, jup, usdt)}).start()
    hermes = FakeHermes().start()
    now = int(time.time())
    jup_account = put_account(chain.svm, Keypair().pubkey(), PYTH_RECEIVER_PROGRAM,
                              pyth_price_update_v2(FEED, 50_100_000, 100_000, -8, now - 5))  # $0.501
    usdc_account = put_account(chain.svm, Keypair().pubkey(), PYTH_ORACLE_MAINNET,
                               pyth_legacy_price(99_990_000, 20_000, -8, now - 2))  # $0.9999
    hermes.set_price("cd" * 32, 49_900_000, 50_000, -8, now - 1)  # JUP $0.499
    hermes.set_price("ef" * 32, 100_000_000, 10_000, -8, now - 1)  # USDC $1
    registry = SolanaTokenRegistry([SOL, usdc, jup])
    feeds = {"JUP": PythFeed(account=str(jup_account), feed_id=FEED.hex()),
             "USDC": PythFeed(account=str(usdc_account), feed_id="ef" * 32)}
    jclient, hclient = JupiterClient(jupiter.url), HermesClient(hermes.url)
    hermes_feeds = {"JUP": PythFeed(feed_id="cd" * 32), "USDC": PythFeed(feed_id="ef" * 32)}
    yield type("M", (), dict(chain=chain, usdc=usdc, usdt=usdt, jup=jup, registry=registry, feeds=feeds, jupiter=jclient,
                             hermes=hclient, hermes_feeds=hermes_feeds, fake_hermes=hermes, jup_account=jup_account))
    jclient.close(), hclient.close(), hermes.close(), jupiter.close(), chain.close()


def test_reader_combines_pyth_account_and_jupiter(market):
    reader = SolanaPriceReader(market.chain.rpc, market.registry, market.feeds, jupiter=market.jupiter)
    r = reader.read("jup")
    names = {s.name: s.price for s in r.sources}
    assert set(names) == {"pyth:JUP/USD", "jupiter:JUP/USDC"} and r.failed_sources == {}
    assert names["pyth:JUP/USD"] == Decimal("0.501")
    assert Decimal("0.49") < names["jupiter:JUP/USDC"] < Decimal("0.5")  # 1 JUP through the pool, after its fee
    assert r.median == (names["pyth:JUP/USD"] + names["jupiter:JUP/USDC"]) / 2
    assert 0 < r.max_deviation_bps < 200
    usdc = reader.read("USDC")
    assert [s.name for s in usdc.sources] == ["pyth:USDC/USD"] and usdc.median == Decimal("0.9999")


def test_reader_hermes_source_and_failures_reported(market):
    reader = SolanaPriceReader(market.chain.rpc, market.registry, market.hermes_feeds, hermes=market.hermes)
    assert reader.read("JUP").median == Decimal("0.499")
    market.fake_hermes.set_price("cd" * 32, 49_900_000, 50_000, -8, int(time.time()) - 3600)
    with pytest.raises(PriceUnavailable, match="old"):
        reader.read("JUP")
    stale = SolanaPriceReader(market.chain.rpc, market.registry, market.feeds, jupiter=market.jupiter,
                              now=lambda: time.time() + 3600)
    r = stale.read("JUP")
    assert [s.name for s in r.sources] == ["jupiter:JUP/USDC"] and "old" in r.failed_sources["pyth:JUP/USD"]
    spoofed = SolanaPriceReader(market.chain.rpc, market.registry, market.feeds, trusted_owners=frozenset())
    with pytest.raises(PriceUnavailable, match="not by a Pyth program"):
        spoofed.read("JUP")


def test_risk_decision_end_to_end(market):
    reader = SolanaPriceReader(market.chain.rpc, market.registry, market.feeds, jupiter=market.jupiter,
                               hermes=market.hermes)
    usdc_reader = SolanaPriceReader(market.chain.rpc, SolanaTokenRegistry([SOL, market.usdc, market.usdt, market.jup]),
                                    market.feeds, jupiter=market.jupiter, hermes=market.hermes)  # USDC: Pyth + Jupiter
    spl = SplTokens(market.chain.rpc, market.chain.sender)
    amount = 100 * 10**6
    quote = market.jupiter.quote(market.usdc.mint, market.jup.mint, amount, 50)
    policy = SolanaRiskPolicy(token_allowlist=frozenset({"USDC", "JUP"}), authority_allowlist=frozenset({market.usdc.mint}))

    def decide(**over):
        x = dict(token_in=market.usdc, token_out=market.jup, mint_in=spl.mint_info(market.usdc.mint),
                 mint_out=spl.mint_info(market.jup.mint), amount_in=amount, slippage_bps=50,
                 recipient=market.chain.wallet.address, wallet=market.chain.wallet.address,
                 price_in=usdc_reader.read("USDC"), price_out=reader.read("JUP"), quote=quote, spent_today_usd=Decimal(0))
        x.update(over)
        return SolanaRiskChecker(x.pop("policy", policy)).decide(SolanaSwapCheckInput(**x))

    approved = decide()
    assert approved.approved, approved.reason
    jup_reading = reader.read("JUP")
    assert {s.name for s in jup_reading.sources} == {"pyth:JUP/USD", "jupiter:JUP/USDC"}
    assert "hermes:JUP/USD" in jup_reading.failed_sources  # Hermes does not serve that feed id: reported
    assert 0 < approved.min_out <= quote.out_amount and approved.trade_usd == Decimal("99.995")
    strict = decide(policy=policy.model_copy(update={"authority_allowlist": frozenset()}))
    assert {r.rule for r in strict.rules if not r.passed} == {"mint_authority:USDC"}
    big = decide(amount_in=20_000 * 10**6)
    assert {"max_trade_usd", "quote_matches_request"} <= {r.rule for r in big.rules if not r.passed}
    elsewhere = decide(recipient=str(Pubkey.default()))
    assert not elsewhere.approved and "recipient_is_own_wallet" in elsewhere.reason
    one_source = decide(price_in=usdc_reader.read("USDC").model_copy(update={"sources": usdc_reader.read("USDC").sources[:1]}))
    assert {r.rule for r in one_source.rules if not r.passed} == {"price_sources_agree:USDC"}
    tight = decide(slippage_bps=1)
    assert {r.rule for r in tight.rules if not r.passed} == {"quote_meets_min_out", "max_slippage"}
