"""RFC 9162 Merkle tree: known-answer vectors and corrupted-proof probes.

The vectors are the RFC 6962 reference tree of 8 leaves used by the
transparency-dev/merkle tests (testonly/constants.go, proof/verify_test.go),
re-typed here as facts. The probes mirror that suite's corruptions.
"""
from __future__ import annotations

import hashlib
import random
from functools import lru_cache

import pytest

from defai_swarm.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_of,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

LEAVES = [h(x) for x in (
    "", "00", "10", "2021", "3031", "40414243",
    "5051525354555657", "606162636465666768696a6b6c6d6e6f",
)]

# ROOTS[n] = MTH of the first n leaves.
ROOTS = [h(x) for x in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]

# Node hashes of the complete subtrees, by level then position.
NODES = [
    [h(x) for x in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    )],
    [h(x) for x in (
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    )],
    [h(x) for x in (
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    )],
    [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]

# (leaf index, tree size, audit path); the Go suite numbers leaves from 1.
INCLUSION = [
    (0, 1, []),
    (0, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (5, 8, [h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (1, 5, [h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]

# (size1, size2, consistency proof)
CONSISTENCY = [
    (1, 1, []),
    (1, 8, [h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


def flip(b: bytes, bit: int) -> bytes:
    return bytes([b[0] ^ bit]) + b[1:]


def corrupt_inclusion(index, size, proof, root, leaf):
    """Probes that must all fail (the transparency-dev suite's list)."""
    probes = [
        ("index - 1", index - 1, size, root, leaf, proof),
        ("index + 1", index + 1, size, root, leaf, proof),
        ("index ^ 2", index ^ 2, size, root, leaf, proof),
        ("size * 2", index, size * 2, root, leaf, proof),
        ("size // 2", index, size // 2, root, leaf, proof),
        ("wrong leaf", index, size, root, leaf_hash(b"WrongLeaf"), proof),
        ("empty root", index, size, EMPTY_ROOT, leaf, proof),
        ("random root", index, size, SOME_HASH, leaf, proof),
        ("trailing garbage", index, size, root, leaf, proof + [b""]),
        ("trailing root", index, size, root, leaf, proof + [root]),
        ("preceding garbage", index, size, root, leaf, [b""] + proof),
        ("preceding root", index, size, root, leaf, [root] + proof),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = flip(bad[i], 8)
        probes.append((f"flipped bit in proof[{i}]", index, size, root, leaf, bad))
    if proof:
        probes.append(("removed last node", index, size, root, leaf, proof[:-1]))
    if len(proof) > 1:
        probes.append(("inserted node", index, size, root, leaf, [proof[0], SOME_HASH] + proof[1:]))
        probes.append(("swapped order", index, size, root, leaf, [proof[1], proof[0]] + proof[2:]))
    return probes


def corrupt_consistency(size1, size2, proof, root1, root2):
    probes = [
        ("size1 - 1", size1 - 1, size2, root1, root2, proof),
        ("size1 + 1", size1 + 1, size2, root1, root2, proof),
        ("size1 ^ 2", size1 ^ 2, size2, root1, root2, proof),
        ("size2 * 2", size1, size2 * 2, root1, root2, proof),
        ("size2 // 2", size1, size2 // 2, root1, root2, proof),
        ("wrong root1", size1, size2, SOME_HASH, root2, proof),
        ("wrong root2", size1, size2, root1, SOME_HASH, proof),
        ("swapped roots", size1, size2, root2, root1, proof),
        ("empty proof", size1, size2, root1, root2, []),
        ("trailing garbage", size1, size2, root1, root2, proof + [b""]),
        ("trailing root1", size1, size2, root1, root2, proof + [root1]),
        ("trailing root2", size1, size2, root1, root2, proof + [root2]),
        ("preceding garbage", size1, size2, root1, root2, [b""] + proof),
        ("preceding root1", size1, size2, root1, root2, [root1] + proof),
        ("preceding root2", size1, size2, root1, root2, [root2] + proof),
        ("preceding proof[0]", size1, size2, root1, root2, [proof[0]] + proof),
        ("truncated", size1, size2, root1, root2, proof[:-1]),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = flip(bad[i], 16)
        probes.append((f"flipped bit in proof[{i}]", size1, size2, root1, root2, bad))
    if len(proof) > 1:
        probes.append(("swapped order", size1, size2, root1, root2, [proof[1], proof[0]] + proof[2:]))
    return probes


def reference_tree() -> MerkleTree:
    return MerkleTree(leaf_hash(d) for d in LEAVES)


# ---- known answers ------------------------------------------------------------------

def test_empty_tree_and_empty_leaf_known_answers():
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert MerkleTree().root() == EMPTY_ROOT
    assert root_of([]) == EMPTY_ROOT
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


def test_domain_separation():
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert leaf_hash(b"a" * 32 + b"b" * 32) != node_hash(b"a" * 32, b"b" * 32)


def test_roots_for_every_size_appending_one_by_one():
    tree = MerkleTree()
    assert tree.root() == ROOTS[0]
    for n, data in enumerate(LEAVES, start=1):
        assert tree.append_data(data) == n - 1
        assert tree.root() == ROOTS[n], n
        assert root_of([leaf_hash(d) for d in LEAVES[:n]]) == ROOTS[n]


def test_roots_of_prefixes_of_a_bulk_built_tree():
    tree = reference_tree()
    assert [tree.root(n) for n in range(9)] == ROOTS


def test_node_hash_vectors_match_our_subtrees():
    tree = reference_tree()
    for level, row in enumerate(NODES):
        for pos, want in enumerate(row):
            assert tree._range(pos << level, 1 << level) == want


@pytest.mark.parametrize("index,size,proof", INCLUSION)
def test_inclusion_vectors(index, size, proof):
    tree = reference_tree()
    leaf = leaf_hash(LEAVES[index])
    assert tree.inclusion_proof(index, size) == proof
    assert root_from_inclusion_proof(leaf, index, size, proof) == ROOTS[size]
    assert verify_inclusion(leaf, index, size, proof, ROOTS[size])
    wrongly_ok = [d for d, i, n, r, lf, p in corrupt_inclusion(index, size, proof, ROOTS[size], leaf)
                  if verify_inclusion(lf, i, n, p, r)]
    assert wrongly_ok == []


def test_inclusion_single_entry_and_degenerate_inputs():
    hh = leaf_hash(b"data")
    assert verify_inclusion(hh, 0, 1, [], hh)
    assert not verify_inclusion(hh, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], hh)
    for index, size in [(0, 0), (1, 0), (2, 1), (1, 1)]:
        assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)
        assert not verify_inclusion(SOME_HASH, index, size, [], SOME_HASH)


@pytest.mark.parametrize("size1,size2,proof", CONSISTENCY)
def test_consistency_vectors(size1, size2, proof):
    tree = reference_tree()
    root1, root2 = ROOTS[size1], ROOTS[size2]
    assert tree.consistency_proof(size1, size2) == proof
    assert verify_consistency(size1, size2, proof, root1, root2)
    if proof:  # like the Go suite: probes only for non-trivial proofs
        wrongly_ok = [d for d, s1, s2, r1, r2, p in corrupt_consistency(size1, size2, proof, root1, root2)
                      if verify_consistency(s1, s2, p, r1, r2)]
        assert wrongly_ok == []


def test_consistency_edge_cases():
    r1, r2 = ROOTS[1], ROOTS[2]
    assert verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    assert verify_consistency(0, 5, [], EMPTY_ROOT, ROOTS[5])
    assert verify_consistency(1, 1, [], r1, r1)
    assert not verify_consistency(1, 1, [], r1, r2)          # same size, different roots
    assert not verify_consistency(0, 0, [], EMPTY_ROOT, r2)
    assert not verify_consistency(1, 0, [], r1, r2)          # time travel
    assert not verify_consistency(2, 1, [], r2, r1)
    assert not verify_consistency(1, 2, [], r1, r2)          # missing proof
    assert not verify_consistency(0, 1, [EMPTY_ROOT], EMPTY_ROOT, r1)  # non-empty proof for trivial case
    assert not verify_consistency(1, 1, [EMPTY_ROOT], r1, r1)
    # Stricter than the Go verifier: a size-0 tree must have the empty root.
    assert not verify_consistency(0, 1, [], SOME_HASH, r1)


def test_proof_generation_rejects_out_of_range():
    tree = reference_tree()
    with pytest.raises(ValueError):
        tree.inclusion_proof(8, 8)
    with pytest.raises(ValueError):
        tree.inclusion_proof(0, 9)
    with pytest.raises(ValueError):
        tree.consistency_proof(5, 4)
    with pytest.raises(ValueError):
        tree.root(9)
    with pytest.raises(ValueError):
        MerkleTree([b"short"])


# ---- property-style: random trees against a direct transcription of the RFC -----------

def reference_functions(leaves: list[bytes]):
    """MTH, PATH and PROOF exactly as written in RFC 9162 2.1.1, 2.1.3.1, 2.1.4.1."""

    def k_of(n):
        k = 1
        while k * 2 < n:
            k *= 2
        return k

    @lru_cache(maxsize=None)
    def mth(a, b):
        n = b - a
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return leaves[a]
        k = k_of(n)
        return hashlib.sha256(b"\x01" + mth(a, a + k) + mth(a + k, b)).digest()

    def path(m, a, b):
        n = b - a
        if n == 1:
            return []
        k = k_of(n)
        if m < k:
            return path(m, a, a + k) + [mth(a + k, b)]
        return path(m - k, a + k, b) + [mth(a, a + k)]

    def subproof(m, a, b, complete):
        n = b - a
        if m == n:
            return [] if complete else [mth(a, b)]
        k = k_of(n)
        if m <= k:
            return subproof(m, a, a + k, complete) + [mth(a + k, b)]
        return subproof(m - k, a + k, b, False) + [mth(a, a + k)]

    return mth, path, subproof


def sizes_to_test():
    rnd = random.Random(9162)
    return sorted(set(range(1, 34)) | {64, 65, 127, 128, 129, 255, 256, 257, 300} | {rnd.randint(34, 300) for _ in range(8)})


@pytest.mark.parametrize("n", sizes_to_test())
def test_random_trees_all_proofs_verify_and_mutations_fail(n):
    rnd = random.Random(n)
    leaves = [leaf_hash(i.to_bytes(4, "big") + rnd.randbytes(rnd.randint(0, 40))) for i in range(n)]
    mth, path, subproof = reference_functions(leaves)
    tree = MerkleTree()
    # Mix single appends and bulk extends: both must build the same cache.
    i = 0
    while i < n:
        step = rnd.choice([1, 1, 3, 17])
        if step == 1:
            tree.append(leaves[i])
        else:
            tree.extend(leaves[i:i + step])
        i = min(n, i + step)
    assert tree.size == n
    for m in range(n + 1):
        assert tree.root(m) == mth(0, m)
    root = tree.root()

    for m in range(n):
        proof = tree.inclusion_proof(m)
        assert proof == path(m, 0, n)
        assert verify_inclusion(leaves[m], m, n, proof, root)
        # (n + 1 may share the path shape; doubling or halving never does)
        assert not verify_inclusion(leaves[m], m, n * 2, proof, root)
        assert not verify_inclusion(leaves[m], m, n // 2, proof, root)
        if n > 1:
            assert not verify_inclusion(leaves[m], (m + 1) % n, n, proof, root)
            assert not verify_inclusion(leaves[(m + 1) % n], m, n, proof, root)
            j = rnd.randrange(len(proof))
            bad = list(proof)
            bad[j] = flip(bad[j], 1 << rnd.randrange(8))
            assert not verify_inclusion(leaves[m], m, n, bad, root)
            assert not verify_inclusion(leaves[m], m, n, proof[:-1], root)
            assert not verify_inclusion(leaves[m], m, n, proof + [SOME_HASH], root)
            if len(proof) > 1 and proof[0] != proof[1]:
                assert not verify_inclusion(leaves[m], m, n, [proof[1], proof[0]] + proof[2:], root)

    for m in range(1, n + 1):
        proof = tree.consistency_proof(m, n)
        assert proof == (subproof(m, 0, n, True) if m < n else [])
        assert verify_consistency(m, n, proof, mth(0, m), root)
        if m < n:
            assert not verify_consistency(m, n, proof, SOME_HASH, root)
            assert not verify_consistency(m, n, proof, mth(0, m), SOME_HASH)
            assert not verify_consistency(m, n, proof[:-1], mth(0, m), root)
            assert not verify_consistency(m, n, proof + [SOME_HASH], mth(0, m), root)
            j = rnd.randrange(len(proof))
            bad = list(proof)
            bad[j] = flip(bad[j], 1 << rnd.randrange(8))
            assert not verify_consistency(m, n, bad, mth(0, m), root)
            if m + 1 < n:
                assert not verify_consistency(m + 1, n, proof, mth(0, m + 1), root)
        # Consistency between two inner sizes, too.
        if m > 1:
            k = rnd.randint(1, m)
            assert verify_consistency(k, m, tree.consistency_proof(k, m), mth(0, k), mth(0, m))


def test_large_tree_is_fast_and_matches_incremental_roots():
    rnd = random.Random(1)
    leaves = [leaf_hash(rnd.randbytes(8)) for _ in range(20_000)]
    tree = MerkleTree(leaves)
    inc = MerkleTree()
    for x in leaves[:5000]:
        inc.append(x)
    assert inc.root() == tree.root(5000)
    root = tree.root()
    for m in rnd.sample(range(20_000), 200):
        assert verify_inclusion(leaves[m], m, 20_000, tree.inclusion_proof(m), root)
