"""EVM tools against a real anvil node with the official Uniswap V2 contracts."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from web3 import Web3

from defai_swarm.tools.devnet.contracts import abi
from defai_swarm.tools.evm import erc20
from defai_swarm.tools.evm.errors import AmountError, RpcUnavailableError, SimulationFailed, StalePriceError, UnknownTokenError
from defai_swarm.tools.evm.feeds import read_feed
from defai_swarm.tools.evm.rpc import connect
from defai_swarm.tools.evm.tx import NonceManager, TxSender
from defai_swarm.tools.evm.wallet import Wallet


def deadline(w3) -> int:
    return w3.eth.get_block("latest")["timestamp"] + 300


def test_manifest_has_tokens_pools_and_feeds(devnet, registry):
    m = devnet.manifest
    assert m.chain_id == 31337
    assert registry.resolve("usdc").decimals == 6
    assert registry.resolve("DAI").decimals == 18
    assert registry.resolve("FOT").kind == "fee_on_transfer"
    assert registry.resolve("HONEY").kind == "honeypot"
    assert {tuple(sorted(p.symbols)) for p in m.pairs} >= {("USDC", "WETH"), ("DAI", "WETH"), ("DAI", "USDC")}
    assert set(m.feeds) >= {"ETH/USD", "USDC/USD", "DAI/USD"}


def test_pool_price_matches_feed(chain, devnet, registry, uniswap):
    spot, block = uniswap.spot_price(registry.resolve("ETH"), registry.resolve("USDC"))
    feed = read_feed(chain, devnet.manifest.feeds["ETH/USD"])
    assert spot == Decimal(3000)
    assert feed.price == Decimal(3000)
    assert block == feed.block_number


def test_swap_eth_to_usdc_moves_balances_as_quoted(chain, registry, uniswap, wallet):
    eth, usdc = registry.resolve("ETH"), registry.resolve("USDC")
    amount_in = eth.to_base("2")
    quote = uniswap.quote(eth, usdc, amount_in)
    assert 5900 * 10**6 < quote.amount_out < 6000 * 10**6  # 0.3% fee plus price impact on 1000 ETH of depth
    eth_before, usdc_before = erc20.balance_of(chain, eth, wallet.address), erc20.balance_of(chain, usdc, wallet.address)
    sender = TxSender(chain, wallet)
    receipt = sender.send_and_wait(uniswap.swap_tx(quote, quote.amount_out, wallet.address, deadline(chain)))
    assert receipt.status == 1
    assert erc20.balance_of(chain, usdc, wallet.address) - usdc_before == quote.amount_out
    gas_cost = receipt.gas_used * receipt.effective_gas_price
    assert eth_before - erc20.balance_of(chain, eth, wallet.address) == amount_in + gas_cost


def test_token_swap_uses_exact_approval(chain, registry, uniswap, wallet):
    usdc, eth = registry.resolve("USDC"), registry.resolve("ETH")
    amount_in = usdc.to_base("1500.5")
    sender = TxSender(chain, wallet)
    sender.send_and_wait(erc20.approve_tx(chain, usdc, uniswap.router_address, amount_in))
    assert erc20.allowance(chain, usdc, wallet.address, uniswap.router_address) == amount_in
    quote = uniswap.quote(usdc, eth, amount_in)
    before = erc20.balance_of(chain, usdc, wallet.address)
    sender.send_and_wait(uniswap.swap_tx(quote, quote.amount_out, wallet.address, deadline(chain)))
    assert before - erc20.balance_of(chain, usdc, wallet.address) == amount_in
    assert erc20.allowance(chain, usdc, wallet.address, uniswap.router_address) == 0


def test_unlimited_or_zero_approval_refused(chain, registry, uniswap):
    usdc = registry.resolve("USDC")
    for amount in (2**256 - 1, 2**255, 0, -1):
        with pytest.raises(AmountError):
            erc20.approve_tx(chain, usdc, uniswap.router_address, amount)


def test_twenty_concurrent_swaps_land_with_distinct_nonces(chain, registry, uniswap, wallet):
    eth, usdc = registry.resolve("ETH"), registry.resolve("USDC")
    sender = TxSender(chain, wallet)
    start_nonce = chain.eth.get_transaction_count(wallet.address)
    usdc_before = erc20.balance_of(chain, usdc, wallet.address)
    receipts, errors = [], []

    def swap():
        try:
            quote = uniswap.quote(eth, usdc, eth.to_base("0.1"))
            tx = uniswap.swap_tx(quote, quote.amount_out * 95 // 100, wallet.address, deadline(chain))
            receipts.append(sender.send_and_wait(tx))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=swap) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(receipts) == 20 and all(r.status == 1 for r in receipts)
    assert sorted(r.nonce for r in receipts) == list(range(start_nonce, start_nonce + 20))
    assert chain.eth.get_transaction_count(wallet.address) == start_nonce + 20
    assert erc20.balance_of(chain, usdc, wallet.address) > usdc_before


def test_unmeetable_min_out_is_refused_by_simulation_and_nothing_sent(chain, registry, uniswap, wallet):
    eth, usdc = registry.resolve("ETH"), registry.resolve("USDC")
    quote = uniswap.quote(eth, usdc, eth.to_base("1"))
    nonce, block = chain.eth.get_transaction_count(wallet.address), chain.eth.block_number
    balance = erc20.balance_of(chain, usdc, wallet.address)
    with pytest.raises(SimulationFailed, match="INSUFFICIENT_OUTPUT_AMOUNT"):
        TxSender(chain, wallet).send(uniswap.swap_tx(quote, quote.amount_out + 1, wallet.address, deadline(chain)))
    assert chain.eth.get_transaction_count(wallet.address, "pending") == nonce
    assert chain.eth.block_number == block
    assert erc20.balance_of(chain, usdc, wallet.address) == balance


def test_expired_deadline_is_refused_by_simulation(chain, registry, uniswap, wallet):
    eth, usdc = registry.resolve("ETH"), registry.resolve("USDC")
    quote = uniswap.quote(eth, usdc, eth.to_base("1"))
    past = chain.eth.get_block("latest")["timestamp"] - 1
    with pytest.raises(SimulationFailed, match="EXPIRED"):
        TxSender(chain, wallet).send(uniswap.swap_tx(quote, 1, wallet.address, past))


def test_fee_on_transfer_swap_and_honeypot_sell(chain, registry, uniswap, wallet):
    eth, fot, honey = registry.resolve("ETH"), registry.resolve("FOT"), registry.resolve("HONEY")
    sender = TxSender(chain, wallet)
    # Selling a fee-on-transfer token works through the supporting router variant.
    amount = fot.to_base("100")
    sender.send_and_wait(erc20.approve_tx(chain, fot, uniswap.router_address, amount))
    quote = uniswap.quote(fot, eth, amount)
    sender.send_and_wait(uniswap.swap_tx(quote, quote.amount_out * 97 // 100, wallet.address, deadline(chain)))
    # Buying the honeypot works, selling it back reverts in simulation.
    quote = uniswap.quote(eth, honey, eth.to_base("0.01"))
    sender.send_and_wait(uniswap.swap_tx(quote, quote.amount_out, wallet.address, deadline(chain)))
    held = erc20.balance_of(chain, honey, wallet.address)
    assert held == quote.amount_out
    sender.send_and_wait(erc20.approve_tx(chain, honey, uniswap.router_address, held))
    sell = uniswap.quote(honey, eth, held)
    with pytest.raises(SimulationFailed, match="TRANSFER_FROM_FAILED"):  # the router hides the token's reason
        sender.send(uniswap.swap_tx(sell, 1, wallet.address, deadline(chain)))


def test_stale_and_bad_feed_refused(chain, devnet):
    feed = devnet.manifest.feeds["ETH/USD"]
    contract = chain.eth.contract(address=feed.address, abi=abi("PriceFeed"))
    # updated long ago whatever the devnet's clock says (earlier tests move block time; reverts do not undo it).
    # Wait for the receipt: anvil's automine answers eth_sendTransaction before the block is always there (under
    # load a read right after it saw the old answer: DID NOT RAISE)
    chain.eth.wait_for_transaction_receipt(
        contract.functions.set_answer(2900 * 10**8, 10**6).transact({"from": devnet.manifest.deployer}))
    with pytest.raises(StalePriceError, match="stale"):
        read_feed(chain, feed, max_age_seconds=3600)
    assert read_feed(chain, feed, max_age_seconds=10**10).price == Decimal(2900)
    chain.eth.wait_for_transaction_receipt(contract.functions.set_answer(0, 0).transact({"from": devnet.manifest.deployer}))
    with pytest.raises(StalePriceError, match="non-positive"):
        read_feed(chain, feed)


def test_registry_refuses_unknown_lookalike_and_unregistered_address(registry):
    with pytest.raises(UnknownTokenError, match="known tokens"):
        registry.resolve("USDT")
    with pytest.raises(UnknownTokenError, match="non-ASCII"):
        registry.resolve("USDС")  # Cyrillic Es
    with pytest.raises(UnknownTokenError, match="not a registered token"):
        registry.resolve("0x" + "12" * 20)
    usdc = registry.resolve("USDC")
    assert registry.resolve(usdc.address.lower()) == usdc


def test_amount_conversion_is_exact(registry):
    usdc = registry.resolve("USDC")
    assert usdc.to_base("1.5") == 1_500_000
    assert usdc.from_base(1_500_000) == Decimal("1.5")
    for bad in ("0", "-1", "1.0000001", "nan", "abc"):
        with pytest.raises(AmountError):
            usdc.to_base(bad)
    with pytest.raises(AmountError, match="float"):
        usdc.to_base(1.5)


def test_nonce_manager_reuses_a_released_nonce(chain, wallet):
    nm = NonceManager(chain, wallet.address)
    a, b = nm.reserve(), nm.reserve()
    assert b == a + 1
    nm.release(a)
    assert nm.reserve() == a
    assert nm.reserve() == b + 1


def test_unknown_broadcast_is_resolved_by_hash_not_resent(chain, registry, uniswap, wallet):
    """A broadcast whose answer was lost is looked up by hash; re-broadcasting identical bytes cannot double-send."""
    eth, usdc = registry.resolve("ETH"), registry.resolve("USDC")
    sender = TxSender(chain, wallet)
    quote = uniswap.quote(eth, usdc, eth.to_base("0.5"))
    req = uniswap.swap_tx(quote, quote.amount_out, wallet.address, deadline(chain))
    nonce = chain.eth.get_transaction_count(wallet.address)
    max_fee, tip = sender.fees()
    signed = wallet.sign_transaction({"to": req.to, "data": req.data, "value": req.value, "gas": 300_000, "nonce": nonce,
                                      "chainId": 31337, "type": 2, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip})
    chain.eth.send_raw_transaction(signed.raw_transaction)  # it went through, but pretend we never heard back
    tx_hash = "0x" + bytes(signed.hash).hex()
    sender._resolve_unknown(signed.raw_transaction, tx_hash, nonce)
    assert sender.wait(tx_hash).status == 1
    assert chain.eth.get_transaction_count(wallet.address) == nonce + 1


def test_rpc_down_gives_clear_error():
    dead = connect("http://127.0.0.1:1", timeout=0.5)
    with pytest.raises(RpcUnavailableError, match="RPC unavailable"):
        erc20.balance_of(dead, registry_token_eth(), "0x" + "11" * 20)


def registry_token_eth():
    from defai_swarm.tools.evm.tokens import Token
    return Token(symbol="ETH", address="0x" + "ee" * 20, decimals=18, kind="native")


def test_wallet_never_shows_its_key():
    w = Wallet.devnet(1)
    key = w.secret_markers()[0]
    assert key not in repr(w) and key not in str(w)
    with pytest.raises(ValueError) as info:
        Wallet.from_key(key[:-2] + "zz")
    assert key[:-2] not in str(info.value)
    assert Web3.is_checksum_address(w.address)


def _executor(chain, uniswap, wallet, tmp_path):
    from defai_swarm.store import RunStore
    from defai_swarm.tools.evm.executor import SwapExecutor

    events: list[tuple[str, dict]] = []
    executor = SwapExecutor(uniswap, TxSender(chain, wallet), RunStore(tmp_path / "runs.sqlite"),
                            lambda run_id, kind, payload: events.append((kind, payload)))
    return executor, events


def test_exact_out_token_swap_approves_max_in_and_resets_what_it_did_not_use(chain, registry, uniswap, wallet,
                                                                              tmp_path):
    usdc, eth = registry.resolve("USDC"), registry.resolve("ETH")
    executor, events = _executor(chain, uniswap, wallet, tmp_path)
    amount_out = eth.to_base("0.5")
    needed = uniswap.quote_exact_out(usdc, eth, amount_out).amount_in
    max_in = needed + usdc.to_base("20")
    usdc_before = erc20.balance_of(chain, usdc, wallet.address)
    out = executor.execute_exact_out("r", "s", usdc, eth, amount_out, max_in)
    assert out.status == "confirmed", out.reason
    assert out.received == amount_out and out.spent == needed and out.amount_in == max_in
    assert usdc_before - erc20.balance_of(chain, usdc, wallet.address) == needed
    assert out.approve_tx and out.swap_tx and out.revoke_tx  # approve max_in, swap, reset the unused rest
    assert erc20.allowance(chain, usdc, wallet.address, uniswap.router_address) == 0
    assert any(kind == "approval_revoked" for kind, _ in events) and "unused" in out.reason


def test_exact_out_refuses_a_fee_on_transfer_token(uniswap, registry):
    with pytest.raises(AmountError, match="fee-on-transfer"):
        uniswap.quote_exact_out(registry.resolve("FOT"), registry.resolve("ETH"), 10**15)


def test_split_approves_the_total_once_and_the_last_part_leaves_nothing(chain, registry, uniswap, wallet, tmp_path):
    usdc, eth = registry.resolve("USDC"), registry.resolve("ETH")
    executor, _ = _executor(chain, uniswap, wallet, tmp_path)
    part, n = usdc.to_base("500"), 3
    outs = [executor.execute("r", f"p{i}", usdc, eth, part, 1, approval_total=part * (n - i)) for i in range(n)]
    assert [o.status for o in outs] == ["confirmed"] * n, [o.reason for o in outs]
    assert outs[0].approve_tx and not outs[1].approve_tx and not outs[2].approve_tx  # one approval for the split
    assert erc20.allowance(chain, usdc, wallet.address, uniswap.router_address) == 0


def test_split_part_that_fails_resets_the_total_approval(chain, registry, uniswap, wallet, tmp_path):
    usdc, eth = registry.resolve("USDC"), registry.resolve("ETH")
    executor, _ = _executor(chain, uniswap, wallet, tmp_path)
    part = usdc.to_base("500")
    first = executor.execute("r", "p0", usdc, eth, part, 1, approval_total=3 * part)
    assert first.status == "confirmed"
    assert erc20.allowance(chain, usdc, wallet.address, uniswap.router_address) == 2 * part
    second = executor.execute("r", "p1", usdc, eth, part, 10**30, approval_total=2 * part)  # min_out unreachable
    assert second.status == "failed" and "min_out" in second.reason
    assert second.revoke_tx and erc20.allowance(chain, usdc, wallet.address, uniswap.router_address) == 0
    below = executor.execute("r", "p2", usdc, eth, part, 1, approval_total=part - 1)
    assert below.status == "refused" and "approval_total" in below.reason


def test_split_never_leaves_more_than_the_total_approved(chain, registry, uniswap, wallet, tmp_path):
    """An allowance above the split's remaining total (left by something else) is replaced, not used."""
    usdc, eth = registry.resolve("USDC"), registry.resolve("ETH")
    TxSender(chain, wallet).send_and_wait(erc20.approve_tx(chain, usdc, uniswap.router_address, usdc.to_base("9000")))
    executor, _ = _executor(chain, uniswap, wallet, tmp_path)
    part = usdc.to_base("500")
    out = executor.execute("r", "p0", usdc, eth, part, 1, approval_total=2 * part)
    assert out.status == "confirmed" and out.approve_tx
    assert erc20.allowance(chain, usdc, wallet.address, uniswap.router_address) == part


