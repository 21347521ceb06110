"""Anchoring signed checkpoint hashes on a real anvil devnet and in LiteSVM (the real Solana VM)."""
from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.signature import Signature
from solders.transaction import Transaction

from defai_swarm.audit.anchor import AnchorRef, memo_text, parse_memo
from defai_swarm.audit.checkpoint import Signer, checkpoint_hash
from defai_swarm.audit.keys import SigningKey
from defai_swarm.audit.log import AuditLog
from defai_swarm.audit.verify import export_bundle, verify_bundle
from defai_swarm.tools.evm.anchor import EvmAnchorChecker, anchor_on_evm
from defai_swarm.tools.evm.tx import TxRequest, TxSender
from defai_swarm.tools.evm.wallet import Wallet
from defai_swarm.tools.solana.anchor import LITESVM_CHAIN, LiteSvmAnchorChecker, anchor_on_litesvm, memo_calls
from defai_swarm.tools.solana.anchor import memo_with_signers as memo_instruction
from defai_swarm.tools.solana.programs import MEMO_PROGRAM as MEMO_PROGRAM_ID

RUN = "run-anchor"


@pytest.fixture
def signer() -> Signer:
    return Signer(SigningKey.generate())


@pytest.fixture
def log(tmp_path):
    with AuditLog(tmp_path / "audit.db") as lg:
        for i, kind in enumerate(["thought", "price", "risk", "tx"]):
            lg.append(RUN, kind, {"step": i, "text": f"step {i}"})
        yield lg


@pytest.fixture
def note(log, signer) -> str:
    return log.checkpoint(RUN, signer)


def other_hash() -> bytes:
    return hashlib.sha256(b"some other checkpoint").digest()


def anchor_check(report):
    return next(c for c in report.checks if c.name == "anchor")


# ---- format ---------------------------------------------------------------------

def test_memo_format_round_trips_and_is_strict():
    h = bytes(range(32))
    assert memo_text(h) == "defai-swarm checkpoint sha256:" + h.hex()
    assert parse_memo(memo_text(h)) == h
    assert parse_memo(memo_text(h) + " ") is None
    assert parse_memo(memo_text(h).upper()) is None
    with pytest.raises(ValueError):
        memo_text(h[:31])
    with pytest.raises(ValidationError):
        AnchorRef(chain="evm:1", tx_id="0x00", checkpoint_hash="AB" * 32, sender="x")


# ---- EVM (anvil) ----------------------------------------------------------------

@pytest.fixture
def evm_ref(chain, wallet, note) -> AnchorRef:
    return anchor_on_evm(TxSender(chain, wallet), checkpoint_hash(note))


def test_evm_anchor_is_a_cheap_self_tx_and_checks(chain, wallet, note, evm_ref):
    h = checkpoint_hash(note)
    assert evm_ref.chain == "evm:31337" and evm_ref.sender == wallet.address
    assert evm_ref.checkpoint_hash == h.hex()
    tx = chain.eth.get_transaction(evm_ref.tx_id)
    assert bytes(tx["input"]) == h and tx["to"] == tx["from"] == wallet.address and tx["value"] == 0
    receipt = chain.eth.get_transaction_receipt(evm_ref.tx_id)
    assert receipt["status"] == 1 and receipt["blockNumber"] == evm_ref.block
    assert receipt["gasUsed"] < 30_000
    ok, detail = EvmAnchorChecker(chain, expected_sender=wallet.address).check(evm_ref.to_dict(), h)
    assert ok, detail


def test_evm_bundle_verifies_end_to_end(chain, wallet, log, signer, note, evm_ref):
    bundle = export_bundle(log, RUN, note, anchor=evm_ref.to_dict())
    report = verify_bundle(bundle, trusted_vkey=signer.vkey,
                           anchor_checker=EvmAnchorChecker(chain, expected_sender=wallet.address))
    assert report.ok, report.reason
    assert anchor_check(report).ok and evm_ref.tx_id in anchor_check(report).detail


def test_evm_bundle_of_later_checkpoint_fails_with_old_anchor_tx(chain, wallet, log, signer, evm_ref):
    # The run goes on, a new checkpoint is signed, but the bundle reuses the old anchor tx.
    log.append(RUN, "thought", {"step": 99})
    later = log.checkpoint(RUN, signer)
    reused = {k: v for k, v in evm_ref.to_dict().items() if k != "checkpoint_hash"}
    bundle = export_bundle(log, RUN, later, anchor=reused)
    report = verify_bundle(bundle, trusted_vkey=signer.vkey,
                           anchor_checker=EvmAnchorChecker(chain, expected_sender=wallet.address))
    assert not report.ok
    assert not anchor_check(report).ok and "different data" in anchor_check(report).detail


