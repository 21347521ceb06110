"""Third-party verification of a run's audit log, from a self-contained JSON bundle.

A bundle carries every entry (with salt and payload), the run's leaf hashes, the
signed checkpoint, the signer's vkey and optionally the on-chain anchor reference.
The verifier trusts only the checkpoint signature under a key it already holds (and,
if given, the anchor): it recomputes every leaf from canonical JSON and the root from
those leaves. The key inside the bundle is never trusted: a bundle checked against
nothing but its own key is reported as self-signed, not verified, since anyone can
re-sign edited entries with a fresh key.

The anchor is judged on facts the chain reports (`AnchorFacts`): its sender must be
the operator's account pinned by the verifier (an anchor nobody pinned is reported
as unpinned, not verified), and its block time must not be older than the newest
entry it covers (less a small clock skew) nor later than a window after it.

Naming the first bad entry: the leaf-hash list is untrusted, but if its Merkle root
equals the signed root then every hash in it is authentic (collision resistance),
and each entry is checked with an RFC 9162 inclusion proof taken from that
authenticated tree. An entry changed, removed, inserted or moved therefore fails
at its own position. If the list was rewritten too, nothing below the signed root
is authenticated and the report says the root does not match without an index.

What the store held beside the checkpoint travels with it: `checkpoints` (every note stored for the run: one the
same key signed over a larger tree means this one is rolled back) and `tail` (the unsigned entries after it, judged
by swarm/audit/outcome.py: an anchor record naming another checkpoint, or anything but this checkpoint's own seal
records after a finished run's final checkpoint, fails at its index). `verify_log` always takes the newest
checkpoint the trusted key signed, never the one the newest anchor record names.
"""
from __future__ import annotations

import hashlib
import json
import operator
import os
import re
import sys
from datetime import datetime, timezone
from collections.abc import Iterable
from typing import IO, Any, NamedTuple

from pydantic import BaseModel

from defai_swarm.audit.canonical import encode_plain
from defai_swarm.audit.checkpoint import (
    Checkpoint,
    NoteError,
    Verifier,
    checkpoint_hash,
    open_note,
    origin_for_run,
    parse_note,
)
from defai_swarm.audit.log import AuditLog, leaf_data
from defai_swarm.audit.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from defai_swarm.audit.outcome import FINAL_KINDS, judge, newest_checkpoint, trusted_verifier
from defai_swarm.core.anchor import AnchorChecker, AnchorFacts, AnchorInspector
from defai_swarm.core.errors import SwarmError

__all__ = ["BUNDLE_FORMAT", "DEFAULT_ANCHOR_WINDOW", "DEFAULT_CLOCK_SKEW", "AnchorChecker", "BundleError", "Check",
           "VerifyReport", "export_bundle", "verify_bundle", "verify_bundle_file", "verify_log"]

BUNDLE_FORMAT = "defai-swarm/audit-bundle/v1"
_HEX32 = re.compile(r"[0-9a-f]{64}")
_BLANKS = re.compile(r"[ \t\r\n]*")
_ENTRY_KEYS = {"run_id", "index", "kind", "created_at", "salt", "payload"}
DEFAULT_ANCHOR_WINDOW = 3600.0  # seconds after the newest covered entry by which the anchor must be mined
DEFAULT_CLOCK_SKEW = 120.0  # seconds the anchor's block may seem to precede the newest covered entry


class Check(NamedTuple):
    name: str
    ok: bool
    detail: str


class VerifyReport(BaseModel):
    ok: bool
    checks: list[Check]
    first_bad_index: int | None = None
    reason: str | None = None
    run_id: str | None = None
    tree_size: int | None = None
    checkpoint_hash: str | None = None  # hex of SHA-256(signed note)
    self_signed: bool = False  # only the key carried with the data vouches for it: not verified
    anchor_sender_pinned: bool | None = None  # None: no anchor was looked up with a reporting checker

    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def verdict(self) -> str:
        """PASS; SELF-SIGNED (no trusted key, whatever else checks out); UNPINNED (everything else holds but
        nobody pinned the anchor's sender); or FAIL."""
        if self.self_signed:
            return "SELF-SIGNED"
        if self.ok:
            return "PASS"
        if all(c.name == "anchor sender" and c.detail.startswith("unpinned") for c in self.failed()):
            return "UNPINNED"
        return "FAIL"


