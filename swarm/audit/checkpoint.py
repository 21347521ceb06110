"""Checkpoints (c2sp.org/tlog-checkpoint) as signed notes (c2sp.org/signed-note), Ed25519.

A checkpoint note is

    <origin>\\n<tree size>\\n<base64 root>\\n[<extension line>\\n...]
    \\n
    — <key name> <base64(4-byte key ID || 64-byte Ed25519 signature)>\\n

with key ID = SHA-256(key name || 0x0A || 0x01 || public key)[:4]. The whole note's
SHA-256 (`checkpoint_hash`) is the 32-byte value anchored on-chain: it commits to
the origin, size, root and the signature, not just a bare root.

The key name is the operator's (default `defai-swarm/audit`), not the per-run
origin, so one trusted vkey covers every run; the spec's "key name SHOULD match
the origin" is deliberately not followed for that reason.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, field_validator

from defai_swarm.audit.keys import SigningKey, load_or_create_signing_key
from defai_swarm.audit.weak_keys import weak_key_problem
from defai_swarm.core.errors import SwarmError

ORIGIN_PREFIX = "defai-swarm/run/"
DEFAULT_KEY_NAME = "defai-swarm/audit"
ED25519_TYPE = 0x01
MAX_SIGNATURES = 64
MAX_NOTE_BYTES = 1 << 20
_EM_DASH = "\u2014"
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class NoteError(SwarmError, ValueError):
    """A note or checkpoint is malformed, or its signature does not verify."""


def origin_for_run(run_id: str) -> str:
    """The checkpoint origin (log identity) of one run's log."""
    return ORIGIN_PREFIX + run_id


def _b64decode(s: str) -> bytes:
    """Strict standard base64 (RFC 4648 section 4): canonical padding, no junk."""
    try:
        raw = base64.b64decode(s.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise NoteError("invalid base64") from None
    if base64.b64encode(raw).decode("ascii") != s:
        raise NoteError("non-canonical base64")
    return raw


def _check_key_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name) or not name.isprintable():
        raise NoteError("key name must be non-empty, without spaces or '+'")


def key_id(name: str, public_key: bytes) -> bytes:
    """Signed-note Ed25519 key ID: SHA-256(name || 0x0A || 0x01 || pubkey)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_TYPE]) + public_key).digest()[:4]


class Verifier:
    """A note verifier: key name + Ed25519 public key (the `vkey`)."""

    __slots__ = ("name", "public_key", "key_id", "_pub")

    def __init__(self, name: str, public_key: bytes) -> None:
        _check_key_name(name)
        if len(public_key) != 32:
            raise NoteError("Ed25519 public key must be 32 bytes")
        if problem := weak_key_problem(bytes(public_key)):
            raise NoteError(f"refused Ed25519 public key: {problem}")
        self.name = name
        self.public_key = bytes(public_key)
        self.key_id = key_id(name, self.public_key)
        try:
            self._pub = Ed25519PublicKey.from_public_bytes(self.public_key)
        except ValueError:
            raise NoteError("invalid Ed25519 public key") from None

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse `<name>+<hex key ID>+<base64(0x01 || pubkey)>`."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("vkey must be <name>+<keyid hex>+<base64 key>")
        name, hid, b64 = parts
        if not re.fullmatch(r"[0-9a-f]{8}", hid):
            raise NoteError("vkey key ID must be 8 lowercase hex digits")
        raw = _b64decode(b64)
        if len(raw) != 33 or raw[0] != ED25519_TYPE:
            raise NoteError("vkey is not an Ed25519 key")
        v = cls(name, raw[1:])
        if v.key_id.hex() != hid:
            raise NoteError("vkey key ID does not match its name and key")
        return v

    @property
    def vkey(self) -> str:
        raw = bytes([ED25519_TYPE]) + self.public_key
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._pub.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Verifier) and (other.name, other.public_key) == (self.name, self.public_key)

    def __hash__(self) -> int:
        return hash((self.name, self.public_key))

    def __repr__(self) -> str:
        return f"Verifier({self.vkey!r})"


class Signer:
    """Signs notes with an Ed25519 key under a key name."""

    __slots__ = ("name", "_key", "verifier")

    def __init__(self, key: SigningKey | Ed25519PrivateKey, name: str = DEFAULT_KEY_NAME) -> None:
        _check_key_name(name)
        self._key = key if isinstance(key, SigningKey) else SigningKey(key)
        self.name = name
        self.verifier = Verifier(name, self._key.public_key)

    @classmethod
    def load(cls, path=None, name: str = DEFAULT_KEY_NAME) -> Signer:
        """Signer over the key file (created on first use, see keys.py)."""
        return cls(load_or_create_signing_key(path), name)

    @property
    def key_id(self) -> bytes:
        return self.verifier.key_id

    @property
    def vkey(self) -> str:
        return self.verifier.vkey

    def signature_line(self, text: str) -> str:
        sig = self._key.sign(text.encode("utf-8"))
        return f"{_EM_DASH} {self.name} {base64.b64encode(self.key_id + sig).decode()}\n"

    def __repr__(self) -> str:
        return f"Signer({self.vkey!r})"

    def __reduce__(self):
        raise TypeError("Signer holds a private key and is not serialisable")


# ---- signed notes ---------------------------------------------------------------

class NoteSignature(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    key_id: bytes
    signature: bytes


def _check_text_chars(s: str) -> None:
    if any(ord(c) < 0x20 and c != "\n" for c in s):
        raise NoteError("note contains control characters")


def sign_note(text: str, signers: Signer | Iterable[Signer]) -> str:
    """Append one signature line per signer to `text` (which must end in a newline)."""
    if isinstance(signers, Signer):
        signers = [signers]
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    _check_text_chars(text)
    lines = [s.signature_line(text) for s in signers]
    if not lines:
        raise NoteError("at least one signer is required")
    return text + "\n" + "".join(lines)


def parse_note(note: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signature lines (nothing verified yet)."""
    if isinstance(note, str):
        try:
            note = note.encode("utf-8")
        except UnicodeEncodeError:
            raise NoteError("note is not valid UTF-8") from None
    if not isinstance(note, (bytes, bytearray)):
        raise NoteError("note must be text")
    if len(note) > MAX_NOTE_BYTES:
        raise NoteError("note too large")
    try:
        note = bytes(note).decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("note is not valid UTF-8") from None
    _check_text_chars(note)
    if not note.endswith("\n"):
        raise NoteError("note must end with a newline")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("note has no signature block")
    text, block = note[: cut + 1], note[cut + 2 :]
    sigs: list[NoteSignature] = []
    for line in block[:-1].split("\n"):
        if not line.startswith(_EM_DASH + " "):
            raise NoteError("malformed signature line")
        parts = line[2:].split(" ")
        if len(parts) != 2:
            raise NoteError("malformed signature line")
        name, b64 = parts
        _check_key_name(name)
        raw = _b64decode(b64)
        if len(raw) < 5:
            raise NoteError("signature too short")
        sigs.append(NoteSignature(name=name, key_id=raw[:4], signature=raw[4:]))
        if len(sigs) > MAX_SIGNATURES:
            raise NoteError("too many signatures")
    return text, sigs