def test_evm_different_checkpoint_hash_fails(chain, wallet, evm_ref):
    anchor = {**evm_ref.to_dict(), "checkpoint_hash": other_hash().hex()}
    ok, detail = EvmAnchorChecker(chain, wallet.address).check(anchor, other_hash())
    assert not ok and "different data" in detail


def test_evm_non_anchor_tx_fails(chain, wallet, note):
    h = checkpoint_hash(note)
    # A real transfer with the same calldata but to someone else: not a self-tx.
    to_other = TxSender(chain, wallet).send_and_wait(
        TxRequest(to=Wallet.devnet(2).address, data="0x" + h.hex(), value=1, label="transfer"))
    plain = TxSender(chain, wallet).send_and_wait(TxRequest(to=wallet.address, value=0, label="empty self-tx"))
    checker = EvmAnchorChecker(chain, wallet.address)
    base = {"chain": "evm:31337", "checkpoint_hash": h.hex(), "sender": wallet.address}
    ok, detail = checker.check({**base, "tx_id": to_other.hash}, h)
    assert not ok and "not a self-transaction" in detail
    ok, detail = checker.check({**base, "tx_id": plain.hash}, h)
    assert not ok and "different data" in detail


def test_evm_wrong_sender_fails(chain, wallet, note, evm_ref):
    h = checkpoint_hash(note)
    other = Wallet.devnet(2).address
    ok, detail = EvmAnchorChecker(chain, expected_sender=other).check(evm_ref.to_dict(), h)
    assert not ok and "wrong sender" in detail
    # The bundle claiming someone else sent it is caught too, even without a pinned sender.
    ok, detail = EvmAnchorChecker(chain).check({**evm_ref.to_dict(), "sender": other}, h)
    assert not ok and "wrong sender" in detail


def test_evm_missing_tx_wrong_chain_and_wrong_block_fail(chain, wallet, note, evm_ref):
    h = checkpoint_hash(note)
    checker = EvmAnchorChecker(chain, wallet.address)
    ok, detail = checker.check({**evm_ref.to_dict(), "tx_id": "0x" + "11" * 32}, h)
    assert not ok and "not found" in detail
    ok, detail = checker.check({**evm_ref.to_dict(), "chain": "evm:1"}, h)
    assert not ok and "chain" in detail
    ok, detail = checker.check({**evm_ref.to_dict(), "block": evm_ref.block + 5}, h)
    assert not ok and "block" in detail


def test_evm_min_confirmations(chain, wallet, note, evm_ref):
    h = checkpoint_hash(note)
    checker = EvmAnchorChecker(chain, wallet.address, min_confirmations=3)
    ok, detail = checker.check(evm_ref.to_dict(), h)
    assert not ok and "1 confirmation(s), 3 required" in detail
    for _ in range(2):
        chain.provider.make_request("evm_mine", [])
    ok, detail = checker.check(evm_ref.to_dict(), h)
    assert ok, detail


def test_evm_refuses_bad_hash_without_sending(chain, wallet):
    before = chain.eth.get_transaction_count(wallet.address)
    with pytest.raises(ValueError, match="32 bytes"):
        anchor_on_evm(TxSender(chain, wallet), b"\x01" * 31)
    assert chain.eth.get_transaction_count(wallet.address) == before


# ---- Solana (LiteSVM) -----------------------------------------------------------

@pytest.fixture
def svm() -> LiteSVM:
    return LiteSVM()


@pytest.fixture
def payer(svm) -> Keypair:
    kp = Keypair()
    svm.airdrop(kp.pubkey(), 1_000_000_000)
    return kp


@pytest.fixture
def sol_ref(svm, payer, note) -> AnchorRef:
    return anchor_on_litesvm(svm, payer, checkpoint_hash(note))


def test_litesvm_anchor_checks(svm, payer, note, sol_ref):
    h = checkpoint_hash(note)
    assert sol_ref.chain == LITESVM_CHAIN and sol_ref.sender == str(payer.pubkey())
    logs = svm.get_transaction(Signature.from_string(sol_ref.tx_id)).logs()
    [call] = memo_calls(logs)
    assert call.memo == memo_text(h) and call.signers == [str(payer.pubkey())]
    ok, detail = LiteSvmAnchorChecker(svm, expected_signer=payer.pubkey()).check(sol_ref.to_dict(), h)
    assert ok, detail


