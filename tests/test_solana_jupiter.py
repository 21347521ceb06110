"""Jupiter swaps: the client against a local server speaking Jupiter's /quote and /swap format, and the
executor's decode-and-check against honest and malicious answers. The swap transaction the fake builds is a
stand-in (SPL transfers against a pool it controls, see tests/solana_fakes.py); everything else is real:
LiteSVM executes it through the LiteSVM-backed RPC, and every refusal happens before anything is sent."""
import struct
from decimal import Decimal

import pytest
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from spl.token.instructions import get_associated_token_address

from defai_swarm.tools.solana.policy import SolanaRiskPolicy
from defai_swarm.tools.solana.executor import MemoryOutbox, SolanaSwapExecutor
from tests.solana_fakes import FakeJupiter, LocalChain, fund_tokens
from defai_swarm.tools.solana.errors import JupiterError
from defai_swarm.tools.solana.jupiter import JupiterClient, JupiterQuote
from defai_swarm.tools.solana.programs import JUPITER_V6_PROGRAM, TOKEN_PROGRAM
from defai_swarm.tools.solana.rpc import RawAccount
from defai_swarm.tools.solana.spl import SplTokens
from defai_swarm.tools.solana.txcheck import (JUPITER_ROUTES, SwapExpectations, account_keys, anchor_discriminator,
                                  simulation_checks, static_checks)

USDC_IN = 100 * 10**6


@pytest.fixture
def env():
    chain = LocalChain()
    usdc = chain.token("USDC", 6, fund=1_000 * 10**6)
    jup = chain.token("JUP", 6)
    other = chain.token("OTHER", 6, fund=50 * 10**6)
    pool = Keypair()
    chain.svm.airdrop(pool.pubkey(), 10**10)
    for token, amount in ((usdc, 500_000 * 10**6), (jup, 1_000_000 * 10**6), (other, 10**6)):
        fund_tokens(chain.svm, chain.issuer, token.mint_pubkey, pool.pubkey(), amount, 6)
    mints = {t.mint: (t.mint_pubkey, t.decimals, TOKEN_PROGRAM) for t in (usdc, jup, other)}
    fake = FakeJupiter(chain.server, pool, mints).start()
    client = JupiterClient(fake.url + "/swap/v1")
    policy = SolanaRiskPolicy(max_slippage_bps=100, max_price_impact_bps=100)
    executor = SolanaSwapExecutor(chain.rpc, chain.sender, client, policy)
    spl = SplTokens(chain.rpc, chain.sender)
    yield type("Env", (), dict(chain=chain, usdc=usdc, jup=jup, other=other, fake=fake, client=client,
                               executor=executor, spl=spl, pool=pool, policy=policy))
    client.close()
    fake.close()
    chain.close()


def test_client_parses_documented_quote_and_swap(env):
    q = env.client.quote(env.usdc.mint, env.jup.mint, USDC_IN, 50)
    assert isinstance(q.in_amount, int) and q.in_amount == USDC_IN and q.slippage_bps == 50
    assert q.other_amount_threshold == q.out_amount * 9950 // 10_000
    assert isinstance(q.price_impact_pct, Decimal) and 0 < q.price_impact_bps <= 100
    assert q.route_plan[0].swap_info.label == "LocalStandInPool"
    swap = env.client.swap(q, env.chain.wallet.address, 1_000_000)
    tx = swap.transaction()
    assert tx.message.account_keys[0] == env.chain.wallet.pubkey
    sent = env.fake.requests[-1][1]
    assert sent["quoteResponse"]["inAmount"] == str(USDC_IN) and sent["userPublicKey"] == env.chain.wallet.address
    assert sent["prioritizationFeeLamports"]["priorityLevelWithMaxLamports"]["maxLamports"] == 1_000_000
    with pytest.raises(JupiterError, match="HTTP 400"):
        env.client.quote(env.usdc.mint, str(Keypair().pubkey()), 1, 50)


