"""A pinned Ed25519 key of small order verifies forgeries (R = B, S = 1 passes RFC 8032 verification for any
message under the identity key): the audit verifier refuses such keys and non-canonical encodings by name."""
from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from defai_swarm.audit.checkpoint import ED25519_TYPE, NoteError, Verifier, key_id
from defai_swarm.audit.weak_keys import weak_key_problem

P = 2**255 - 19
BASE_POINT = bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666")
# the encodings of the eight points of order dividing 8 (the set libsodium's has_small_order refuses)
SMALL_ORDER = [bytes.fromhex(h) for h in (
    "0100000000000000000000000000000000000000000000000000000000000000",  # identity, order 1
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # (0, -1), order 2
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
    "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
)]


def vkey(name: str, public_key: bytes) -> str:
    return f"{name}+{key_id(name, public_key).hex()}+{base64.b64encode(bytes([ED25519_TYPE]) + public_key).decode()}"


def test_the_identity_key_verifies_a_forgery_in_plain_rfc_8032():
    """Why the check exists: the library underneath accepts it."""
    forged = BASE_POINT + (1).to_bytes(32, "little")
    Ed25519PublicKey.from_public_bytes(SMALL_ORDER[0]).verify(forged, b"any checkpoint at all")  # no exception


@pytest.mark.parametrize("public_key", SMALL_ORDER, ids=lambda k: k.hex()[:8])
def test_small_order_keys_are_refused(public_key):
    assert "small-order" in (weak_key_problem(public_key) or "")
    with pytest.raises(NoteError, match="small-order"):
        Verifier("operator", public_key)
    with pytest.raises(NoteError, match="small-order"):
        Verifier.from_vkey(vkey("operator", public_key))


def test_non_canonical_encodings_are_refused():
    y_is_p = P.to_bytes(32, "little")
    assert "y >= p" in (weak_key_problem(y_is_p) or "")
    x_zero_negative = (1 | 1 << 255).to_bytes(32, "little")  # the identity with the sign bit set
    assert "x = 0" in (weak_key_problem(x_zero_negative) or "")
    with pytest.raises(NoteError, match="non-canonical"):
        Verifier("operator", y_is_p)


def test_ordinary_keys_pass():
    for _ in range(64):
        raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        assert weak_key_problem(raw) is None
        assert Verifier("operator", raw).public_key == raw
    assert weak_key_problem(BASE_POINT) is None
