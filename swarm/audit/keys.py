"""The Ed25519 key that signs audit checkpoints: load it, or create it once.

The private key never leaves this module in printable form: `SigningKey` has no
attribute that returns the seed, its repr shows only a public fingerprint, and it
refuses to be pickled (so it cannot slip into a checkpointed graph state). The key
file holds the raw 32-byte seed (or a PKCS#8 PEM written by other tools) and is
created with mode 0600 in a 0700 directory.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from defai_swarm.config import swarm_home
from defai_swarm.core.errors import SwarmError

SEED_SIZE = 32


class KeyFileError(SwarmError):
    """The key file is unreadable, malformed or too widely readable."""


AUDIT_DIR_NAME = "audit"  # `$SWARM_HOME/audit` (and `<home>/audit` of a Swarm): the key and the log live there


def private_dir(path: str | os.PathLike, tighten: bool | None = None) -> Path:
    """Create `path` (and missing parents) as a 0700 directory; tighten an existing one to 0700.

    The audit directory holds the signing key and the log (salts and payloads): nobody else on the machine
    should list or read it. `tighten` (default: only for a directory named `audit`, the library's own
    layout) decides whether an existing directory's group and other bits are removed; a directory of
    another user with such bits is refused rather than changed.
    """
    p = Path(path)
    existed = p.is_dir()
    p.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name != "posix":
        return p
    if not existed:
        os.chmod(p, 0o700)  # mkdir's mode is filtered by the umask; say it exactly
        return p
    if tighten is None:
        tighten = p.name == AUDIT_DIR_NAME
    if not tighten:
        return p
    st = os.stat(p)
    if stat.S_IMODE(st.st_mode) & 0o077:
        if st.st_uid != os.getuid():
            raise KeyFileError(f"{p}: audit directory mode is {stat.S_IMODE(st.st_mode):04o} and it belongs to "
                               f"another user; use a directory of your own")
        os.chmod(p, stat.S_IMODE(st.st_mode) & 0o700)
    return p


def default_key_path() -> Path:
    """`$SWARM_HOME/audit/signing.key` (SWARM_HOME defaults to ~/.swarm)."""
    return swarm_home() / "audit" / "signing.key"


class SigningKey:
    """An Ed25519 private key that does not show itself."""

    __slots__ = ("_key", "_public")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise TypeError("SigningKey needs an Ed25519PrivateKey")
        self._key = private_key
        self._public = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        if len(seed) != SEED_SIZE:
            raise ValueError("an Ed25519 seed is 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(bytes(seed)))

    @property
    def public_key(self) -> bytes:
        """The 32-byte RFC 8032 public key."""
        return self._public

    @property
    def fingerprint(self) -> str:
        """Short public identifier (first 8 bytes of SHA-256 of the public key)."""
        return hashlib.sha256(self._public).hexdigest()[:16]

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self._public).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def _seed(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:
        return f"SigningKey(ed25519, public fingerprint {self.fingerprint})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("SigningKey is not serialisable; keep the key in its file")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SigningKey) and other._public == self._public

    def __hash__(self) -> int:
        return hash(self._public)


def _parse(data: bytes, path: Path) -> SigningKey:
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:  # message of cryptography has no key bytes
            raise KeyFileError(f"{path}: not an unencrypted PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{path}: PEM key is not Ed25519")
        return SigningKey(key)
    if len(data) == SEED_SIZE:
        return SigningKey.from_seed(data)
    raise KeyFileError(f"{path}: expected a raw 32-byte Ed25519 seed or a PEM private key")


def load_signing_key(path: str | os.PathLike | None = None, *, check_mode: bool = True) -> SigningKey:
    """Read an existing key; refuse a file that group or others can access."""
    p = Path(path) if path is not None else default_key_path()
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KeyFileError(f"{p}: cannot open key file ({exc.strerror})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise KeyFileError(f"{p}: not a regular file")
        if check_mode and os.name == "posix" and mode & 0o077:
            raise KeyFileError(
                f"{p}: key file mode is {stat.S_IMODE(mode):04o}; run `chmod 600 {p}`"
            )
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            data = fh.read(64 * 1024)
    finally:
        if fd >= 0:
            os.close(fd)
    return _parse(data, p)


def load_or_create_signing_key(path: str | os.PathLike | None = None) -> SigningKey:
    """Load the key at `path` (default `default_key_path()`), creating it on first use.

    Two processes racing to create it end up sharing one key.
    """
    p = Path(path) if path is not None else default_key_path()
    private_dir(p.parent)
    try:
        return load_signing_key(p)
    except FileNotFoundError:
        pass
    key = SigningKey.generate()
    # Write a private temp file, then hard-link it into place: the link is atomic
    # and fails if another process won the race, so nobody reads a half-written key.
    tmp = p.with_name(f".{p.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, key._seed())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, p)
        except FileExistsError:
            return load_signing_key(p)
    finally:
        tmp.unlink(missing_ok=True)
    return key
