"""Issue 12, findings 13, 16 and 20: attacks on the CLI's inputs (a policy file, a manifest) and on the Solana
received-amount checks.

#20 runs in the in-process LiteSVM world (the real SPL programs, the library's RPC client and executor) with the
Jupiter stand-in as the attacker: it answers an honest quote, then builds a USDC -> SOL transaction that delivers
nothing (it only pays the fee) or less SOL than the guaranteed minimum. #13 and #16 run the real `swarm` command
against the session's anvil devnet, with policy files and manifest copies an operator (or an attacker who can
edit them) could write.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from solders.keypair import Keypair
from spl.token.instructions import (create_idempotent_associated_token_account, get_associated_token_address,
                                    sync_native)
from spl.token.models import SyncNativeParams
from solders.system_program import TransferParams, transfer

from tests.solana_fakes import FakeJupiter, LocalChain, fund_tokens, wrap_sol
from defai_swarm.tools.solana.executor import SolanaSwapExecutor
from defai_swarm.tools.solana.jupiter import JupiterClient
from defai_swarm.tools.solana.policy import SolanaRiskPolicy
from defai_swarm.tools.solana.programs import NATIVE_MINT, TOKEN_PROGRAM
from defai_swarm.tools.solana.spl import SplTokens
from defai_swarm.tools.solana.tokens import SOL

ROOT = Path(__file__).resolve().parents[2]
SWARM = str(Path(sys.executable).with_name("swarm"))
USDC_IN = 10**6  # 1 USDC: about 0.0066 SOL at the pool's $150, less than the old 0.01 SOL fee allowance
WALLET_WSOL = 10**9  # wrapped SOL the wallet already holds in its own wSOL account (Jupiter unwraps it all)


# ---------------------------------------------------------------- #20: Solana, native SOL as the output
@pytest.fixture(params=[False, True], ids=["no-wsol", "wsol-held"])
def sol_env(request):
    chain = LocalChain()
    usdc = chain.token("USDC", 6, fund=1_000 * 10**6)
    pool = Keypair()
    chain.svm.airdrop(pool.pubkey(), 1_010 * 10**9)
    fund_tokens(chain.svm, chain.issuer, usdc.mint_pubkey, pool.pubkey(), 150_000 * 10**6, 6)
    wrap_sol(chain.svm, pool, 1_000 * 10**9)  # SOL at $150
    if request.param:  # the wallet wraps 1 SOL of its own, signed by itself
        ata = get_associated_token_address(chain.wallet.pubkey, NATIVE_MINT, TOKEN_PROGRAM)
        tx = chain.wallet.sign_v0([
            create_idempotent_associated_token_account(chain.wallet.pubkey, chain.wallet.pubkey, NATIVE_MINT,
                                                       TOKEN_PROGRAM),
            transfer(TransferParams(from_pubkey=chain.wallet.pubkey, to_pubkey=ata, lamports=WALLET_WSOL)),
            sync_native(SyncNativeParams(program_id=TOKEN_PROGRAM, account=ata))], chain.svm.latest_blockhash())
        chain.svm.send_transaction(tx)
    mints = {usdc.mint: (usdc.mint_pubkey, 6, TOKEN_PROGRAM), str(NATIVE_MINT): (NATIVE_MINT, 9, TOKEN_PROGRAM)}
    fake = FakeJupiter(chain.server, pool, mints).start()
    client = JupiterClient(fake.url + "/swap/v1")
    policy = SolanaRiskPolicy(max_slippage_bps=100, max_price_impact_bps=100)
    executor = SolanaSwapExecutor(chain.rpc, chain.sender, client, policy)
    spl = SplTokens(chain.rpc, chain.sender)
    wsol = get_associated_token_address(chain.wallet.pubkey, NATIVE_MINT, TOKEN_PROGRAM)

    def own_sol() -> int:
        """The wallet's SOL plus what its own wrapped-SOL account holds (lamports: rent and wrapped amount)."""
        acc = chain.svm.get_account(wsol)
        return chain.rpc.balance(chain.wallet.pubkey) + (acc.lamports if acc is not None else 0)

    yield type("Env", (), dict(chain=chain, usdc=usdc, fake=fake, client=client, executor=executor, spl=spl,
                               own_sol=staticmethod(own_sol), wsol_held=request.param))
    client.close()
    fake.close()
    chain.close()