class BundleError(SwarmError, ValueError):
    """export_bundle was asked for something the log cannot back."""


# ---- export ---------------------------------------------------------------------

def _bundle(log: AuditLog, run_id: str, note: str, anchor: dict | None, vkey: str | None, strict: bool) -> dict:
    if vkey is None:
        stored = log.find_checkpoint(note)
        if stored is None:
            raise BundleError("checkpoint not found in this log; pass vkey=")
        vkey = stored.vkey
    try:
        cp = Checkpoint.from_text(parse_note(note)[0])
    except NoteError as exc:
        raise BundleError(f"malformed checkpoint: {exc}") from None
    if strict and cp.origin != origin_for_run(run_id):
        raise BundleError(f"checkpoint origin {cp.origin!r} is not run {run_id!r}")
    entries = log.entries(run_id, 0, cp.size)
    if strict and len(entries) != cp.size:
        raise BundleError(f"log holds {len(entries)} entries, checkpoint covers {cp.size}")
    cp_hash = checkpoint_hash(note).hex()
    if anchor is not None:
        anchor = dict(anchor)
        if anchor.setdefault("checkpoint_hash", cp_hash) != cp_hash and strict:
            raise BundleError("anchor is for a different checkpoint")
    return {
        "format": BUNDLE_FORMAT,
        "run_id": run_id,
        "checkpoint": note,
        "checkpoint_hash": cp_hash,
        "vkey": vkey,
        "entries": [e.public_dict() for e in entries],
        "leaf_hashes": [e.leaf_hash for e in entries],
        "anchor": anchor,
        # what the store held beside it when exported: every checkpoint signed for the run (a newer one signed by
        # the trusted key means this one is rolled back) and the unsigned entries after it (its anchor record, or
        # more: see swarm/audit/outcome.py)
        "checkpoints": [c.note for c in log.checkpoints(run_id)],
        "tail": [e.public_dict() for e in log.entries(run_id, cp.size)],
    }


def export_bundle(
    log: AuditLog, run_id: str, checkpoint_note: str, anchor: dict | None = None, vkey: str | None = None
) -> dict:
    """Self-contained JSON-ready dict covering entries [0, checkpoint size) of a run, with the run's other stored
    checkpoints (`checkpoints`) and the unsigned entries after this one (`tail`), which the verifier judges.

    `anchor` is `{chain, tx_id, checkpoint_hash}` (checkpoint_hash filled in if
    missing). `vkey` defaults to the one stored with the checkpoint.
    """
    return _bundle(log, run_id, checkpoint_note, anchor, vkey, strict=True)


# ---- verify ---------------------------------------------------------------------

def _entry_leaf(e: Any, position: int, run_id: str | None, fast: bool = False) -> tuple[bytes | None, str | None]:
    """Recompute one entry's leaf hash; (hash, None) or (None/hash, problem). `run_id` None: not checked here.
    `fast`: the entry comes from the streamed decoder (plain JSON types, `_Float` for numbers with a fraction):
    encoded without the normalising walk; a `_Float` gives the problem "float" (the caller redoes it exactly)."""
    if not isinstance(e, dict) or set(e) != _ENTRY_KEYS:
        return None, "malformed entry"
    idx, salt = e["index"], e["salt"]
    if not isinstance(idx, int) or isinstance(idx, bool):
        return None, "index is not an integer"
    if not (isinstance(salt, str) and _HEX32.fullmatch(salt)):
        return None, "salt is not 32 bytes of hex"
    if not all(isinstance(e[k], str) for k in ("run_id", "kind", "created_at")) or not isinstance(e["payload"], dict):
        return None, "malformed entry fields"
    try:
        if fast:
            try:  # `e` has exactly the leaf's keys (checked above): its canonical JSON is the leaf data
                data = encode_plain(e).encode("utf-8")
            except TypeError:
                return None, "float"
            h = leaf_hash(data)
        else:
            h = leaf_hash(leaf_data(e["run_id"], idx, e["kind"], e["created_at"], salt, e["payload"]))
    except (TypeError, ValueError) as exc:
        return None, f"not canonical JSON ({exc})"
    if idx != position:
        return h, f"index {idx} at position {position}"
    if run_id is not None and e["run_id"] != run_id:
        return h, "entry belongs to another run"
    return h, None


