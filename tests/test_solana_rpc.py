"""The RPC client path (solana-py AsyncClient behind SolanaRpc) against a LiteSVM-backed JSON-RPC endpoint:
balances, SPL and Token-2022 transfers with ATA creation, memos, and the sender's broadcast/expiry rules."""
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from spl.token.instructions import get_associated_token_address

from tests.solana_fakes import LocalChain
from defai_swarm.tools.solana.errors import RpcUnavailableError, SimulationFailed, TxFailed
from defai_swarm.tools.solana.memo import MemoAnchor, memo_instruction
from defai_swarm.tools.solana.programs import TOKEN_2022_PROGRAM
from defai_swarm.tools.solana.rpc import SolanaRpc
from defai_swarm.tools.solana.spl import SplTokens, ata_address
from defai_swarm.tools.solana.tokens import SOL, AmountError


@pytest.fixture
def chain():
    c = LocalChain()
    yield c
    c.close()


def test_sol_balance_and_native_transfer(chain):
    spl = SplTokens(chain.rpc, chain.sender)
    bob = Keypair().pubkey()
    assert spl.balance(SOL) == 10 * 10**9
    confirmed = spl.transfer(SOL, bob, 1_000_000)
    assert chain.rpc.balance(bob) == 1_000_000
    assert spl.balance(SOL) == 10 * 10**9 - 1_000_000 - 5_000  # one signature fee
    assert confirmed.confirmation_status == "finalized" and confirmed.broadcasts == 1


@pytest.mark.parametrize("program", ["spl", "token-2022"])
def test_spl_transfer_creates_missing_ata_once(chain, program):
    prog = TOKEN_2022_PROGRAM if program == "token-2022" else None
    usdc = chain.token("USDC", 6, fund=5_000_000, **({"program": prog} if prog else {}))
    spl = SplTokens(chain.rpc, chain.sender)
    bob = Keypair().pubkey()
    bob_ata = ata_address(bob, usdc)
    assert chain.rpc.account(bob_ata) is None and spl.balance(usdc, bob) == 0
    first = spl.transfer_instructions(usdc, bob, 1_000_000)
    assert len(first) == 2  # create-idempotent ATA + TransferChecked
    spl.transfer(usdc, bob, 1_000_000)
    assert spl.balance(usdc, bob) == 1_000_000 and spl.balance(usdc) == 4_000_000
    account = spl.token_account(bob_ata)
    assert (account.owner, account.mint, account.program) == (str(bob), usdc.mint, usdc.program)
    assert len(spl.transfer_instructions(usdc, bob, 1)) == 1  # ATA exists now: no create
    spl.transfer(usdc, bob, 500_000)
    assert chain.rpc.token_balance(bob_ata) == 1_500_000


def test_transfer_refusals(chain):
    usdc = chain.token("USDC", 6, fund=1_000)
    spl = SplTokens(chain.rpc, chain.sender)
    bob = Keypair().pubkey()
    with pytest.raises(AmountError, match="below the transfer amount"):
        spl.transfer_instructions(usdc, bob, 1_001)
    for bad in (0, -5, 1.5, True):
        with pytest.raises(AmountError):
            spl.transfer_instructions(usdc, bob, bad)
    wrong = usdc.model_copy(update={"decimals": 9})
    with pytest.raises(Exception, match="chain says"):
        spl.transfer_instructions(wrong, bob, 1)
    assert chain.server.count("sendTransaction") == 0


def test_memo_anchor_roundtrip(chain):
    anchor = MemoAnchor(chain.rpc, chain.sender)
    text = "defai-swarm checkpoint\n42\nq83vN1ZQ5hN5d3nH9bBqv4y0U8n6c5bQ3b6o2VnU0mE=\n"
    receipt = anchor.anchor(text)
    assert receipt.signer == chain.wallet.address and len(receipt.sha256) == 64
    assert anchor.read(receipt.signature) == [(text, [chain.wallet.address])]
    assert anchor.verify(receipt.signature, text, chain.wallet.pubkey)
    assert not anchor.verify(receipt.signature, text + "x", chain.wallet.pubkey)
    assert not anchor.verify(receipt.signature, text, Keypair().pubkey())
    with pytest.raises(ValueError):
        memo_instruction("x" * 600, chain.wallet.pubkey)


def test_lost_broadcast_is_rebroadcast_with_same_bytes(chain):
    chain.server.drop_sends = 2  # the first two sends vanish
    spl = SplTokens(chain.rpc, chain.sender)
    bob = Keypair().pubkey()
    confirmed = spl.transfer(SOL, bob, 2_000_000)
    assert chain.rpc.balance(bob) == 2_000_000
    assert confirmed.broadcasts == 3
    assert set(chain.server.sent_raw) == {confirmed.signature}  # never re-signed
    assert chain.server.count("getLatestBlockhash") == 1


