"""Audit log benchmark: append throughput, root, proofs, export and verify.

    python benchmarks/bench_audit.py [--n 100000] [--durable 2000] [--dir PATH]

`--durable` entries are appended one commit each (WAL + synchronous=FULL, as in
production: one fsync per step); the remaining entries up to `--n` go in batches
of `--batch` per commit, which is only there to build a large log quickly.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from swarm.audit import AuditLog, MerkleTree, Signer, SigningKey, export_bundle, verify_bundle  # noqa: E402
from swarm.audit.merkle import verify_consistency, verify_inclusion  # noqa: E402


def payload(i: int) -> dict:
    return {"step": i, "pair": "WETH/USDC", "price": "3012.55", "agent": "risk", "note": "x" * 40}


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="total entries in the run")
    ap.add_argument("--durable", type=int, default=2_000, help="entries appended one commit each")
    ap.add_argument("--batch", type=int, default=1_000, help="entries per commit for the bulk part")
    ap.add_argument("--proofs", type=int, default=10_000, help="proofs to generate and verify")
    ap.add_argument("--dir", type=Path, default=None, help="where to put the database (default: a temp dir)")
    args = ap.parse_args(argv)
    durable = min(args.durable, args.n)
    rows: list[tuple[str, str, str]] = []

    def row(what: str, count: int, seconds: float) -> None:
        rate = f"{count / seconds:,.0f}/s" if seconds > 0 and count > 1 else ""
        rows.append((what, f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s", rate))

    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        log = AuditLog(Path(d) / "audit.db")
        signer = Signer(SigningKey.generate())

        _, s = timed(lambda: [log.append("bench", "price", payload(i)) for i in range(durable)])
        row(f"append, 1 commit each (x{durable})", durable, s)

        bulk = args.n - durable
        def fill():
            for start in range(durable, args.n, args.batch):
                stop = min(args.n, start + args.batch)
                log.append_many("bench", [("price", payload(i)) for i in range(start, stop)])
        _, s = timed(fill)
        if bulk:
            row(f"append, {args.batch} per commit (x{bulk})", bulk, s)

        n = log.size("bench")
        leaves = log.leaf_hashes("bench")
        _, s = timed(lambda: MerkleTree(leaves))
        row(f"build tree from {n} leaf hashes", n, s)
        tree = MerkleTree(leaves)
        _, s = timed(lambda: MerkleTree(leaves).root())
        row(f"root of {n} leaves from scratch", 1, s)
        _, s = timed(lambda: log.root("bench"))
        row("root from the cached tree", 1, s)

        rnd = random.Random(0)
        idx = [rnd.randrange(n) for _ in range(args.proofs)]
        proofs, s = timed(lambda: [tree.inclusion_proof(i) for i in idx])
        row(f"inclusion proof generation (x{args.proofs})", args.proofs, s)
        root = tree.root()
        _, s = timed(lambda: all(verify_inclusion(tree.leaf(i), i, n, p, root) for i, p in zip(idx, proofs, strict=True)))
        row(f"inclusion proof verification (x{args.proofs})", args.proofs, s)
        olds = [rnd.randrange(1, n) for _ in range(min(args.proofs, 1000))]
        cps, s = timed(lambda: [tree.consistency_proof(m, n) for m in olds])
        row(f"consistency proof generation (x{len(olds)})", len(olds), s)
        _, s = timed(lambda: all(verify_consistency(m, n, p, tree.root(m), root) for m, p in zip(olds, cps, strict=True)))
        row(f"consistency proof verification (x{len(olds)})", len(olds), s)

        note, s = timed(lambda: log.checkpoint("bench", signer))
        row("sign + store checkpoint", 1, s)
        bundle, s = timed(lambda: export_bundle(log, "bench", note))
        row(f"export bundle ({n} entries)", n, s)
        text, s = timed(lambda: json.dumps(bundle))
        row(f"bundle to JSON ({len(text) / 1e6:.1f} MB)", 1, s)
        received, s = timed(lambda: json.loads(text))
        row("bundle from JSON", 1, s)
        report, s = timed(lambda: verify_bundle(received, trusted_vkey=signer.vkey))
        assert report.ok, report.reason
        row(f"verify bundle ({n} entries, all proofs)", n, s)
        received["entries"][n // 2]["payload"]["price"] = "1"
        report, s = timed(lambda: verify_bundle(received, trusted_vkey=signer.vkey))
        assert report.first_bad_index == n // 2, report.reason
        row(f"verify tampered bundle (finds entry {n // 2})", n, s)
        log.close()

    w = max(len(r[0]) for r in rows)
    print(f"{'operation':<{w}}  {'time':>10}  {'rate':>12}")
    print(f"{'-' * w}  {'-' * 10}  {'-' * 12}")
    for what, t, rate in rows:
        print(f"{what:<{w}}  {t:>10}  {rate:>12}")


if __name__ == "__main__":
    main()
