"""Issue 24, finding 1: a route that "delivers" the output out of the user's own second token account.

The wallet holds, besides its associated USDC account, a second (non-associated) USDC account with more than
the swap's minimum. A route server of the test's own answers an honest quote for 0.5 SOL -> USDC, then returns a
transaction that pays the 0.5 SOL input to an attacker and moves the quoted USDC from the user's second account
into the associated one. Every check that measured "received" as the associated account's change passed it; on
chain the user lost 0.5 SOL and held the same USDC. Delivery is the net change of the wallet's holdings of the
mint across all its accounts, and a transfer out of any of the wallet's token accounts other than the route's
input is refused: before signing (static, from the accounts' state), in simulation, and after landing.

The input side, symmetric: a route that takes more SOL than the quoted input (plus this transaction's fee) is
refused in simulation and reported failed after landing.

Everything runs on the real LiteSVM devnet (the SPL Token, ATA and system programs) through the library's RPC
client and executor; the route server is the Jupiter stand-in with its /swap answer replaced by the test.
"""
from __future__ import annotations

import base64
import struct

import pytest
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.signature import Signature
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import VersionedTransaction
from spl.token.instructions import (approve_checked, close_account, create_idempotent_associated_token_account,
                                    get_associated_token_address, mint_to_checked, sync_native, transfer_checked)
from spl.token.models import (ApproveCheckedParams, CloseAccountParams, MintToCheckedParams, SyncNativeParams,
                              TransferCheckedParams)

from tests.solana_fakes import FakeJupiter, LocalChain, fund_tokens, send_direct, wrap_sol
from defai_swarm.tools.solana.executor import SolanaSwapExecutor
from defai_swarm.tools.solana.jupiter import JupiterClient
from defai_swarm.tools.solana.policy import SolanaRiskPolicy
from defai_swarm.tools.solana.programs import COMPUTE_BUDGET_PROGRAM, MEMO_PROGRAM, NATIVE_MINT, TOKEN_PROGRAM
from defai_swarm.tools.solana.spl import SplTokens
from defai_swarm.tools.solana.token_layout import parse_token_account
from defai_swarm.tools.solana.tokens import SOL

SOL_IN = 5 * 10**8  # 0.5 SOL: about 74.7 USDC at the pool's $150
SECOND_ACCOUNT_USDC = 100 * 10**6  # more than the swap's minimum
ATA_USDC = 5 * 10**6
EXTRA_SOL = 5 * 10**6  # 0.005 SOL beyond the quoted input: inside the old 0.01 SOL "overhead" allowance


@pytest.fixture
def env():
    chain = LocalChain()
    usdc = chain.token("USDC", 6, fund=ATA_USDC)
    wallet = chain.wallet.pubkey
    second = Keypair()  # a plain token account of the wallet's, not its associated one
    size = 165
    send_direct(chain.svm, chain.issuer, [
        create_account(CreateAccountParams(from_pubkey=chain.issuer.pubkey(), to_pubkey=second.pubkey(),
                                           lamports=chain.svm.minimum_balance_for_rent_exemption(size), space=size,
                                           owner=TOKEN_PROGRAM)),
        Instruction(TOKEN_PROGRAM, bytes([18]) + bytes(wallet),  # InitializeAccount3(owner)
                    [AccountMeta(second.pubkey(), False, True), AccountMeta(usdc.mint_pubkey, False, False)]),
        mint_to_checked(MintToCheckedParams(program_id=TOKEN_PROGRAM, mint=usdc.mint_pubkey, dest=second.pubkey(),
                                            mint_authority=chain.issuer.pubkey(), amount=SECOND_ACCOUNT_USDC,
                                            decimals=6))], (second,))
    assert second.pubkey() != get_associated_token_address(wallet, usdc.mint_pubkey)
    pool = Keypair()
    chain.svm.airdrop(pool.pubkey(), 1_010 * 10**9)
    fund_tokens(chain.svm, chain.issuer, usdc.mint_pubkey, pool.pubkey(), 150_000 * 10**6, 6)
    wrap_sol(chain.svm, pool, 1_000 * 10**9)  # SOL at $150
    attacker = Keypair()
    chain.svm.airdrop(attacker.pubkey(), 10**9)
    attacker_wsol = wrap_sol(chain.svm, attacker, 1)
    mints = {usdc.mint: (usdc.mint_pubkey, 6, TOKEN_PROGRAM), str(NATIVE_MINT): (NATIVE_MINT, 9, TOKEN_PROGRAM)}
    fake = FakeJupiter(chain.server, pool, mints).start()
    client = JupiterClient(fake.url + "/swap/v1")
    executor = SolanaSwapExecutor(chain.rpc, chain.sender, client, SolanaRiskPolicy(max_slippage_bps=100,
                                                                                    max_price_impact_bps=100))
    spl = SplTokens(chain.rpc, chain.sender)

    def holdings() -> tuple[int | None, int, int, int]:
        """(wallet SOL, associated USDC, second account USDC, attacker's wrapped SOL)."""
        def amount(address) -> int:
            acc = chain.svm.get_account(address)
            assert acc is not None
            return parse_token_account(str(address), acc.owner, bytes(acc.data)).amount
        return (chain.svm.get_balance(wallet), spl.balance(usdc), amount(second.pubkey()), amount(attacker_wsol))

    yield type("Env", (), dict(chain=chain, usdc=usdc, second=second.pubkey(), attacker_wsol=attacker_wsol,
                               fake=fake, client=client, executor=executor, holdings=staticmethod(holdings)))
    client.close()
    fake.close()
    chain.close()