def test_lost_response_after_landing_is_resolved_by_status_not_resigning(chain):
    chain.server.lose_send_responses = 2  # lands, but the client never hears back (solana-py retries once)
    bob = Keypair().pubkey()
    confirmed = SplTokens(chain.rpc, chain.sender).transfer(SOL, bob, 3_000_000)
    assert chain.rpc.balance(bob) == 3_000_000  # exactly once
    assert set(chain.server.sent_raw) == {confirmed.signature}
    assert len(chain.server.landed) == 1


def test_expired_blockhash_resigns_only_after_status_check(chain):
    chain.server.drop_sends = 10**6  # nothing lands ...
    chain.server.blocks_per_height_call = 60  # ... while block height races past the limit
    bob = Keypair().pubkey()
    spl = SplTokens(chain.rpc, chain.sender)
    with pytest.raises(TxFailed, match="did not land within 2 blockhash lifetimes"):
        chain.sender.send(lambda: spl.transfer_instructions(SOL, bob, 1_000_000), attempts=2)
    sigs = list(dict.fromkeys(chain.server.sent_raw))
    assert len(sigs) == 2  # one new signature per proven expiry, not per rebroadcast
    calls = chain.server.calls
    # the second signing happened only after a status lookup that followed the block-height check
    second_blockhash = [i for i, m in enumerate(calls) if m == "getLatestBlockhash"][1]
    before = calls[:second_blockhash]
    assert before[-1] == "getSignatureStatuses" and before[-2] == "getBlockHeight"
    chain.server.drop_sends = 0
    chain.server.blocks_per_height_call = 0
    confirmed = chain.sender.send(lambda: spl.transfer_instructions(SOL, bob, 1_000_000))
    assert chain.rpc.balance(bob) == 1_000_000 and confirmed.signature not in sigs


def test_simulation_failure_sends_nothing(chain):
    spl = SplTokens(chain.rpc, chain.sender)
    bob = Keypair().pubkey()
    with pytest.raises(SimulationFailed) as info:
        chain.sender.send(lambda: spl.transfer_instructions(SOL, bob, 10**12))
    assert "InstructionError" in info.value.reason and info.value.logs
    assert chain.server.count("sendTransaction") == 0 and chain.rpc.balance(bob) == 0


def test_landed_with_error_is_failed_not_retried(chain):
    from solders.system_program import TransferParams, transfer
    bob = Keypair().pubkey()
    signed = chain.sender.sign([transfer(TransferParams(from_pubkey=chain.wallet.pubkey, to_pubkey=bob,
                                                        lamports=10**12))])
    chain.sender.broadcast(signed)  # no simulation: lands and fails on chain, fee charged
    with pytest.raises(TxFailed, match="landed with error"):
        chain.sender.confirm(signed)
    assert chain.rpc.transaction(signed.signature).err is not None


def test_unreachable_rpc_is_reported_not_hung():
    rpc = SolanaRpc("http://127.0.0.1:9", timeout=0.5)  # nothing listens on port 9
    try:
        with pytest.raises(RpcUnavailableError, match="unavailable"):
            rpc.balance(Pubkey.default())
    finally:
        rpc.close()


def test_token_accounts_and_getTransaction_token_balances(chain):
    usdc = chain.token("USDC", 6, fund=2_000_000)
    bob = Keypair().pubkey()
    confirmed = SplTokens(chain.rpc, chain.sender).transfer(usdc, bob, 250_000)
    record = chain.rpc.transaction(confirmed.signature)
    keys = list(record.transaction.message.account_keys)
    bob_ata = get_associated_token_address(bob, Pubkey.from_string(usdc.mint))
    post = {str(keys[b.account_index]): b.amount for b in record.post_token_balances}
    pre = {str(keys[b.account_index]): b.amount for b in record.pre_token_balances}
    assert post[str(bob_ata)] == 250_000 and str(bob_ata) not in pre
    assert record.slot == confirmed.slot and record.fee == 5_000


def test_secret_never_leaves_the_wallet(chain, caplog):
    import logging
    caplog.set_level(logging.DEBUG)
    usdc = chain.token("USDC", 6, fund=10)
    spl = SplTokens(chain.rpc, chain.sender)
    spl.transfer(usdc, Keypair().pubkey(), 5)
    MemoAnchor(chain.rpc, chain.sender).anchor("hello")
    seen = " ".join(chain.server.bodies) + caplog.text + repr(chain.sender.__dict__) + repr(spl.__dict__)
    assert chain.server.count("sendTransaction") == 2 and chain.wallet.address in seen
    for marker in chain.wallet.secret_markers():
        assert marker not in seen
