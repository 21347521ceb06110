"""Issue 17: the audit page (`swarm audit html`) in a real browser.

Headless Chromium from npm (`@sparticuz/chromium`, driven by `puppeteer-core`, both installed by `swarm devnet
install` like anvil) loads each page of a corpus from a file:// URL; tests/browser/render.js reports what the
rendered DOM shows. The page verifies the embedded bundle itself (WebCrypto SHA-256 and Ed25519, else its own
JavaScript), and on every bundle its verdict on the log must be Python's: the same checks passing and failing, the
same verdict (the page's "log verified, anchor not checked" is verify_bundle's PASS without an anchor checker, never a
full pass) and the same first bad entry.

The corpus: real runs on the session's EVM devnet and on a local Solana devnet, tampered as an attacker would, and
logs written with defai_swarm.audit's own writer (AuditLog + Signer) for amounts above 2**53 and non-ASCII keys and text.
All pages render in one browser launch; screenshots go to the test's temporary directory.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from defai_swarm.api import Swarm
from defai_swarm.audit import AuditLog, Signer, SigningKey, Verifier, checkpoint_hash, verify_bundle
from defai_swarm.audit.canonical import dumps as canonical_dumps
from defai_swarm.audit.checkpoint import Checkpoint, origin_for_run, parse_note, sign_checkpoint
from defai_swarm.audit.html import AuditPageServer, render_index, render_page
from defai_swarm.audit.verify import export_bundle
from defai_swarm.cli.audit_commands import audit_command, index_rows, run_bundle
from defai_swarm.cli import build_parser
from tests.test_runtime import swap_graph
from defai_swarm.tools.devnet.install import browser_modules, install
from defai_swarm.tools.devnet.node import free_port
from defai_swarm.tools.evm.rpc import connect
from defai_swarm.tools.evm.wallet import Wallet

pytestmark = pytest.mark.browser  # pages rendered in headless Chromium

ROOT = Path(__file__).resolve().parents[1]
RENDER = ROOT / "tests" / "browser" / "render.js"
ED25519_JS = ROOT / "swarm" / "audit" / "viewer" / "ed25519.js"
PAGE_STATE = {"PASS": "log-verified", "SELF-SIGNED": "self-signed", "FAIL": "fail"}  # verify_bundle -> the page


def node() -> str:
    found = shutil.which("node")
    assert found, "the audit page tests need Node.js (it also runs the devnet's npm parts): install Node.js 20+"
    return found


def render(jobs: list[dict], workdir: Path) -> list[dict]:
    """One headless Chromium for all `jobs` (see tests/browser/render.js); what each page shows."""
    install()
    jobs_file = workdir / f"jobs-{time.monotonic_ns()}.json"
    jobs_file.write_text(json.dumps(jobs))
    proc = subprocess.run([node(), str(RENDER), str(jobs_file)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NODE_MODULES": str(browser_modules())})
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


# ---- the corpus -----------------------------------------------------------------------------------------------------

def dumps(bundle: dict) -> str:
    return json.dumps(bundle, indent=1, ensure_ascii=False)


def resign(bundle: dict, signer: Signer, *, origin: str | None = None) -> dict:
    """The bundle's checkpoint signed again by `signer` (as is, or naming another origin)."""
    cp = Checkpoint.from_text(parse_note(bundle["checkpoint"])[0])
    note = sign_checkpoint(cp.model_copy(update={"origin": origin or cp.origin}), signer)
    h = checkpoint_hash(note).hex()
    tail = [{**e, "payload": {**e["payload"], "checkpoint_hash": h}} if e["kind"] == "anchor" else e
            for e in bundle.get("tail", [])]  # its anchor record follows it, as the re-signer would have it
    return {**bundle, "checkpoint": note, "checkpoint_hash": h, "checkpoints": [note], "tail": tail,
            "anchor": {**bundle["anchor"], "checkpoint_hash": h} if bundle.get("anchor") else None}


def corrupt_signature(bundle: dict) -> dict:
    """The checkpoint's Ed25519 signature with one bit flipped (same key name and key ID)."""
    text, _, line = bundle["checkpoint"].rstrip("\n").rpartition("\n")
    dash, name, b64 = line.split(" ")
    raw = bytearray(base64.b64decode(b64))
    raw[4 + 10] ^= 1
    note = f"{text}\n{dash} {name} {base64.b64encode(bytes(raw)).decode()}\n"
    return {**bundle, "checkpoint": note}


def forged_log(bundle: dict, edit, tmp: Path) -> dict:
    """A forger's rewrite: the entries edited, written afresh with defai_swarm.audit's writer, signed with a new key."""
    signer = Signer(SigningKey.generate())
    with AuditLog(tmp / "forged.db") as log:
        run_id = bundle["run_id"]
        for e in bundle["entries"]:
            log.append(run_id, e["kind"], edit(e))
        note = log.checkpoint(run_id, signer)
        return export_bundle(log, run_id, note, anchor={**bundle["anchor"], "checkpoint_hash": checkpoint_hash(note).hex()})


BIG = [2**53 + 1, 2**64 + 1, 10**30 + 7, -(2**63) - 1, 123456789012345678901234567890123456789]


def synthetic_log(tmp: Path, signer: Signer) -> dict[str, dict]:
    """Two runs written with AuditLog + Signer: amounts above 2**53, and non-ASCII keys and text."""
    out = {}
    with AuditLog(tmp / "synthetic.db") as log:
        run = "big-amounts"
        log.append(run, "intent", {"text": "swap 1e30 WEI to BIG", "chain": "evm:31337", "wallet": "0xabc", "model": None,
                                   "policy": {"max_trade_usd": "10000"},
                                   "task_graph": {"intent": "x", "tasks": [
                                       {"id": "risk_1", "kind": "check_risk", "depends_on": [], "swap_task": "swap_1"},
                                       {"id": "swap_1", "kind": "swap", "depends_on": ["risk_1"], "token_in": "WEI",
                                        "token_out": "BIG", "amount_in": "1", "risk_task": "risk_1"}]}})
        log.append(run, "check_risk", {"task": "risk_1", "status": "approved", "reason": "all rules passed",
                                       "input": {"amount_in": BIG[2], "quote_out": BIG[1], "slippage_bps": 50,
                                                 "token_in": {"symbol": "WEI", "decimals": 18},
                                                 "token_out": {"symbol": "BIG", "decimals": 18}},
                                       "decision": {"approved": True, "min_out": BIG[0], "trade_usd": "1", "rules": [
                                           {"rule": "quote_meets_min_out", "passed": True, "detail": "big"}]}})
        log.append(run, "swap", {"task": "swap_1", "status": "confirmed", "reason": "received",
                                 "outcome": {"amount_in": BIG[2], "min_out": BIG[0], "quoted_out": BIG[1],
                                             "received": BIG[4], "nested": [[BIG[3]], {"x": [BIG[4], -1, 0]}]}})
        log.append(run, "run_result", {"status": "done", "tx_hashes": [], "reasons": []})
        out["big"] = export_bundle(log, run, log.checkpoint(run, signer),
                                   anchor={"chain": "evm:31337", "tx_id": "0x" + "11" * 32, "block": 7, "sender": "0xabc"})
        run = "non-ascii"
        weird = "Zürich 日本語 🦄 עברית e\u0301 \u2028 \x00\x1f\x7f \"quoted\" \\back\\ </script><img src=x onerror=alert(1)>"
        log.append(run, "intent", {"text": weird, "chain": "evm:31337", "wallet": "0xabc", "model": None, "policy": {}})
        log.append(run, "operator_input", {"task": "risk_1", "answer": {"approve": True, "operator": "Jürgen 🦄"},
                                           # code point order ≠ UTF-16 order: U+FF5A < U+1D518, but 0xFF5A > 0xD835
                                           "\uff5a": 1, "\U0001d518": 2, "é": 3, "e": 4, "日本": 5, "": 6, "\ud7ff": 7,
                                           "\ue000": 8, "\U0010ffff": 9, "A": {"\U0001f984": "🦄", "\uffff": "x"}})
        log.append(run, "thought", {"id": "t1", "source": "model", "kept": False, "why": "dropped: " + weird,
                                    "reasoning": "Ich überlege… <b>bold?</b> 🤔 " + weird, "raw": "{}", "slots": None})
        log.append(run, "run_result", {"status": "done", "tx_hashes": [], "reasons": []})
        out["non-ascii"] = export_bundle(log, run, log.checkpoint(run, signer),
                                         anchor={"chain": "evm:31337", "tx_id": "0x" + "22" * 32, "block": 8, "sender": "0xabc"})
    return out