def test_quote_model_refuses_floats_and_garbage():
    base = {"inputMint": "a", "inAmount": "1", "outputMint": "b", "outAmount": "2", "otherAmountThreshold": "2",
            "swapMode": "ExactIn", "slippageBps": 50, "priceImpactPct": "0.001", "routePlan": []}
    assert JupiterQuote.model_validate(base).price_impact_bps == 10
    for bad in ({"priceImpactPct": 0.001}, {"inAmount": "1.5"}, {"slippageBps": -1}, {"priceImpactPct": "lots"}):
        with pytest.raises(ValueError):
            JupiterQuote.model_validate({**base, **bad})


def test_honest_swap_confirms_and_receives_quoted_amount(env):
    before_in, before_out = env.spl.balance(env.usdc), env.spl.balance(env.jup)
    quote = env.client.quote(env.usdc.mint, env.jup.mint, USDC_IN, 50)
    out = env.executor.execute("run1", "s1", env.usdc, env.jup, USDC_IN, min_out=quote.out_amount * 99 // 100,
                               slippage_bps=500)
    assert out.status == "confirmed", out.reason
    assert out.received == out.quoted_out == env.spl.balance(env.jup) - before_out > 0
    assert before_in - env.spl.balance(env.usdc) == USDC_IN
    assert [r for r in env.fake.requests if r[0] == "quote"][-1][1]["slippageBps"] == "100"  # 500 capped to policy
    rules = {c.rule for c in out.checks}
    assert {"fee_payer_is_wallet", "only_signer_is_wallet", "programs_allowed", "output_to_own_account",
            "simulated_output_received", "simulated_own_accounts_safe", "quote_price_impact"} <= rules
    assert all(c.passed for c in out.checks)
    assert env.chain.server.count("sendTransaction") == 1 and out.attempts == 1


@pytest.mark.parametrize("mode, expected", [
    ("extra_program", {"programs_allowed"}),
    ("output_elsewhere", {"output_to_own_account", "instructions_allowed"}),
    ("foreign_fee_payer", {"fee_payer_is_wallet", "only_signer_is_wallet"}),
    ("extra_signer", {"only_signer_is_wallet"}),
    ("drain_other_token", {"instructions_allowed"}),
    ("approve_attacker", {"instructions_allowed"}),
    ("short_output", {"simulated_output_received"}),
    ("inflated_slippage", {"quote_slippage_capped"}),
    ("high_impact", {"quote_price_impact"}),
    ("lie_threshold", {"quote_threshold_consistent"}),
])
def test_malicious_answers_refused_before_sending(env, mode, expected):
    env.fake.mode = mode
    balances = [env.spl.balance(t) for t in (env.usdc, env.jup, env.other)]
    out = env.executor.execute("run1", "s1", env.usdc, env.jup, USDC_IN, min_out=1, slippage_bps=50)
    failed = {c.rule for c in out.checks if not c.passed}
    assert out.status == "refused" and expected <= failed, (out.reason, failed)
    assert env.chain.server.count("sendTransaction") == 0
    assert [env.spl.balance(t) for t in (env.usdc, env.jup, env.other)] == balances
    if mode in ("inflated_slippage", "high_impact", "lie_threshold"):
        assert not any(kind == "swap" for kind, _ in env.fake.requests)  # refused at the quote, no tx requested


def test_garbage_transaction_refused(env, monkeypatch):
    real = env.fake.swap
    monkeypatch.setattr(env.fake, "swap", lambda body: {**real(body), "swapTransaction": "bm90IGEgdHJhbnNhY3Rpb24="})
    out = env.executor.execute("run1", "s1", env.usdc, env.jup, USDC_IN, min_out=1, slippage_bps=50)
    assert out.status == "refused" and "not a base64 serialized versioned transaction" in out.reason
    assert env.chain.server.count("sendTransaction") == 0


