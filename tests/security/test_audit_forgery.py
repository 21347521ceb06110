"""Issue 12, findings 3, 7, 17 and 19: forged audit bundles, a rewritten local log, sealing twice, the audit
directory's mode. The attacker holds other funded devnet accounts (ordinary transactions) and, for finding 7,
write access to the operator's state directory (the audit database and the signing key beside it).

What must hold: `swarm audit verify` trusts only what comes from outside the data it checks: the checkpoint
key (`--vkey`, else this machine's audit key), the anchor's sender (`--anchor-sender`, else the operator's
configured wallet) and the anchor's time (its block within a window of the entries it covers).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from rich.console import Console
from web3 import Web3

from defai_swarm.api import Swarm
from defai_swarm.audit import AuditLog, Signer, SigningKey, checkpoint_hash, verify_bundle, verify_log
from defai_swarm.audit.canonical import dumps as canonical_dumps
from defai_swarm.audit.checkpoint import Checkpoint, origin_for_run, sign_checkpoint
from defai_swarm.audit.log import leaf_data
from defai_swarm.audit.merkle import MerkleTree, leaf_hash
from defai_swarm.cli.audit_commands import audit_command
from defai_swarm.auditing import RunAuditor
from defai_swarm.core.anchor import AnchorFacts, AnchorRef
from tests.test_runtime import swap_graph
from defai_swarm.tools.devnet.node import free_port
from defai_swarm.tools.devnet.solana import SolanaDevnet
from defai_swarm.tools.evm.anchor import EvmAnchorChecker, anchor_on_evm
from defai_swarm.tools.evm.rpc import connect
from defai_swarm.tools.evm.tx import TxSender
from defai_swarm.tools.evm.wallet import Wallet
from defai_swarm.tools.solana.anchor import LOCALNET_CHAIN, SolanaRpcAnchorChecker, anchor_with_memo
from defai_swarm.tools.solana.anchor import configured_anchor_sender as configured_solana_sender
from defai_swarm.tools.solana.rpc import SolanaRpc
from defai_swarm.tools.solana.tx import SolanaTxSender
from defai_swarm.tools.solana.wallet import SolanaWallet

UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


FEED_ABI = [
    {"name": "latestRoundData", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint80"}, {"name": "", "type": "int256"}, {"name": "", "type": "uint256"},
                 {"name": "", "type": "uint256"}, {"name": "", "type": "uint80"}]},
    {"name": "set_answer", "type": "function", "stateMutability": "nonpayable",
     "inputs": [{"name": "_answer", "type": "int256"}, {"name": "_updated_at", "type": "uint256"}], "outputs": []},
]


@pytest.fixture
def chain(devnet):
    """The session devnet as tests/conftest.py gives it (snapshot before, revert after), with block time = wall time.

    anvil rewinds its clock to the snapshot on `evm_revert`, so after other tests the devnet's block times lag
    real time by their total duration. The anchor window compares the anchor's block time with the entries'
    real times, so here the clock is put back on the wall clock first (and the price feeds re-dated to it, so
    they stay fresh); the revert afterwards undoes both."""
    w3 = connect(devnet.manifest.rpc_url)
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    now = int(time.time())
    if w3.eth.get_block("latest")["timestamp"] < now:
        w3.provider.make_request("evm_setNextBlockTimestamp", [now])
    for feed in devnet.manifest.feeds.values():
        contract = w3.eth.contract(address=Web3.to_checksum_address(feed.address), abi=FEED_ABI)
        answer = contract.functions.latestRoundData().call()[1]
        tx = contract.functions.set_answer(answer, 0).transact({"from": devnet.manifest.deployer})
        w3.eth.wait_for_transaction_receipt(tx)
    yield w3
    w3.provider.make_request("evm_revert", [snap])


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "operator"


@pytest.fixture
def swarm(chain, devnet, wallet, home):
    s = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=home)
    yield s
    s.close()


@pytest.fixture
def run_id(swarm) -> str:
    result = swarm.execute(swap_graph("ETH", "DAI", "0.5"))
    assert result.status == "done" and result.anchor is not None, result.summary()
    return result.run_id


@pytest.fixture
def attacker(devnet, wallet) -> Wallet:
    """Another funded devnet account than the operator's."""
    funded = [a for a in devnet.manifest.funded_accounts if a != wallet.address]
    return next(w for w in (Wallet.devnet(i) for i in range(10)) if w.address == funded[0])


