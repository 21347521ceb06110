"""Issue 25 item 6: the audit page's own cryptography against published test vectors, in headless Chromium.

The page (swarm/audit/viewer/) verifies Ed25519 and SHA-256 with hand-written JavaScript when the browser's WebCrypto
lacks them: ed25519.js (Ed25519 verify and its SHA-512) and the SHA-256 fallback `sha256Plain` in the viewer script.
One page made by `render_page` is loaded through the project's browser harness (tests/browser/render.js), and one
`eval` runs, inside it, that code over:

- every Wycheproof Ed25519 verification vector (C2SP/wycheproof testvectors_v1/ed25519_test.json: 151 tests, each
  valid or invalid), with ed25519.js's own SHA-512 and with WebCrypto's (the two ways the page calls it);
- the RFC 8032 section 7.1 vectors (TEST 1, 2, 3, 1024, SHA(abc)) and, for each, a flipped bit in R, in S, in the
  public key and in the message, none of which may verify;
- the NIST CAVP SHAVS byte-oriented SHA256ShortMsg.rsp and SHA256LongMsg.rsp against `sha256Plain`, the code path
  the page takes when crypto.subtle is absent (called directly), and SHA512ShortMsg.rsp against ed25519.js's SHA-512.

Every vector file is also checked with Python (`cryptography`, hashlib), so a corrupted file fails here rather than
passing against equally wrong JavaScript. And the vectors must catch broken code: the same evaluation runs mutated
copies of the page's scripts (one line changed each: a range check dropped, a rotation or the padding off by one) and
each mutant must disagree with some vector. Where the vectors came from: tests/vectors/README.md.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from defai_swarm.audit.html import render_page
from defai_swarm.tools.devnet.install import browser_modules, install

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors"
RENDER = ROOT / "tests" / "browser" / "render.js"
ED25519_JS = ROOT / "swarm" / "audit" / "viewer" / "ed25519.js"
HANG_GUARD_S = 600  # a hang guard only: the whole evaluation takes a few seconds


# ---- the vector files, read and checked with Python ------------------------------------------------------------------

def wycheproof() -> list[dict]:
    """Each Wycheproof test as {tcId, comment, flags, pk, msg, sig, valid} (hex strings)."""
    doc = json.loads((VECTORS / "wycheproof_ed25519_test.json").read_text())
    assert doc["algorithm"] == "EDDSA" and doc["schema"] == "eddsa_verify_schema_v1.json"
    cases = []
    for group in doc["testGroups"]:
        assert group["type"] == "EddsaVerify" and group["publicKey"]["curve"] == "edwards25519"
        for t in group["tests"]:
            assert t["result"] in ("valid", "invalid"), t  # no "acceptable" verdicts in this file
            cases.append({"tcId": t["tcId"], "comment": t["comment"], "flags": t["flags"],
                          "pk": group["publicKey"]["pk"], "msg": t["msg"], "sig": t["sig"],
                          "valid": t["result"] == "valid"})
    assert len(cases) == doc["numberOfTests"] == 151
    return cases


def flip(hex_bytes: str, index: int, bit: int = 0) -> str:
    b = bytearray(bytes.fromhex(hex_bytes))
    b[index] ^= 1 << bit
    return b.hex()


def rfc8032() -> list[dict]:
    """RFC 8032 7.1: each vector (must verify) and four one-bit alterations of it (must not)."""
    doc = json.loads((VECTORS / "rfc8032_ed25519.json").read_text())
    names = [t["name"] for t in doc["tests"]]
    assert names == ["TEST 1", "TEST 2", "TEST 3", "TEST 1024", "TEST SHA(abc)"]
    cases = []
    for t in doc["tests"]:
        cases.append({"name": t["name"], "pk": t["public_key"], "msg": t["message"], "sig": t["signature"],
                      "valid": True})
        altered = [("R bit flipped", t["public_key"], t["message"], flip(t["signature"], 0)),
                   ("S bit flipped", t["public_key"], t["message"], flip(t["signature"], 32)),
                   ("public key bit flipped", flip(t["public_key"], 0), t["message"], t["signature"])]
        if t["message"]:
            altered.append(("message bit flipped", t["public_key"], flip(t["message"], len(t["message"]) // 4),
                            t["signature"]))
        else:
            altered.append(("a byte added to the empty message", t["public_key"], "00", t["signature"]))
        cases += [{"name": f"{t['name']}, {what}", "pk": pk, "msg": msg, "sig": sig, "valid": False}
                  for what, pk, msg, sig in altered]
    return cases


def rfc8032_keys_and_signatures_reproduce() -> None:
    """The re-typed RFC vectors are internally consistent: Ed25519 is deterministic, so the secret key must give
    the stated public key and exactly the stated signature (one wrong hex digit anywhere breaks this)."""
    doc = json.loads((VECTORS / "rfc8032_ed25519.json").read_text())
    for t in doc["tests"]:
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(t["secret_key"]))
        pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert pub.hex() == t["public_key"], t["name"]
        assert key.sign(bytes.fromhex(t["message"])).hex() == t["signature"], t["name"]
    by_name = {t["name"]: t for t in doc["tests"]}
    assert len(bytes.fromhex(by_name["TEST 1024"]["message"])) == 1023
    assert by_name["TEST SHA(abc)"]["message"] == hashlib.sha512(b"abc").hexdigest()


# ---- beyond the standard vectors: RFC 8032's decoding rule for the public key ---------------------------------------
# Wycheproof's keys are all canonical, so nothing above checks RFC 8032 5.1.3's two decoding failures: y >= p (step 1)
# and x = 0 with the sign bit set (step 4). ed25519.js rejects such keys; OpenSSL (so `cryptography`) accepts them.
# The cases below are the identity point (a small-order key for which R = B, S = 1 verifies on any message) encoded
# canonically (valid), with the sign bit set, and as y = p + 1 (both invalid: the key does not decode).

P25519 = 2**255 - 19
D25519 = -121665 * pow(121666, P25519 - 2, P25519) % P25519
BASE_POINT = "58" + "66" * 31
SIG_R_B_S_1 = BASE_POINT + (1).to_bytes(32, "little").hex()


def rfc8032_decodes(pk: str) -> bool:
    """RFC 8032 5.1.3 (as its section 6 Python has it): does this 32-byte string decode to a curve point?"""
    n = int.from_bytes(bytes.fromhex(pk), "little")
    sign, y = n >> 255, n & ((1 << 255) - 1)
    if y >= P25519:
        return False
    x2 = (y * y - 1) * pow(D25519 * y * y + 1, P25519 - 2, P25519) % P25519
    if x2 == 0:
        return not sign
    x = pow(x2, (P25519 + 3) // 8, P25519)
    if (x * x - x2) % P25519:
        x = x * pow(2, (P25519 - 1) // 4, P25519) % P25519
    return (x * x - x2) % P25519 == 0


def key_encodings() -> list[dict]:
    identity = (1).to_bytes(32, "little").hex()
    keys = [("identity key, canonical", identity, True),
            ("identity key with the sign bit set (x = 0)", flip(identity, 31, 7), False),
            ("identity key as y = p + 1 (y >= p)", (P25519 + 1).to_bytes(32, "little").hex(), False)]
    return [{"name": f"{name}, message {msg!r}", "pk": pk, "msg": msg.encode().hex(), "sig": SIG_R_B_S_1,
             "valid": valid} for name, pk, valid in keys for msg in ("", "abc")]


def check_key_encodings_with_python(cases: list[dict]) -> None:
    """The expected verdicts are RFC 8032's: cryptography's verdict on the canonical key, and the decoding rule."""
    canonical = cases[0]["pk"]
    for c in cases:
        assert rfc8032_decodes(c["pk"]) is c["valid"], c["name"]
        assert python_verifies(canonical, c["msg"], c["sig"]), c["name"]  # the same point, canonically encoded


def python_verifies(pk: str, msg: str, sig: str) -> bool:
    """Python's verdict (cryptography, on OpenSSL): the reference the page is held to."""
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(pk)).verify(bytes.fromhex(sig), bytes.fromhex(msg))
    except (InvalidSignature, ValueError):
        return False
    return True


