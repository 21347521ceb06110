"""The local Solana devnet as a user starts it: a real detached process serving JSON-RPC (LiteSVM), the Jupiter and
Hermes stand-ins and fresh Pyth prices, read only through the library's own clients over HTTP."""
from __future__ import annotations

import hashlib
import os
import signal
import socket
import stat
import time
from contextlib import contextmanager
from decimal import Decimal

import httpx
import pytest
from solders.pubkey import Pubkey

from defai_swarm.core.errors import ConfigError
from defai_swarm.tools.devnet.solana import SolanaDevnet, SolanaDevnetError, running_config, status_lines, stop_devnet
from defai_swarm.tools.devnet.solana.devnet import pid_alive
from defai_swarm.tools.solana.anchor import LOCALNET_CHAIN, SolanaRpcAnchorChecker, anchor_with_memo
from defai_swarm.tools.solana.config import SolanaChainConfig
from defai_swarm.tools.solana.jupiter import JupiterClient
from defai_swarm.tools.solana.programs import PYTH_RECEIVER_PROGRAM, TOKEN_2022_PROGRAM
from defai_swarm.tools.solana.prices import SolanaPriceReader
from defai_swarm.tools.solana.pyth import HermesClient, parse_price_account
from defai_swarm.tools.solana.rpc import SolanaRpc
from defai_swarm.tools.solana.spl import SplTokens
from defai_swarm.tools.solana.tx import SolanaTxSender
from defai_swarm.tools.solana.wallet import SolanaWallet


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc_call(url: str, method: str, params: list | None = None):
    body = httpx.post(url, json={"jsonrpc": "2.0", "id": 7, "method": method, "params": params or []}, timeout=5).json()
    assert body["id"] == 7 and body["jsonrpc"] == "2.0"
    return body


@pytest.fixture(scope="module")
def devnet(solana_devnet):
    """The session's Solana devnet (tests/conftest.py): other modules swap on it too, so no test here counts on its
    genesis balances; test_wallet_file_is_private_and_funded starts one of its own for that."""
    return solana_devnet


@contextmanager
def clients(config: SolanaChainConfig):
    """The library's clients of a running devnet, over HTTP."""
    rpc = SolanaRpc(config.rpc_url, timeout=5.0)
    jupiter, hermes = JupiterClient(config.jupiter_url, timeout=5.0), HermesClient(config.hermes_url, timeout=5.0)
    wallet = SolanaWallet.from_file(config.wallet_path)
    sender = SolanaTxSender(rpc, wallet, poll_seconds=0.02, rebroadcast_seconds=0.5, timeout_seconds=20)
    try:
        yield type("Env", (), dict(config=config, rpc=rpc, jupiter=jupiter, hermes=hermes, wallet=wallet,
                                   sender=sender, registry=config.registry(), spl=SplTokens(rpc, sender)))
    finally:
        jupiter.close(), hermes.close(), rpc.close()


@pytest.fixture(scope="module")
def env(devnet):
    with clients(devnet.config) as env:
        yield env


def test_config_file_describes_the_running_devnet(devnet):
    config = SolanaChainConfig.load(devnet.paths.config)
    assert config == devnet.config == running_config(devnet.home)
    assert (config.family, config.cluster, config.pid) == ("solana", "localnet", devnet.process.pid)
    assert config.rpc_url.startswith("http://127.0.0.1:") and config.jupiter_url.endswith("/swap/v1")
    assert config.hermes_url.startswith("http://127.0.0.1:") and config.state_dir == str(devnet.paths.state_dir)
    tokens = {t.symbol: t for t in config.tokens}
    assert set(tokens) == {"SOL", "USDC", "USDT", "FEE"} and tokens["SOL"].is_native
    assert tokens["FEE"].program == str(TOKEN_2022_PROGRAM) and tokens["USDC"].decimals == 6
    assert set(config.pyth_feeds) == {"SOL", "USDC"} and config.authority_allowlist == []
    assert devnet.paths.log.exists() and "solana devnet up" in devnet.paths.log.read_text()


def test_cluster_methods_and_stable_genesis(devnet):
    url = devnet.config.rpc_url
    first = rpc_call(url, "getGenesisHash")["result"]
    assert first == devnet.config.genesis_hash == rpc_call(url, "getGenesisHash")["result"]
    assert rpc_call(url, "getHealth")["result"] == "ok"
    assert "solana-core" in rpc_call(url, "getVersion")["result"]
    assert rpc_call(url, "noSuchMethod")["error"]["code"] == -32601
    slot = rpc_call(url, "getSlot")["result"]
    time.sleep(0.9)
    assert rpc_call(url, "getSlot")["result"] > slot  # the clock advances slots with wall time
    assert rpc_call(url, "getGenesisHash")["result"] == first


