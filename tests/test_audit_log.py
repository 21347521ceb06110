"""Audit log: durability, append-only enforcement, secrets, concurrency, signed
checkpoints (C2SP signed-note / tlog-checkpoint) and tamper-evident bundles."""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import pickle
import sqlite3
import stat
import tempfile
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from defai_swarm.audit import canonical
from defai_swarm.audit.checkpoint import (
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    checkpoint_hash,
    key_id,
    open_note,
    origin_for_run,
    parse_note,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
)
from defai_swarm.audit.keys import KeyFileError, SigningKey, default_key_path, load_or_create_signing_key
from defai_swarm.audit.log import AuditLog
from defai_swarm.audit.merkle import EMPTY_ROOT, verify_consistency, verify_inclusion
from defai_swarm.audit.redact import SecretLeakError
from defai_swarm.audit.verify import export_bundle, verify_bundle, verify_bundle_file, verify_log

SECRET = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


@pytest.fixture
def signer() -> Signer:
    return Signer(SigningKey.generate())


@pytest.fixture
def log(tmp_path):
    with AuditLog(tmp_path / "audit.db") as lg:
        yield lg


def fill(log: AuditLog, run_id: str = "run1", n: int = 12) -> None:
    kinds = ["thought", "price", "risk", "tx", "error", "refusal", "operator_input"]
    for i in range(n):
        log.append(run_id, kinds[i % len(kinds)], {"step": i, "note": f"step {i}", "amount": Decimal("1.50")})


@pytest.fixture
def bundle(log, signer):
    fill(log, "run1", 12)
    note = log.checkpoint("run1", signer)
    return export_bundle(log, "run1", note)


def roundtrip(b: dict) -> dict:
    """What a third party receives: the bundle as JSON text."""
    return json.loads(json.dumps(b))


# ---- canonical JSON ------------------------------------------------------------------

def test_canonical_json_sorted_compact_utf8_decimal_as_string():
    out = canonical.dumps({"b": 1, "a": {"z": [True, None], "y": "é"}, "d": Decimal("0.10")})
    assert out == '{"a":{"y":"é","z":[true,null]},"b":1,"d":"0.10"}'.encode()


@pytest.mark.parametrize("payload,where", [
    ({"price": 1.5}, "price"),
    ({"a": {"b": [1, 2.0]}}, "a.b[1]"),
    ({"x": float("nan")}, "x"),
])
def test_floats_rejected_with_clear_type_error(log, payload, where):
    with pytest.raises(TypeError, match="float") as exc:
        log.append("run1", "price", payload)
    assert where in str(exc.value) and "Decimal" in str(exc.value)
    assert log.size("run1") == 0