def shavs(name: str, digest_hex_len: int) -> list[tuple[str, str]]:
    """A CAVP SHAVS byte-oriented .rsp file as (message hex, digest hex); `Len` is in bits, `Msg = 00` at Len 0."""
    text = (VECTORS / name).read_text()
    records = re.findall(r"^Len = (\d+)\s*^Msg = ([0-9a-f]+)\s*^MD = ([0-9a-f]+)\s*$", text, flags=re.MULTILINE)
    assert len(records) == text.count("Len =") and records, name
    out = []
    for bits, msg, md in records:
        assert int(bits) % 8 == 0 and len(md) == digest_hex_len, (name, bits)
        out.append((bytes.fromhex(msg)[: int(bits) // 8].hex(), md))
    return out


SHA256_SHORT = ("SHA256ShortMsg.rsp", 65)
SHA256_LONG = ("SHA256LongMsg.rsp", 64)
SHA512_SHORT = ("SHA512ShortMsg.rsp", 129)


def sha_vectors(spec: tuple[str, int], algorithm: str) -> list[tuple[str, str]]:
    name, count = spec
    vectors = shavs(name, 64 if algorithm == "sha256" else 128)
    assert len(vectors) == count, name
    return vectors


def test_vector_files_agree_with_python():
    """The vendored files themselves (no browser): Wycheproof's verdicts are cryptography's, the RFC vectors
    reproduce from their secret keys (and their alterations are rejected), and every NIST digest is hashlib's."""
    for c in wycheproof():
        assert python_verifies(c["pk"], c["msg"], c["sig"]) is c["valid"], c
    rfc8032_keys_and_signatures_reproduce()
    for c in rfc8032():
        assert python_verifies(c["pk"], c["msg"], c["sig"]) is c["valid"], c["name"]
    check_key_encodings_with_python(key_encodings())
    for spec, algorithm in ((SHA256_SHORT, "sha256"), (SHA256_LONG, "sha256"), (SHA512_SHORT, "sha512")):
        for msg, md in sha_vectors(spec, algorithm):
            assert hashlib.new(algorithm, bytes.fromhex(msg)).hexdigest() == md, (spec[0], len(msg) // 2)


# ---- the page's code, and mutated copies of it ---------------------------------------------------------------------

def js_block(source: str, start: str) -> str:
    """The text of the brace-balanced block opening at the first `start` in `source` (a function declaration)."""
    begin = source.index(start)
    depth, i = 0, source.index("{", begin)
    while True:
        depth += {"{": 1, "}": -1}.get(source[i], 0)
        i += 1
        if depth == 0:
            return source[begin:i]


def sha256_fallback_source(page: str) -> str:
    """The page's own SHA-256 fallback (the round constants and `sha256Plain`), cut from the page's script text:
    the viewer keeps it private, so the test evaluates the same text inside the page rather than reaching for it."""
    assert page.count("function sha256Plain(") == 1 and page.count("const K256 = ") == 1, (
        "the page's SHA-256 fallback is no longer `const K256 = ...` + `function sha256Plain(bytes)` in one script: "
        "update sha256_fallback_source (or have the viewer export it)")
    k256 = page[page.index("const K256 = "): page.index(";", page.index("const K256 = ")) + 1]
    return k256 + "\n" + js_block(page, "function sha256Plain(")


# Each mutant changes one line of the page's code; the vectors must tell every one from the real code.
# (file, name, old text, new text): the old text must occur exactly once.
MUTANTS = [
    ("ed25519", "S not range-checked (malleable)", "if (S >= L) return false;", ""),
    ("ed25519", "x = 0 with the sign bit accepted", "if (x === 0n && sign) return null;", ""),
    ("ed25519", "non-canonical y accepted", "if (y >= P) return null;", ""),
    ("ed25519", "R compared on 31 bytes only", "for (let i = 0; i < 32; i++) diff |= check[i] ^ R[i];",
     "for (let i = 0; i < 31; i++) diff |= check[i] ^ R[i];"),
    ("ed25519", "public key sign bit ignored", "const sign = bytes[31] >> 7;", "const sign = 0;"),
    ("ed25519", "point addition uses d, not 2d", "const C = (((p[3] * D2) % P) * q[3]) % P;",
     "const C = (((p[3] * D) % P) * q[3]) % P;"),
    ("ed25519", "SHA-512 Sigma1 rotation off by one", "rotr(e, 41n)", "rotr(e, 40n)"),
    ("ed25519", "SHA-512 padding one byte short", "Math.ceil((bytes.length + 17) / 128)",
     "Math.ceil((bytes.length + 16) / 128)"),
    ("sha256", "SHA-256 padding one byte short", "Math.ceil((len + 9) / 64)", "Math.ceil((len + 8) / 64)"),
    ("sha256", "SHA-256 Sigma1 rotation off by one", "rotr(e, 25)", "rotr(e, 24)"),
    ("sha256", "SHA-256 message schedule index", "(w[t - 16] + s0 + w[t - 7] + s1)",
     "(w[t - 16] + s0 + w[t - 6] + s1)"),
    ("sha256", "SHA-256 last block dropped", "off < padded.length; off += 64", "off < padded.length - 64; off += 64"),
]


def mutate(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, f"mutant no longer applies (update MUTANTS): {old!r}"
    return source.replace(old, new)


def ed25519_module(source: str) -> str:
    """An expression for a private copy of ed25519.js's exports: its IIFE writes them onto a shadowed globalThis.
    (Written into the evaluated expression itself: the page's CSP forbids eval; DevTools' evaluate is not bound
    by it.)"""
    return "(() => { const globalThis = {};\n" + source + "\n; return globalThis.AuditEd25519; })()"


def sha256_module(source: str) -> str:
    return "(() => {\n" + source + "\n; return sha256Plain; })()"


EVAL = r"""
(async () => {
  const V = __VECTORS__;
  const h = (x) => {
    const o = new Uint8Array(x.length / 2);
    for (let i = 0; i < o.length; i++) o[i] = parseInt(x.substr(2 * i, 2), 16);
    return o;
  };
  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  const ed = V.ed.map(([p, m, s]) => [h(p), h(m), h(s)]);
  const s256 = V.sha256.map(([m]) => h(m));
  const s512 = V.sha512.map(([m]) => h(m));
  const webSha512 = async (b) => new Uint8Array(await crypto.subtle.digest('SHA-512', b));
  const pageSha256 = __SHA256__;
  const lib = window.AuditEd25519;  // ed25519.js as the page loaded it
  const out = { ed_builtin: [], ed_webcrypto: [], sha256: s256.map((m) => hex(pageSha256(m))),
                sha512: s512.map((m) => hex(lib.sha512(m))), mutants: {},
                ed_default: [], ed_default_fallbacks: 0 };
  for (const [p, m, s] of ed) out.ed_builtin.push(await lib.verify(p, m, s));
  for (const [p, m, s] of ed) out.ed_webcrypto.push(await lib.verify(p, m, s, webSha512));
  // The page's default path, as verify.js `ed25519Verify` takes it: WebCrypto's Ed25519 when it imports the key,
  // else ed25519.js. (Not the hand-written code unless the import fails; checked against Python all the same.)
  for (const [p, m, s] of ed) {
    if (s.length !== 64 || p.length !== 32) { out.ed_default.push(false); continue; }
    let key = null;
    try { key = await crypto.subtle.importKey('raw', p, { name: 'Ed25519' }, false, ['verify']); } catch (e) { }
    if (key === null) {
      out.ed_default_fallbacks += 1;
      out.ed_default.push(await lib.verify(p, m, s, webSha512));
      continue;
    }
    let ok = false;
    try { ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, s, m); } catch (e) { }
    out.ed_default.push(ok);
  }
  // A mutant is caught at the first vector it gets wrong (or if it throws); null: no vector tells it apart.
  async function firstWrong(kind, build) {
    try {
      const impl = build();
      if (kind === 'ed25519') {
        for (let i = 0; i < s512.length; i++) {
          if (hex(impl.sha512(s512[i])) !== V.sha512[i][1]) return `SHA-512 vector ${i}`;
        }
        for (let i = 0; i < ed.length; i++) {
          if ((await impl.verify(...ed[i])) !== V.ed[i][3]) return `Ed25519 vector ${i}`;
        }
      } else {
        for (let i = 0; i < s256.length; i++) if (hex(impl(s256[i])) !== V.sha256[i][1]) return `SHA-256 vector ${i}`;
      }
    } catch (e) {
      return `threw ${e}`;
    }
    return null;
  }
  const M = __MUTANTS__;
  for (const [name, kind, build] of M) out.mutants[name] = await firstWrong(kind, build);
  return out;
})()
"""


def node() -> str:
    found = shutil.which("node")
    assert found, "the audit page tests need Node.js (it also runs the devnet's npm parts): install Node.js 20+"
    return found


@pytest.fixture(scope="module")
def page_run(tmp_path_factory) -> dict:
    """One page, one browser, one evaluation: the page's verdicts and digests on every vector, and each mutant's
    first wrong vector. The expected values go in with the vectors; the tests compare."""
    tmp = tmp_path_factory.mktemp("crypto-vectors")
    page = render_page("{}")
    ed_source = ED25519_JS.read_text()
    assert ed_source in page, "the page no longer inlines ed25519.js as it is in the repository"
    sha_source = sha256_fallback_source(page)
    ed_cases = wycheproof() + rfc8032() + key_encodings()
    sha256 = sha_vectors(SHA256_SHORT, "sha256") + sha_vectors(SHA256_LONG, "sha256")
    sha512 = sha_vectors(SHA512_SHORT, "sha512")
    vectors = {"ed": [[c["pk"], c["msg"], c["sig"], c["valid"]] for c in ed_cases],
               "sha256": [list(v) for v in sha256], "sha512": [list(v) for v in sha512]}
    mutants = []
    for kind, name, old, new in MUTANTS:
        build = (ed25519_module(mutate(ed_source, old, new)) if kind == "ed25519"
                 else sha256_module(mutate(sha_source, old, new)))
        mutants.append(f"[{json.dumps(name)}, {json.dumps(kind)}, () => {build}]")
    expr = (EVAL.replace("__VECTORS__", json.dumps(vectors)).replace("__SHA256__", sha256_module(sha_source))
            .replace("__MUTANTS__", "[\n" + ",\n".join(mutants) + "\n]"))
    (tmp / "page.html").write_text(page, encoding="utf-8")
    jobs = tmp / "jobs.json"
    jobs.write_text(json.dumps([{"url": (tmp / "page.html").as_uri(), "eval": expr}]))
    install()
    proc = subprocess.run([node(), str(RENDER), str(jobs)], capture_output=True, text=True, check=False,
                          timeout=HANG_GUARD_S, env={**os.environ, "NODE_MODULES": str(browser_modules())})
    assert proc.returncode == 0, proc.stderr[-4000:]
    [result] = json.loads(proc.stdout)
    assert not result["errors"] and not result["dialogs"] and not result["requests"], result
    assert isinstance(result.get("eval"), dict), result.get("eval")
    return {**result["eval"], "cases": ed_cases, "sha256_vectors": sha256, "sha512_vectors": sha512}


def disagreements(cases: list[dict], verdicts: list[bool]) -> list[str]:
    assert len(verdicts) == len(cases)
    return [f"{c.get('tcId', c.get('name'))} ({c.get('comment', '')} {c.get('flags', '')}): page says {v}, "
            f"expected {c['valid']}" for c, v in zip(cases, verdicts, strict=True) if v is not c["valid"]]


@pytest.mark.browser
def test_wycheproof_ed25519_in_the_page(page_run):
    """All 151 Wycheproof Ed25519 verdicts, with ed25519.js's SHA-512 and with WebCrypto's; Python agrees."""
    cases = page_run["cases"][:151]
    assert [c["tcId"] for c in cases] == list(range(1, 152))
    for c in cases:
        assert python_verifies(c["pk"], c["msg"], c["sig"]) is c["valid"], c
    assert disagreements(cases, page_run["ed_builtin"][:151]) == []
    assert disagreements(cases, page_run["ed_webcrypto"][:151]) == []
    assert sum(c["valid"] for c in cases) == 88  # both verdicts are exercised: 88 valid, 63 invalid


@pytest.mark.browser
def test_rfc8032_ed25519_in_the_page(page_run):
    """RFC 8032 7.1: the five vectors verify, and no one-bit alteration of them does; Python agrees."""
    rfc8032_keys_and_signatures_reproduce()
    cases = page_run["cases"][151:176]
    assert len(cases) == 25 and sum(c["valid"] for c in cases) == 5
    for c in cases:
        assert python_verifies(c["pk"], c["msg"], c["sig"]) is c["valid"], c["name"]
    assert disagreements(cases, page_run["ed_builtin"][151:176]) == []
    assert disagreements(cases, page_run["ed_webcrypto"][151:176]) == []


@pytest.mark.browser
def test_public_key_encodings_in_the_page(page_run):
    """RFC 8032 5.1.3: a key that does not decode (y >= p, or x = 0 with the sign bit) is rejected even where the
    signature equation holds for the point it would name; the same point encoded canonically verifies."""
    cases = page_run["cases"][176:]
    assert cases == key_encodings()
    check_key_encodings_with_python(cases)
    assert disagreements(cases, page_run["ed_builtin"][176:]) == []
    assert disagreements(cases, page_run["ed_webcrypto"][176:]) == []


@pytest.mark.browser
def test_nist_sha256_against_the_page_fallback(page_run):
    """CAVP SHAVS SHA256ShortMsg (0 to 64 bytes) and SHA256LongMsg (163 to 6400 bytes) through `sha256Plain`, the
    SHA-256 the page uses without crypto.subtle; hashlib agrees with every digest."""
    vectors = page_run["sha256_vectors"]
    assert len(vectors) == 65 + 64
    assert [hashlib.sha256(bytes.fromhex(m)).hexdigest() for m, _ in vectors] == [md for _, md in vectors]
    wrong = [(len(m) // 2, md, got) for (m, md), got in zip(vectors, page_run["sha256"], strict=True) if got != md]
    assert wrong == [] and len(page_run["sha256"]) == len(vectors)


@pytest.mark.browser
def test_nist_sha512_against_ed25519_js(page_run):
    """CAVP SHAVS SHA512ShortMsg through ed25519.js's SHA-512 (what Ed25519 hashes with when WebCrypto is absent)."""
    vectors = page_run["sha512_vectors"]
    assert [hashlib.sha512(bytes.fromhex(m)).hexdigest() for m, _ in vectors] == [md for _, md in vectors]
    wrong = [(len(m) // 2, md, got) for (m, md), got in zip(vectors, page_run["sha512"], strict=True) if got != md]
    assert wrong == [] and len(page_run["sha512"]) == len(vectors)


@pytest.mark.browser
def test_the_vectors_catch_broken_code(page_run):
    """Each one-line mutant of the page's scripts gets some vector wrong: the tests above would fail on it."""
    assert set(page_run["mutants"]) == {name for _, name, _, _ in MUTANTS}
    uncaught = [name for name, caught_by in page_run["mutants"].items() if caught_by is None]
    assert uncaught == [], page_run["mutants"]


@pytest.mark.browser
def test_the_pages_default_ed25519_path_agrees_with_python(page_run):
    """Chromium's WebCrypto Ed25519 (what the page uses when the browser has it) gives cryptography's verdict on every
    vector above, the non-canonical keys included: both accept those, ed25519.js follows RFC 8032 and rejects them
    (a difference only a crafted, small-order key can show; see ed25519.js's header)."""
    cases = page_run["cases"]
    python = [python_verifies(c["pk"], c["msg"], c["sig"]) for c in cases]
    wrong = [(c.get("tcId", c.get("name")), got, want)
             for c, got, want in zip(cases, page_run["ed_default"], python, strict=True) if got is not want]
    assert wrong == [] and len(page_run["ed_default"]) == len(cases)
    assert page_run["ed_default_fallbacks"] == 0  # WebCrypto imported every 32-byte key: this was its verdict