@pytest.fixture(scope="module")
def evm_run(devnet, tmp_path_factory):
    """A real run on the session devnet (price reads, a condition, a risk check, approve + swap, anchored)."""
    w3 = connect(devnet.manifest.rpc_url)
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    now = int(time.time())
    if w3.eth.get_block("latest")["timestamp"] < now:
        w3.provider.make_request("evm_setNextBlockTimestamp", [now])
    home = tmp_path_factory.mktemp("evm-home")
    wallet = Wallet.devnet(1)
    swarm = Swarm(w3=w3, manifest=devnet.manifest, wallet=wallet, home=home)
    try:
        result = swarm.execute(swap_graph("USDC", "ETH", "1000", condition=(">", "0.5")))
        assert result.status == "done", result.summary()
        bundle = run_bundle(swarm.auditor.log, result.run_id)
        assert bundle is not None
        earlier = swarm.auditor.log.checkpoint(result.run_id, swarm.auditor.signer, size=3)
        yield type("EvmRun", (), dict(bundle=bundle, vkey=swarm.auditor.signer.vkey, signer=swarm.auditor.signer,
                                      sender=wallet.address, home=home, run_id=result.run_id, log=swarm.auditor.log,
                                      earlier=earlier, manifest_path=devnet.manifest_path))
    finally:
        swarm.close()
        w3.provider.make_request("evm_revert", [snap])


@pytest.fixture(scope="module")
def solana_run(solana_devnet, tmp_path_factory):
    """A real run on the session's local Solana devnet (LiteSVM behind JSON-RPC, Jupiter and Pyth stand-ins),
    anchored with a memo."""
    swarm = Swarm.from_config(solana_devnet.paths.config, home=tmp_path_factory.mktemp("solana-home"))
    try:
        result = swarm.run("swap 1 SOL to USDC, max 1% slippage")
        assert result.status == "done", result.summary()
        bundle = run_bundle(swarm.auditor.log, result.run_id)
        yield bundle, swarm.auditor.signer.vkey, result.anchor["sender"]
    finally:
        swarm.close()


def index_of(bundle: dict, kind: str, nth: int = 0) -> int:
    return [i for i, e in enumerate(bundle["entries"]) if e["kind"] == kind][nth]


@pytest.fixture(scope="module")
def corpus(evm_run, solana_run, tmp_path_factory) -> dict[str, dict]:
    """name -> {text: the bundle file's text, vkey/sender: the page's pins, flags: URL flags}."""
    tmp = tmp_path_factory.mktemp("corpus")
    good, vkey, sender = evm_run.bundle, evm_run.vkey, evm_run.sender
    risk, tx = index_of(good, "check_risk"), index_of(good, "tx")
    cases: dict[str, dict] = {}

    def case(name: str, bundle: dict | str, pinned: bool = True, flags: str = "", **extra) -> None:
        cases[name] = {"text": bundle if isinstance(bundle, str) else dumps(bundle), "vkey": vkey if pinned else None,
                       "sender": sender if pinned else None, "flags": flags, **extra}

    def edited(fn) -> dict:
        b = copy.deepcopy(good)
        fn(b)
        return b

    case("good", good)
    case("good-unpinned", good, pinned=False)
    cases["good-other-sender"] = {**cases["good"], "sender": Wallet.devnet(2).address}  # not who anchored it
    case("edited-payload", edited(lambda b: b["entries"][risk]["payload"]["decision"].update(min_out=1)), bad=risk)
    case("deleted-entry", edited(lambda b: b["entries"].pop(tx)), bad=tx)
    case("reordered", edited(lambda b: b["entries"].insert(tx, b["entries"].pop(tx + 1))), bad=tx)

    def lower_min_out(e: dict) -> dict:
        p = copy.deepcopy(e["payload"])
        if e["kind"] == "check_risk":
            p["decision"]["min_out"] = 1
        return p
    forged = forged_log(good, lower_min_out, tmp)
    case("wrong-key", forged)
    case("wrong-key-unpinned", forged, pinned=False)
    case("wrong-origin", resign(good, evm_run.signer, origin=origin_for_run("another-run")))
    case("anchor-other-checkpoint", {**good, "anchor": {**good["anchor"], "checkpoint_hash": checkpoint_hash(evm_run.earlier).hex()}})
    case("leaf-list-altered", edited(lambda b: b["leaf_hashes"].__setitem__(2, "ab" * 32)), bad=2)
    case("leaf-list-rewritten", edited(lambda b: (b["leaf_hashes"].__setitem__(2, "ab" * 32),
                                                  b["entries"][2]["payload"].update(status="forged"))))
    case("float-in-payload", dumps(good).replace('"max_slippage_bps": 50', '"max_slippage_bps": 50.0', 1),
         bad=index_of(good, "intent"))
    case("lone-surrogate", dumps(good).replace('"status": "done"', '"status": "done\\ud800"', 1),
         bad=index_of(good, "run_result"))
    # issue 23: rows the store's credentials can add after the signed checkpoint (the bundle's tail), and a bundle
    # of an older checkpoint than the newest one the key signed (rolled back)
    after = len(good["entries"]) + len(good["tail"])

    def with_tail(kind: str, payload: dict) -> dict:
        b = copy.deepcopy(good)
        b["tail"].append({"run_id": good["run_id"], "index": after, "kind": kind, "salt": "ab" * 32,
                          "created_at": good["tail"][-1]["created_at"], "payload": payload})
        return b
    case("tail-forged-result", with_tail("run_result", {"status": "failed", "tx_hashes": [], "reasons": ["forged"]}),
         bad=after)
    case("tail-replayed-anchor", with_tail("anchor", {**good["anchor"],
                                                      "checkpoint_hash": checkpoint_hash(evm_run.earlier).hex()}), bad=after)
    case("rolled-back", export_bundle(evm_run.log, evm_run.run_id, evm_run.earlier), bad=len(good["entries"]))
    case("fallback-good", good, flags="#ed25519=js")
    case("bad-signature", corrupt_signature(good))
    case("fallback-bad-signature", corrupt_signature(good), flags="#ed25519=js")
    case("fallback-wrong-key", forged, flags="#ed25519=js")
    case("fallback-edited", edited(lambda b: b["entries"][risk]["payload"]["decision"].update(min_out=1)),
         flags="#ed25519=js", bad=risk)
    case("no-webcrypto", good, flags="#webcrypto=off")

    synthetic_signer = Signer(SigningKey.generate())
    synth = synthetic_log(tmp, synthetic_signer)
    big_text = dumps(synth["big"])
    cases["big-amounts"] = {"text": big_text, "vkey": synthetic_signer.vkey, "sender": "0xabc", "flags": ""}
    # one more than 2**64 + 1 is the same IEEE double: a page that parsed with JSON.parse could not tell them apart
    assert float(2**64 + 1) == float(2**64 + 2)
    cases["big-amounts-off-by-one"] = {"text": big_text.replace(str(2**64 + 1), str(2**64 + 2), 1),
                                       "vkey": synthetic_signer.vkey, "sender": "0xabc", "flags": "", "bad": 1}
    cases["non-ascii"] = {"text": dumps(synth["non-ascii"]), "vkey": synthetic_signer.vkey, "sender": "0xabc", "flags": ""}
    cases["non-ascii-escaped"] = {"text": json.dumps(synth["non-ascii"]), "vkey": synthetic_signer.vkey, "sender": "0xabc",
                                  "flags": ""}  # the same bundle written with \\uXXXX escapes
    sol_bundle, sol_vkey, sol_sender = solana_run
    cases["solana"] = {"text": dumps(sol_bundle), "vkey": sol_vkey, "sender": sol_sender, "flags": ""}
    return cases