def _deliver(env, mode: str) -> None:
    """The stand-in builds its transaction from the quote we send back: make it deliver nothing, or half."""
    if mode == "short_output":
        env.fake.mode = "short_output"
        return
    real = env.fake.swap
    env.fake.swap = lambda body: real({**body, "quoteResponse": {**body["quoteResponse"], "outAmount": "0"}})


def _min_out(env) -> int:
    return env.client.quote(env.usdc.mint, SOL.mint, USDC_IN, 50).other_amount_threshold


@pytest.mark.parametrize("mode", ["fee_only", "short_output"])
def test_native_output_short_of_min_out_is_refused_in_simulation(sol_env, mode):
    env = sol_env
    min_out = _min_out(env)
    assert 0 < min_out < 10_000_000  # inside the old fee allowance: the attack's whole point
    _deliver(env, mode)
    usdc_before, sol_before = env.spl.balance(env.usdc), env.own_sol()
    out = env.executor.execute("run20", "s1", env.usdc, SOL, USDC_IN, min_out=min_out, slippage_bps=50)
    failed = {c.rule for c in out.checks if not c.passed}
    assert out.status == "refused" and "simulated_output_received" in failed, (out.status, out.reason)
    assert env.chain.server.count("sendTransaction") == 0
    assert (env.spl.balance(env.usdc), env.own_sol()) == (usdc_before, sol_before)


@pytest.mark.parametrize("mode", ["fee_only", "short_output"])
def test_native_output_short_of_min_out_fails_after_landing(sol_env, mode, monkeypatch):
    """Past a simulation that lied (or differed from execution), the landed transaction's own balances decide."""
    env = sol_env
    min_out = _min_out(env)
    _deliver(env, mode)
    monkeypatch.setattr("defai_swarm.tools.solana.executor.simulation_checks", lambda *a, **k: [])
    sol_before = env.own_sol()
    out = env.executor.execute("run20", "s1", env.usdc, SOL, USDC_IN, min_out=min_out, slippage_bps=50)
    assert env.chain.server.count("sendTransaction") == 1 and out.signature in env.chain.server.landed
    fee = env.chain.rpc.transaction(out.signature).fee
    arrived = env.own_sol() - sol_before + fee  # what the pool really paid us
    assert arrived < min_out
    assert out.status == "failed" and out.received == arrived, (out.status, out.received, arrived, out.reason)
    assert f"received {arrived} < min_out {min_out}" in out.reason


def test_honest_native_output_counts_only_what_the_pool_paid(sol_env):
    env = sol_env
    min_out = _min_out(env)
    sol_before = env.own_sol()
    out = env.executor.execute("run20", "s1", env.usdc, SOL, USDC_IN, min_out=min_out, slippage_bps=50)
    assert out.status == "confirmed", out.reason
    fee = env.chain.rpc.transaction(out.signature).fee
    assert out.received == out.quoted_out == env.own_sol() - sol_before + fee >= min_out
    # our own wrapped SOL came back unwrapped, and was not counted as delivered
    assert env.chain.svm.get_account(get_associated_token_address(
        env.chain.wallet.pubkey, NATIVE_MINT, TOKEN_PROGRAM)) is None or not env.wsol_held


def test_landed_gain_never_adds_more_fee_than_the_transaction_allows(sol_env):
    """A node that reports a larger fee cannot raise what counts as received."""
    from defai_swarm.tools.solana.txcheck import fee_bound_lamports, landed_native_gain
    env = sol_env
    out = env.executor.execute("run20", "s1", env.usdc, SOL, USDC_IN, min_out=_min_out(env), slippage_bps=50)
    record = env.chain.rpc.transaction(out.signature)
    signed = env.executor.outbox.signed_for("run20", "s1:swap#0")
    bound = fee_bound_lamports(signed.transaction)
    wallet = env.chain.wallet.address
    assert record.fee <= bound and landed_native_gain(record, wallet, bound) == out.received
    inflated = record.model_copy(update={"fee": record.fee + 5_000_000})
    assert landed_native_gain(inflated, wallet, bound) <= out.received + bound - record.fee
    assert landed_native_gain(inflated, wallet, 0) == out.received - record.fee  # no fee bound: no fee added back


