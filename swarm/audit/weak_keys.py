"""Ed25519 public keys that verify forgeries: refused before any signature is checked.

RFC 8032 verification (OpenSSL, `cryptography`, WebCrypto) accepts a public key of small order: with the
identity point as the key, R = B and S = 1 "verify" for every message. A pinned key of that kind would make any
checkpoint pass, so a verifier refuses such keys and non-canonical encodings (y >= p, or x = 0 with the sign bit
set; RFC 8032 5.1.3) by name. Plain integer arithmetic on the curve: three doublings of one decoded point."""
from __future__ import annotations

P = 2**255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _decode(public_key: bytes) -> tuple[int, int] | str:
    """The point (x, y), or why the encoding is not a canonical point (RFC 8032 5.1.3)."""
    n = int.from_bytes(public_key, "little")
    sign, y = n >> 255, n & ((1 << 255) - 1)
    if y >= P:
        return "a non-canonical encoding (y >= p)"
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = (u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P)) % P
    if (v * x * x - u) % P != 0:
        x = (x * SQRT_M1) % P
    if (v * x * x - u) % P != 0:
        return "not a point on the curve"
    if x == 0 and sign:
        return "a non-canonical encoding (x = 0 with the sign bit set)"
    if x & 1 != sign:
        x = P - x
    return x, y


def _double(point: tuple[int, int]) -> tuple[int, int]:
    x, y = point
    t = D * x * x * y * y % P
    return (2 * x * y * pow(1 + t, P - 2, P) % P, (y * y + x * x) * pow(1 - t, P - 2, P) % P)


def weak_key_problem(public_key: bytes) -> str | None:
    """Why this 32-byte Ed25519 public key must not be trusted, or None for an ordinary key."""
    point = _decode(public_key)
    if isinstance(point, str):
        return point
    for _ in range(3):  # [8]A: the cofactor clears every small-order component
        point = _double(point)
    return "a small-order point (it verifies forged signatures)" if point == (0, 1) else None
