"""Audit log benchmark: append throughput next to plain SQLite, root, proofs, export and verify.

    python benchmarks/bench_audit.py [--n 100000] [--durable 2000] [--dir PATH]

Side by side with plain SQLite inserts of the same payloads with the same durability on the same disk
(WAL, synchronous=FULL, one table with the same primary key), so only the ratio counts (fsync cost
differs a lot between machines):
- durable appends, one fsync each (an action's entry: kind `tx`) vs one insert per FULL commit;
- a run step's group commit (4 deferred entries, then the action's entry that fsyncs them all) vs the
  same pattern in plain SQLite (4 commits without fsync, then one FULL commit);
- `--batch` entries per commit (only there to build a large log quickly) vs executemany per commit.
The bundle of `--n` entries is written to a file and verified streamed (`verify_bundle_file`) in a child
process whose peak RSS is reported.
"""
from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from defai_swarm.audit import AuditLog, MerkleTree, Signer, SigningKey, canonical_json, export_bundle, verify_bundle  # noqa: E402
from defai_swarm.audit.merkle import verify_consistency, verify_inclusion  # noqa: E402


def payload(i: int) -> dict:
    return {"step": i, "pair": "WETH/USDC", "price": "3012.55", "agent": "risk", "note": "x" * 40}


class PlainSqlite:
    """The baseline: the same payloads in one plain table, same journal and sync settings."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE entries (run_id TEXT, idx INTEGER, kind TEXT, payload TEXT, "
                        "PRIMARY KEY (run_id, idx)) WITHOUT ROWID")
        self.n = 0

    def commit(self, rows: list[tuple[str, dict]], durable: bool = True) -> None:
        if not durable:
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?)",
                            [("bench", self.n + i, kind, canonical_json(p).decode()) for i, (kind, p) in enumerate(rows)])
        self.db.execute("COMMIT")
        if not durable:
            self.db.execute("PRAGMA synchronous=FULL")
        self.n += len(rows)


ROUNDS = 6  # blocks each side of a side-by-side comparison is split into, alternating

VERIFY_CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[3])
from defai_swarm.audit import verify_bundle_file
t, c = time.perf_counter(), time.process_time()
report = verify_bundle_file(sys.argv[1], trusted_vkey=sys.argv[2])
cpu = time.process_time() - c
try:  # this process's own high-water mark (ru_maxrss would include the parent's pages from before exec)
    peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"ok": report.ok, "reason": report.reason, "seconds": time.perf_counter() - t, "cpu": cpu,
                  "peak_mb": peak_kb / 1024}))
"""


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "audit benchmark").splitlines()[0])
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

        plain = PlainSqlite(Path(d) / "plain.db")
        ratios: list[tuple[str, float, float, float, float]] = []

        def side_by_side(what: str, count: int, units: int, ours, theirs) -> None:
            """`ours(a, b)` / `theirs(a, b)` do units a..b-1; the two sides alternate in ROUNDS blocks (the
            order swapped every round), so a burst of disk or CPU load from other jobs hits both alike."""
            wall, cpu = [0.0, 0.0], [0.0, 0.0]
            bounds = [units * r // ROUNDS for r in range(ROUNDS + 1)]
            for r in range(ROUNDS):
                for side in ((0, 1) if r % 2 == 0 else (1, 0)):
                    t, c = time.perf_counter(), time.process_time()
                    (ours, theirs)[side](bounds[r], bounds[r + 1])
                    wall[side] += time.perf_counter() - t
                    cpu[side] += time.process_time() - c
            row(f"{what}: audit log", count, wall[0])
            row(f"{what}: plain SQLite", count, wall[1])
            ratios.append((what, count / wall[0], count / wall[1], cpu[0] / count, cpu[1] / count))

        steps = max(1, durable // 5)
        side_by_side(f"durable append, 1 fsync each (x{durable})", durable, durable,
                     lambda a, b: [log.append("bench", "tx", payload(i)) for i in range(a, b)],
                     lambda a, b: [plain.commit([("tx", payload(i))]) for i in range(a, b)])

        def step_ours(a: int, b: int) -> None:
            for i in range(a, b):
                for j in range(4):
                    log.append("bench", "price", payload(5 * i + j))
                log.append("bench", "tx", payload(5 * i + 4))

        def step_plain(a: int, b: int) -> None:
            for i in range(a, b):
                for j in range(4):
                    plain.commit([("price", payload(5 * i + j))], durable=False)
                plain.commit([("tx", payload(5 * i + 4))])
        side_by_side(f"run steps: 4 deferred + 1 durable entry, 1 fsync per step (x{steps})", 5 * steps, steps,
                     step_ours, step_plain)
        batches = max(ROUNDS, min(20, (args.n - log.size("bench")) // args.batch // 4))
        side_by_side(f"{args.batch} entries per commit (x{batches})", batches * args.batch, batches,
                     lambda a, b: [log.append_many("bench", [("price", payload(i)) for i in range(args.batch)])
                                   for _ in range(a, b)],
                     lambda a, b: [plain.commit([("price", payload(i)) for i in range(args.batch)])
                                   for _ in range(a, b)])
        durable = log.size("bench")

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
        bundle_path = Path(d) / "bundle.json"
        bundle_path.write_text(text)
        del text
        child = subprocess.run([sys.executable, "-c", VERIFY_CHILD, str(bundle_path), signer.vkey,
                                str(Path(__file__).resolve().parents[1])], capture_output=True, text=True, timeout=600)
        streamed = json.loads(child.stdout or "{}") if child.returncode == 0 else {}
        assert streamed.get("ok"), child.stdout + child.stderr
        row(f"verify bundle file, streamed ({n} entries), peak RSS {streamed['peak_mb']:.0f} MB", n, streamed["seconds"])
        report, s = timed(lambda: verify_bundle(bundle, trusted_vkey=signer.vkey))
        assert report.ok, report.reason
        row(f"verify bundle in memory ({n} entries, already parsed)", n, s)
        bundle["entries"][n // 2]["payload"]["price"] = "1"
        report, s = timed(lambda: verify_bundle(bundle, trusted_vkey=signer.vkey))
        assert report.first_bad_index == n // 2, report.reason
        row(f"verify tampered bundle (finds entry {n // 2})", n, s)
        log.close()

    print("| operation | time | rate |\n|---|---|---|")
    for what, t, rate in rows:
        print(f"| {what} | {t} | {rate} |")
    print(f"\n| appends (same payloads, same durability, same disk; sides alternated in {ROUNDS} blocks) "
          f"| audit log | plain SQLite | ratio | target | CPU per entry: audit / plain |")
    print("|---|---|---|---|---|---|")
    for what, ours, theirs, cpu_ours, cpu_theirs in ratios:
        print(f"| {what} | {ours:,.0f}/s | {theirs:,.0f}/s | {ours / theirs:.2f}x | >= 0.8x: "
              f"{'met' if ours / theirs >= 0.8 else 'MISSED'} | {cpu_ours * 1e6:,.0f} us / {cpu_theirs * 1e6:,.0f} us |")
    print(f"\nverify {args.n} entries streamed: {streamed['seconds']:.2f} s wall, {streamed['cpu']:.2f} s CPU "
          f"(target < 2 s: {'met' if streamed['seconds'] < 2 else 'MISSED'}), peak RSS {streamed['peak_mb']:.0f} MB "
          f"(target < 100 MB: {'met' if streamed['peak_mb'] < 100 else 'MISSED'})")


if __name__ == "__main__":
    main()