def cli(home: Path, *args: str, env: dict | None = None) -> tuple[int, str]:
    """`swarm audit ...` as a user types it, on the operator's machine (SWARM_HOME = home)."""
    base = {k: v for k, v in os.environ.items() if k not in ("SWARM_PRIVATE_KEY", "SWARM_MANIFEST", "SWARM_SOLANA_KEYPAIR")}
    base.update(SWARM_HOME=str(home), NO_COLOR="1", COLUMNS="250", **(env or {}))
    p = subprocess.run([sys.executable, "-m", "defai_swarm.cli", "audit", *args], capture_output=True, text=True, env=base,
                       timeout=120)
    return p.returncode, p.stdout + p.stderr


def cli_inline(monkeypatch, home: Path, *args: str, **flags) -> tuple[int, str]:
    """The same command in-process, with flags the parser may not declare yet (`--anchor-sender`,
    `--anchor-window`: audit_cli reads them with getattr)."""
    from defai_swarm.cli import build_parser

    for var in ("SWARM_PRIVATE_KEY", "SWARM_MANIFEST", "SWARM_SOLANA_KEYPAIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SWARM_HOME", str(home))
    parsed = build_parser().parse_args(["audit", *args])
    for name, value in flags.items():
        setattr(parsed, name, value)
    buf = io.StringIO()
    code = audit_command(parsed, Console(file=buf, width=250, color_system=None))
    return code, buf.getvalue()


def export(home: Path, run_id: str, path: Path) -> dict:
    rc, out = cli(home, "export", run_id, "-o", str(path))
    assert rc == 0, out
    return json.loads(path.read_text())


def new_leaf(e: dict) -> bytes:
    return leaf_hash(leaf_data(e["run_id"], e["index"], e["kind"], e["created_at"], e["salt"], e["payload"]))


# ---- finding 3: a forged bundle -------------------------------------------------------------------------

def forge_bundle(bundle: dict, chain, attacker: Wallet) -> tuple[dict, Signer]:
    """Edit entries, re-sign with a fresh key, re-anchor from the attacker's own account."""
    forged = json.loads(json.dumps(bundle))
    entries = forged["entries"]
    intent = next(e for e in entries if e["kind"] == "intent")
    intent["payload"]["wallet"] = attacker.address  # what today's verifier took the expected sender from
    result = next(e for e in entries if e["kind"] == "run_result")
    result["payload"]["tx_hashes"] = []  # "no swap happened"
    tree = MerkleTree(new_leaf(e) for e in entries)
    forger = Signer(SigningKey.generate())  # same key name as the operator's, another key
    note = sign_checkpoint(Checkpoint(origin=origin_for_run(forged["run_id"]), size=len(entries), root=tree.root()),
                           forger)
    ref = anchor_on_evm(TxSender(chain, attacker), checkpoint_hash(note))
    forged.update(checkpoint=note, checkpoint_hash=checkpoint_hash(note).hex(), vkey=forger.vkey,
                  leaf_hashes=[tree.leaf(i).hex() for i in range(len(entries))], anchor=ref.to_dict(),
                  checkpoints=[note], tail=[])  # the store's other checkpoints and tail: the forger's own
    return forged, forger


def test_forged_bundle_resigned_and_reanchored_from_another_account_fails(chain, devnet, home, run_id, attacker,
                                                                           tmp_path):
    config = ["--config", str(devnet.manifest_path)]
    honest = export(home, run_id, tmp_path / "run.json")
    rc, out = cli(home, "verify", "--bundle", str(tmp_path / "run.json"), *config)
    assert rc == 0 and "PASS" in out, out

    forged, forger = forge_bundle(honest, chain, attacker)
    # The forgery is self-consistent: against its own key and its own sender every check holds (what passed before).
    self_check = verify_bundle(forged, trusted_vkey=forger.vkey,
                               anchor_checker=EvmAnchorChecker(chain, expected_sender=attacker.address))
    assert self_check.ok, self_check.reason
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged))

    rc, out = cli(home, "verify", "--bundle", str(path), *config)  # the operator's machine: its audit key is trusted
    assert rc != 0 and "PASS" not in out, out
    assert "not signed by the trusted key" in out, out
    # Told to trust the forger's key, the anchor still gives it away: not the operator's account.
    rc, out = cli(home, "verify", "--bundle", str(path), "--vkey", forger.vkey, *config)
    assert rc != 0 and "PASS" not in out, out
    assert f"wrong sender: sent by {attacker.address}" in out, out