def test_min_out_above_the_route_is_refused_at_quote(env):
    quote = env.client.quote(env.usdc.mint, env.jup.mint, USDC_IN, 50)
    out = env.executor.execute("run1", "s1", env.usdc, env.jup, USDC_IN, min_out=quote.out_amount + 1, slippage_bps=50)
    assert out.status == "refused" and "quote_meets_min_out" in out.reason
    assert env.chain.server.count("sendTransaction") == 0


def test_slippage_tightened_so_onchain_floor_is_min_out(env):
    quote = env.client.quote(env.usdc.mint, env.jup.mint, USDC_IN, 50)
    min_out = quote.out_amount * 9_980 // 10_000  # 20 bps below the route: tighter than the 100 bps requested
    out = env.executor.execute("run1", "s1", env.usdc, env.jup, USDC_IN, min_out=min_out, slippage_bps=100)
    assert out.status == "confirmed", out.reason
    quotes = [q for kind, q in env.fake.requests if kind == "quote"]
    assert [q["slippageBps"] for q in quotes[-2:]] == ["100", "20"]
    assert out.guaranteed_out >= min_out and out.received >= min_out
    swap_body = [b for kind, b in env.fake.requests if kind == "swap"][-1]
    assert int(swap_body["quoteResponse"]["otherAmountThreshold"]) >= min_out


def test_expired_swap_gets_fresh_quote_only_after_proven_expiry(env):
    env.chain.server.drop_new_signatures = 1  # the first signed swap never lands ...
    env.chain.server.blocks_per_height_call = 40  # ... and its blockhash runs out while we wait
    before = env.spl.balance(env.jup)
    out = env.executor.execute("run1", "s1", env.usdc, env.jup, USDC_IN, min_out=1, slippage_bps=50)
    assert out.status == "confirmed" and out.attempts == 2, out.reason
    assert len(set(env.chain.server.sent_raw)) == 2 and len(env.chain.server.landed) == 1
    assert sum(kind == "quote" for kind, _ in env.fake.requests) == 2
    assert env.spl.balance(env.jup) - before == out.received  # swapped exactly once


@pytest.mark.parametrize("durable", [False, True])
def test_resume_confirms_recorded_tx_without_new_quote(env, durable, tmp_path):
    from defai_swarm.tools.solana.executor import SolanaSwapOutcome
    from defai_swarm.core.outbox import AlreadySigned
    from defai_swarm.store import RunStore
    outbox = RunStore(tmp_path / "runs.sqlite") if durable else MemoryOutbox()  # the run store is an Outbox itself
    executor = SolanaSwapExecutor(env.chain.rpc, env.chain.sender, env.client, env.policy, outbox=outbox)
    scratch = SolanaSwapOutcome(status="failed", amount_in=USDC_IN, min_out=1)
    signed = executor.prepare(env.usdc, env.jup, USDC_IN, 1, 50, scratch)
    outbox.record_signed("run1", "s1:swap#0", signed)  # crash here: signed and recorded, never broadcast
    quotes = sum(kind == "quote" for kind, _ in env.fake.requests)
    if durable:  # a new process: a fresh store object over the same SQLite file
        outbox = RunStore(tmp_path / "runs.sqlite")
    resumed = SolanaSwapExecutor(env.chain.rpc, env.chain.sender, env.client, env.policy, outbox=outbox)
    out = resumed.execute("run1", "s1", env.usdc, env.jup, USDC_IN, min_out=1, slippage_bps=50)
    assert out.status == "confirmed" and out.signature == signed.signature
    assert sum(kind == "quote" for kind, _ in env.fake.requests) == quotes
    assert outbox.sent_ids("run1") == [signed.signature] and out.tx_ids() == [signed.signature]
    with pytest.raises(AlreadySigned):
        outbox.record_signed("run1", "s1:swap#0", signed)