def _route(env, body: dict, source, deliver_to_attacker: bool, extra_in: int = 0) -> dict:
    """The malicious /swap answer: wrap the input (plus `extra_in`), pay it to the attacker (or to the pool),
    and move the quoted output from `source` (the user's second account, or the pool's account with the
    wallet as its delegate, as the stand-in delivers) into the user's associated USDC account."""
    quote, user = body["quoteResponse"], env.chain.wallet.pubkey
    amount_in, amount_out = int(quote["inAmount"]) + extra_in, int(quote["outAmount"])
    usdc, pool = env.usdc.mint_pubkey, env.fake.pool.pubkey()
    wsol, usdc_ata = (get_associated_token_address(user, m) for m in (NATIVE_MINT, usdc))
    if source != env.second:  # the honest delivery: the pool approves our wallet for exactly the output
        send_direct(env.chain.svm, env.fake.pool, [approve_checked(ApproveCheckedParams(
            program_id=TOKEN_PROGRAM, source=source, mint=usdc, delegate=user, owner=pool, amount=amount_out,
            decimals=6))])
    sink = env.attacker_wsol if deliver_to_attacker else get_associated_token_address(pool, NATIVE_MINT)
    ixs = [Instruction(COMPUTE_BUDGET_PROGRAM, bytes([2]) + struct.pack("<I", 200_000), []),
           Instruction(COMPUTE_BUDGET_PROGRAM, bytes([3]) + struct.pack("<Q", 1_000), []),
           create_idempotent_associated_token_account(user, user, usdc, TOKEN_PROGRAM),
           create_idempotent_associated_token_account(user, user, NATIVE_MINT, TOKEN_PROGRAM),
           transfer(TransferParams(from_pubkey=user, to_pubkey=wsol, lamports=amount_in)),
           sync_native(SyncNativeParams(program_id=TOKEN_PROGRAM, account=wsol)),
           transfer_checked(TransferCheckedParams(program_id=TOKEN_PROGRAM, source=wsol, mint=NATIVE_MINT, dest=sink,
                                                  owner=user, amount=amount_in, decimals=9)),
           transfer_checked(TransferCheckedParams(program_id=TOKEN_PROGRAM, source=source, mint=usdc, dest=usdc_ata,
                                                  owner=user, amount=amount_out, decimals=6)),
           close_account(CloseAccountParams(program_id=TOKEN_PROGRAM, account=wsol, dest=user, owner=user)),
           Instruction(MEMO_PROGRAM, b"route", [AccountMeta(user, True, False)])]
    blockhash, last_valid = env.chain.server.rpc_getLatestBlockhash()["value"].values()
    message = MessageV0.try_compile(user, ixs, [], Hash.from_string(blockhash))
    tx = VersionedTransaction.populate(message, [Signature.default()])
    return {"swapTransaction": base64.b64encode(bytes(tx)).decode(), "lastValidBlockHeight": last_valid,
            "prioritizationFeeLamports": 200, "computeUnitLimit": 200_000, "dynamicSlippageReport": None,
            "simulationError": None}


def _second_account_attack(env) -> int:
    """Install the attack route; the swap's minimum (the quote's floor), which the second account covers."""
    env.fake.swap = lambda body: _route(env, body, env.second, deliver_to_attacker=True)
    min_out = env.client.quote(SOL.mint, env.usdc.mint, SOL_IN, 50).other_amount_threshold
    assert 0 < min_out <= SECOND_ACCOUNT_USDC  # the attack's precondition
    return min_out


def _swap(env, min_out: int):
    return env.executor.execute("run24", "s1", SOL, env.usdc, SOL_IN, min_out=min_out, slippage_bps=50)


def test_delivery_from_own_second_account_is_refused_before_signing(env):
    min_out = _second_account_attack(env)
    before = env.holdings()
    out = _swap(env, min_out)
    failed = {c.rule: c.detail for c in out.checks if not c.passed}
    assert out.status == "refused" and "instructions_allowed" in failed, (out.status, out.reason)
    assert str(env.second) in failed["instructions_allowed"] and "not the route's input" in failed["instructions_allowed"]
    assert "before signing" in out.reason
    assert env.chain.server.count("simulateTransaction") == 0  # never signed: the simulation comes after signing
    assert env.chain.server.count("sendTransaction") == 0
    assert env.holdings() == before  # nothing moved