def test_bundle_with_no_trusted_key_anywhere_is_self_signed(devnet, home, run_id, tmp_path):
    honest = tmp_path / "run.json"
    export(home, run_id, honest)
    reviewer = tmp_path / "reviewer"  # a machine with no audit key and no --vkey
    rc, out = cli(reviewer, "verify", "--bundle", str(honest), "--config", str(devnet.manifest_path))
    assert rc != 0 and "PASS" not in out, out
    assert "SELF-SIGNED" in out and "self-signed" in out, out
    assert not (reviewer / "audit" / "signing.key").exists()  # verifying creates no key
    # With the operator's published key the same bundle verifies.
    vkey = Signer.load(home / "audit" / "signing.key").vkey
    rc, out = cli(reviewer, "verify", "--bundle", str(honest), "--vkey", vkey, "--config", str(devnet.manifest_path))
    assert rc == 0 and "PASS" in out, out


# ---- finding 7: a rewritten local log ---------------------------------------------------------------------

def evm_anchorer(chain, wallet: Wallet) -> Callable[[bytes], AnchorRef]:
    return lambda digest: anchor_on_evm(TxSender(chain, wallet), digest)


def rewrite_log(home: Path, run_id: str, anchorer: Callable[[bytes], AnchorRef], backdate: timedelta = timedelta(0),
                intent_wallet: str | None = None) -> dict:
    """Someone with write access to the state directory: edit entries in the SQLite file, drop the old
    checkpoints and anchor record, re-sign with the machine's own key, re-anchor with `anchorer`."""
    db = home / "audit" / "audit.db"
    raw = sqlite3.connect(db)
    for trigger in ("entries_no_update", "entries_no_delete", "checkpoints_no_delete"):
        raw.execute(f"DROP TRIGGER {trigger}")
    raw.execute("DELETE FROM entries WHERE run_id = ? AND kind = 'anchor'", (run_id,))
    raw.execute("DELETE FROM checkpoints WHERE run_id = ?", (run_id,))
    rows = raw.execute("SELECT idx, kind, created_at, salt, payload FROM entries WHERE run_id = ? ORDER BY idx",
                       (run_id,)).fetchall()
    for idx, kind, created_at, salt, payload_text in rows:
        payload = json.loads(payload_text)
        if kind == "intent" and intent_wallet:
            payload["wallet"] = intent_wallet
        if kind == "run_result":
            payload["tx_hashes"] = []
        when = (datetime.strptime(created_at, UTC_FORMAT).replace(tzinfo=timezone.utc) - backdate).strftime(UTC_FORMAT)
        h = leaf_hash(leaf_data(run_id, idx, kind, when, bytes(salt).hex(), payload))
        raw.execute("UPDATE entries SET created_at = ?, payload = ?, leaf_hash = ? WHERE run_id = ? AND idx = ?",
                    (when, canonical_dumps(payload).decode(), h, run_id, idx))
    raw.commit()
    raw.close()
    with AuditLog(db) as log:  # the triggers come back when the log is opened: nothing looks touched
        note = log.checkpoint(run_id, Signer.load(home / "audit" / "signing.key"))
        ref = anchorer(checkpoint_hash(note))
        log.append(run_id, "anchor", ref.to_dict())
    return ref.to_dict()