# ---------------------------------------------------------------- static checks on real Jupiter route layouts
def _route_tx(wallet: Pubkey, name: str, accounts: list[Pubkey], signers: int = 1) -> tuple[VersionedTransaction, list]:
    ix = Instruction(JUPITER_V6_PROGRAM, anchor_discriminator(name) + b"\x00" * 16,
                     [AccountMeta(a, a == wallet, True) for a in accounts])
    msg = MessageV0.try_compile(wallet, [ix], [], Hash.default())
    tx = VersionedTransaction.populate(msg, [Signature.default()] * msg.header.num_required_signatures)
    return tx, list(msg.account_keys)


def _expect(wallet: Pubkey, out_mint: Pubkey) -> SwapExpectations:
    return SwapExpectations(wallet=str(wallet), input_mint=str(Keypair().pubkey()), output_mint=str(out_mint),
                            in_amount=10, min_out=1, max_priority_fee_lamports=0)


def test_jupiter_discriminators_match_published_values():
    assert list(anchor_discriminator("route")) == [229, 23, 203, 151, 122, 227, 173, 42]
    assert list(anchor_discriminator("shared_accounts_route")) == [193, 32, 155, 51, 65, 214, 156, 129]
    assert len(JUPITER_ROUTES) == 6


@pytest.mark.parametrize("to_us", [True, False])
def test_shared_accounts_route_destination_checked(to_us):
    wallet, out_mint = Keypair().pubkey(), Keypair().pubkey()
    x = _expect(wallet, out_mint)
    dest = x.output_account if to_us else get_associated_token_address(Keypair().pubkey(), out_mint)
    k = [Keypair().pubkey() for _ in range(13)]
    accounts = [TOKEN_PROGRAM, k[1], wallet, k[3], k[4], k[5], dest, k[7], out_mint, JUPITER_V6_PROGRAM, k[10], k[11],
                JUPITER_V6_PROGRAM]
    tx, keys = _route_tx(wallet, "shared_accounts_route", accounts)
    failed = {f.rule for f in static_checks(tx, keys, x) if not f.passed}
    # compute budget unset: a zero price still costs nothing
    assert failed == (set() if to_us else {"output_to_own_account"})


def test_route_with_no_destination_falls_back_to_user_account_and_checks_authority():
    wallet, out_mint = Keypair().pubkey(), Keypair().pubkey()
    x = _expect(wallet, out_mint)
    k = [Keypair().pubkey() for _ in range(9)]
    accounts = [TOKEN_PROGRAM, wallet, k[2], x.output_account, JUPITER_V6_PROGRAM, out_mint, JUPITER_V6_PROGRAM, k[7], k[8]]
    tx, keys = _route_tx(wallet, "route", accounts)
    assert all(f.passed for f in static_checks(tx, keys, x))
    thief = Keypair().pubkey()
    accounts[1] = thief  # someone else's transfer authority (a delegate that could pull our tokens)
    tx, keys = _route_tx(wallet, "route", accounts)
    findings = static_checks(tx, keys, x)
    assert {f.rule for f in findings if not f.passed} == {"instructions_allowed"}
    assert f"transfer authority {thief}" in next(f.detail for f in findings if f.rule == "instructions_allowed")
    tx, keys = _route_tx(wallet, "claim_token", accounts[:3])
    assert "unrecognised Jupiter instruction" in next(f.detail for f in static_checks(tx, keys, x)
                                                      if f.rule == "instructions_allowed")