# ---------------------------------------------------------------- the real `swarm` command
def _cli(home: Path, *args: str, timeout: float = 240) -> tuple[int, list[str], str]:
    """Run `swarm ARGS` as a user would, with its own state directory and ledger; (exit code, lines, all text)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SWARM_MODEL", "SWARM_PRIVATE_KEY")}
    env.update(SWARM_HOME=str(home), SWARM_LEDGER=str(home.parent / f"{home.name}-ledger.sqlite"), NO_COLOR="1",
               COLUMNS="1000")
    proc = subprocess.run([SWARM, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=home.parent)
    text = proc.stdout + proc.stderr
    return proc.returncode, [line for line in text.splitlines() if line.strip()], text


def _one_line_error(code: int, lines: list[str], text: str) -> str:
    assert code == 1, text
    assert "Traceback" not in text and len(lines) == 1, text
    assert lines[0].startswith("error: "), text
    return lines[0]


# #13: a policy file must say exactly what is wrong with it, once, and stop everything
POLICY_CASES = {
    "unknown-field": ('{"max_tradeusd": 50, "max_slippage_bps": 30}', ["'max_tradeusd'", "unknown field",
                                                                         "did you mean 'max_trade_usd'"]),
    "malformed-json": ('{"max_trade_usd": 50,\n', ["not valid JSON", "line 2"]),
    "wrong-type": ('{"max_trade_usd": "lots"}', ["'max_trade_usd'", "valid decimal", '"lots"']),
    "not-an-object": ('[{"max_trade_usd": 50}]', ["JSON object"]),
    "missing-file": (None, ["no such file"]),
}


@pytest.mark.parametrize("case", sorted(POLICY_CASES))
def test_bad_policy_file_is_one_line_naming_file_and_field(devnet, tmp_path, case):
    content, expected = POLICY_CASES[case]
    policy = tmp_path / f"policy-{case}.json"
    if content is not None:
        policy.write_text(content)
    home = tmp_path / "home"
    line = _one_line_error(*_cli(home, "run", "swap 1 ETH to USDC", "--manifest", str(devnet.manifest_path),
                                 "--policy", str(policy)))
    assert str(policy) in line and all(e in line for e in expected), line
    assert not home.exists()  # refused before any state, run or node contact


@pytest.mark.parametrize("command", [["plan", "swap 1 ETH to USDC"], ["resume", "0123456789abcdef"]])
def test_unknown_policy_field_refused_by_plan_and_resume(devnet, tmp_path, command):
    policy = tmp_path / "policy.json"
    policy.write_text('{"human_approval_above_usd": 100, "max_tradeusd": 50}')
    line = _one_line_error(*_cli(tmp_path / "home", *command, "--manifest", str(devnet.manifest_path),
                                 "--policy", str(policy)))
    assert str(policy) in line and "unknown field 'max_tradeusd'" in line, line


def test_every_policy_model_forbids_unknown_fields():
    from pydantic import ValidationError

    from defai_swarm.core.policy import SwapPolicy
    from defai_swarm.tools.evm.policy import RiskPolicy
    for model in (SwapPolicy, RiskPolicy, SolanaRiskPolicy):
        with pytest.raises(ValidationError, match="max_tradeusd"):
            model.model_validate({"max_tradeusd": 50})


def test_valid_policy_file_still_runs(devnet, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text('{"max_trade_usd": 50, "token_allowlist": ["ETH", "USDC"]}')
    code, lines, text = _cli(tmp_path / "home", "plan", "swap 1 ETH to USDC", "--manifest", str(devnet.manifest_path),
                             "--policy", str(policy), "--json")
    assert code == 0 and "Traceback" not in text and '"ok": true' in text, text


# #16: a dead RPC, a router that is not a router
def _manifest_copy(devnet, tmp_path: Path, **changes) -> Path:
    data = json.loads(Path(devnet.manifest_path).read_text())
    data.update(changes)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("command", [["run", "swap 1 ETH to USDC"], ["plan", "swap 1 ETH to USDC"]])
def test_dead_rpc_is_one_line_and_leaves_no_run(devnet, tmp_path, command):
    from defai_swarm.tools.devnet.node import free_port
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    manifest = _manifest_copy(devnet, tmp_path, rpc_url=url)
    home = tmp_path / "home"
    line = _one_line_error(*_cli(home, *command, "--manifest", str(manifest)))
    assert f"cannot reach the RPC at {url}" in line and "is the devnet running?" in line, line
    assert "`swarm devnet up`" in line, line
    assert not (home / "runs.sqlite").exists() and not (home / "audit" / "audit.db").exists()


@pytest.mark.parametrize("field, points_at", [("router", "weth"), ("router", "USDC"), ("factory", "USDC")])
def test_router_that_is_not_a_router_refuses_and_seals(devnet, chain, tmp_path, field, points_at):
    from defai_swarm.audit import AuditLog, Signer
    from defai_swarm.audit.checkpoint import verify_checkpoint
    manifest = devnet.manifest
    target = manifest.weth if points_at == "weth" else manifest.tokens[points_at].address
    path = _manifest_copy(devnet, tmp_path, **{field: target})
    home = tmp_path / "home"
    code, lines, text = _cli(home, "run", "swap 1 ETH to USDC", "--manifest", str(path))
    assert "Traceback" not in text, text
    kind = "router" if field == "router" else "factory"
    assert f"did not answer like a Uniswap V2 {kind}" in text and target.lower() in text.lower(), text
    status_line = next(line for line in lines if line.startswith("run "))
    run_id, status = status_line.removeprefix("run ").split(": ")
    assert status in ("refused", "failed") and code == {"refused": 5, "failed": 6}[status], text  # defai_swarm.exitcodes
    assert not any(line.strip().startswith("tx:") for line in lines), text  # nothing was sent
    # sealed: the outcome is on record and a checkpoint signed with this machine's key covers it
    log = AuditLog(home / "audit" / "audit.db")
    entries = log.entries(run_id)
    results = [e for e in entries if e.kind == "run_result"]
    assert results and results[-1].payload["status"] == status
    assert f"did not answer like a Uniswap V2 {kind}" in json.dumps(results[-1].payload["reasons"])
    checkpoints = log.checkpoints(run_id)
    assert checkpoints, "run left unsealed"
    signed = verify_checkpoint(checkpoints[-1].note, Signer.load(home / "audit" / "signing.key").verifier)
    assert signed.size > results[-1].index


def test_contracts_that_answer_wrongly_become_tool_errors(devnet, chain, registry):
    """The same conversion at the tool level: every read of a contract that is not what the configuration says
    is an EvmToolError naming the address and the expected contract (agents refuse on it), never a web3 error."""
    from defai_swarm.tools.evm import erc20
    from defai_swarm.tools.evm.config import FeedEntry
    from defai_swarm.tools.evm.errors import EvmToolError, PriceUnavailable
    from defai_swarm.tools.evm.feeds import NotAFeedError, read_feed
    from defai_swarm.tools.evm.uniswap import NotAFactoryError, NotARouterError, UniswapV2
    m = devnet.manifest
    eth, usdc = registry.resolve("ETH"), registry.resolve("USDC")
    for router in (m.weth, usdc.address, "0x000000000000000000000000000000000000dEaD"):
        with pytest.raises(NotARouterError, match=f"router {router} did not answer like a Uniswap V2 router"):
            UniswapV2(chain, registry, router, m.factory).quote(eth, usdc, 10**18)
    bad_factory = UniswapV2(chain, registry, m.router, usdc.address)
    for read in (lambda: bad_factory.pair_address(eth, usdc), lambda: bad_factory.spot_price(eth, usdc),
                 lambda: bad_factory.quote(eth, usdc, 10**18)):
        with pytest.raises(NotAFactoryError, match="did not answer like a Uniswap V2 factory"):
            read()
    fake_token = usdc.model_copy(update={"address": m.router})
    with pytest.raises(EvmToolError, match="did not answer like an ERC-20 token"):
        erc20.balance_of(chain, fake_token, m.router)
    with pytest.raises(NotAFeedError, match="did not answer like a Chainlink AggregatorV3 feed") as caught:
        read_feed(chain, FeedEntry(pair="ETH/USD", address=m.router, decimals=8))
    assert isinstance(caught.value, PriceUnavailable)