def test_rewritten_log_resigned_with_the_machine_key_and_reanchored_from_another_account_fails(
        chain, devnet, home, wallet, run_id, attacker):
    rc, out = cli(home, "verify", run_id, "--config", str(devnet.manifest_path))
    assert rc == 0 and "PASS" in out, out
    rewrite_log(home, run_id, evm_anchorer(chain, attacker), intent_wallet=attacker.address)
    with AuditLog(home / "audit" / "audit.db") as log:  # what passed before: the sender taken from the intent entry
        machine_key = Signer.load(home / "audit" / "signing.key").vkey
        old_way = verify_log(log, run_id, trusted_vkey=machine_key, checkpoint_note=log.latest_checkpoint(run_id).note,
                             anchor=log.entries(run_id)[-1].payload,
                             anchor_checker=EvmAnchorChecker(chain, expected_sender=attacker.address))
        assert old_way.ok, old_way.reason

    rc, out = cli(home, "verify", run_id, "--config", str(devnet.manifest_path))
    assert rc != 0 and "PASS" not in out, out
    assert f"wrong sender: sent by {attacker.address}, the pinned operator account is {wallet.address}" in out, out


def test_rewritten_log_reanchored_by_the_operator_account_long_after_the_run_fails(chain, devnet, home, wallet,
                                                                                  run_id):
    # The run's entries say it ended two hours before the (re-)anchor: a rewrite of an old run, anchored now.
    rewrite_log(home, run_id, evm_anchorer(chain, wallet), backdate=timedelta(hours=2))
    rc, out = cli(home, "verify", run_id, "--config", str(devnet.manifest_path))
    assert rc != 0 and "PASS" not in out, out
    assert "anchor sender: sent by the pinned operator account" in out, out  # the sender is right ...
    assert "outside the 3600 s anchor window" in out, out  # ... the time is not


def test_anchor_window_flag(monkeypatch, chain, devnet, home, wallet, run_id):
    """Re-anchored (really) later by the operator's account: caught by a window the verifier sets."""
    time.sleep(3.2)
    rewrite_log(home, run_id, evm_anchorer(chain, wallet))
    config = ["--config", str(devnet.manifest_path)]
    code, out = cli_inline(monkeypatch, home, "verify", run_id, *config)
    assert code == 0 and "PASS" in out, out  # within the default hour
    code, out = cli_inline(monkeypatch, home, "verify", run_id, *config, anchor_window=2)
    assert code != 0 and "outside the 2 s anchor window" in out, out


def test_unpinned_anchor_sender_is_not_a_pass(monkeypatch, chain, devnet, home, wallet, run_id, attacker):
    rpc = ["--rpc", devnet.manifest.rpc_url]  # a bare node: no configuration says whose anchor to expect
    code, out = cli_inline(monkeypatch, home, "verify", run_id, *rpc)
    assert code != 0 and "PASS" not in out, out
    assert "UNPINNED" in out and "anchor sender: unpinned" in out, out
    code, out = cli_inline(monkeypatch, home, "verify", run_id, *rpc, anchor_sender=wallet.address)
    assert code == 0 and "PASS" in out, out
    code, out = cli_inline(monkeypatch, home, "verify", run_id, *rpc, anchor_sender=attacker.address)
    assert code != 0 and "wrong sender" in out, out
    # SWARM_PRIVATE_KEY is the operator's configured wallet too
    rc, out = cli(home, "verify", run_id, *rpc, env={"SWARM_PRIVATE_KEY": "0x" + "11" * 32})
    assert rc != 0 and "wrong sender" in out, out


class StubInspector:
    def __init__(self, block_time: int):
        self.block_time = block_time

    def inspect(self, anchor: dict, checkpoint_hash: bytes) -> AnchorFacts:
        return AnchorFacts(ok=True, detail="found", sender="op", expected_sender="op", sender_ok=True, block=7,
                           block_time=self.block_time)

    def check(self, anchor: dict, checkpoint_hash: bytes) -> tuple[bool, str]:
        return True, "found"