def test_route_taking_from_another_account_of_ours_is_refused():
    """Issue 24 #1: a route may take only from our input account; any other token account we own (known from
    the accounts' state before signing) is off limits, for Jupiter's route and a plain token transfer alike."""
    wallet, out_mint = Keypair().pubkey(), Keypair().pubkey()
    x = _expect(wallet, out_mint)
    second = Keypair().pubkey()  # our second account of the output mint
    k = [Keypair().pubkey() for _ in range(13)]

    def failed(source, own):
        accounts = [TOKEN_PROGRAM, k[1], wallet, source, k[4], k[5], x.output_account, k[7], out_mint,
                    JUPITER_V6_PROGRAM, k[10], k[11], JUPITER_V6_PROGRAM]
        tx, keys = _route_tx(wallet, "shared_accounts_route", accounts)
        findings = static_checks(tx, keys, x, frozenset(own))
        return {f.rule: f.detail for f in findings if not f.passed}

    assert failed(x.input_account, {x.input_account, x.output_account, second}) == {}
    assert failed(k[3], {x.input_account, second}) == {}  # not ours: the program decides, the simulation measures
    refused = failed(second, {x.input_account, x.output_account, second})
    assert set(refused) == {"instructions_allowed"} and f"takes from our token account {second}" in \
        refused["instructions_allowed"]
    move = Instruction(TOKEN_PROGRAM, bytes([3]) + struct.pack("<Q", 5),
                       [AccountMeta(second, False, True), AccountMeta(x.output_account, False, True),
                        AccountMeta(wallet, True, False)])
    msg = MessageV0.try_compile(wallet, [move], [], Hash.default())
    tx = VersionedTransaction.populate(msg, [Signature.default()])
    assert all(f.passed for f in static_checks(tx, list(msg.account_keys), x))  # without the accounts' state ...
    findings = static_checks(tx, list(msg.account_keys), x, frozenset({second}))
    assert {f.rule for f in findings if not f.passed} == {"instructions_allowed"}  # ... with it: refused


def test_priority_fee_cap_uses_worst_case_limit():
    wallet, out_mint = Keypair().pubkey(), Keypair().pubkey()
    x = _expect(wallet, out_mint).model_copy(update={"max_priority_fee_lamports": 1_000})
    price = Instruction(Pubkey.from_string("ComputeBudget111111111111111111111111111111"),
                        bytes([3]) + struct.pack("<Q", 10_000), [])
    msg = MessageV0.try_compile(wallet, [price], [], Hash.default())
    tx = VersionedTransaction.populate(msg, [Signature.default()])
    finding = next(f for f in static_checks(tx, list(msg.account_keys), x) if f.rule == "priority_fee_cap")
    assert not finding.passed and "1400000 CU" in finding.detail  # 1.4M CU x 10,000 micro-lamports = 14,000 lamports


# ---------------------------------------------------------------- simulated-effect checks on synthetic states
def _token_acc(address, mint, owner, amount, delegate=None) -> RawAccount:
    data = bytearray(165)
    data[0:32], data[32:64] = bytes(mint), bytes(owner)
    struct.pack_into("<Q", data, 64, amount)
    if delegate:
        struct.pack_into("<I", data, 72, 1)
        data[76:108] = bytes(delegate)
    data[108] = 1
    return RawAccount(address=address, lamports=2_039_280, owner=TOKEN_PROGRAM, data=bytes(data))