def open_note(note: str | bytes, verifiers: Verifier | Sequence[Verifier]) -> tuple[str, list[str]]:
    """Verify a note against known keys; return (text, names of keys that signed).

    Per the spec: signatures from unknown keys are ignored, a signature from a
    known key that does not verify rejects the note, and at least one known key
    must have signed.
    """
    if isinstance(verifiers, Verifier):
        verifiers = [verifiers]
    known = {(v.name, v.key_id): v for v in verifiers}
    text, sigs = parse_note(note)
    signed: list[str] = []
    for s in sigs:
        v = known.get((s.name, s.key_id))
        if v is None:
            continue
        if not v.verify(text.encode("utf-8"), s.signature):
            raise NoteError(f"signature by {s.name} does not verify")
        signed.append(s.name)
    if not signed:
        raise NoteError("note is not signed by any trusted key")
    return text, signed


# ---- checkpoints ----------------------------------------------------------------

class Checkpoint(BaseModel):
    """The checkpoint body: origin, tree size, root hash, optional extension lines."""

    model_config = ConfigDict(frozen=True)
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    @field_validator("origin")
    @classmethod
    def _origin(cls, v: str) -> str:
        if not v or "\n" in v:
            raise ValueError("origin must be one non-empty line")
        return v

    @field_validator("size")
    @classmethod
    def _size(cls, v: int) -> int:
        if v < 0:
            raise ValueError("tree size must be >= 0")
        return v

    @field_validator("root")
    @classmethod
    def _root(cls, v: bytes) -> bytes:
        if len(v) != 32:
            raise ValueError("root hash must be 32 bytes")
        return v

    @field_validator("extensions")
    @classmethod
    def _ext(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(not e or "\n" in e for e in v):
            raise ValueError("extension lines must be non-empty single lines")
        return v

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise NoteError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise NoteError("checkpoint needs at least three non-empty lines")
        origin, size, root, *ext = lines
        if not _DECIMAL.fullmatch(size):
            raise NoteError("tree size must be a decimal number without leading zeros")
        raw = _b64decode(root)
        if len(raw) != 32:
            raise NoteError("root hash must be 32 bytes")
        return cls(origin=origin, size=int(size), root=raw, extensions=tuple(ext))


def sign_checkpoint(cp: Checkpoint, signer: Signer) -> str:
    """The signed note text of a checkpoint."""
    return sign_note(cp.text(), signer)


def verify_checkpoint(note: str | bytes, verifiers: Verifier | Sequence[Verifier]) -> Checkpoint:
    """Verify the signature(s), then parse the body; raises NoteError."""
    text, _ = open_note(note, verifiers)
    return Checkpoint.from_text(text)


def checkpoint_hash(note: str | bytes) -> bytes:
    """SHA-256 of the full signed note bytes: the value to anchor on-chain."""
    data = note.encode("utf-8") if isinstance(note, str) else bytes(note)
    return hashlib.sha256(data).digest()