def test_anchor_older_than_the_checkpoint_it_names_fails(tmp_path):
    log = AuditLog(tmp_path / "audit" / "audit.db")
    signer = Signer(SigningKey.generate())
    for i in range(3):
        log.append("r", "thought", {"i": i})
    note = log.checkpoint("r", signer)
    newest = datetime.strptime(log.entries("r")[-1].created_at, UTC_FORMAT).replace(tzinfo=timezone.utc).timestamp()
    anchor = {"chain": "evm:31337", "tx_id": "0x01"}

    def report(block_time: float):
        return verify_log(log, "r", signer.vkey, anchor_checker=StubInspector(int(block_time)), checkpoint_note=note,
                          anchor=anchor)

    assert report(newest + 5).ok
    assert report(newest - 60).ok  # within the clock skew
    old = report(newest - 600)
    assert not old.ok and "older than the checkpoint it names" in old.reason
    late = report(newest + 7200)
    assert not late.ok and "outside the 3600 s anchor window" in late.reason
    log.close()


@pytest.fixture(scope="module")
def solana_operator(tmp_path_factory):
    """The operator's SWARM_HOME with a local Solana devnet running under it (its wallet: the configured one)."""
    home = tmp_path_factory.mktemp("solana-operator")
    net = SolanaDevnet.start(home, port=free_port())
    yield home, net
    net.stop()


@pytest.mark.solana  # the operator's SWARM_HOME with a devnet of its own under it
def test_solana_anchor_block_time_and_pin(solana_operator):
    """The local devnet has no getBlockTime (-32601): the checker falls back to getTransaction's blockTime."""
    _, net = solana_operator
    with SolanaRpc(net.config.rpc_url, timeout=5.0) as rpc:
        wallet = SolanaWallet.from_file(str(net.config.wallet_path))
        digest = hashlib.sha256(b"a checkpoint note").digest()
        ref = anchor_with_memo(SolanaTxSender(rpc, wallet, poll_seconds=0.02), digest, LOCALNET_CHAIN)
        pinned = SolanaRpcAnchorChecker(rpc, LOCALNET_CHAIN, configured_solana_sender(net.config))
        facts = pinned.inspect(ref.to_dict(), digest)
        assert facts.ok and facts.sender_ok and facts.sender == wallet.address, facts
        assert facts.block_time is not None and abs(facts.block_time - time.time()) < 60
        ok, detail = SolanaRpcAnchorChecker(rpc, LOCALNET_CHAIN).check(ref.to_dict(), digest)
        assert not ok and detail.startswith("unpinned"), detail


@pytest.mark.solana  # the operator's SWARM_HOME with a devnet of its own under it
def test_solana_rewritten_log_reanchored_from_another_account_fails(monkeypatch, solana_operator):
    home, net = solana_operator
    for var in ("SWARM_MODEL", "SWARM_SOLANA_KEYPAIR"):
        monkeypatch.delenv(var, raising=False)
    swarm = Swarm.from_config(net.paths.config, home=home)
    try:
        result = swarm.run("swap 1 SOL to USDC, max 1% slippage")
    finally:
        swarm.close()
    assert result.anchor is not None, result.summary()  # done or refused, the run is sealed and anchored
    code, out = cli_inline(monkeypatch, home, "verify", result.run_id)
    assert code == 0 and "PASS" in out and "anchor time: block time" in out, out

    with SolanaRpc(net.config.rpc_url, timeout=5.0) as rpc:
        attacker = SolanaWallet.generate()
        rpc.read(lambda: rpc.client.request_airdrop(attacker.pubkey, 10**9))
        sender = SolanaTxSender(rpc, attacker, poll_seconds=0.02)
        rewrite_log(home, result.run_id, lambda digest: anchor_with_memo(sender, digest, LOCALNET_CHAIN),
                    intent_wallet=attacker.address)
    code, out = cli_inline(monkeypatch, home, "verify", result.run_id)
    assert code != 0 and "PASS" not in out, out
    assert f"wrong sender: sent by {attacker.address}" in out, out


# ---- finding 17: sealing twice ---------------------------------------------------------------------------