def test_simulation_checks_catch_drains_the_static_pass_cannot_see():
    wallet, in_mint, out_mint, side_mint = (Keypair().pubkey() for _ in range(4))
    x = SwapExpectations(wallet=str(wallet), input_mint=str(in_mint), output_mint=str(out_mint), in_amount=100,
                         min_out=50, max_priority_fee_lamports=0)
    side = get_associated_token_address(wallet, side_mint)
    w = RawAccount(address=wallet, lamports=10**9, owner=Pubkey.default(), data=b"")
    pre = [w, _token_acc(x.input_account, in_mint, wallet, 1_000), _token_acc(x.output_account, out_mint, wallet, 0),
           _token_acc(side, side_mint, wallet, 5)]
    good = [w.model_copy(update={"lamports": 10**9 - 5_000}), _token_acc(x.input_account, in_mint, wallet, 900),
            _token_acc(x.output_account, out_mint, wallet, 60), _token_acc(side, side_mint, wallet, 5)]
    assert all(f.passed for f in simulation_checks(pre, good, x))

    def failed(post):
        return {f.rule for f in simulation_checks(pre, post, x) if not f.passed}

    thief = Keypair().pubkey()
    assert failed(good[:3] + [_token_acc(side, side_mint, wallet, 0)]) == {"simulated_own_accounts_safe"}
    assert failed(good[:3] + [_token_acc(side, side_mint, wallet, 5, delegate=thief)]) == {"simulated_own_accounts_safe"}
    assert failed(good[:3] + [_token_acc(side, side_mint, thief, 5)]) == {"simulated_own_accounts_safe"}
    assert failed([good[0], _token_acc(x.input_account, in_mint, wallet, 800)] + good[2:]) == {"simulated_own_accounts_safe"}
    assert failed(good[:2] + [_token_acc(x.output_account, out_mint, wallet, 49)] + good[3:]) == {"simulated_output_received"}
    assert failed([w.model_copy(update={"lamports": 10**9 - 20_000_000})] + good[1:]) == {"simulated_sol_spend"}
    # Issue 24 #1: "delivered" out of our own second account of the output mint: our holdings did not grow
    second = Keypair().pubkey()
    pre2 = pre + [_token_acc(second, out_mint, wallet, 100)]
    post2 = good[:2] + [_token_acc(x.output_account, out_mint, wallet, 60), good[3], _token_acc(second, out_mint, wallet, 40)]
    findings = {f.rule: f.detail for f in simulation_checks(pre2, post2, x) if not f.passed}
    assert set(findings) == {"simulated_output_received", "simulated_own_accounts_safe"}
    assert "gains 0" in findings["simulated_output_received"] and str(second) in findings["simulated_own_accounts_safe"]
    # an account of ours of the output mint that is not the associated one still counts as delivery
    into_second = [good[0], good[1], pre2[2], good[3], _token_acc(second, out_mint, wallet, 150)]
    assert all(f.passed for f in simulation_checks(pre2, into_second, x))


# ---------------------------------------------------------------- address lookup tables (how Jupiter ships big routes)
def _alt_account(address: Pubkey, addresses: list[Pubkey], owner: Pubkey | None = None) -> RawAccount:
    """The on-chain lookup-table layout: 56-byte bincode header (state 1, deactivation slot, last extended
    slot and index, authority option, padding), then the 32-byte addresses."""
    from defai_swarm.tools.solana.txcheck import ADDRESS_LOOKUP_TABLE_PROGRAM
    data = struct.pack("<IQQB", 1, 2**64 - 1, 0, 0) + b"\x01" + bytes(Keypair().pubkey()) + b"\x00\x00"
    data += b"".join(bytes(a) for a in addresses)
    return RawAccount(address=address, lamports=1, owner=owner or ADDRESS_LOOKUP_TABLE_PROGRAM, data=data)


def test_lookup_table_accounts_are_resolved_and_checked():
    from solders.address_lookup_table_account import AddressLookupTableAccount
    from defai_swarm.tools.solana.errors import LayoutError
    wallet, out_mint = Keypair().pubkey(), Keypair().pubkey()
    x = _expect(wallet, out_mint)
    k = [Keypair().pubkey() for _ in range(13)]
    table_key = Keypair().pubkey()

    def build(dest):
        accounts = [TOKEN_PROGRAM, k[1], wallet, k[3], k[4], k[5], dest, k[7], out_mint, JUPITER_V6_PROGRAM, k[10],
                    k[11], JUPITER_V6_PROGRAM]
        table = [k[3], k[4], k[5], dest, k[7], out_mint, k[10], k[11]]
        ix = Instruction(JUPITER_V6_PROGRAM, anchor_discriminator("shared_accounts_route") + bytes(16),
                         [AccountMeta(a, a == wallet, a not in (TOKEN_PROGRAM, JUPITER_V6_PROGRAM)) for a in accounts])
        msg = MessageV0.try_compile(wallet, [ix], [AddressLookupTableAccount(table_key, table)], Hash.default())
        assert msg.address_table_lookups  # the destination really travels through the table
        tx = VersionedTransaction.populate(msg, [Signature.default()])
        return tx, table

    for dest, ok in ((x.output_account, True), (get_associated_token_address(Keypair().pubkey(), out_mint), False)):
        tx, table = build(dest)
        keys, writable = account_keys(tx, lambda key, table=table: _alt_account(key, table) if key == table_key else None)
        assert dest in keys and keys.index(dest) in writable
        failed = {f.rule for f in static_checks(tx, keys, x) if not f.passed}
        assert failed == (set() if ok else {"output_to_own_account"})
    with pytest.raises(LayoutError, match="lookup table"):
        account_keys(tx, lambda key: _alt_account(key, table, owner=TOKEN_PROGRAM))
    with pytest.raises(LayoutError, match="lookup table"):
        account_keys(tx, lambda key: None)