def test_router_calls_encode_exactly_as_web3_does(uniswap):
    """The router's calldata is built with eth_abi directly (fast); it must be byte for byte web3's encoding."""
    from defai_swarm.tools.evm.uniswap import ROUTER_FUNCTIONS, encode_router_call

    path = [uniswap.registry.resolve("WETH").address, uniswap.registry.resolve("USDC").address]
    me = Wallet.devnet(1).address
    for name, types in ROUTER_FUNCTIONS.items():
        args = [10**18 + i if t == "uint256" else path if t == "address[]" else me for i, t in enumerate(types)]
        assert encode_router_call(name, args) == uniswap.router.encode_abi(name, args), name
    usdc = uniswap.registry.resolve("USDC")
    token = uniswap.w3.eth.contract(address=Web3.to_checksum_address(usdc.address), abi=abi("ERC20"))
    assert erc20.approve_tx(uniswap.w3, usdc, me, 5).data == token.encode_abi("approve", [me, 5])


# -- issue 24, finding 6: deadlines and simulations on the clock the transaction will see --------------------------
def _no_blocks_for(chain, seconds: int) -> int:
    """`seconds` pass without a block: the node's clock moves on (`evm_increaseTime`), nothing is mined, so the next
    block comes `seconds` after the latest. Returns the latest block's time. (The `chain` fixture's revert undoes it.)"""
    latest = chain.eth.get_block("latest")["timestamp"]
    assert chain.provider.make_request("evm_increaseTime", [seconds]).get("result") is not None
    return latest


