"""RFC 9162 section 2.1 Merkle tree: hashes, inclusion and consistency proofs.

Hashing (2.1.1): leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right),
MTH of an empty list = SHA-256(""), and a list of n > 1 leaves splits at the largest
power of two strictly smaller than n.

`MerkleTree` keeps every complete perfect subtree hash (level k holds the hashes of
the aligned 2**k-leaf blocks), so appending costs O(1) amortised hashes and any
root or proof is read from that cache in O(log n) instead of rehashing the leaves.
Verification follows the RFC's algorithms (2.1.3.2, 2.1.4.2) step by step.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """Append-only tree over leaf hashes with a cache of perfect subtree hashes."""

    __slots__ = ("_levels", "_memo")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        self._memo: dict[tuple[int, int], bytes] = {}
        self.extend(leaf_hashes)

    def __len__(self) -> int:
        return len(self._levels[0])

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes:
        return self._levels[0][index]

    def append_data(self, data: bytes) -> int:
        """Hash `data` as a leaf and append it; returns its index."""
        return self.append(leaf_hash(data))

    def append(self, h: bytes) -> int:
        """Append one leaf hash; returns its index."""
        if len(h) != HASH_SIZE:
            raise ValueError("leaf hash must be 32 bytes")
        levels = self._levels
        levels[0].append(h)
        index = i = len(levels[0]) - 1
        k = 0
        while i & 1:  # this leaf completes a block at level k + 1
            row = levels[k]
            parent = node_hash(row[i - 1], row[i])
            k += 1
            if len(levels) == k:
                levels.append([])
            levels[k].append(parent)
            i >>= 1
        return index

    def extend(self, hashes: Iterable[bytes]) -> None:
        """Append many leaf hashes, building each level in one pass."""
        new = list(hashes)
        if not new:
            return
        if any(len(h) != HASH_SIZE for h in new):
            raise ValueError("leaf hash must be 32 bytes")
        levels = self._levels
        levels[0].extend(new)
        k = 0
        while True:
            row = levels[k]
            if k + 1 == len(levels):
                levels.append([])
            up = levels[k + 1]
            start = 2 * len(up)  # first child not yet combined
            if start + 1 >= len(row):
                break
            up.extend(_sha256(b"\x01" + row[j] + row[j + 1]).digest()  # node_hash, inlined: the hot loop
                      for j in range(start, len(row) - 1, 2))
            k += 1
        if not levels[-1]:
            levels.pop()

    def _range(self, start: int, size: int) -> bytes:
        """MTH(D[start:start+size]) for the aligned ranges the RFC recursion visits.

        Such a range is a fold (from the right) of the perfect blocks given by the
        binary digits of `size`, each read from the level cache.
        """
        if size & (size - 1) == 0:
            k = size.bit_length() - 1
            return self._levels[k][start >> k]
        key = (start, size)
        memo = self._memo.get(key)
        if memo is not None:
            return memo
        parts = []
        pos = start
        for k in range(size.bit_length() - 1, -1, -1):
            if size >> k & 1:
                parts.append(self._levels[k][pos >> k])
                pos += 1 << k
        r = parts[-1]
        for p in reversed(parts[:-1]):
            r = node_hash(p, r)
        self._memo[key] = r  # leaves never change, so this never goes stale
        return r

    def _check_size(self, size: int | None) -> int:
        n = self.size if size is None else size
        if not 0 <= n <= self.size:
            raise ValueError(f"tree size {n} out of range 0..{self.size}")
        return n

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first `size` leaves (default: all)."""
        n = self._check_size(size)
        return EMPTY_ROOT if n == 0 else self._range(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162 2.1.3.1, leaf-side first."""
        n = self._check_size(size)
        if not 0 <= index < n:
            raise ValueError(f"leaf index {index} out of range for tree size {n}")
        levels, path = self._levels, []
        start, m = 0, index
        while n > 1:
            k = 1 << ((n - 1).bit_length() - 1)  # _split(n), inlined: this is the hot loop
            if m < k:
                path.append(self._range(start + k, n - k))
                n = k
            else:  # the left sibling is always a perfect block of size k
                path.append(levels[k.bit_length() - 1][start // k])
                start, m, n = start + k, m - k, n - k
        path.reverse()
        return path

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """PROOF(old, D[new]) of RFC 9162 2.1.4.1; empty when old is 0 or old == new."""
        n = self._check_size(new)
        if not 0 <= old <= n:
            raise ValueError(f"old size {old} out of range 0..{n}")
        if old == 0 or old == n:
            return []
        path: list[bytes] = []
        start, m, complete = 0, old, True
        while m != n:
            k = _split(n)
            if m <= k:
                path.append(self._range(start + k, n - k))
                n = k
            else:
                path.append(self._range(start, k))
                start, m, n, complete = start + k, m - k, n - k, False
        if not complete:
            path.append(self._range(start, m))
        path.reverse()
        return path


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over a list of leaf hashes (builds a throwaway cached tree)."""
    return MerkleTree(leaf_hashes).root()


def _valid(*hashes: bytes) -> bool:
    return all(isinstance(h, (bytes, bytearray)) and len(h) == HASH_SIZE for h in hashes)


def root_from_inclusion_proof(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes | None:
    """RFC 9162 2.1.3.2 steps 1-5 without the final root comparison; None if invalid."""
    if not (0 <= index < size) or len(leaf) != HASH_SIZE or any(len(p) != HASH_SIZE for p in proof):
        return None
    sha = _sha256
    fn, sn, r = index, size - 1, bytes(leaf)
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = sha(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = sha(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True iff `proof` shows leaf hash `leaf` at `index` in the tree (`size`, `root`)."""
    r = root_from_inclusion_proof(leaf, index, size, proof)
    return r is not None and _valid(root) and hmac.compare_digest(r, root)


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    """RFC 9162 2.1.4.2: the tree (size1, root1) is a prefix of (size2, root2).

    Edge cases the RFC leaves to the caller: equal sizes need an empty proof and
    equal roots; size1 == 0 needs an empty proof and root1 == SHA-256("").
    """
    if not (0 <= size1 <= size2) or not _valid(root1, root2, *proof):
        return False
    if size1 == size2:
        return not proof and hmac.compare_digest(root1, root2)
    if size1 == 0:
        return not proof and hmac.compare_digest(root1, EMPTY_ROOT)
    if not proof:  # step 1
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # step 2
        path.insert(0, bytes(root1))
    fn, sn = size1 - 1, size2 - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(fr, root1) and hmac.compare_digest(sr, root2)  # step 7