def test_lookup_table_swap_that_lands_is_confirmed(env):
    """Issue 24 #7: the route ships our output account through lookup tables (as Jupiter does). The devnet's
    getTransaction must report meta.loadedAddresses and the balances of every account the transaction loaded
    (static keys, then every table's writable, then every table's readonly ones), so the landed swap is verified,
    not failed."""
    env.fake.lookup_tables = True
    before = env.spl.balance(env.jup)
    out = env.executor.execute("run1", "s1", env.usdc, env.jup, USDC_IN, min_out=1, slippage_bps=50)
    assert out.status == "confirmed", out.reason
    assert out.received == out.quoted_out == env.spl.balance(env.jup) - before > 0
    wallet, pool = env.chain.wallet.pubkey, env.pool.pubkey()
    out_ata = get_associated_token_address(wallet, env.jup.mint_pubkey)
    tx = env.executor.outbox.signed_for("run1", "s1:swap#0").transaction
    lookups = tx.message.address_table_lookups
    assert len(lookups) == 2 and out_ata not in tx.message.account_keys  # the output account comes from a table
    meta = env.chain.server.rpc_getTransaction(out.signature, {"maxSupportedTransactionVersion": 0})["meta"]
    loaded = meta["loadedAddresses"]
    assert set(loaded) == {"writable", "readonly"}
    assert len(loaded["writable"]) == sum(len(lk.writable_indexes) for lk in lookups)
    assert len(loaded["readonly"]) == sum(len(lk.readonly_indexes) for lk in lookups)
    assert str(out_ata) in loaded["writable"] and env.jup.mint in loaded["readonly"]
    record = env.chain.rpc.transaction(out.signature)  # the same answer through the library's client
    keys = record.account_keys()
    assert keys == [str(k) for k in tx.message.account_keys] + loaded["writable"] + loaded["readonly"]
    assert [str(k) for k in account_keys(tx, env.chain.rpc.account)[0]] == keys  # what the checks indexed by
    assert len(record.pre_balances) == len(record.post_balances) == len(keys)
    # The compiled instructions' indexes resolve, through that order, to the accounts the route named: the
    # user pays the pool (input mint from one table's readonly part), the pool pays us (from the other table).
    transfers = [[keys[i] for i in ix.accounts] for ix in tx.message.instructions
                 if keys[ix.program_id_index] == str(TOKEN_PROGRAM) and bytes(ix.data)[:1] == b"\x0c"]
    assert [t[:3] for t in transfers] == [
        [str(get_associated_token_address(wallet, env.usdc.mint_pubkey)), env.usdc.mint,
         str(get_associated_token_address(pool, env.usdc.mint_pubkey))],
        [str(get_associated_token_address(pool, env.jup.mint_pubkey)), env.jup.mint, str(out_ata)]]
    delivered = {keys[b.account_index]: b.amount for b in record.post_token_balances}
    assert delivered[str(out_ata)] == env.spl.balance(env.jup)