@pytest.fixture(scope="module")
def rendered(corpus, evm_run, tmp_path_factory) -> dict[str, dict]:
    """Every corpus page rendered in one browser, plus the pasted-key flow and the page `serve` hands out."""
    out = tmp_path_factory.mktemp("pages")
    jobs = []
    for name, c in corpus.items():
        page = out / f"{name}.html"
        page.write_text(render_page(c["text"], vkey=c["vkey"], anchor_sender=c["sender"], source=name), encoding="utf-8")
        # the viewport (a full-page shot of a long page costs seconds); the whole page for the good run only
        jobs.append({"name": name, "url": page.as_uri() + c["flags"], "screenshot": str(out / f"{name}.png"),
                     "fullPage": name == "good"})
    jobs.append({"name": "pasted", "url": (out / "good-unpinned.html").as_uri(), "screenshot": str(out / "pasted.png"),
                 "fullPage": False, "paste": {"vkey": evm_run.vkey, "sender": evm_run.sender}})
    jobs.append({"name": "pasted-wrong", "url": (out / "good.html").as_uri(),
                 "paste": {"vkey": Signer(SigningKey.generate()).vkey, "sender": ""}})
    jobs.append({"name": "click-risk", "url": (out / "good.html").as_uri(), "click": "risk_1"})
    server = AuditPageServer(0, lambda: render_index([], "none"),
                             lambda run_id: render_page(dumps(evm_run.bundle), vkey=evm_run.vkey) if run_id == evm_run.run_id else None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        jobs.append({"name": "served", "url": f"{server.url}run/{evm_run.run_id}.html"})
        results = render(jobs, out)
    finally:
        server.shutdown()
        server.server_close()
    return {job["name"]: r for job, r in zip(jobs, results, strict=True)}


# ---- the page agrees with Python on every bundle ------------------------------------------------------------------------

def python_report(c: dict):
    return verify_bundle(json.loads(c["text"]), trusted_vkey=c["vkey"])


CORPUS_EXPECT = {  # what Python says (checked too): verdict, first bad entry
    "good": ("PASS", None), "good-unpinned": ("SELF-SIGNED", None), "good-other-sender": ("PASS", None), "edited-payload": ("FAIL", "bad"),
    "deleted-entry": ("FAIL", "bad"), "reordered": ("FAIL", "bad"), "wrong-key": ("FAIL", None),
    "wrong-key-unpinned": ("SELF-SIGNED", None), "wrong-origin": ("FAIL", None), "anchor-other-checkpoint": ("FAIL", None),
    "leaf-list-altered": ("FAIL", "bad"), "leaf-list-rewritten": ("FAIL", None), "float-in-payload": ("FAIL", "bad"),
    "lone-surrogate": ("FAIL", "bad"), "fallback-good": ("PASS", None), "fallback-wrong-key": ("FAIL", None),
    "bad-signature": ("FAIL", None), "fallback-bad-signature": ("FAIL", None),
    "fallback-edited": ("FAIL", "bad"), "no-webcrypto": ("PASS", None), "big-amounts": ("PASS", None),
    "big-amounts-off-by-one": ("FAIL", "bad"), "non-ascii": ("PASS", None), "non-ascii-escaped": ("PASS", None),
    "solana": ("PASS", None), "tail-forged-result": ("FAIL", "bad"), "tail-replayed-anchor": ("FAIL", "bad"),
    "rolled-back": ("FAIL", "bad"),
}


@pytest.mark.parametrize("name", list(CORPUS_EXPECT))
def test_page_verdict_agrees_with_python(name, corpus, rendered):
    c, page = corpus[name], rendered[name]
    report = python_report(c)
    verdict, bad = CORPUS_EXPECT[name]
    assert report.verdict == verdict, (name, report.reason)
    assert report.first_bad_index == (c["bad"] if bad == "bad" else None), (name, report.reason)
    assert not page["errors"] and not page["dialogs"] and not page["requests"], page
    # the same verdict, the same first bad entry, the same checks passing and failing, in the same order
    assert page["state"] == PAGE_STATE[report.verdict], (name, page["headline"], page["detail"], report.reason)
    assert page["first_bad"] == report.first_bad_index, (name, page["detail"])
    assert [(ch["name"], ch["ok"] == "ok") for ch in page["checks"] if ch["name"] != "anchor"] == \
        [(ch.name, ch.ok) for ch in report.checks if ch.name != "anchor"], (name, page["checks"], report.checks)
    if any(ch.name == "anchor" for ch in report.checks):  # Python: present, not looked up; the page: not checked offline
        assert [ch["ok"] for ch in page["checks"] if ch["name"] == "anchor"] == ["unchecked"]
    # red entries: the first bad one is named and red; nothing is red on a log that verifies
    if report.first_bad_index is None:
        assert page["red_entries"] == []
    else:
        assert report.first_bad_index in page["red_entries"]
        assert min(page["red_entries"]) == report.first_bad_index
        assert f"First bad entry: #{report.first_bad_index}" in page["detail"]
    # never a full pass: a log that verifies still says the anchor is not checked
    assert "PASS" not in page["headline"]
    if page["state"] == "log-verified":
        assert "anchor not checked" in page["headline"] and page["anchor"].count("not checked offline") == 3
    # every page was rendered and photographed
    shot = Path(page["screenshot"])
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_tampered_entries_are_red_with_their_reason(corpus, rendered):
    good = json.loads(corpus["good"]["text"])
    risk, tx = index_of(good, "check_risk"), index_of(good, "tx")
    edited = rendered["edited-payload"]
    assert edited["red_entries"] == [risk] and edited["red_reasons"] == ["✗ inclusion proof fails"]
    assert edited["node_states"]["risk_1"] == "tampered"  # its task is marked in the graph too
    deleted = rendered["deleted-entry"]  # everything after the gap sits at the wrong position
    assert deleted["red_entries"] == list(range(tx, len(good["entries"]) - 1))
    assert deleted["red_reasons"][0] == f"✗ index {tx + 1} at position {tx}"
    reordered = rendered["reordered"]
    assert reordered["red_entries"] == [tx, tx + 1]
    assert rendered["leaf-list-altered"]["red_reasons"] == ["✗ stated leaf hash altered"]
    assert "float at" in rendered["float-in-payload"]["red_reasons"][0]
    assert "lone surrogate" in rendered["lone-surrogate"]["red_reasons"][0]
    assert rendered["big-amounts-off-by-one"]["red_entries"] == [1]
    rewritten = rendered["leaf-list-rewritten"]  # nothing below the signed root authenticated: no index to name
    assert rewritten["first_bad"] is None and "cannot localise" in json.dumps(rewritten["checks"])


def test_the_outcome_is_the_signed_one_and_the_tail_is_unverified(corpus, rendered):
    """Issue 23: the page states the signed run_result as the outcome; entries after the checkpoint are shown apart,
    unsigned, and a forged one after a finished run's final checkpoint (or a replayed older anchor) is red."""
    good_bundle = json.loads(corpus["good"]["text"])
    n = len(good_bundle["entries"])
    good = rendered["good"]
    assert good["outcome"] == "done" and good["tail_claim"] is None
    assert good["tail_entries"] == [n] and good["tail_unsigned"] == 1  # its own anchor record, unsigned
    forged = rendered["tail-forged-result"]
    assert forged["state"] == "fail" and forged["first_bad"] == n + 1 and forged["red_entries"] == [n + 1]
    assert forged["outcome"] == "done" and "failed" in forged["tail_claim"] and "not the outcome" in forged["tail_claim"]
    assert "after the final checkpoint of a finished run" in forged["red_reasons"][0]
    assert "added after the run was signed as finished" in forged["detail"]
    replayed = rendered["tail-replayed-anchor"]
    assert replayed["state"] == "fail" and replayed["red_entries"] == [n + 1] and "a rollback" in replayed["detail"]
    rolled = rendered["rolled-back"]
    assert rolled["state"] == "fail" and rolled["outcome"] == "no signed run_result entry (not finished when signed)"
    assert [c["ok"] for c in rolled["checks"] if c["name"] == "newest checkpoint"] == ["fail"]


def test_trust_is_explicit(corpus, rendered):
    unpinned = rendered["good-unpinned"]
    assert unpinned["headline"].startswith("SELF-SIGNED, UNPINNED")
    assert "Self-signed, unpinned" in unpinned["trust"] and "Anchor sender unpinned" in unpinned["trust"]
    # a forger's re-signed log is self-signed, not verified, even though every hash in it checks out
    forged = rendered["wrong-key-unpinned"]
    assert forged["state"] == "self-signed" and forged["red_entries"] == []
    pinned = rendered["wrong-key"]
    assert pinned["state"] == "fail" and "not signed by the trusted key" in pinned["detail"]
    good = rendered["good"]
    assert "Checkpoint key pinned" in good["trust"] and "Anchor sender pinned" in good["trust"]
    assert "swarm audit verify --bundle" in good["anchor"] and "sender-mismatch" not in json.dumps(good)
    # the anchor the bundle claims was sent by another account than the one pinned: said in red, the log still checks
    other = rendered["good-other-sender"]
    assert "Anchor sender mismatch" in other["trust"] and "not the pinned operator account" in other["detail"]
    # the reviewer pastes the operator's key and account into the page: it verifies again under them
    pasted = rendered["pasted"]
    assert pasted["state"] == "log-verified" and "pasted in this page" in pasted["trust"], pasted["trust"]
    assert [c["ok"] for c in pasted["checks"] if c["name"] == "signature"] == ["ok"]
    wrong = rendered["pasted-wrong"]  # another key pasted over the page's pin: the signature fails
    assert wrong["state"] == "fail" and [c["ok"] for c in wrong["checks"] if c["name"] == "signature"] == ["fail"]
    assert not pasted["errors"] and not wrong["errors"]


def test_ed25519_fallback_is_used_when_forced(rendered):
    assert rendered["good"]["ed25519"] == "WebCrypto Ed25519"
    for name in ("fallback-good", "fallback-bad-signature", "fallback-edited"):
        assert rendered[name]["ed25519"].startswith("built-in JavaScript Ed25519"), name
    for name in ("bad-signature", "fallback-bad-signature"):  # both implementations reject the flipped bit
        assert "signature by defai-swarm/audit does not verify" in rendered[name]["detail"], rendered[name]["detail"]
    assert rendered["fallback-wrong-key"]["ed25519"] == "not reached"  # a note by another key is never checked
    assert rendered["no-webcrypto"]["ed25519"].endswith("and SHA-2")  # SHA-256 and SHA-512 in JavaScript too


def test_run_facts_graph_and_amounts(corpus, rendered):
    good_bundle = json.loads(corpus["good"]["text"])
    page = rendered["good"]
    tasks = good_bundle["entries"][0]["payload"]["task_graph"]["tasks"]
    assert page["svg_nodes"] == len(tasks) == 4 and page["svg_edges"] == 3
    assert set(page["node_states"].values()) == {"ok"}
    assert page["entries"] == len(good_bundle["entries"])
    body = page["body"]
    assert "swap 1000 USDC to ETH" in body and "evm:31337" in body and Wallet.devnet(1).address in body
    assert "none (planned by the deterministic parser only)" in body and "max_trade_usd" in body
    decision = good_bundle["entries"][index_of(good_bundle, "check_risk")]["payload"]["decision"]
    assert decision["min_out"] > 2**53 and f"{units(decision['min_out'], 18)} ETH" in page["amounts"]  # exact
    assert "holds" in body and "USDC/USD > 0.5" in body  # the condition and its value
    rules = {r["rule"]: r["cells"] for r in page["rules"]}
    assert rules["max_trade_usd"][2:4] == ["$1,000.00", "≤ $10,000.00"]
    assert rules["max_slippage"][2:4] == ["50 bps", "≤ 100 bps"]
    assert rules["price_sources_agree:ETH"][3] == "≤ 200 bps, ≥ 2 families"
    assert "oracle:chainlink" in body and "dex:uniswap-v2" in body and "spread" in body
    assert "approve (token allowance for the swap) for swap_1" in body and "swap for swap_1" in body
    click = rendered["click-risk"]  # a graph node shows its task's entries
    risk_entries = [i for i, e in enumerate(good_bundle["entries"]) if e["payload"].get("task") == "risk_1"]
    assert click["visible_entries"] == risk_entries
    served = rendered["served"]  # `swarm audit serve` hands out the same page, over 127.0.0.1
    assert served["state"] == "log-verified" and served["svg_nodes"] == 4 and not served["errors"]


def units(base: int, decimals: int) -> str:
    """Base units as token units, written out exactly (what the page shows)."""
    text = format(Decimal(base).scaleb(-decimals), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def test_big_amounts_and_non_ascii_are_exact(rendered):
    big = rendered["big-amounts"]
    expected = [f"{units(BIG[1], 18)} BIG", f"{units(BIG[0], 18)} BIG", f"{units(BIG[2], 18)} WEI",
                f"{units(BIG[4], 18)} BIG"]
    assert expected == ["18.446744073709551617 BIG", "0.009007199254740993 BIG", "1000000000000.000000000000000007 WEI",
                        "123456789012345678901.234567890123456789 BIG"]
    for value in expected:
        assert value in big["amounts"], big["amounts"]
    text = rendered["non-ascii"]
    assert "Zürich 日本語 🦄 עברית" in text["body"] and "Jürgen 🦄" in text["body"]
    assert "</script><img src=x onerror=alert(1)>" in text["body"]  # shown as text, never as markup
    assert text["injected"] == 0 and not text["dialogs"] and text["title"] == "Audit of run non-ascii"
    assert text["thinking"] >= 1  # the model's thinking is there, collapsed


def test_solana_run_page(rendered):
    page = rendered["solana"]
    assert page["state"] == "log-verified" and page["svg_nodes"] == 4
    assert "solana:localnet" in page["body"] and "oracle:pyth" in page["body"] and "dex:jupiter" in page["body"]
    assert any(a.endswith(" USDC") for a in page["amounts"]) and "1 SOL" in page["amounts"]


def test_canonical_json_matches_python_byte_for_byte(tmp_path):
    """The page's parser and canonical JSON against canonical.py on awkward values (run in the browser)."""
    samples = ['{"b":1,"a":[true,false,null],"\\uff5a":2,"\\ud835\\udd18":3,"é":4,"e\\u0301":5}',
               '{"n":[18446744073709551617,-0,0,-9223372036854775809,' + "9" * 400 + ']}',
               '{"s":"\\u0000\\u001f\\u007f\\b\\f\\n\\r\\t\\"\\\\\\/\\u2028\\u2029 ☃ 🦄"}',
               '{"dup":1,"dup":2,"x":{"z":{},"y":[]}}', '["\\ud83e\\udd84",{"":""}]', '{}']
    (tmp_path / "p.html").write_text(render_page("{}"), encoding="utf-8")
    expr = ("(() => { const out = []; for (const s of %s) { const c = window.AuditViewer.canonical(window.AuditViewer.parseJSON(s));"
            " out.push(Array.from(new TextEncoder().encode(c))); } return out; })()" % json.dumps(samples))
    [result] = render([{"url": (tmp_path / "p.html").as_uri(), "eval": expr}], tmp_path)
    assert result["eval"] == [list(canonical_dumps(json.loads(s))) for s in samples]


def test_fallback_ed25519_against_python_signatures(tmp_path):
    """ed25519.js alone (in Node): signatures made by Python's cryptography verify, altered ones do not."""
    cases = []
    for i in range(12):
        key = SigningKey.generate()
        msg = os.urandom(i * 17)
        sig = key.sign(msg)
        cases.append([key.public_key.hex(), msg.hex(), sig.hex(), True])
        cases.append([key.public_key.hex(), msg.hex(), bytes([sig[0] ^ 1]).hex() + sig[1:].hex(), False])
        cases.append([key.public_key.hex(), (msg + b"x").hex(), sig.hex(), False])
    cases.append([SigningKey.generate().public_key.hex(), "", sig.hex(), False])  # another key
    script = tmp_path / "t.js"
    script.write_text(f"require({json.dumps(str(ED25519_JS))});\n"
                      "const h = (x) => Uint8Array.from(Buffer.from(x, 'hex'));\n"
                      f"Promise.all({json.dumps(cases)}.map(([p, m, s]) => AuditEd25519.verify(h(p), h(m), h(s))))"
                      ".then((r) => process.stdout.write(JSON.stringify(r)));\n")
    proc = subprocess.run([node(), str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [c[3] for c in cases]


# ---- the commands --------------------------------------------------------------------------------------------------------

def cli(*argv: str) -> tuple[int, str]:
    console = Console(record=True, width=200, force_terminal=False)
    code = audit_command(build_parser().parse_args(["audit", *argv]), console)
    return code, console.export_text()


def test_cli_html_from_the_log_and_from_a_bundle(evm_run, tmp_path, monkeypatch):
    monkeypatch.setenv("SWARM_HOME", str(evm_run.home))
    code, out = cli("html", evm_run.run_id, "-o", str(tmp_path / "run.html"), "--vkey", evm_run.vkey,
                    "--anchor-sender", evm_run.sender)
    assert code == 0 and "the log verifies against --vkey" in out, out
    page = (tmp_path / "run.html").read_text()
    assert "<script src" not in page and "<link" not in page  # one file: nothing loaded from anywhere
    assert set(re.findall(r"https?://[^\s'\"<>)]+", page)) <= {"http://www.w3.org/2000/svg"}  # a namespace, not a URL
    assert "connect-src 'none'" in page and "script-src 'sha256-" in page
    code, out = cli("export", evm_run.run_id, "-o", str(tmp_path / "run.json"))
    assert code == 0, out
    code, out = cli("html", "--bundle", str(tmp_path / "run.json"), "-o", str(tmp_path / "b.html"))
    assert code == 0 and "self-signed, unpinned" in out and "anchor sender unpinned" in out, out
    bundle = json.loads((tmp_path / "run.json").read_text())
    bundle["entries"][3]["payload"]["status"] = "forged"
    (tmp_path / "bad.json").write_text(json.dumps(bundle))
    code, out = cli("html", "--bundle", str(tmp_path / "bad.json"), "--vkey", evm_run.vkey, "-o", str(tmp_path / "c.html"))
    assert code == 0 and "FAIL" in out and "first bad entry: 3" in out, out
    # and `swarm audit verify` says the same of those bundles, anchor looked up on the devnet
    code, out = cli("verify", "--bundle", str(tmp_path / "run.json"), "--vkey", evm_run.vkey, "--anchor-sender",
                    evm_run.sender, "--config", str(evm_run.manifest_path))
    assert code == 0 and "PASS" in out, out
    code, out = cli("verify", "--bundle", str(tmp_path / "bad.json"), "--vkey", evm_run.vkey, "--anchor-sender",
                    evm_run.sender, "--config", str(evm_run.manifest_path))
    assert code == 8 and "first bad entry: 3" in out, out  # ExitCode.VERIFY_FAILED
    [b, c] = render([{"url": (tmp_path / "b.html").as_uri()}, {"url": (tmp_path / "c.html").as_uri()}], tmp_path)
    assert b["state"] == "self-signed" and c["state"] == "fail" and c["first_bad"] == 3
    code, out = cli("html", "--bundle", str(tmp_path / "run.json"), "--vkey", "not-a-key")
    assert code == 1 and "--vkey is not a usable key" in out


def test_serve_answers_on_loopback_only(evm_run):
    pages = {evm_run.run_id: render_page(dumps(evm_run.bundle))}
    server = AuditPageServer(0, lambda: render_index(index_rows(evm_run.log, Verifier.from_vkey(evm_run.vkey)), "--vkey"),
                             pages.get)
    assert server.server_address[0] == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        def get(path: str, host: str | None = None) -> tuple[int, str]:
            req = urllib.request.Request(server.url.rstrip("/") + path, headers={"Host": host} if host else {})
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    return resp.status, resp.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode()
        code, index = get("/")
        assert code == 200 and f'href="/run/{evm_run.run_id}.html"' in index
        code, page = get(f"/run/{evm_run.run_id}.html")
        assert code == 200 and page == pages[evm_run.run_id]
        assert get("/run/nope.html")[0] == 404
        assert get("/", host="attacker.example:80")[0] == 403  # DNS rebinding: another Host is refused
    finally:
        server.shutdown()
        server.server_close()


# ---- differential: many small edits, the page's verification against verify_bundle ---------------------------------------

def mutations(good: dict, signer: Signer, vkey: str) -> list[tuple[str, str, str | None]]:
    """(label, bundle text, pinned vkey): edits an attacker or a broken exporter could make, each to one field."""
    rng = random.Random(17)
    n = len(good["entries"])
    out: list[tuple[str, str, str | None]] = []

    def add(label: str, fn, pinned: str | None = vkey) -> None:
        """`fn` edits a copy of the bundle in place."""
        b = copy.deepcopy(good)
        fn(b)
        out.append((label, dumps(b), pinned))

    def note(b: dict, text: str) -> None:
        """A new checkpoint note, with the stated hash and the anchor's claim following it."""
        h = checkpoint_hash(text).hex()
        b.update(checkpoint=text, checkpoint_hash=h, anchor={**b["anchor"], "checkpoint_hash": h})

    def text(label: str, fn) -> None:
        """`fn` returns the edited bundle text."""
        out.append((label, fn(copy.deepcopy(good)), vkey))

    def signed(size: int | None = None, origin: str | None = None, ext: tuple[str, ...] = (), root: bytes | None = None):
        cp = Checkpoint.from_text(parse_note(good["checkpoint"])[0])
        cp = cp.model_copy(update={k: v for k, v in (("size", size), ("origin", origin), ("root", root)) if v is not None}
                           | {"extensions": ext})
        return sign_checkpoint(cp, signer)

    for i in rng.sample(range(n), 4):
        add(f"payload {i} edited", lambda b, i=i: b["entries"][i]["payload"].update(zz=rng.choice(["x", 1, None, [1]])))
    for bad_index in (True, "1", 99, -1, None):
        add(f"index {bad_index!r}", lambda b, v=bad_index: b["entries"][2].update(index=v))
    add("salt upper", lambda b: b["entries"][1].update(salt=b["entries"][1]["salt"].upper()))
    add("salt short", lambda b: b["entries"][1].update(salt="ab"))
    add("run id", lambda b: b["entries"][3].update(run_id="other"))
    add("kind int", lambda b: b["entries"][3].update(kind=7))
    add("payload list", lambda b: b["entries"][3].update(payload=[]))
    add("extra key", lambda b: b["entries"][0].update(x=1))
    add("missing key", lambda b: b["entries"][0].pop("created_at"))
    add("entry null", lambda b: b["entries"].__setitem__(4, None))
    add("entry duplicated", lambda b: b["entries"].insert(2, copy.deepcopy(b["entries"][2])))
    add("entry appended", lambda b: b["entries"].append(copy.deepcopy(b["entries"][-1])))
    add("last entry dropped", lambda b: b["entries"].pop())
    add("first two swapped", lambda b: b["entries"].insert(0, b["entries"].pop(1)))
    add("leaf list short", lambda b: b["leaf_hashes"].pop())
    add("leaf list upper", lambda b: b["leaf_hashes"].__setitem__(0, b["leaf_hashes"][0].upper()))
    add("leaf list null", lambda b: b.update(leaf_hashes=None))
    add("leaf list gone", lambda b: b.pop("leaf_hashes"))
    add("leaf list text", lambda b: b.update(leaf_hashes="x"))
    add("leaf list long", lambda b: b["leaf_hashes"].append("00" * 32))
    add("checkpoint hash gone", lambda b: b.pop("checkpoint_hash"))
    add("checkpoint hash wrong", lambda b: b.update(checkpoint_hash="00" * 32))
    add("checkpoint hash null", lambda b: b.update(checkpoint_hash=None))
    add("anchor null", lambda b: b.update(anchor=None))
    add("anchor text", lambda b: b.update(anchor="x"))
    add("anchor hash upper", lambda b: b["anchor"].update(checkpoint_hash=b["anchor"]["checkpoint_hash"].upper()))
    add("format", lambda b: b.update(format="defai-swarm/audit-bundle/v2"))
    add("run id missing", lambda b: b.pop("run_id"))
    add("entries dict", lambda b: b.update(entries={}))
    text("not an object", lambda b: "[1, 2]")
    add("bundle vkey garbage", lambda b: b.update(vkey="nope"), pinned=None)
    add("bundle vkey missing", lambda b: b.pop("vkey"), pinned=None)
    add("bundle vkey another key", lambda b: b.update(vkey=Signer(SigningKey.generate()).vkey), pinned=None)
    add("trusted vkey garbage", lambda b: None, pinned="defai-swarm/audit+00000000+AAAA")
    add("origin line edited", lambda b: b.update(checkpoint=b["checkpoint"].replace("defai-swarm/run/", "defai-swarm/run/x", 1)))
    add("note without final newline", lambda b: b.update(checkpoint=b["checkpoint"][:-1]))
    add("note control char", lambda b: b.update(checkpoint=b["checkpoint"].replace("\n", "\t\n", 1)))
    add("unknown signer line added", lambda b: note(
        b, b["checkpoint"] + Signer(SigningKey.generate(), "someone-else").signature_line("x")))
    add("signature line doubled", lambda b: note(b, b["checkpoint"] + b["checkpoint"].rstrip("\n").rpartition("\n")[2] + "\n"))
    add("size with a leading zero", lambda b: b.update(checkpoint=sign_note_text(good, signer, lambda t: t.replace(
        f"\n{n}\n", f"\n0{n}\n", 1))))
    add("re-signed smaller", lambda b: note(b, signed(size=n - 1)))
    add("re-signed with an extension line", lambda b: note(b, signed(ext=("note: extra",))))
    add("re-signed other root", lambda b: note(b, signed(root=bytes(32))))
    add("empty log", lambda b: (b.update(entries=[], leaf_hashes=[]), note(b, signed(size=0, root=hashlib.sha256(b"").digest()))))
    text("float nested", lambda b: dumps(b).replace('"block_number": ', '"block_number": 1e0, "was": ', 1))
    text("duplicate key, last wins", lambda b: dumps(b).replace('"status": "ok"', '"status": "forged", "status": "ok"', 1))
    text("duplicate key, forged last", lambda b: dumps(b).replace('"status": "ok"', '"status": "ok", "status": "forged"', 1))
    text("escaped slash", lambda b: dumps(b).replace('"task": "price_eth"', '"task": "price\\/eth"', 1))
    text("surrogate pair escaped", lambda b: dumps(b).replace('"reason": ""', '"reason": "\\ud83e\\udd84"', 1))

    def tail_entry(b: dict, kind: str, payload, **over) -> dict:
        entry = {"run_id": b["run_id"], "index": n + len(b["tail"]), "kind": kind, "salt": "cd" * 32,
                 "created_at": b["tail"][-1]["created_at"], "payload": payload}
        return {**entry, **over}
    add("tail: forged run_result", lambda b: b["tail"].append(tail_entry(b, "run_result", {"status": "failed"})))
    add("tail: forged run_result, unpinned", lambda b: b["tail"].append(tail_entry(b, "run_result", {})), pinned=None)
    add("tail: replayed older anchor", lambda b: b["tail"].append(tail_entry(b, "anchor", {**b["anchor"],
                                                                                          "checkpoint_hash": "00" * 32})))
    add("tail: its own anchor twice", lambda b: b["tail"].append(tail_entry(b, "anchor", b["anchor"])))
    add("tail: an anchor attempt's error", lambda b: b["tail"].append(tail_entry(b, "error", {
        "step": "anchor", "checkpoint_hash": b["checkpoint_hash"], "reason": "node down"})))
    add("tail: null entry", lambda b: b["tail"].append(None))
    add("tail: extra key", lambda b: b["tail"].append(tail_entry(b, "thought", {}, x=1)))
    add("tail: kind int", lambda b: b["tail"].append(tail_entry(b, 7, {})))
    add("tail: index skipped", lambda b: b["tail"].append(tail_entry(b, "anchor", b["anchor"], index=n + 5)))
    add("tail: index text", lambda b: b["tail"].append(tail_entry(b, "anchor", b["anchor"], index=str(n + 1))))
    add("tail: other run", lambda b: b["tail"].append(tail_entry(b, "anchor", b["anchor"], run_id="other")))
    add("tail: not a list", lambda b: b.update(tail={}))
    add("tail: empty", lambda b: b.update(tail=[]))
    add("tail: gone", lambda b: b.pop("tail"))
    add("checkpoints: a newer one by the key", lambda b: b["checkpoints"].append(signed(size=n + 5)))
    add("checkpoints: a newer one by another key", lambda b: b["checkpoints"].append(sign_checkpoint(
        Checkpoint.from_text(parse_note(good["checkpoint"])[0]).model_copy(update={"size": n + 5}),
        Signer(SigningKey.generate()))))
    add("checkpoints: a newer one for another run", lambda b: b["checkpoints"].append(signed(size=n + 5,
                                                                                          origin=origin_for_run("x"))))
    add("checkpoints: an older one", lambda b: b["checkpoints"].append(signed(size=n - 2)))
    add("checkpoints: garbage", lambda b: b["checkpoints"].extend([1, None, "x", {"a": 1}]))
    add("checkpoints: not a list", lambda b: b.update(checkpoints="x"))
    add("checkpoints: gone", lambda b: b.pop("checkpoints"))
    return out


def sign_note_text(good: dict, signer: Signer, edit) -> str:
    """The checkpoint text edited as text, then signed (a body the parser must refuse after the signature)."""
    from defai_swarm.audit.checkpoint import sign_note
    return sign_note(edit(parse_note(good["checkpoint"])[0]), signer)


def test_page_verification_matches_python_on_many_edits(evm_run, tmp_path):
    cases = mutations(evm_run.bundle, evm_run.signer, evm_run.vkey)
    (tmp_path / "p.html").write_text(render_page("{}"), encoding="utf-8")
    expr = ("(async () => { const out = []; for (const [t, k] of %s) { try {"
            " const r = await window.AuditViewer.verifyBundle(window.AuditViewer.parseJSON(t), k);"
            " out.push({verdict: r.verdict, firstBad: r.firstBad, checks: r.checks.map((c) => [c.name, c.ok])});"
            " } catch (e) { out.push({error: String(e && e.stack || e)}); } } return out; })()"
            % json.dumps([[text, pinned] for _, text, pinned in cases]))
    [result] = render([{"url": (tmp_path / "p.html").as_uri(), "eval": expr}], tmp_path)
    verdicts = set()
    for (label, text, pinned), page in zip(cases, result["eval"], strict=True):
        report = verify_bundle(json.loads(text), trusted_vkey=pinned)
        assert "error" not in page, (label, page)
        assert page["verdict"] == report.verdict, (label, report.reason, page)
        assert page["firstBad"] == report.first_bad_index, (label, report.reason, page)
        assert [(c, ok) for c, ok in page["checks"] if ok is not None] == \
            [(c.name, c.ok) for c in report.checks if c.name != "anchor"], (label, report.checks, page["checks"])
        verdicts.add((report.verdict, report.first_bad_index is not None))
    assert verdicts >= {("PASS", False), ("FAIL", True), ("FAIL", False), ("SELF-SIGNED", False)}


def test_cli_serve_runs_on_loopback(evm_run):
    """`swarm audit serve` as typed: the run list and a run's page from the state directory, then stopped."""
    proc, port = serve_cli(evm_run.home, "--vkey", evm_run.vkey)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
            index = resp.read().decode()
        assert evm_run.run_id in index
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/run/{evm_run.run_id}.html", timeout=10) as resp:
            page = resp.read().decode()
        assert resp.headers["Cache-Control"] == "no-store" and evm_run.vkey in page and evm_run.run_id in page
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert f"http://127.0.0.1:{port}/" in (proc.stdout.read() if proc.stdout else "")


# ---- issue 28 #6: the run list `swarm audit serve` hands out, and a wide task graph --------------------------------------

PAYLOAD_INTENT = "swap <img src=x onerror=alert(1)></td></tr><script>alert(2)</script>&amp; \"q\" 'a' 🦄"


def serve_cli(home: Path, *flags: str) -> tuple[subprocess.Popen, int]:
    """`swarm audit serve` as typed, on a free port, once it answers."""
    port = free_port()
    swarm = Path(sys.executable).parent / "swarm"
    proc = subprocess.Popen([str(swarm), "audit", "serve", "--port", str(port), *flags],
                            env={**os.environ, "SWARM_HOME": str(home), "NO_COLOR": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60  # a bound for a server that never opens its port; one that dies fails at once
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                return proc, port
        except urllib.error.HTTPError:
            return proc, port
        except OSError:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.2)
    proc.terminate()
    proc.wait(timeout=10)
    raise AssertionError("swarm audit serve did not answer")


def index_runs(db: Path, signer: Signer) -> dict[str, dict]:
    """Five runs written oldest first, their ids not in time order: run id -> what the run list must show."""
    other = Signer(SigningKey.generate())
    expect: dict[str, dict] = {}
    with AuditLog(db) as log:
        def run(run_id: str, text: str, chain: str, status: str | None, sign: Signer | None, outcome: str,
                sign_before_result: bool = False) -> None:
            first = log.append(run_id, "intent", {"text": text, "chain": chain, "wallet": "0xabc", "model": None,
                                                  "policy": {}})
            log.append(run_id, "plan", {"ok": True, "task_graph": {"intent": text, "tasks": []}})
            if sign_before_result and sign is not None:
                log.checkpoint(run_id, sign)
            if status is not None:
                log.append(run_id, "run_result", {"status": status, "tx_hashes": [], "reasons": []})
            if sign is not None and not sign_before_result:
                log.checkpoint(run_id, sign)
            expect[run_id] = {"intent": text, "chain": chain, "outcome": outcome,
                              "time": first.created_at[:19].replace("T", " ")}
        run("b-done", "swap 1 ETH to USDC", "evm:31337", "done", signer, "done")
        run("c-unsigned", "swap 2 ETH to USDC", "evm:31337", "done", None, "unsigned")
        # signed while running, then a run_result no checkpoint covers: its claim is never the outcome
        run("a-tail-claims-done", "swap 5 USDC to ETH", "evm:31337", "done", signer, "in progress",
            sign_before_result=True)
        run("z-payload", PAYLOAD_INTENT, "solana:localnet", "failed", signer, "failed")
        run("m-other-key", "swap 4 SOL to USDC", "solana:localnet", "done", other, "unsigned")  # not the trusted key
    return expect


def test_serve_index_lists_runs_newest_first_with_their_signed_outcome(tmp_path):
    """Issue 28 #6: the run list showed bare run ids in alphabetical order. It shows each run's intent, its outcome
    from the signed part of its log (run_outcome), its chain and start time, newest first, with a filter box; run
    data is text (an intent carrying markup and script stays text, nothing is requested)."""
    home = tmp_path / "home"
    (home / "audit").mkdir(parents=True)
    signer = Signer(SigningKey.generate())
    expect = index_runs(home / "audit" / "audit.db", signer)
    newest_first = ["m-other-key", "z-payload", "a-tail-claims-done", "c-unsigned", "b-done"]
    proc, port = serve_cli(home, "--vkey", signer.vkey)
    try:
        url = f"http://127.0.0.1:{port}/"
        req = urllib.request.Request(url, headers={"Host": "attacker.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=10)
        assert refused.value.code == 403  # DNS rebinding: still refused
        filters = ["solana", "UNSIGNED", "swap 5 usdc", "z-pay", "failed", "evm unsigned", "no such run", ""]
        [page] = render([{"url": url, "index": True, "viewport": [1280, 800], "filters": filters,
                          "screenshot": str(tmp_path / "index.png")}], tmp_path)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert not page["errors"] and not page["dialogs"] and not page["requests"], page
    assert page["injected"] == 0 and page["scripts"] == 1, page  # the payload is text: no element, no script
    assert [r["run"] for r in page["rows"]] == newest_first == page["visible"]
    for row in page["rows"]:
        want = expect[row["run"]]
        assert row["run_id"] == row["run"] and row["intent"] == want["intent"], row
        assert row["chain"] == want["chain"] and row["time"].startswith(want["time"]), (row, want)
        assert row["outcome_state"] == want["outcome"] and row["outcome"].startswith(want["outcome"]), row
        assert row["href"] == f"{url}run/{row['run']}.html"
    tail = next(r for r in page["rows"] if r["run"] == "a-tail-claims-done")
    assert "unverified tail claims status done" in tail["outcome"]  # said as a claim, beside the signed outcome
    assert signer.vkey in page["trust"] and "--vkey" in page["trust"]
    assert page["filter_box"] == 1
    assert page["filtered"] == [
        ["m-other-key", "z-payload"], ["m-other-key", "c-unsigned"], ["a-tail-claims-done"], ["z-payload"],
        ["z-payload"], ["c-unsigned"], [], newest_first]
    assert Path(page["screenshot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_index_without_a_trusted_key_says_unverified(tmp_path):
    """No --vkey and no audit key on this machine: no run has an outcome, each says so (never a claim as one)."""
    db = tmp_path / "audit.db"
    expect = index_runs(db, Signer(SigningKey.generate()))
    with AuditLog(db) as log:
        rows = index_rows(log, None)
    assert sorted(r.run_id for r in rows) == sorted(expect)
    assert {r.status for r in rows} == {"unverified"}
    page = render_index(rows, "none: no --vkey and no audit key on this machine")
    assert "<img" not in page and "<script>alert" not in page and html_escape(PAYLOAD_INTENT) in page


def html_escape(text: str) -> str:
    import html
    return html.escape(text, quote=True)


GRAPH_BOX = """(() => {
  const holder = document.getElementById('graph'), box = holder.getBoundingClientRect();
  const rect = (n) => { const r = n.getBoundingClientRect(); return [r.left, r.right, r.top, r.bottom, r.width]; };
  return { holder: [box.left, box.right], scroll: [holder.scrollWidth, holder.clientWidth],
    viewport: window.innerWidth, page_width: document.documentElement.scrollWidth,
    nodes: Array.from(document.querySelectorAll('#graph-svg g.node rect'), (n) => [n.parentNode.dataset.task, ...rect(n)]),
    edges: Array.from(document.querySelectorAll('#graph-svg path.edge'), rect),
    hint: (document.getElementById('graph-hint') || {}).textContent || null };
})()"""


def wide_graph_bundle(tmp: Path, text: str, signer: Signer) -> tuple[str, list]:
    """A run of the planner's own graph for `text` (every task answered), signed: the bundle text and the tasks."""
    from defai_swarm.intent import Request
    from defai_swarm.planner.build import build_request_graph
    from defai_swarm.planner.language import parse_request

    request = parse_request(text)
    assert isinstance(request, Request), request
    graph = build_request_graph(text, request)
    statuses = {"read_price": "ok", "check_risk": "approved", "swap": "confirmed"}
    run_id = f"wide-{len(graph.tasks)}"
    with AuditLog(tmp / f"{run_id}.db") as log:
        log.append(run_id, "intent", {"text": text, "chain": "evm:31337", "wallet": "0xabc", "model": None,
                                      "policy": {}, "task_graph": graph.model_dump(mode="json")})
        for t in graph.tasks:
            log.append(run_id, t.kind, {"task": t.id, "status": statuses.get(t.kind, "ok"), "reason": "ok"})
        log.append(run_id, "run_result", {"status": "done", "tx_hashes": [], "reasons": []})
        return dumps(export_bundle(log, run_id, log.checkpoint(run_id, signer))), list(graph.tasks)


def test_a_wide_task_graph_fits_the_page(tmp_path):
    """Issue 28 #6: a 3-part split (7 columns of tasks) drew most of its nodes off to the right of the graph panel,
    with no hint. At 1280x800, after a resize and in the one-column layout, every node and edge of a 3-part split and
    of a sequence of two splits lies inside the graph's box and the viewport, at a readable size, nothing to scroll."""
    signer = Signer(SigningKey.generate())
    graphs = {"split": "swap 3 ETH to USDC in 3 parts",
              "sequence-split": "swap 3 ETH to USDC in 3 parts, then swap 300 USDC to ETH in 3 parts"}
    tasks, urls = {}, {}
    for name, text in graphs.items():
        bundle, tasks[name] = wide_graph_bundle(tmp_path, text, signer)
        (tmp_path / f"{name}.html").write_text(render_page(bundle, vkey=signer.vkey), encoding="utf-8")
        urls[name] = (tmp_path / f"{name}.html").as_uri()
    jobs = [
        {"graph": "split", "url": urls["split"], "viewport": [1280, 800], "eval": GRAPH_BOX, "scrollTo": "#graph-panel",
         "fullPage": False, "screenshot": str(tmp_path / "split.png")},
        {"graph": "sequence-split", "url": urls["sequence-split"], "viewport": [1280, 800], "eval": GRAPH_BOX},
        {"graph": "sequence-split", "url": urls["sequence-split"], "viewport": [1280, 800], "resize": [980, 800],
         "eval": GRAPH_BOX},
        {"graph": "split", "url": urls["split"], "viewport": [760, 800], "eval": GRAPH_BOX},  # one-column layout
        {"graph": "split", "url": urls["split"], "viewport": [1280, 800], "click": "swap_3"},
    ]
    results = render(jobs, tmp_path)
    for job, page in zip(jobs, results, strict=True):
        graph = tasks[job["graph"]]
        assert not page["errors"] and not page["dialogs"] and page["state"] == "log-verified", page
        assert page["svg_nodes"] == len(graph) and page["svg_edges"] == sum(len(t.depends_on) for t in graph)
        assert set(page["node_states"].values()) == {"ok"}
        if "eval" not in job:
            continue
        box = page["eval"]
        left, right = box["holder"][0] - 0.5, min(box["holder"][1], box["viewport"]) + 0.5
        off = [(task, round(lo), round(hi)) for task, lo, hi, *_ in box["nodes"] if lo < left or hi > right]
        assert not off, (job, "nodes outside the graph's box", box["holder"], off)
        assert all(left <= lo and hi <= right for lo, hi, *_ in box["edges"]), (job, box["edges"])
        assert min(width for *_, width in box["nodes"]) >= 150, (job, box["nodes"])  # not shrunk unreadable (170)
        assert box["scroll"][0] <= box["scroll"][1] and box["page_width"] <= box["viewport"], (job, box)
        assert "continues row after row" in box["hint"], box["hint"]  # the wrapped rows are said to be one graph
    # the last part's swap, once far off to the right, is there to click, and shows its entries
    click = results[-1]
    assert [i for i in click["visible_entries"]] == [1 + [t.id for t in tasks["split"]].index("swap_3")]