def test_seal_is_idempotent(chain, wallet, tmp_path):
    anchored: list[bytes] = []

    def anchorer(digest: bytes) -> AnchorRef:
        anchored.append(digest)
        return anchor_on_evm(TxSender(chain, wallet), digest)

    log = AuditLog(tmp_path / "audit" / "audit.db")
    auditor = RunAuditor(log, Signer(SigningKey.generate()), anchorer)
    auditor.record("r", "intent", {"text": "swap"})
    auditor.record("r", "run_result", {"status": "done"})
    nonce = chain.eth.get_transaction_count(wallet.address)
    note, ref = auditor.seal("r")
    assert ref is not None and len(anchored) == 1
    for _ in range(3):  # `swarm resume` on the finished run, again and again
        assert auditor.seal("r") == (note, ref)
    assert len(log.checkpoints("r")) == 1 and len(anchored) == 1
    assert chain.eth.get_transaction_count(wallet.address) == nonce + 1
    # Something new recorded: a new checkpoint and anchor, once.
    auditor.record("r", "operator_input", {"text": "later"})
    note2, ref2 = auditor.seal("r")
    assert note2 != note and ref2 is not None and auditor.seal("r") == (note2, ref2)
    assert len(log.checkpoints("r")) == 2 and len(anchored) == 2
    # A checkpoint sealed without an anchorer is anchored later as it is, not signed again.
    auditor.record("s", "intent", {"text": "x"})
    bare = RunAuditor(log, auditor.signer)
    note3, none = bare.seal("s")
    assert none is None and bare.seal("s") == (note3, None)
    note4, ref4 = auditor.seal("s")
    assert note4 == note3 and ref4 is not None and ref4["checkpoint_hash"] == checkpoint_hash(note3).hex()
    assert len(log.checkpoints("s")) == 1
    log.close()


def test_seal_after_a_failed_anchor_signs_the_error_entry_too(tmp_path):
    calls = []

    def flaky(digest: bytes) -> AnchorRef:
        calls.append(digest)
        if len(calls) == 1:
            raise ConnectionError("node down")
        return AnchorRef(chain="evm:31337", tx_id="0x" + "ab" * 32, checkpoint_hash=digest.hex(), sender="0xop")

    log = AuditLog(tmp_path / "audit.db")
    auditor = RunAuditor(log, Signer(SigningKey.generate()), flaky)
    auditor.record("r", "intent", {"text": "swap"})
    first, none = auditor.seal("r")
    assert none is None and log.entries("r")[-1].kind == "error"
    second, ref = auditor.seal("r")  # the error entry is part of the record: a new checkpoint covers it
    assert second != first and ref is not None and len(calls) == 2
    assert auditor.seal("r") == (second, ref) and len(calls) == 2
    log.close()


# ---- finding 19: the audit directory's mode ---------------------------------------------------------------

def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_audit_directory_is_private(tmp_path, chain, devnet, wallet):
    old_umask = os.umask(0o022)  # the usual umask: mkdir would give 0755
    try:
        fresh = tmp_path / "fresh"
        s = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=fresh, anchor=False)
        s.close()
        assert mode(fresh / "audit") == 0o700
        assert mode(fresh / "audit" / "signing.key") == 0o600 and mode(fresh / "audit" / "audit.db") == 0o600

        old = tmp_path / "old" / "audit"  # left 0755 (with a readable log) by an earlier version
        old.mkdir(parents=True, mode=0o755)
        sqlite3.connect(old / "audit.db").close()
        os.chmod(old / "audit.db", 0o644)
        AuditLog(old / "audit.db").close()
        assert mode(old) == 0o700 and mode(old / "audit.db") == 0o600

        keyed = tmp_path / "keyed" / "audit"
        keyed.mkdir(parents=True, mode=0o755)
        Signer.load(keyed / "signing.key")
        assert mode(keyed) == 0o700 and mode(keyed / "signing.key") == 0o600

        other = tmp_path / "elsewhere"  # a directory not named audit, chosen by the caller, is left as it is
        other.mkdir(mode=0o755)
        AuditLog(other / "log.db").close()
        assert mode(other) == 0o755 and mode(other / "log.db") == 0o600
    finally:
        os.umask(old_umask)


def test_cli_tightens_the_audit_directory(tmp_path):
    home = tmp_path / "h"
    (home / "audit").mkdir(parents=True, mode=0o755)
    os.chmod(home / "audit", 0o755)
    rc, out = cli(home, "runs")
    assert rc == 0, out
    assert mode(home / "audit") == 0o700
