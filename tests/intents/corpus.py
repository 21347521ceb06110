"""Load the intent corpus and score a planner's answers against it (used by the CI test and the benchmark)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from defai_swarm.intent import QueryStep, Request, SwapStep

HERE = Path(__file__).parent
OUTCOMES = ("exact", "partly right", "wrong", "refused correctly", "refused wrongly", "accepted but should refuse")
# Categories the deterministic parser is meant to cover; the others are measured, not targeted.
NOT_COVERED_BY_PARSER = frozenset({"other_languages"})


@dataclass(frozen=True)
class Case:
    category: str
    text: str
    chain: str
    expect: list[dict] | None
    refuse: str | None
    line: int


def load() -> list[Case]:
    cases = []
    for path in sorted(HERE.glob("*.jsonl")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                d = json.loads(line)
                cases.append(Case(path.stem, d["text"], d.get("chain", "evm"), d.get("expect"), d.get("refuse"), i))
    return cases


def _num(v) -> str:
    return format(Decimal(str(v)).normalize(), "f")


def compact(request: Request | None) -> list[dict]:
    """A plan's steps in the corpus's compact form ([] for no plan)."""
    out: list[dict] = []
    if request is None:
        return out
    for s in request.steps:
        if isinstance(s, QueryStep):
            d: dict = {"ask": s.kind}
            if s.kind == "quote":
                d |= {"swap": f"{s.token}->{s.token_out}", "amount": _num(s.amount)}
            else:
                d["token"] = s.token
                if s.quote != "USD":
                    d["quote"] = s.quote
            out.append(d)
            continue
        assert isinstance(s, SwapStep)
        d = {"swap": f"{s.token_in}->{s.token_out}"}
        a = s.amount
        if a.kind == "tokens":
            d["amount"] = _num(a.value)
        elif a.kind == "usd":
            d["usd"] = _num(a.value)
        elif a.kind == "percent":
            d["pct"] = _num(a.value)
        elif a.kind == "all":
            d["all"] = True
        elif a.kind == "exact_out":
            d["exact_out"] = _num(a.value)
        else:
            d["from_prev"] = True
            if a.value is not None:
                d["pct"] = _num(a.value)
        if s.conditions:
            d["when"] = f" {s.combine} ".join(c.describe() for c in s.conditions)
        if s.max_slippage_bps is not None:
            d["slip"] = s.max_slippage_bps
        if s.parts != 1:
            d["parts"] = s.parts
        if s.every_blocks is not None:
            d["every_blocks"] = s.every_blocks
        out.append(d)
    return out


def normal(expect: list[dict]) -> list[dict]:
    out = []
    for d in expect:
        d = dict(d)
        for k in ("amount", "usd", "pct", "exact_out"):
            if k in d:
                d[k] = _num(d[k])
        out.append(d)
    return out


def judge(case: Case, request: Request | None, refusal_class: str | None) -> str:
    """One of OUTCOMES."""
    if case.expect is None:
        return "refused correctly" if request is None else "accepted but should refuse"
    if request is None:
        return "refused wrongly"
    got, want = compact(request), normal(case.expect)
    if got == want:
        return "exact"
    same_shape = len(got) == len(want) and all(
        g.get("swap") == w.get("swap") and g.get("ask") == w.get("ask") for g, w in zip(got, want, strict=True))
    return "partly right" if same_shape else "wrong"


@dataclass
class Tally:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    class_mismatches: list[tuple[Case, str]] = field(default_factory=list)

    def add(self, case: Case, outcome: str) -> None:
        row = self.counts.setdefault(case.category, dict.fromkeys(OUTCOMES, 0))
        row[outcome] += 1


def registries() -> dict:
    """The corpus's token registries, without a chain: the EVM devnet's tokens and Solana's mainnet list."""
    from defai_swarm.tools.evm.tokens import Token, TokenRegistry
    from defai_swarm.tools.solana.tokens import MAINNET_TOKENS, SolanaTokenRegistry

    def addr(i: int) -> str:
        return "0x" + f"{i:040x}"

    evm = TokenRegistry([
        Token(symbol="ETH", address=addr(0), decimals=18, kind="native"),
        Token(symbol="WETH", address=addr(1), decimals=18, kind="wrapped_native"),
        Token(symbol="USDC", address=addr(2), decimals=6),
        Token(symbol="DAI", address=addr(3), decimals=18),
        Token(symbol="FOT", address=addr(4), decimals=18, kind="fee_on_transfer"),
        Token(symbol="HONEY", address=addr(5), decimals=18, kind="honeypot"),
    ], wrapped_native=addr(1))
    return {"evm": evm, "solana": SolanaTokenRegistry(MAINNET_TOKENS)}


def context():
    """Policy as the devnet's default (max 100 bps slippage, default 50); balances unknown at plan time."""
    from defai_swarm.planner import PlanningContext
    return PlanningContext(balances=None, max_slippage_bps=100, default_slippage_bps=50)