def test_litesvm_wrong_hash_fails(svm, payer, sol_ref):
    anchor = {**sol_ref.to_dict(), "checkpoint_hash": other_hash().hex()}
    ok, detail = LiteSvmAnchorChecker(svm, payer.pubkey()).check(anchor, other_hash())
    assert not ok and "different memo" in detail


def test_litesvm_unknown_signature_fails(svm, payer, note, sol_ref):
    unknown = str(Keypair().sign_message(b"never sent"))
    ok, detail = LiteSvmAnchorChecker(svm, payer.pubkey()).check({**sol_ref.to_dict(), "tx_id": unknown},
                                                                  checkpoint_hash(note))
    assert not ok and "not found" in detail
    ok, detail = LiteSvmAnchorChecker(svm).check({**sol_ref.to_dict(), "tx_id": "0x1234"}, checkpoint_hash(note))
    assert not ok and "not a Solana signature" in detail


def test_litesvm_wrong_signer_fails(svm, payer, note, sol_ref):
    h = checkpoint_hash(note)
    stranger = Keypair().pubkey()
    ok, detail = LiteSvmAnchorChecker(svm, expected_signer=stranger).check(sol_ref.to_dict(), h)
    assert not ok and "wrong signer" in detail
    ok, detail = LiteSvmAnchorChecker(svm).check({**sol_ref.to_dict(), "sender": str(stranger)}, h)
    assert not ok and "wrong signer" in detail


def test_litesvm_unsigned_and_failed_memos_fail(svm, payer, note):
    h = checkpoint_hash(note)
    checker = LiteSvmAnchorChecker(svm, payer.pubkey())
    bh = svm.latest_blockhash()

    def send(ix) -> str:
        tx = Transaction([payer], Message.new_with_blockhash([ix], payer.pubkey(), bh), bh)
        svm.send_transaction(tx)
        return str(tx.signatures[0])

    anchor = {"chain": LITESVM_CHAIN, "checkpoint_hash": h.hex()}
    # The right text but no signer account: the memo program attests no signer.
    ok, detail = checker.check({**anchor, "tx_id": send(memo_instruction(memo_text(h), []))}, h)
    assert not ok and "wrong signer" in detail
    # Lists an account that did not sign: the memo program rejects it, LiteSVM records the failure.
    unsigned = Instruction(MEMO_PROGRAM_ID, memo_text(h).encode(), [AccountMeta(Keypair().pubkey(), False, False)])
    ok, detail = checker.check({**anchor, "tx_id": send(unsigned)}, h)
    assert not ok and "failed" in detail and "MissingRequiredSignature" in detail


def test_litesvm_bundle_verifies_end_to_end(svm, payer, log, signer, note, sol_ref):
    bundle = export_bundle(log, RUN, note, anchor=sol_ref.to_dict())
    report = verify_bundle(bundle, trusted_vkey=signer.vkey,
                           anchor_checker=LiteSvmAnchorChecker(svm, expected_signer=payer.pubkey()))
    assert report.ok, report.reason
    assert anchor_check(report).ok and sol_ref.tx_id in anchor_check(report).detail
    # The same bundle checked against another VM (where the tx never happened) fails.
    report = verify_bundle(bundle, trusted_vkey=signer.vkey, anchor_checker=LiteSvmAnchorChecker(LiteSVM()))
    assert not report.ok and "not found" in anchor_check(report).detail


def test_litesvm_refuses_bad_hash(svm, payer):
    with pytest.raises(ValueError, match="32 bytes"):
        anchor_on_litesvm(svm, payer, b"\x02" * 33)


def test_memo_logs_are_attributed_by_invoke_frames():
    """Only the runtime writes invoke/success lines, so a look-alike log from another program is ignored."""
    memo, other, text = str(MEMO_PROGRAM_ID), "11111111111111111111111111111111", memo_text(other_hash())
    forged = [f"Program {other} invoke [1]", "Program log: Signed by Attacker111",
              f'Program log: Memo (len {len(text)}): "{text}"', f"Program {other} success"]
    assert memo_calls(forged) == []
    nested = [f"Program {other} invoke [1]", f"Program {memo} invoke [2]", "Program log: Signed by Me111",
              f'Program log: Memo (len {len(text)}): "{text}"', f"Program {memo} success",
              "Program log: Signed by Attacker111", f"Program {other} success"]
    [call] = memo_calls(nested)
    assert call.memo == text and call.signers == ["Me111"]
    # A memo the program had to escape is not taken as verbatim text.
    assert memo_calls([f"Program {memo} invoke [1]", 'Program log: Memo (len 3): "a\\"b"',
                       f"Program {memo} success"])[0].memo is None