class _Digest(NamedTuple):
    """What verification keeps of one entry: its recomputed leaf, what is wrong with it (the run id aside),
    its run id, its created_at and whether it is a run's final entry (FINAL_KINDS). A streamed bundle keeps only
    these, never the payloads."""

    leaf: bytes | None
    problem: str | None
    run_id: Any
    created_at: Any
    final: bool = False


def _digest(e: Any, position: int) -> _Digest:
    h, problem = _entry_leaf(e, position, None)
    if not isinstance(e, dict):
        return _Digest(h, problem, None, None)
    return _Digest(h, problem, e.get("run_id"), e.get("created_at"), _is_final(e.get("kind")))


def _is_final(kind: Any) -> bool:
    return isinstance(kind, str) and kind in FINAL_KINDS


class _Float:
    """A JSON number with a fraction, an exponent, or NaN/Infinity, as the streamed decoder reads it: canonical
    JSON refuses floats, and this type makes the fast encoder refuse it too (then the entry takes the exact path)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def _with_floats(value: Any) -> Any:
    """The value as the standard decoder would give it (floats as float)."""
    if isinstance(value, _Float):
        return float(value.text)
    if isinstance(value, dict):
        return {k: _with_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_floats(v) for v in value]
    return value


def _streamed_digests(entries: Iterable[Any], keep_times: bool = True) -> list[_Digest]:
    """`_streamed_digest` of every entry, as one tight loop: a well-formed entry is type-checked, encoded and
    hashed inline (the same checks and bytes as `_entry_leaf`); any other entry takes `_streamed_digest`.
    `keep_times` False: created_at is not kept (only the anchor's time check reads it; 100k strings less)."""
    out: list[_Digest] = []
    add, make = out.append, _Digest._make
    keys, salt_ok, enc, sha, final = _ENTRY_KEYS, _HEX32.fullmatch, encode_plain, hashlib.sha256, FINAL_KINDS
    last_run: Any = None
    for j, e in enumerate(entries):
        if type(e) is dict and e.keys() == keys:
            idx, salt, run_id, created_at, kind = e["index"], e["salt"], e["run_id"], e["created_at"], e["kind"]
            if (idx == j and type(idx) is int and type(salt) is str and type(run_id) is str
                    and type(created_at) is str and type(kind) is str and type(e["payload"]) is dict
                    and salt_ok(salt)):
                try:
                    h = sha(b"\x00" + enc(e).encode("utf-8")).digest()
                except TypeError:  # a number with a fraction: the exact path below
                    pass
                else:
                    if run_id != last_run:
                        last_run = run_id  # one string object for all of a run's entries, not one each
                    add(make((h, None, last_run, created_at if keep_times else None, kind in final)))
                    continue
        add(_streamed_digest(e, j))
    return out


def _streamed_digest(e: Any, position: int) -> _Digest:
    """`_digest` of an entry from the streamed decoder. Parsed JSON holds only plain JSON types, so canonical JSON
    is `json.dumps` with sorted keys; an entry holding a number with a fraction is digested the exact way."""
    if isinstance(e, dict) and set(e) == _ENTRY_KEYS and isinstance(e["payload"], dict):
        h, problem = _entry_leaf(e, position, None, fast=True)
        if problem != "float":
            run_id = e.get("run_id")  # one string object for the run's 100k entries, not one each
            return _Digest(h, problem, sys.intern(run_id) if isinstance(run_id, str) else run_id, e.get("created_at"),
                           _is_final(e.get("kind")))
    return _digest(_with_floats(e), position)


def _report(checks: list[Check], first_bad: int | None, why: str = "", **info: Any) -> VerifyReport:
    bad = [c for c in checks if not c.ok]
    reason = None
    if first_bad is not None:
        reason = f"entry {first_bad}: {why}"
    elif bad:
        reason = f"{bad[0].name}: {bad[0].detail}"
    return VerifyReport(ok=not bad, checks=checks, first_bad_index=first_bad, reason=reason, **info)


def _entry_time(text: Any) -> float | None:
    """Unix seconds of an entry's `created_at` (ISO 8601 UTC), or None if it is not one."""
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _anchor_policy(add, facts: AnchorFacts, covered: list, window: float, skew: float) -> None:
    """`covered`: the created_at of every entry the checkpoint covers."""
    # The verifier's rules on what the chain reported: the pinned sender, the block time window.
    if facts.sender is not None:
        if not facts.pinned:
            add("anchor sender", False, f"unpinned: the anchor was sent by {facts.sender}, but no operator account "
                                        f"is pinned to compare it with (pass the operator's address, or verify "
                                        f"with the operator's chain configuration)")
        elif facts.sender_ok:
            add("anchor sender", True, f"sent by the pinned operator account {facts.expected_sender}")
        else:
            add("anchor sender", False, f"wrong sender: sent by {facts.sender}, the pinned operator account is "
                                        f"{facts.expected_sender}")
    if not facts.ok:
        return  # nothing found to time (the anchor check says why)
    if not facts.block_times_known:
        add("anchor time", True, "not checked: this chain backend keeps no block times")
        return
    if facts.block_time is None:
        add("anchor time", False, f"the node reports no time for block {facts.block}: the anchor window cannot be "
                                  f"checked")
        return
    times = [_entry_time(created_at) for created_at in covered]
    if not times or any(t is None for t in times):
        add("anchor time", False, "the covered entries have no readable created_at to compare the anchor with")
        return
    newest = max(t for t in times if t is not None)
    bt, delta = facts.block_time, facts.block_time - newest
    if bt < newest - skew:
        add("anchor time", False, f"anchor block time {_utc(bt)} is {-delta:.0f} s before the newest entry it "
                                  f"covers ({_utc(newest)}): older than the checkpoint it names")
    elif bt > newest + window:
        add("anchor time", False, f"anchor block time {_utc(bt)} is {delta:.0f} s after the newest entry it covers "
                                  f"({_utc(newest)}): outside the {window:.0f} s anchor window")
    else:
        add("anchor time", True, f"block time {_utc(bt)}, {round(delta):+d} s from the newest covered entry "
                                 f"(window -{skew:.0f} s .. +{window:.0f} s)")


def verify_bundle(
    bundle: dict,
    trusted_vkey: str | Verifier | None = None,
    anchor_checker: AnchorChecker | None = None,
    anchor_window: float = DEFAULT_ANCHOR_WINDOW,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
) -> VerifyReport:
    """Check a bundle end to end; report the first bad entry when it can be named.

    `trusted_vkey` is the operator's key as the verifier knows it (never the bundle's own `vkey`). Without
    it the rest is still checked against the bundle's key, but the report is not ok and `self_signed`.
    `anchor_checker` looks the anchor up; one that reports facts (`AnchorInspector`) has its sender pin and
    block time checked here: block time in [newest covered entry - clock_skew, newest + anchor_window].
    """
    return _verify(bundle, trusted_vkey, anchor_checker, anchor_window, clock_skew, own_key="bundle")


class BundleFileError(SwarmError, ValueError):
    """The bundle file is not one JSON object (cut short, or not JSON)."""


class _JsonStream:
    """Reads one JSON object from a text file a chunk at a time: top-level values whole, the elements of a
    chosen array one by one. Only the current chunk and the current value are ever in memory."""

    def __init__(self, f: IO[str], chunk: int = 1 << 20):
        self.f, self.chunk = f, chunk
        self.buf, self.pos, self.eof = "", 0, False
        self.decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        if self.eof:
            return False
        data = self.f.read(self.chunk)
        if not data:
            self.eof = True
            return False
        self.buf, self.pos = self.buf[self.pos:] + data, 0
        return True

    def char(self) -> str:
        """The next non-blank character (not consumed); "" at the end."""
        while True:
            self.pos = _BLANKS.match(self.buf, self.pos).end()  # type: ignore[union-attr]  # matches always
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def expect(self, ch: str) -> None:
        if self.char() != ch:
            raise BundleFileError(f"expected {ch!r} at character {self.pos} of the current chunk")
        self.pos += 1

    def value(self, decoder: json.JSONDecoder | None = None) -> Any:
        self.char()
        decoder = decoder or self.decoder
        while True:
            try:
                value, end = decoder.raw_decode(self.buf, self.pos)
                if end < len(self.buf) or self.eof:  # a number cut at the chunk's end would decode short
                    self.pos = end
                    return value
            except json.JSONDecodeError:
                if self.eof:
                    raise BundleFileError("the bundle is not complete JSON") from None
            self._fill()

    def object_items(self):
        """(key, stream) pairs of the top-level object; the caller reads each value."""
        self.expect("{")
        if self.char() == "}":
            self.pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise BundleFileError("an object key is not a string")
            self.expect(":")
            yield key
            ch = self.char()
            self.pos += 1
            if ch == "}":
                return
            if ch != ",":
                raise BundleFileError(f"expected ',' or '}}' after the value of {key!r}")

    def array_items(self, decoder: json.JSONDecoder | None = None):
        self.expect("[")
        if self.char() == "]":
            self.pos += 1
            return
        # the decoder's scanner itself (what raw_decode calls, less a Python frame): StopIteration on bad JSON
        scan, blanks = (decoder or self.decoder).scan_once, _BLANKS.match  # type: ignore[attr-defined]
        while True:
            # Fast path, the element and its separator inside the current chunk (nearly every element);
            # anything else (a chunk boundary, bad JSON) takes `value` and `char`, which refill and report.
            buf = self.buf
            start = blanks(buf, self.pos).end()  # type: ignore[union-attr]  # matches always
            try:
                value, end = scan(buf, start)
            except (StopIteration, json.JSONDecodeError):
                end = len(buf)
            if end < len(buf):
                sep = blanks(buf, end).end()  # type: ignore[union-attr]
                if sep < len(buf):
                    self.pos = sep + 1
                    yield value
                    if buf[sep] == "]":
                        return
                    if buf[sep] != ",":
                        raise BundleFileError("expected ',' or ']' in an array")
                    continue
            self.pos = start
            yield self.value(decoder)
            ch = self.char()
            self.pos += 1
            if ch == "]":
                return
            if ch != ",":
                raise BundleFileError("expected ',' or ']' in an array")


_ENTRY_DECODER = json.JSONDecoder(parse_float=_Float, parse_constant=_Float)


def verify_bundle_file(
    path: str | os.PathLike,
    trusted_vkey: str | Verifier | None = None,
    anchor_checker: AnchorChecker | None = None,
    anchor_window: float = DEFAULT_ANCHOR_WINDOW,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
) -> VerifyReport:
    """`verify_bundle` on a bundle file, streamed: each entry is hashed as it is read and only its leaf hash and
    created_at are kept, so memory does not grow with the payloads (a 100k-entry bundle is never loaded whole).
    A file that is not one complete JSON object is a failed `format` check."""
    fields: dict[str, Any] = {}
    digests: list[_Digest] | None = None
    try:
        with open(path, encoding="utf-8") as f:
            stream = _JsonStream(f)
            for key in stream.object_items():
                if key == "entries" and stream.char() == "[":
                    digests = _streamed_digests(stream.array_items(_ENTRY_DECODER), anchor_checker is not None)
                else:
                    fields[key] = stream.value()
            if stream.char() != "":
                raise BundleFileError("text after the bundle's JSON object")
    except (BundleFileError, UnicodeDecodeError, RecursionError) as exc:
        return _report([Check("format", False, f"not a {BUNDLE_FORMAT} bundle: {exc}")], None)
    return _verify(fields, trusted_vkey, anchor_checker, anchor_window, clock_skew, own_key="bundle", digests=digests)


def _verify(
    bundle: dict,
    trusted_vkey: str | Verifier | None,
    anchor_checker: AnchorChecker | None,
    anchor_window: float,
    clock_skew: float,
    own_key: str,
    digests: list[_Digest] | None = None,
) -> VerifyReport:
    """`own_key`: where the unpinned key comes from: "bundle" (self-signed, not ok) or "log" (verify_log's
    consistency check against the key stored beside the checkpoint: reported as not pinned). `digests`: the
    entries already digested while streaming (`verify_bundle_file`); the bundle then carries no entries list."""
    checks: list[Check] = []
    add = lambda name, ok, detail="": checks.append(Check(name, bool(ok), detail))  # noqa: E731

    # 1. shape
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        add("format", False, f"not a {BUNDLE_FORMAT} bundle")
        return _report(checks, None)
    run_id, note, entries = bundle.get("run_id"), bundle.get("checkpoint"), bundle.get("entries")
    if digests is None and isinstance(entries, list):
        digests = [_digest(e, j) for j, e in enumerate(entries)]
    if not isinstance(run_id, str) or not isinstance(note, str) or digests is None:
        add("format", False, "run_id, checkpoint and entries are required")
        return _report(checks, None)
    count = len(digests)
    add("format", True, f"{count} entries")
    info: dict[str, Any] = {"run_id": run_id}

    # 2. signature (the only thing trusted)
    try:
        trusted = Verifier.from_vkey(trusted_vkey) if isinstance(trusted_vkey, str) else trusted_vkey
    except NoteError as exc:
        add("signature", False, f"trusted key unusable: {exc}")
        return _report(checks, None, **info)
    self_signed = trusted is None and own_key == "bundle"
    if trusted is None:
        try:
            verifier = Verifier.from_vkey(str(bundle.get("vkey", "")))
        except NoteError as exc:
            add("signature", False, f"{own_key} vkey unusable: {exc}")
            return _report(checks, None, self_signed=self_signed, **info)
        how = f"key from the {own_key} itself (not pinned: pass trusted_vkey)"
    else:
        verifier = trusted
        how = "trusted key"
    try:
        text, _ = open_note(note, verifier)
        cp = Checkpoint.from_text(text)
    except NoteError as exc:
        add("signature", False, f"not signed by the trusted key ({exc})" if trusted is not None else f"{exc} ({how})")
        return _report(checks, None, self_signed=self_signed, **info)
    if self_signed:
        add("signature", False, f"self-signed: signed by {verifier.name} with the key inside the bundle, {how}; "
                                f"a forger re-signs with a fresh key just as well")
    else:
        add("signature", True, f"signed by {verifier.name}, {how}")
    info["self_signed"] = self_signed
    cp_hash = checkpoint_hash(note)
    n, root = cp.size, cp.root
    info.update(tree_size=n, checkpoint_hash=cp_hash.hex())

    # 3. the checkpoint is this run's
    want_origin = origin_for_run(run_id)
    add("origin", cp.origin == want_origin, f"checkpoint origin {cp.origin!r}, expected {want_origin!r}")

    # 4. entries: positions, run ids, canonical leaves
    bad: dict[int, str] = {}
    recomputed: list[bytes | None] = []
    for j, d in enumerate(digests):
        recomputed.append(d.leaf)
        problem = d.problem or (None if d.run_id == run_id else "entry belongs to another run")
        if problem:
            bad.setdefault(j, problem)
    if count != n:
        bad.setdefault(min(count, n), f"{count} entries, checkpoint covers {n}")
    add("entries", not bad, "indices 0..n-1, run ids, canonical JSON" if not bad
        else f"{len(bad)} bad position(s), first {min(bad)}: {bad[min(bad)]}")

    # 5. root from the recomputed leaves
    leaves = [h for h in recomputed if h is not None]
    full = count == n and len(leaves) == len(recomputed)  # then `leaves` is `recomputed`
    own = MerkleTree(leaves) if full else None
    root_ok = own is not None and own.root() == root
    add("root", root_ok, "recomputed root equals the signed root" if root_ok
        else "the entries do not hash to the signed root")

    # 6. authenticated tree: the bundle's leaf list if it hashes to the signed root
    claimed = bundle.get("leaf_hashes")
    listed: MerkleTree | None = None
    if root_ok:  # the entries' own leaves are authenticated: the stated list is right iff it equals them
        stated_ok = isinstance(claimed, list) and len(claimed) == n and all(
            map(operator.eq, claimed, map(bytes.hex, leaves)))  # compared in C, no second list of 100k strings
    else:
        stated_ok = False
        well_formed = isinstance(claimed, list) and len(claimed) == n and all(
            isinstance(h, str) and _HEX32.fullmatch(h) for h in claimed)
        if well_formed:
            listed = MerkleTree(bytes.fromhex(h) for h in claimed)  # type: ignore[union-attr]
            if listed.root() != root:
                listed = None
    auth = own if root_ok else listed
    if claimed is None:
        add("leaf hashes", False, "bundle has no leaf_hashes list")
    elif root_ok and not stated_ok:  # entries are fine, but the stated list was altered
        stated = claimed if isinstance(claimed, list) else []
        diff = next((j for j in range(n) if j >= len(stated) or stated[j] != leaves[j].hex()), n)  # root_ok: all n leaves
        bad.setdefault(diff, "stated leaf hash altered")
        add("leaf hashes", False, f"stated leaf hashes differ from the entries (first at {diff})")

    # 7. an inclusion proof per entry against the signed root. When the recomputed root is the signed root,
    # every entry's proof from that same tree verifies (the root is a function of all leaves and their
    # positions), so the proofs are only computed one by one to localise entries when it is not.
    covered = min(count, n)
    if auth is None:
        add("inclusion", False, "no tree authenticated by the signed root: cannot localise")
    elif root_ok:
        add("inclusion", True, f"{covered}/{n} entries proven (the recomputed root is the signed root)")
    else:
        failed = [
            j for j, h in enumerate(recomputed[:covered])
            if h is None or not verify_inclusion(h, j, n, auth.inclusion_proof(j, n), root)
        ]
        for j in failed:
            bad.setdefault(j, "inclusion proof fails")
        add("inclusion", not failed, f"{covered - len(failed)}/{n} entries proven"
            + (f", first failure at {failed[0]}" if failed else ""))

    # 8. the store's other checkpoints and the entries after this one (swarm/audit/outcome.py)
    _judge_store(bundle, add, bad, verifier, want_origin, n, run_id, cp_hash.hex(),
                 any(d.final for d in digests[:n]))

    # 9. stated checkpoint hash and anchor
    if "checkpoint_hash" in bundle:
        same = bundle["checkpoint_hash"] == cp_hash.hex()
        add("checkpoint hash", same, "equals SHA-256 of the note" if same
            else "stated checkpoint_hash is not SHA-256 of the note")
    anchor = bundle.get("anchor")
    if anchor is not None:
        ok = isinstance(anchor, dict) and anchor.get("checkpoint_hash") == cp_hash.hex()
        add("anchor hash", ok, "anchor names this checkpoint's hash" if ok else "anchor is for another checkpoint")
    if anchor_checker is not None:
        if not isinstance(anchor, dict):
            add("anchor", False, "anchor_checker given but the bundle has no anchor")
        else:
            facts: AnchorFacts | None = None
            try:
                if isinstance(anchor_checker, AnchorInspector):
                    facts = anchor_checker.inspect(anchor, cp_hash)
                    ok, detail = facts.ok, facts.detail
                else:  # a checker that gives a verdict only applies the sender and time rules itself
                    ok, detail = anchor_checker.check(anchor, cp_hash)
            except Exception as exc:  # the checker talks to a chain: report, don't crash
                ok, detail = False, f"anchor check raised {type(exc).__name__}: {exc}"
            add("anchor", ok, detail)
            if facts is not None:
                info["anchor_sender_pinned"] = facts.pinned
                _anchor_policy(add, facts, [d.created_at for d in digests[:n]], anchor_window, clock_skew)
    elif anchor is not None:
        add("anchor", True, "present, not looked up on-chain (no anchor_checker)")

    first = min(bad) if bad else None
    return _report(checks, first, "" if first is None else bad[first], **info)


def _judge_store(bundle: dict, add, bad: dict[int, str], verifier: Verifier, origin: str, n: int, run_id: str,
                 cp_hash: str, finished: bool) -> None:
    """A bundle's `checkpoints` (a newer one signed by the same key: this one is rolled back) and `tail` (the
    unsigned entries after it: `judge`). Checked only when the bundle carries them."""
    notes = bundle.get("checkpoints")
    if notes is not None:
        if not isinstance(notes, list):
            add("newest checkpoint", False, "checkpoints is not a list of signed notes")
        else:
            sizes = [0]
            for note in notes:
                try:
                    cp = Checkpoint.from_text(open_note(note, verifier)[0]) if isinstance(note, str) else None
                except (NoteError, ValueError):
                    cp = None
                if cp is not None and cp.origin == origin:
                    sizes.append(cp.size)
            newest = max(sizes)
            add("newest checkpoint", newest <= n, f"no newer checkpoint signed by {verifier.name} among the "
                f"{len(notes)} stored for the run" if newest <= n else f"a newer checkpoint (size {newest}) signed "
                f"by {verifier.name} is stored for the run: this one (size {n}) is rolled back")
    tail = bundle.get("tail")
    if tail is None:
        return
    if not isinstance(tail, list):
        add("tail", False, "tail is not a list of entries")
        return
    rows, malformed = [], {}
    for j, e in enumerate(tail):
        position = n + j
        if not isinstance(e, dict) or set(e) != _ENTRY_KEYS or not isinstance(e["kind"], str) \
                or not isinstance(e["payload"], dict):
            malformed[position] = "malformed tail entry"
        elif type(e["index"]) is not int or e["index"] != position:
            malformed[position] = f"index {e['index']!r} at position {position}"
        elif e["run_id"] != run_id:
            malformed[position] = "entry belongs to another run"
        else:
            rows.append((position, e["kind"], e["payload"]))
    problems = {**malformed, **judge(finished, rows, cp_hash)}
    for position in sorted(problems):
        bad.setdefault(position, problems[position])
    if problems:
        first = min(problems)
        add("tail", False, f"{len(problems)} entries after the checkpoint may not be there, first {first}: "
                           f"{problems[first]}")
    elif not tail:
        add("tail", True, "no entries after the checkpoint")
    else:
        add("tail", True, f"{len(tail)} entries after the checkpoint are not signed: its own anchor record, or "
                          f"unverified (never the run's outcome)")


def verify_log(
    log: AuditLog,
    run_id: str,
    trusted_vkey: str | Verifier | None = None,
    anchor_checker: AnchorChecker | None = None,
    checkpoint_note: str | None = None,
    anchor: dict | None = None,
    anchor_window: float = DEFAULT_ANCHOR_WINDOW,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
) -> VerifyReport:
    """verify_bundle on the database's own data, plus consistency of all stored checkpoints.

    The checkpoint verified is the newest one `trusted_vkey` signed (the largest tree size), never the newest anchor
    record's: an anchor record naming an older checkpoint after it, and for a finished run any entry after it, fail
    at their index (swarm/audit/outcome.py). A `checkpoint_note` older than that newest one fails as rolled back.

    Without `trusted_vkey` the checkpoint is checked against the key stored beside it in the same database:
    that shows the log is internally consistent (what a crash-resume test wants), not that it is authentic,
    since whoever can rewrite the database can rewrite that key too. The signature check says "not pinned";
    `swarm audit verify` always passes the operator's key."""
    try:
        trusted = trusted_verifier(trusted_vkey)
    except NoteError as exc:
        return _report([Check("signature", False, f"trusted key unusable: {exc}")], None, run_id=run_id)
    if checkpoint_note is None:
        newest = newest_checkpoint(log.checkpoints(run_id), run_id, trusted)
        if newest is None:
            whose = "signed by the trusted key " if trusted is not None and log.checkpoints(run_id) else ""
            return _report([Check("checkpoint", False, f"no checkpoint {whose}stored for run {run_id!r}")], None,
                           run_id=run_id)
        checkpoint_note, vkey = newest.stored.note, newest.stored.vkey
    else:
        stored = log.find_checkpoint(checkpoint_note)
        if stored is not None:
            vkey = stored.vkey
        elif trusted is not None:
            vkey = trusted.vkey
        else:
            return _report([Check("checkpoint", False, "checkpoint not stored here; pass trusted_vkey")], None,
                           run_id=run_id)
    report = _verify(_bundle(log, run_id, checkpoint_note, anchor, vkey, strict=False),
                     trusted, anchor_checker, anchor_window, clock_skew, own_key="log")
    checks = list(report.checks)
    if report.tree_size is not None:
        # Every checkpoint ever signed for this run must be a prefix of this one.
        n = report.tree_size
        new_root = Checkpoint.from_text(parse_note(checkpoint_note)[0]).root
        for sc in log.checkpoints(run_id):
            try:
                old = Checkpoint.from_text(open_note(sc.note, trusted or Verifier.from_vkey(sc.vkey))[0])
            except (NoteError, ValueError):
                continue  # signed by another key: not ours to judge
            if old.size > n or old.origin != origin_for_run(run_id):
                continue
            try:
                proof = log.consistency_proof(run_id, old.size, n)
            except (ValueError, RuntimeError) as exc:  # rows missing from the database
                checks.append(Check("consistency", False, f"no consistency proof from the database: {exc}"))
                break
            if not verify_consistency(old.size, n, proof, old.root, new_root):
                checks.append(Check("consistency", False, f"checkpoint at size {old.size} is not a prefix of size {n}"))
                break
        else:
            checks.append(Check("consistency", True, "all stored checkpoints are prefixes of this one"))
    report = report.model_copy(update={"checks": checks, "ok": all(c.ok for c in checks)})
    if report.reason is None and not report.ok:
        first = next(c for c in checks if not c.ok)
        report = report.model_copy(update={"reason": f"{first.name}: {first.detail}"})
    return report