@pytest.mark.solana
def test_wallet_file_is_private_and_funded(tmp_path):
    """On a devnet of its own: the genesis balances (the session's devnet has seen other tests' swaps)."""
    with SolanaDevnet.start(tmp_path, port=free_port()) as devnet, clients(devnet.config) as env:
        mode = stat.S_IMODE(devnet.paths.wallet.stat().st_mode)
        assert mode == 0o600
        text = devnet.paths.wallet.read_text()
        assert text.startswith("[") and len(text.split(",")) == 64  # solana-keygen's JSON array
        assert text not in devnet.paths.log.read_text() and text not in devnet.paths.config.read_text()
        reg = env.registry
        assert env.spl.balance(reg.resolve("USDC")) == 1_000 * 10**6
        assert env.spl.balance(reg.resolve("FEE")) == 1_000 * 10**6
        assert 99 * 10**9 < env.rpc.balance(env.wallet.pubkey) <= 100 * 10**9
    assert not pid_alive(devnet.config.pid)


def test_prices_fresh_and_agreeing_across_sources(env):
    reader = SolanaPriceReader(env.rpc, env.registry, env.config.pyth_feeds, jupiter=env.jupiter, hermes=env.hermes)
    sol = reader.read("SOL")
    names = {s.name: s.price for s in sol.sources}
    assert set(names) == {"pyth:SOL/USD", "hermes:SOL/USD", "jupiter:SOL/USDC", "jupiter:SOL/USDT"}, sol.failed_sources
    assert names["pyth:SOL/USD"] == names["hermes:SOL/USD"] == Decimal(150)
    assert Decimal("149") < names["jupiter:SOL/USDC"] < Decimal(150) and sol.max_deviation_bps < 50
    usdc = reader.read("USDC")
    assert {s.name for s in usdc.sources} == {"pyth:USDC/USD", "hermes:USDC/USD", "jupiter:USDC/USDT"}
    route = next(s.price for s in usdc.sources if s.family == "dex:jupiter")  # one vote per family (issue 24)
    assert usdc.median == (1 + route) / 2 and usdc.families() == ["dex:jupiter", "oracle:pyth"]
    # Re-published while the devnet runs: the account's publish time and slot move on.
    feed = env.config.pyth_feeds["SOL"]
    account = env.rpc.account(Pubkey.from_string(feed.account))
    assert account.owner == PYTH_RECEIVER_PROGRAM
    before = parse_price_account(account.owner, account.data)
    time.sleep(2.3)
    after = parse_price_account(PYTH_RECEIVER_PROGRAM, env.rpc.account(Pubkey.from_string(feed.account)).data)
    assert after.publish_time > before.publish_time and after.slot > before.slot
    assert abs(time.time() - after.publish_time) < 5
    assert env.hermes.latest(feed.feed_id).publish_time >= after.publish_time - 1


def test_jupiter_quote_for_one_sol(env):
    sol, usdc = env.registry.resolve("SOL"), env.registry.resolve("USDC")
    q = env.jupiter.quote(sol.mint, usdc.mint, 10**9, 50)
    assert q.in_amount == 10**9 and Decimal("149") < usdc.from_base(q.out_amount) < Decimal("150.01")
    assert q.price_impact_bps <= 1 and q.other_amount_threshold == q.out_amount * 9950 // 10_000


def test_swaps_through_the_stand_in_with_native_sol(env):
    from defai_swarm.tools.solana.executor import SolanaSwapExecutor
    from defai_swarm.tools.solana.policy import SolanaRiskPolicy

    executor = SolanaSwapExecutor(env.rpc, env.sender, env.jupiter, SolanaRiskPolicy())
    sol, usdc = env.registry.resolve("SOL"), env.registry.resolve("USDC")
    usdc_before, sol_before = env.spl.balance(usdc), env.rpc.balance(env.wallet.pubkey)
    out = executor.execute("devnet", "sell-sol", sol, usdc, 10**9, min_out=140 * 10**6, slippage_bps=50)
    assert out.status == "confirmed", out.reason
    assert env.spl.balance(usdc) - usdc_before == out.received > 149 * 10**6
    assert sol_before - env.rpc.balance(env.wallet.pubkey) < 10**9 + 10**7  # the input plus fees, rent refunded
    back = executor.execute("devnet", "buy-sol", usdc, sol, 15 * 10**6, min_out=9 * 10**7, slippage_bps=50)
    assert back.status == "confirmed", back.reason
    assert back.received > 9 * 10**7 and env.spl.balance(usdc) == usdc_before + out.received - 15 * 10**6


def test_fee_token_is_refused_by_the_mint_rules(env):
    from defai_swarm.tools.solana.mint_rules import mint_rules
    from defai_swarm.tools.solana.policy import SolanaRiskPolicy

    policy = SolanaRiskPolicy(authority_allowlist=frozenset(env.config.authority_allowlist))
    usdc, fee = env.registry.resolve("USDC"), env.registry.resolve("FEE")
    assert all(r.passed for r in mint_rules(usdc, env.spl.mint_info(usdc.mint), policy))
    failed = [r.rule for r in mint_rules(fee, env.spl.mint_info(fee.mint), policy) if not r.passed]
    assert failed == ["no_transfer_fee:FEE"]  # authorities revoked: the transfer fee is the one reason