def test_a_swap_after_minutes_without_blocks_does_not_expire(chain, registry, uniswap, wallet, tmp_path):
    """The deadline was the latest block's time + 300 s: ten minutes without blocks and the swap reverted on chain
    with EXPIRED (gas spent). It is now relative to the time the next block will have."""
    eth, usdc = registry.resolve("ETH"), registry.resolve("USDC")
    executor, events = _executor(chain, uniswap, wallet, tmp_path)
    latest = _no_blocks_for(chain, 600)
    n = chain.eth.get_transaction_count(wallet.address)
    out = executor.execute("r", "s", eth, usdc, eth.to_base("0.1"), 1)
    assert out.status == "confirmed", out.reason
    assert out.block_number is not None and chain.eth.get_block(out.block_number)["timestamp"] >= latest + 600
    assert chain.eth.get_transaction_count(wallet.address) == n + 1
    signed = next(p for kind, p in events if kind == "tx" and p["event"] == "signed")
    deadline = uniswap.router.decode_function_input(signed["unsigned"]["data"])[1]["deadline"]
    assert deadline >= latest + 600 + 300


def test_a_swap_is_simulated_at_the_time_it_will_be_mined(chain, registry, uniswap, wallet):
    """A deadline that will have passed when the next block is made fails the simulation: nothing is sent (it used
    to pass at the old block's time and revert on chain)."""
    eth, usdc = registry.resolve("ETH"), registry.resolve("USDC")
    quote = uniswap.quote(eth, usdc, eth.to_base("0.1"))
    latest = _no_blocks_for(chain, 600)
    n = chain.eth.get_transaction_count(wallet.address, "pending")
    with pytest.raises(SimulationFailed, match="EXPIRED"):
        TxSender(chain, wallet).send(uniswap.swap_tx(quote, 1, wallet.address, latest + 300))
    assert chain.eth.get_transaction_count(wallet.address, "pending") == n


def test_a_chain_clock_far_from_this_machine_s_is_refused_before_anything_is_signed(chain, registry, uniswap, wallet,
                                                                                    tmp_path):
    """The next block would be two hours ahead of this machine's clock: one of the two clocks is wrong, and a deadline
    cannot be set on either. Refused, nothing signed (no approval either)."""
    usdc, eth = registry.resolve("USDC"), registry.resolve("ETH")
    executor, _ = _executor(chain, uniswap, wallet, tmp_path)
    _no_blocks_for(chain, 2 * 3600)
    n = chain.eth.get_transaction_count(wallet.address, "pending")
    out = executor.execute("r", "s", usdc, eth, usdc.to_base("100"), 1)
    assert out.status == "refused" and "clock" in out.reason and "\n" not in out.reason, out.reason
    assert out.approve_tx is None and chain.eth.get_transaction_count(wallet.address, "pending") == n