def test_other_non_json_values_rejected(log):
    for bad in ({"b": b"raw"}, {1: "int key"}, {"s": {1, 2}}, {"d": Decimal("Infinity")}):
        with pytest.raises(TypeError):
            log.append("run1", "thought", bad)
    with pytest.raises(TypeError):
        log.append("run1", "thought", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        log.append("run1", "Not A Kind", {})
    with pytest.raises(ValueError):
        log.append("bad run id", "thought", {})
    assert log.runs() == []


# ---- append, durability, append-only --------------------------------------------------

def test_append_returns_committed_entry_with_salted_leaf(log):
    e0 = log.append("run1", "thought", {"text": "buy?"})
    e1 = log.append("run1", "thought", {"text": "buy?"})
    assert (e0.index, e1.index) == (0, 1)
    assert len(bytes.fromhex(e0.salt)) == 32 and e0.salt != e1.salt
    assert e0.leaf_hash != e1.leaf_hash  # same text, different salts
    assert e0.compute_leaf_hash().hex() == e0.leaf_hash
    assert e0.created_at.endswith("Z") and "T" in e0.created_at
    assert json.loads(e0.leaf_data()) == {
        "run_id": "run1", "index": 0, "kind": "thought", "created_at": e0.created_at,
        "salt": e0.salt, "payload": {"text": "buy?"},
    }


def test_durable_before_append_returns(tmp_path):
    path = tmp_path / "audit.db"
    log = AuditLog(path)
    entry = log.append("run1", "tx", {"hash": "0xabc", "value": "10"})
    # A second connection sees the row while the writer is still open: it was committed.
    other = sqlite3.connect(path)
    rows = other.execute("SELECT run_id, idx, kind, payload, leaf_hash FROM entries").fetchall()
    assert rows == [("run1", 0, "tx", '{"hash":"0xabc","value":"10"}', bytes.fromhex(entry.leaf_hash))]
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert log._store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    other.close()
    root = log.root("run1")
    log.close()
    with AuditLog(path) as again:
        assert again.entries("run1") == [entry]
        assert again.root("run1") == root
        assert again.append("run1", "tx", {}).index == 1


def test_update_and_delete_are_rejected_by_sqlite(log, signer):
    fill(log, "run1", 3)
    log.checkpoint("run1", signer)
    raw = sqlite3.connect(log.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE entries SET payload = '{}' WHERE idx = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM entries WHERE idx = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE checkpoints SET note = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM checkpoints")
    with pytest.raises(sqlite3.DatabaseError, match="next one"):  # no gaps
        raw.execute("INSERT INTO entries VALUES ('run1', 7, 'tx', 't', x'00', '{}', x'00')")
    raw.close()
    assert [e.index for e in log.entries("run1")] == [0, 1, 2]
    assert log.entries("run1")[1].payload["step"] == 1
    assert len(log.checkpoints("run1")) == 1


def test_runs_are_separate_trees(log):
    fill(log, "a", 3)
    fill(log, "b", 5)
    assert log.runs() == ["a", "b"]
    assert (log.size("a"), log.size("b"), log.size("nope")) == (3, 5, 0)
    assert log.root("nope") == EMPTY_ROOT
    assert log.root("a") != log.root("b")
    proof = log.inclusion_proof("b", 2, 5)
    leaf = bytes.fromhex(log.entries("b")[2].leaf_hash)
    assert verify_inclusion(leaf, 2, 5, proof, log.root("b"))
    assert verify_consistency(2, 5, log.consistency_proof("b", 2, 5), log.root("b", 2), log.root("b"))


def test_append_many_is_one_atomic_batch(log):
    out = log.append_many("run1", [("price", {"p": "1"}), ("risk", {"ok": True})])
    assert [e.index for e in out] == [0, 1]
    with pytest.raises(TypeError):
        log.append_many("run1", [("price", {"p": "2"}), ("price", {"p": 2.5})])
    assert log.size("run1") == 2


def test_two_log_objects_on_one_file_interleave_without_gaps(tmp_path, signer):
    a, b = AuditLog(tmp_path / "x.db"), AuditLog(tmp_path / "x.db")
    for i in range(6):
        (a if i % 2 else b).append("run1", "thought", {"i": i})
    assert [e.payload["i"] for e in a.entries("run1")] == list(range(6))
    assert a.root("run1") == b.root("run1")
    assert verify_log(b, "run1", signer.vkey, checkpoint_note=a.checkpoint("run1", signer)).ok
    a.close()
    b.close()


# ---- secrets -------------------------------------------------------------------------

@pytest.mark.parametrize("payload", [
    {"key": SECRET},
    {"key": SECRET[2:]},
    {"key": SECRET.upper().replace("0X", "0x")},
    {"nested": {"list": ["ok", f"pk={SECRET[2:]};"]}},
    {SECRET[2:]: "as a key"},
])
def test_secret_guard_refuses_without_echoing_the_secret(log, payload):
    log.register_secret(SECRET)
    with pytest.raises(SecretLeakError) as exc:
        log.append("run1", "thought", payload)
    text = str(exc.value) + repr(exc.value)
    assert SECRET[2:].lower() not in text.lower()
    assert SECRET[10:30] not in text
    assert log.size("run1") == 0
    assert log.append("run1", "thought", {"key": "0x" + "ab" * 32}).index == 0  # other values pass


def test_secret_registration_forms(log):
    log.register_secret(b"\x11" * 32)  # bytes -> hex
    with pytest.raises(SecretLeakError):
        log.append("run1", "tx", {"raw": "0x" + "11" * 32})
    with pytest.raises(ValueError):
        log.register_secret("0xabc")  # too short to guard
    assert "11" * 32 not in repr(log.guard)
    assert log.guard.redact("k=" + "11" * 32 + "!") == "k=[REDACTED]!"


# ---- concurrency ---------------------------------------------------------------------

def test_concurrent_appends_from_8_threads_are_gapless_and_verify(log, signer):
    per_thread = 40
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                log.append("run1", "thought", {"thread": t, "seq": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    entries = log.entries("run1")
    assert [e.index for e in entries] == list(range(8 * per_thread))
    for t in range(8):  # each thread's own steps keep their order
        assert [e.payload["seq"] for e in entries if e.payload["thread"] == t] == list(range(per_thread))
    log.checkpoint("run1", signer)
    report = verify_log(log, "run1", trusted_vkey=signer.vkey)
    assert report.ok, report.reason
    assert report.tree_size == 8 * per_thread


# ---- signed notes and checkpoints ------------------------------------------------------

# golang.org/x/mod/sumdb/note reference vector (facts, re-typed).
GO_SKEY_B64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"  # 0x01 || seed
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"


def test_signed_note_matches_go_reference_vector():
    raw = base64.b64decode(GO_SKEY_B64)
    assert raw[0] == 1
    s = Signer(SigningKey.from_seed(raw[1:]), "PeterNeumann")
    assert s.vkey == GO_VKEY
    assert s.key_id.hex() == "c74f20a3"
    assert sign_note(GO_TEXT, s) == GO_NOTE  # Ed25519 is deterministic
    v = Verifier.from_vkey(GO_VKEY)
    assert open_note(GO_NOTE, v) == (GO_TEXT, ["PeterNeumann"])
    with pytest.raises(NoteError):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), v)


def test_key_id_is_first_4_bytes_of_sha256_name_nl_type_pubkey(signer):
    pub = signer.verifier.public_key
    want = hashlib.sha256(b"defai-swarm/audit\n\x01" + pub).digest()[:4]
    assert key_id("defai-swarm/audit", pub) == want == signer.key_id
    name, hid, b64 = signer.vkey.split("+", 2)
    assert (name, hid, base64.b64decode(b64)) == ("defai-swarm/audit", want.hex(), b"\x01" + pub)


@pytest.mark.parametrize("vkey", [
    GO_VKEY.replace("c74f20a3", "c74f20a4"),           # wrong key ID
    GO_VKEY.replace("+ARpc", "+AhpC"),                  # wrong type byte
    "PeterNeumann+c74f20a3",                            # missing key
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    GO_VKEY[:-2],                                       # truncated base64
])
def test_bad_vkeys_rejected(vkey):
    with pytest.raises(NoteError):
        Verifier.from_vkey(vkey)


def test_checkpoint_format_and_roundtrip(signer):
    root = hashlib.sha256(b"r").digest()
    cp = Checkpoint(origin=origin_for_run("abc"), size=20852163, root=root, extensions=("ext one",))
    note = sign_checkpoint(cp, signer)
    body, sigline = note.split("\n\n")
    assert body.split("\n") == ["defai-swarm/run/abc", "20852163", base64.b64encode(root).decode(), "ext one"]
    assert sigline.startswith("\u2014 defai-swarm/audit ") and sigline.endswith("\n")
    blob = base64.b64decode(sigline.split(" ")[2])
    assert blob[:4] == signer.key_id and len(blob) == 68
    assert verify_checkpoint(note, signer.verifier) == cp
    assert checkpoint_hash(note) == hashlib.sha256(note.encode()).digest()
    assert len(checkpoint_hash(note)) == 32


def test_unknown_signatures_are_ignored_but_one_known_is_required(signer):
    other = Signer(SigningKey.generate(), "witness.example/w1")
    text = Checkpoint(origin="o", size=0, root=EMPTY_ROOT).text()
    note = sign_note(text, [other, signer])
    assert open_note(note, signer.verifier) == (text, ["defai-swarm/audit"])
    with pytest.raises(NoteError, match="trusted"):
        open_note(note, Signer(SigningKey.generate()).verifier)  # same name, other key


def malformed_notes(note: str) -> list[tuple[str, str]]:
    body, sig = note.split("\n\n")
    return [
        ("no blank line", body + "\n" + sig),
        ("no final newline", note[:-1]),
        ("no signatures", body + "\n\n"),
        ("bad base64", note.replace(sig.split(" ")[2], "!!!!\n")),
        ("control char", note.replace("defai-swarm/run", "defai-swarm\x01/run")),
        ("hyphen not em dash", note.replace("\u2014", "-")),
        ("space in name", note.replace("\u2014 defai-swarm/audit", "\u2014 defai swarm/audit")),
        ("short signature", body + "\n\n\u2014 defai-swarm/audit AAAA\n"),
        ("altered size", note.replace("\n12\n", "\n13\n", 1)),
        ("altered root", note.replace(body.split("\n")[2], base64.b64encode(b"\0" * 32).decode())),
        ("altered origin", note.replace("run/run1", "run/run2")),
        ("invalid utf-8", note.encode()[:-3] + b"\xff\n"),
    ]


def test_malformed_or_altered_notes_rejected(log, signer):
    fill(log, "run1", 12)
    note = log.checkpoint("run1", signer)
    assert verify_checkpoint(note, signer.verifier).size == 12
    for what, bad in malformed_notes(note):
        with pytest.raises(NoteError):
            verify_checkpoint(bad, signer.verifier)
            pytest.fail(what)


@pytest.mark.parametrize("text", [
    "o\n012\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",   # leading zero
    "o\n-1\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",
    "o\n1\n" + base64.b64encode(b"\0" * 31).decode() + "\n",     # short root
    "o\n1\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n\n",   # empty extension line
    "o\n1\n",
    "\n1\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",
])
def test_malformed_checkpoint_bodies_rejected(text):
    with pytest.raises(NoteError):
        Checkpoint.from_text(text)


def test_parse_note_limits():
    text, sigs = parse_note(GO_NOTE)
    assert text == GO_TEXT and sigs[0].key_id.hex() == "c74f20a3"
    with pytest.raises(NoteError):
        parse_note(GO_NOTE + ("\u2014 x " + base64.b64encode(b"\0" * 68).decode() + "\n") * 100)


# ---- keys ----------------------------------------------------------------------------

def test_key_file_created_0600_and_reloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("SWARM_HOME", str(tmp_path / "home"))
    path = default_key_path()
    assert path == tmp_path / "home" / "audit" / "signing.key"
    k1 = load_or_create_signing_key()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes()) == 32
    k2 = load_or_create_signing_key()
    assert k1.public_key == k2.public_key
    assert Signer.load().vkey == Signer(k1).vkey


def test_private_key_never_shown(tmp_path, capsys):
    path = tmp_path / "k"
    key = load_or_create_signing_key(path)
    seed = path.read_bytes()
    shown = repr(key) + str(key) + repr(Signer(key)) + repr(Signer(key).verifier)
    for form in (seed.hex(), base64.b64encode(seed).decode(), repr(seed)):
        assert form not in shown
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(TypeError):
        pickle.dumps(Signer(key))
    assert not hasattr(key, "__dict__")
    assert seed.hex() not in capsys.readouterr().out


def test_pem_key_loads_and_loose_or_garbage_files_refused(tmp_path):
    pk = Ed25519PrivateKey.generate()
    pem = pk.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    p = tmp_path / "pem.key"
    p.write_bytes(pem)
    os.chmod(p, 0o600)
    assert load_or_create_signing_key(p) == SigningKey(pk)
    os.chmod(p, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_or_create_signing_key(p)
    g = tmp_path / "garbage.key"
    g.write_bytes(b"secret-looking junk that is not a key")
    os.chmod(g, 0o600)
    with pytest.raises(KeyFileError) as exc:
        load_or_create_signing_key(g)
    assert "junk" not in str(exc.value)


# ---- bundles: honest -----------------------------------------------------------------

def test_honest_bundle_verifies(bundle, signer):
    report = verify_bundle(roundtrip(bundle), trusted_vkey=signer.vkey)
    assert report.ok, report.reason
    assert_streamed_agrees(bundle, signer.vkey, report)
    assert report.first_bad_index is None and report.reason is None
    assert report.tree_size == 12
    assert report.checkpoint_hash == checkpoint_hash(bundle["checkpoint"]).hex()
    names = {c.name for c in report.checks}
    assert {"signature", "origin", "entries", "root", "inclusion"} <= names
    assert all(ok for _, ok, _ in report.checks)
    assert bundle["vkey"] == signer.vkey
    assert bundle["entries"][3]["payload"]["amount"] == "1.50"


def test_unpinned_key_is_reported_as_such(bundle, signer):
    # Issue 12 #3: a bundle checked only against the key it carries is self-signed, never verified.
    report = verify_bundle(roundtrip(bundle))
    assert not report.ok and report.self_signed and report.verdict == "SELF-SIGNED"
    assert "not pinned" in next(c.detail for c in report.checks if c.name == "signature")
    assert verify_bundle(roundtrip(bundle), trusted_vkey=signer.vkey).ok  # the trusted key, passed explicitly


def test_bundle_of_a_prefix_checkpoint(log, signer):
    fill(log, "run1", 5)
    note = log.checkpoint("run1", signer)
    fill(log, "run1", 4)
    b = export_bundle(log, "run1", note)
    assert len(b["entries"]) == 5
    assert verify_bundle(roundtrip(b), signer.vkey).ok
    report = verify_log(log, "run1", signer.vkey, checkpoint_note=note)
    assert report.ok and any(c.name == "tail" and "4 entries" in c.detail for c in report.checks)


# ---- bundles: tampering must name the first bad index -----------------------------------

POSITIONS = [0, 5, 11]


def assert_bad_at(b: dict, index: int | None, vkey: str) -> None:
    report = verify_bundle(b, trusted_vkey=vkey)
    assert not report.ok
    assert report.first_bad_index == index, report
    assert report.reason
    assert_streamed_agrees(b, vkey, report)


def assert_streamed_agrees(b: dict, vkey: str | None, report) -> None:
    """The bundle written to a file and verified streamed (`verify_bundle_file`) gives the same verdict."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bundle.json"
        path.write_text(json.dumps(b))
        streamed = verify_bundle_file(path, trusted_vkey=vkey)
    assert (streamed.ok, streamed.first_bad_index, streamed.reason) == (report.ok, report.first_bad_index,
                                                                        report.reason)
    assert [(c.name, c.ok) for c in streamed.checks] == [(c.name, c.ok) for c in report.checks]


@pytest.mark.parametrize("i", POSITIONS)
@pytest.mark.parametrize("field,value", [
    ("payload", {"step": 999}),
    ("kind", "anchor"),
    ("created_at", "2020-01-01T00:00:00.000000Z"),
    ("salt", "00" * 32),
])
def test_changed_entry_is_named(bundle, signer, i, field, value):
    b = roundtrip(bundle)
    b["entries"][i][field] = value
    assert_bad_at(b, i, signer.vkey)


@pytest.mark.parametrize("i", POSITIONS)
def test_one_character_change_in_payload_is_named(bundle, signer, i):
    b = roundtrip(bundle)
    b["entries"][i]["payload"]["note"] += "!"
    assert_bad_at(b, i, signer.vkey)


@pytest.mark.parametrize("i", POSITIONS)
def test_removed_entry_is_named(bundle, signer, i):
    b = roundtrip(bundle)
    del b["entries"][i]
    assert_bad_at(b, i, signer.vkey)


@pytest.mark.parametrize("i", POSITIONS)
def test_removed_and_renumbered_is_named(bundle, signer, i):
    b = roundtrip(bundle)
    del b["entries"][i]
    for j, e in enumerate(b["entries"]):
        e["index"] = j
    assert_bad_at(b, i, signer.vkey)


@pytest.mark.parametrize("i,j", [(0, 1), (4, 9), (10, 11)])
def test_reordered_entries_are_named(bundle, signer, i, j):
    b = roundtrip(bundle)
    b["entries"][i], b["entries"][j] = b["entries"][j], b["entries"][i]
    assert_bad_at(b, i, signer.vkey)
    b2 = copy.deepcopy(b)  # the forger also fixes up the indices
    b2["entries"][i]["index"], b2["entries"][j]["index"] = i, j
    assert_bad_at(b2, i, signer.vkey)


@pytest.mark.parametrize("i", [0, 5, 11, 12])
def test_inserted_entry_is_named(bundle, signer, i):
    b = roundtrip(bundle)
    forged = dict(b["entries"][min(i, 11)], payload={"step": "forged"})
    b["entries"].insert(i, forged)
    for j, e in enumerate(b["entries"]):
        e["index"] = j
    assert_bad_at(b, i, signer.vkey)


def test_entry_moved_to_another_run_is_named(bundle, signer):
    b = roundtrip(bundle)
    b["entries"][7]["run_id"] = "run2"
    assert_bad_at(b, 7, signer.vkey)


def test_float_smuggled_into_bundle_is_named_not_crashing(bundle, signer):
    b = roundtrip(bundle)
    b["entries"][3]["payload"]["amount"] = 1.5
    assert_bad_at(b, 3, signer.vkey)


def test_altered_leaf_hash_list_is_named(bundle, signer):
    b = roundtrip(bundle)
    b["leaf_hashes"][6] = "00" * 32
    assert_bad_at(b, 6, signer.vkey)


def test_rewritten_leaf_list_cannot_hide_a_change(bundle, signer):
    """The forger recomputes the leaf list too: detected, though no longer localisable."""
    from defai_swarm.audit.log import leaf_data
    from defai_swarm.audit.merkle import leaf_hash

    b = roundtrip(bundle)
    b["entries"][4]["payload"] = {"step": "forged"}
    b["leaf_hashes"] = [leaf_hash(leaf_data(**{k: e[k] for k in ("run_id", "kind", "created_at", "payload")},
                                            index=e["index"], salt_hex=e["salt"])).hex() for e in b["entries"]]
    report = verify_bundle(b, signer.vkey)
    assert not report.ok and report.first_bad_index is None
    assert "root" in report.reason


# ---- bundles: swapped checkpoints ------------------------------------------------------

def test_other_runs_checkpoint_is_detected(log, signer, bundle):
    fill(log, "run2", 12)
    b = roundtrip(bundle)
    b["checkpoint"] = log.checkpoint("run2", signer)
    report = verify_bundle(b, signer.vkey)
    assert not report.ok
    assert any(c.name == "origin" and not c.ok for c in report.checks)
    assert any(c.name == "root" and not c.ok for c in report.checks)


def test_checkpoint_with_different_root_is_detected(tmp_path, signer, bundle):
    with AuditLog(tmp_path / "other.db") as other:  # same run id and key, other history
        fill(other, "run1", 12)
        b = roundtrip(bundle)
        b["checkpoint"] = other.checkpoint("run1", signer)
    report = verify_bundle(b, signer.vkey)
    assert not report.ok and report.first_bad_index is None
    assert "root" in report.reason


def test_older_checkpoint_of_same_run_names_first_uncovered_entry(log, signer, bundle):
    b = roundtrip(bundle)
    b["checkpoint"] = log.checkpoint("run1", signer, size=9)
    assert_bad_at(b, 9, signer.vkey)


def test_resigned_by_another_key_is_detected_when_key_is_pinned(bundle, signer):
    b = roundtrip(bundle)
    b["entries"][2]["payload"] = {"step": "forged"}
    from defai_swarm.audit.log import AuditEntry
    entries = [AuditEntry(**e, leaf_hash="00" * 32) for e in b["entries"]]
    from defai_swarm.audit.merkle import MerkleTree
    tree = MerkleTree(e.compute_leaf_hash() for e in entries)
    mallory = Signer(SigningKey.generate())  # same key name, different key
    b["checkpoint"] = sign_checkpoint(Checkpoint(origin=origin_for_run("run1"), size=12, root=tree.root()), mallory)
    b["vkey"] = mallory.vkey
    b["leaf_hashes"] = [leaf.hex() for leaf in (tree.leaf(k) for k in range(12))]
    b.pop("checkpoint_hash")
    pinned = verify_bundle(b, trusted_vkey=signer.vkey)
    assert not pinned.ok and pinned.checks[-1].name == "signature"
    assert "trusted" in pinned.reason
    unpinned = verify_bundle(b)  # self-consistent forgery: only a pinned key catches it (issue 12 #3: never a pass)
    assert not unpinned.ok and unpinned.self_signed and "not pinned" in unpinned.checks[1].detail


def test_tampered_note_text_is_detected(bundle, signer):
    b = roundtrip(bundle)
    b["checkpoint"] = b["checkpoint"].replace("\n12\n", "\n11\n", 1)
    report = verify_bundle(b, signer.vkey)
    assert not report.ok and "signature" in report.reason


# ---- anchors ---------------------------------------------------------------------------

class FakeChain:
    def __init__(self, ok: bool = True, boom: bool = False):
        self.ok, self.boom, self.calls = ok, boom, []

    def check(self, anchor: dict, checkpoint_hash: bytes) -> tuple[bool, str]:
        self.calls.append((anchor, checkpoint_hash))
        if self.boom:
            raise ConnectionError("rpc down")
        return self.ok, "found in tx" if self.ok else "tx does not carry this hash"


def test_anchor_checker_is_called_with_the_checkpoint_hash(log, signer):
    fill(log, "run1", 4)
    note = log.checkpoint("run1", signer)
    b = roundtrip(export_bundle(log, "run1", note, anchor={"chain": "evm:31337", "tx_id": "0x01"}))
    assert b["anchor"]["checkpoint_hash"] == checkpoint_hash(note).hex()
    chain = FakeChain()
    assert verify_bundle(b, signer.vkey, anchor_checker=chain).ok
    assert chain.calls == [(b["anchor"], checkpoint_hash(note))]
    assert not verify_bundle(b, signer.vkey, anchor_checker=FakeChain(ok=False)).ok
    boom = verify_bundle(b, signer.vkey, anchor_checker=FakeChain(boom=True))
    assert not boom.ok and "rpc down" in boom.reason
    b["anchor"]["checkpoint_hash"] = "00" * 32
    assert not verify_bundle(b, signer.vkey).ok
    del b["anchor"]
    assert not verify_bundle(b, signer.vkey, anchor_checker=FakeChain()).ok


# ---- verify_log on the database ----------------------------------------------------------

def test_verify_log_names_an_entry_edited_in_the_database(log, signer):
    fill(log, "run1", 10)
    log.checkpoint("run1", signer)
    assert verify_log(log, "run1", signer.vkey).ok
    raw = sqlite3.connect(log.path)  # an attacker with the file drops the trigger
    raw.execute("DROP TRIGGER entries_no_update")
    raw.execute("""UPDATE entries SET payload = '{"step":6,"note":"nothing happened"}' WHERE idx = 6""")
    raw.commit()
    raw.close()
    report = verify_log(log, "run1", signer.vkey)
    assert not report.ok and report.first_bad_index == 6


def test_verify_log_detects_a_forked_checkpoint(log, signer):
    fill(log, "run1", 6)
    log.checkpoint("run1", signer)
    fill(log, "run1", 4)
    log.checkpoint("run1", signer)
    assert verify_log(log, "run1", signer.vkey).ok
    forged = sign_checkpoint(Checkpoint(origin=origin_for_run("run1"), size=3, root=b"\x07" * 32), signer)
    raw = sqlite3.connect(log.path)
    raw.execute("INSERT INTO checkpoints (run_id, size, root, note, note_hash, vkey, created_at) "
                "VALUES ('run1', 3, ?, ?, ?, ?, 'x')", (b"\x07" * 32, forged, checkpoint_hash(forged), signer.vkey))
    raw.commit()
    raw.close()
    report = verify_log(log, "run1", signer.vkey, checkpoint_note=log.checkpoints("run1")[1].note)
    assert not report.ok
    assert any(c.name == "consistency" and not c.ok for c in report.checks)


def test_verify_log_without_checkpoint_fails(log):
    fill(log, "run1", 2)
    report = verify_log(log, "run1")
    assert not report.ok and "no checkpoint" in report.reason


def test_verify_log_names_an_entry_deleted_from_the_database(log, signer):
    fill(log, "run1", 10)
    log.checkpoint("run1", signer)
    raw = sqlite3.connect(log.path)
    raw.execute("DROP TRIGGER entries_no_delete")
    raw.execute("DELETE FROM entries WHERE idx = 4")
    raw.commit()
    raw.close()
    with AuditLog(log.path) as fresh:  # a verifier opening the file cold
        report = verify_log(fresh, "run1", signer.vkey)
    assert not report.ok and report.first_bad_index == 4
    assert any(c.name == "consistency" and not c.ok for c in report.checks)


def test_missing_leaf_hash_list_is_reported(bundle, signer):
    b = roundtrip(bundle)
    del b["leaf_hashes"]
    report = verify_bundle(b, signer.vkey)
    assert not report.ok and report.first_bad_index is None
    assert "leaf_hashes" in report.reason


@pytest.mark.parametrize("text", ["", "[]", '{"format": "defai-swarm/audit-bundle/v1", "entries": [', "{} trailing",
                                  '{"entries": [1, 2,, 3]}', "\ud800"])
def test_streamed_verify_refuses_a_file_that_is_not_one_bundle(tmp_path, text):
    path = tmp_path / "bundle.json"
    path.write_text(text, errors="surrogatepass")
    report = verify_bundle_file(path)
    assert not report.ok and report.checks[0].name == "format", report


def test_streamed_verify_reads_across_chunk_boundaries(bundle, signer, tmp_path, monkeypatch):
    """Tiny chunks split every value, number and string somewhere: the verdict is the same."""
    import defai_swarm.audit.verify as verify_module

    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle, indent=1))
    original = verify_module._JsonStream.__init__
    monkeypatch.setattr(verify_module._JsonStream, "__init__", lambda self, f, chunk=7: original(self, f, chunk))
    report = verify_bundle_file(path, trusted_vkey=signer.vkey)
    assert report.ok, report.reason
    assert report.tree_size == 12


# ---- group commit: deferred kinds are made durable by the next action's entry ---------------------------

def test_deferred_kinds_are_committed_at_once_and_fsynced_with_the_next_action(log, signer):
    from defai_swarm.audit.log import DEFERRED_KINDS

    assert {"price", "plan", "thought", "check_risk"} <= DEFERRED_KINDS and "tx" not in DEFERRED_KINDS
    log.append("run1", "price", {"p": "1"})
    log.append("run1", "check_risk", {"ok": True})
    assert log.unsynced  # committed (readable), its fsync still to come
    assert log._store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # back to FULL for everything else
    other = sqlite3.connect(log.path)
    assert other.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 2
    log.append("run1", "tx", {"event": "signed"})  # an action's entry: its fsync covers the whole WAL
    assert not log.unsynced
    log.append("run1", "plan", {})
    log.checkpoint("run1", signer)  # a checkpoint (before its anchor is sent) is a full commit too
    assert not log.unsynced
    log.append("run1", "thought", {})
    log.flush()
    assert not log.unsynced
    log.append("run1", "my_plugin_kind", {})  # unknown kinds are durable on their own
    assert not log.unsynced
    other.close()


def test_a_killed_process_loses_no_deferred_entry(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "audit.db"
    script = ("import os, sys; from defai_swarm.audit import AuditLog; log = AuditLog(sys.argv[1]); "
              "[log.append('run1', 'price', {'i': i}) for i in range(5)]; os._exit(9)")
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9, proc.stderr
    with AuditLog(path) as again:
        assert [e.payload["i"] for e in again.entries("run1")] == list(range(5))


@pytest.mark.parametrize("payload", [
    {}, {"b": 1, "a": [1, "x", None, True, {"z": "é", "y": Decimal("0.10")}]}, {"big": 2**200, "neg": -5},
    {"text": "日本語 \u2028 \"quoted\" \\ slash", "nested": {"k": [[], {}]}},
])
def test_stored_leaf_equals_the_canonical_leaf(log, payload):
    """append hashes the already-normalised payload without a second walk: the same bytes as `leaf_data`."""
    entry = log.append("run1", "tx", payload)
    assert entry.compute_leaf_hash().hex() == entry.leaf_hash
    assert log.entries("run1")[-1] == entry


@pytest.mark.parametrize("value", [
    {}, [], "", 0, -(2**200), None, True, {"b": [1, {"d": None, "c": "é\u2028\"\\\n"}], "a": False},
    {"z": {"y": {"x": [[], {}]}}, "\u00e9": "k", "A": 1},
])
def test_canonical_encoder_matches_json_dumps(value):
    """The prebuilt encoder writes the bytes `json.dumps` with the canonical settings writes (sorted keys, no
    blanks, UTF-8 kept), and refuses what JSON cannot hold."""
    from defai_swarm.audit.canonical import encode_plain

    assert encode_plain(value) == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    with pytest.raises(TypeError):
        encode_plain({"a": [object()]})


def test_outcomes_are_deferred_and_durable_with_the_checkpoint(log, signer):
    """A swap's outcome and the run's result follow the action they record: committed at once, fsynced by the
    run's checkpoint (a full commit) or the next part's signed tx."""
    log.append("run1", "tx", {"event": "signed"})
    assert not log.unsynced
    log.append("run1", "swap", {"outcome": {"status": "confirmed"}})
    assert log.unsynced
    log.append("run1", "tx", {"event": "signed", "step": "swap_2"})  # the next part: durable, and the outcome too
    assert not log.unsynced
    log.append("run1", "run_result", {"status": "done"})
    assert log.unsynced
    log.checkpoint("run1", signer)
    assert not log.unsynced
    assert [e.kind for e in log.entries("run1")] == ["tx", "swap", "tx", "run_result"]