def test_memo_anchor_sent_and_checked_over_rpc(devnet, env):
    h = hashlib.sha256(b"checkpoint note").digest()
    ref = anchor_with_memo(env.sender, h, LOCALNET_CHAIN)
    assert (ref.chain, ref.sender, ref.checkpoint_hash) == (LOCALNET_CHAIN, env.wallet.address, h.hex())
    checker = SolanaRpcAnchorChecker(env.rpc, LOCALNET_CHAIN, expected_sender=env.wallet.address)
    ok, detail = checker.check(ref.to_dict(), h)
    assert ok, detail
    # The message and logs are there in the documented "json" encoding too.
    tx = rpc_call(env.config.rpc_url, "getTransaction",
                  [ref.tx_id, {"encoding": "json", "maxSupportedTransactionVersion": 0}])["result"]
    assert tx["slot"] == ref.block and env.wallet.address == tx["transaction"]["message"]["accountKeys"][0]
    assert any(f"defai-swarm checkpoint sha256:{h.hex()}" in line for line in tx["meta"]["logMessages"])
    other = hashlib.sha256(b"another note").digest()
    ok, detail = checker.check({**ref.to_dict(), "checkpoint_hash": other.hex()}, other)
    assert not ok and "different memo" in detail
    stranger = str(Pubkey.from_string("11111111111111111111111111111112"))
    ok, detail = SolanaRpcAnchorChecker(env.rpc, LOCALNET_CHAIN, expected_sender=stranger).check(ref.to_dict(), h)
    assert not ok and "wrong signer" in detail
    ok, detail = checker.check({**ref.to_dict(), "block": ref.block + 1}, h)
    assert not ok and "slot" in detail
    ok, detail = SolanaRpcAnchorChecker(env.rpc, "solana:devnet").check(ref.to_dict(), h)
    assert not ok and "chain" in detail
    with pytest.raises(ValueError, match="32 bytes"):
        anchor_with_memo(env.sender, h[:31], LOCALNET_CHAIN)


def test_status_lines(devnet, env):
    lines = status_lines(devnet.config)
    text = "\n".join(lines)
    assert devnet.config.genesis_hash in text and env.wallet.address in text
    assert "SOL/USD 150" in text and "USDC/USD 1" in text and "s old" in text
    assert any(line.startswith("jupiter   1 SOL -> 149.") for line in lines), text
    assert "unavailable" not in text and "[" not in text  # no key material, no failures


def test_second_start_and_busy_port_are_refused(devnet, tmp_path):
    with pytest.raises(SolanaDevnetError, match="already running"):
        SolanaDevnet.start(devnet.home, port=free_port())
    port = int(devnet.config.rpc_url.rsplit(":", 1)[1])
    with pytest.raises(SolanaDevnetError, match="already in use"):
        SolanaDevnet.start(tmp_path, port=port)
    assert not (tmp_path / "solana-devnet" / "config.json").exists()


def test_config_load_errors_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="no Solana chain configuration"):
        SolanaChainConfig.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not JSON"):
        SolanaChainConfig.load(bad)
    bad.write_text('{"rpc_url": "http://127.0.0.1:1", "tokens": [{"symbol": "X", "mint": "nope", "decimals": 6}]}')
    with pytest.raises(ConfigError) as info:
        SolanaChainConfig.load(bad)
    assert "\n" not in str(info.value) and "tokens" in str(info.value) and "base58" in str(info.value)


@pytest.mark.solana  # a devnet of its own
def test_stop_ends_the_process_and_removes_the_config(tmp_path):
    net = SolanaDevnet.start(tmp_path, port=free_port())
    try:
        pid = net.config.pid
        assert pid_alive(pid) and running_config(tmp_path) is not None
    finally:
        assert net.stop()
    assert not pid_alive(pid) and running_config(tmp_path) is None
    assert not net.paths.config.exists() and not net.paths.pid_file.exists() and net.paths.wallet.exists()
    assert stop_devnet(tmp_path) is False


@pytest.mark.solana  # a devnet of its own
def test_a_killed_devnet_is_detected_and_its_config_removed(tmp_path):
    net = SolanaDevnet.start(tmp_path, port=free_port())
    try:
        os.kill(net.config.pid, signal.SIGKILL)
        net.process.wait(timeout=10)
        assert running_config(tmp_path) is None and not net.paths.config.exists()
        lines = status_lines(net.config)
        assert len(lines) == 2 and "unavailable" in lines[1]
    finally:
        net.stop()
    assert stop_devnet(tmp_path) is False