def test_delivery_from_own_second_account_is_refused_in_simulation(env, monkeypatch):
    """Past a static layer that missed it, the simulated effects decide: the wallet's USDC did not grow."""
    min_out = _second_account_attack(env)
    monkeypatch.setattr("defai_swarm.tools.solana.executor.static_checks", lambda *a, **k: [])
    before = env.holdings()
    out = _swap(env, min_out)
    failed = {c.rule: c.detail for c in out.checks if not c.passed}
    assert out.status == "refused" and {"simulated_output_received", "simulated_own_accounts_safe"} <= set(failed), \
        (out.status, out.reason)
    assert "gains 0" in failed["simulated_output_received"], failed
    assert str(env.second) in failed["simulated_own_accounts_safe"], failed
    assert env.chain.server.count("sendTransaction") == 0
    assert env.holdings() == before


def test_delivery_from_own_second_account_fails_after_landing(env, monkeypatch):
    """Past static and simulated checks that both missed it, the landed transaction's balances decide."""
    min_out = _second_account_attack(env)
    monkeypatch.setattr("defai_swarm.tools.solana.executor.static_checks", lambda *a, **k: [])
    monkeypatch.setattr("defai_swarm.tools.solana.executor.simulation_checks", lambda *a, **k: [])
    sol, ata, second, stolen = env.holdings()
    out = _swap(env, min_out)
    assert out.signature in env.chain.server.landed  # it did land: the user lost the SOL ...
    now = env.holdings()
    assert now[3] - stolen == SOL_IN and now[1] + now[2] == ata + second  # ... and holds the same USDC
    assert out.status == "failed" and out.received == 0, (out.status, out.received, out.reason)
    assert f"received 0 < min_out {min_out}" in out.reason


def _over_taking_route(env) -> int:
    """An otherwise honest route (pool pays the quoted USDC) that takes EXTRA_SOL more than the quoted input."""
    pool_usdc = get_associated_token_address(env.fake.pool.pubkey(), env.usdc.mint_pubkey)
    env.fake.swap = lambda body: _route(env, body, pool_usdc, deliver_to_attacker=False, extra_in=EXTRA_SOL)
    return env.client.quote(SOL.mint, env.usdc.mint, SOL_IN, 50).other_amount_threshold


def test_input_beyond_the_quote_is_refused_in_simulation(env, monkeypatch):
    min_out = _over_taking_route(env)
    out = _swap(env, min_out)  # the static layer sees the extra wrapped SOL leave our input account
    assert out.status == "refused" and "input_within_quote" in {c.rule for c in out.checks if not c.passed}
    monkeypatch.setattr("defai_swarm.tools.solana.executor.static_checks", lambda *a, **k: [])
    before = env.holdings()
    out = env.executor.execute("run24", "s2", SOL, env.usdc, SOL_IN, min_out=min_out, slippage_bps=50)
    failed = {c.rule: c.detail for c in out.checks if not c.passed}
    assert out.status == "refused" and set(failed) == {"simulated_sol_spend"}, (out.status, out.reason)
    assert env.chain.server.count("sendTransaction") == 0 and env.holdings() == before


def test_input_beyond_the_quote_fails_after_landing(env, monkeypatch):
    min_out = _over_taking_route(env)
    monkeypatch.setattr("defai_swarm.tools.solana.executor.static_checks", lambda *a, **k: [])
    monkeypatch.setattr("defai_swarm.tools.solana.executor.simulation_checks", lambda *a, **k: [])
    out = _swap(env, min_out)
    assert out.signature in env.chain.server.landed and out.received >= min_out  # the output did arrive
    assert out.status == "failed", (out.status, out.reason)
    assert f"it took {SOL_IN + EXTRA_SOL} > amount_in {SOL_IN}" in out.reason


def test_honest_route_through_the_same_builder_confirms(env):
    """The same hand-built route, honest (input to the pool, output from the pool): confirmed, so the
    refusals above are about where the tokens come from and go, not about the route's shape."""
    pool_usdc = get_associated_token_address(env.fake.pool.pubkey(), env.usdc.mint_pubkey)
    env.fake.swap = lambda body: _route(env, body, pool_usdc, deliver_to_attacker=False)
    min_out = env.client.quote(SOL.mint, env.usdc.mint, SOL_IN, 50).other_amount_threshold
    sol, ata, second, _ = env.holdings()
    out = _swap(env, min_out)
    assert out.status == "confirmed", out.reason
    now = env.holdings()
    assert out.received == now[1] - ata >= min_out and now[2] == second
    fee = env.chain.rpc.transaction(out.signature).fee
    assert sol - now[0] == SOL_IN + fee
