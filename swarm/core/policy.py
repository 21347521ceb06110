"""The swap policy and its rules: deterministic, chain-neutral, replayable from the audit log.

A chain adds rules of its own (the EVM sell-back probe, the Solana mint checks)
through `ChainAdapter.pre_trade_checks`; those arrive here already evaluated, as
measured inputs, so one `decide` serves every chain and the audit replay.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from defai_swarm.core.prices import PriceReading, family_medians, median_and_spread


class SwapPolicy(BaseModel):
    """The limits every chain's swap policy has. Chains extend it with their own fields."""

    model_config = ConfigDict(extra="forbid")
    max_trade_usd: Decimal = Decimal(10_000)
    daily_cap_usd: Decimal = Decimal(25_000)
    default_slippage_bps: int = Field(default=50, ge=1)
    max_slippage_bps: int = Field(default=100, ge=1, le=5_000)
    max_price_deviation_bps: int = Field(default=200, ge=1)
    min_source_families: int = Field(default=2, ge=2, description=(
        "independent price-source families (see defai_swarm.core.prices) that must answer, fresh, for every price a "
        "decision or a condition uses; two pools of one DEX are one family"))
    human_approval_above_usd: Decimal | None = None
    gas_reserve: Decimal = Field(default=Decimal("0.01"), ge=0, description=(
        "native coin (ETH, SOL) that 'swap all my ETH' keeps back for fees; recorded with the run's policy"))
    token_allowlist: frozenset[str] = frozenset()


class RuleResult(BaseModel):
    rule: str
    passed: bool
    detail: str


class RiskDecision(BaseModel):
    approved: bool
    needs_human: bool = False
    trade_usd: Decimal
    min_out: int
    rules: list[RuleResult]

    @property
    def reason(self) -> str:
        failed = [f"{r.rule}: {r.detail}" for r in self.rules if not r.passed]
        return "; ".join(failed) if failed else "all rules passed"


class TokenFacts(BaseModel):
    """What the policy needs to know of a token (any chain)."""

    symbol: str
    decimals: int


class SwapCheck(BaseModel):
    """Everything one swap decision depends on, so it can be replayed from the audit log."""

    chain: str
    token_in: TokenFacts
    token_out: TokenFacts
    amount_in: int
    slippage_bps: int
    recipient: str = Field(description="in the chain's canonical spelling, compared exactly with `wallet`")
    wallet: str
    price_in: PriceReading
    price_out: PriceReading
    quote_out: int = Field(description="output the route being traded quotes, in base units")
    spent_today_usd: Decimal
    chain_rules: list[RuleResult] = Field(default_factory=list,
                                          description="the chain's own pre-trade checks, as evaluated then")
    approved_trade_usd: Decimal | None = Field(
        default=None, description="set on the re-check after an operator approved the trade: the USD value they "
                                  "approved; the fresh value may exceed it by at most the policy's max_slippage_bps")


def reference_price(reading: PriceReading) -> Decimal:
    """The price a minimum output is computed from: the oracle families' median where an oracle answered
    (a trader with chain access can push any DEX pool, and DEX quotes carry the route's fee, but not an oracle),
    else the median of the families' medians (one vote per family, however many pools it has).

    Stricter than the reading's own price (`reading.median`, the median of family medians, which sizes dollar
    amounts, decides conditions and values a trade against the caps): the floor under a trade must not move with
    the very pools the trade goes through, at all."""
    medians = family_medians(reading.sources)
    oracles = [m for family, m in medians.items() if family.startswith("oracle:")]
    chosen = oracles or list(medians.values())
    return median_and_spread(chosen)[0] if chosen else reading.median


def oracle_min_out(amount_in: Decimal, price_in: PriceReading, price_out: PriceReading, out_decimals: int,
                   slippage_bps: int) -> int:
    """Base units of output implied by the independent USD prices (not by the pool or route being traded),
    less the slippage allowance."""
    rate = reference_price(price_in) / reference_price(price_out)
    expected = int((amount_in * rate).scaleb(out_decimals))
    return expected * (10_000 - slippage_bps) // 10_000


def independence_problem(reading: PriceReading, min_families: int) -> str | None:
    """Why `reading` does not rest on `min_families` independent, fresh source families; None when it does.

    Says which family answered and which is missing (and why it failed), e.g. "only dex:uniswap-v2 answered;
    oracle:chainlink failed: feed:ETH/USD: ETH/USD feed is stale ...". A stale, zero or negative source fails
    when it is read, so every family that answered is fresh."""
    families = reading.families()
    if len(families) >= min_families:
        return None
    answered = f"only {', '.join(families)} answered" if families else "no source with a declared family answered"
    parts = [answered]
    missing = reading.missing_families()
    parts += [f"{family} failed: {reason}" for family, reason in missing.items()]
    if not missing:
        parts.append(f"no other source family is configured for {reading.base}")
    undeclared = [s.name for s in reading.sources if not s.family]
    if undeclared:
        parts.append(f"sources without a family (not counted): {', '.join(undeclared)}")
    parts.append(f"{min_families} independent families needed")
    return "; ".join(parts)


def price_reading_rule(policy: SwapPolicy, reading: PriceReading) -> RuleResult:
    """`price_sources_agree:<SYM>`: at least `min_source_families` independent, fresh families answered and all
    sources (of every family) agree within `max_price_deviation_bps`."""
    p = policy
    problem = independence_problem(reading, p.min_source_families)
    spread_ok = reading.max_deviation_bps <= p.max_price_deviation_bps
    families = reading.families()
    n, k = len(reading.sources), len(families)
    detail = (f"{n} source{'s' * (n != 1)} in {k} independent famil{'y' if k == 1 else 'ies'} "
              f"({', '.join(families) or 'none declared'}), spread {reading.max_deviation_bps} bps, "
              f"max {p.max_price_deviation_bps} bps")
    if problem is not None:
        detail = f"{problem}; {detail}"
    elif reading.failed_sources:
        detail += f"; failed: {list(reading.failed_sources)}"
    return RuleResult(rule=f"price_sources_agree:{reading.base}", passed=spread_ok and problem is None, detail=detail)


def common_rules(policy: SwapPolicy, *, symbol_in: str, symbol_out: str, recipient: str, recipient_ok: bool,
                 trade_usd: Decimal, spent_today_usd: Decimal,
                 readings: tuple[PriceReading, PriceReading]) -> list[RuleResult]:
    """The rules every chain's swap check shares (policy fields of the same names)."""
    p = policy
    rules = [
        RuleResult(rule="allowlist", passed=symbol_in in p.token_allowlist and symbol_out in p.token_allowlist,
                   detail=f"{symbol_in} -> {symbol_out}; allowed: {', '.join(sorted(p.token_allowlist))}"),
        RuleResult(rule="recipient_is_own_wallet", passed=recipient_ok, detail=f"recipient {recipient}"),
        RuleResult(rule="max_trade_usd", passed=trade_usd <= p.max_trade_usd,
                   detail=f"trade ${trade_usd:,.2f}, limit ${p.max_trade_usd:,.2f}"),
        RuleResult(rule="daily_cap_usd", passed=spent_today_usd + trade_usd <= p.daily_cap_usd,
                   detail=f"spent today ${spent_today_usd:,.2f} + ${trade_usd:,.2f}, cap ${p.daily_cap_usd:,.2f}"),
    ]
    rules += [price_reading_rule(p, reading) for reading in readings]
    return rules


def daily_cap_way_forward(now: datetime | None = None) -> str:
    """What to do about a `daily_cap_usd` refusal, for the refusal's one line. Not part of the rule's detail:
    it depends on the time of day, and the detail is replayed from the audit log."""
    now = now or datetime.now(timezone.utc)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    hours, minutes = divmod(-(-int((midnight - now).total_seconds()) // 60), 60)
    return (f"the cap resets at 00:00 UTC, in {hours}h{minutes:02d}m; to trade more today, raise daily_cap_usd "
            f"with `--policy FILE` or `policy=` from Python; on a local devnet, `swarm devnet reset` (or `down` and "
            f"`up`) reverts its trades and clears its cap")


def cap_refusal(text: str) -> str:
    """A daily-cap refusal's text followed by what to do about it."""
    return f"{text} ({daily_cap_way_forward()})"


def refusal_reason(decision: RiskDecision) -> str:
    """`decision.reason`, with what to do after the daily cap's part when the cap is one of the rules that refused."""
    return "; ".join(cap_refusal(f"{r.rule}: {r.detail}") if r.rule == "daily_cap_usd" else f"{r.rule}: {r.detail}"
                     for r in decision.rules if not r.passed) or decision.reason


def _units(base_units: int, token: TokenFacts) -> str:
    """Exact, in the token's own units (a reason names its token: a run can trade several)."""
    return f"{Decimal(base_units).scaleb(-token.decimals):,f} {token.symbol}"


def decide(policy: SwapPolicy, x: SwapCheck) -> RiskDecision:
    """The one swap decision: shared rules, the requested slippage, the quote against the independent
    minimum, then the chain's own checks. Approved only if every rule passes."""
    amount_in = Decimal(x.amount_in).scaleb(-x.token_in.decimals)
    trade_usd = amount_in * x.price_in.median  # the median of family medians (defai_swarm.core.prices): one vote per family
    min_out = oracle_min_out(amount_in, x.price_in, x.price_out, x.token_out.decimals, x.slippage_bps)
    rules = common_rules(policy, symbol_in=x.token_in.symbol, symbol_out=x.token_out.symbol, recipient=x.recipient,
                         recipient_ok=x.recipient == x.wallet,
                         trade_usd=trade_usd, spent_today_usd=x.spent_today_usd, readings=(x.price_in, x.price_out))
    rules.append(RuleResult(rule="max_slippage", passed=x.slippage_bps <= policy.max_slippage_bps,
                            detail=f"requested {x.slippage_bps} bps, policy max {policy.max_slippage_bps} bps"))
    rules.append(RuleResult(rule="quote_meets_min_out", passed=x.quote_out >= min_out > 0,
                            detail=f"quote {_units(x.quote_out, x.token_out)}, independent minimum "
                                   f"{_units(min_out, x.token_out)} ({x.slippage_bps} bps below the oracle-implied "
                                   f"output; base units {x.quote_out} / {min_out})"))
    rules += x.chain_rules
    if x.approved_trade_usd is not None:
        limit = x.approved_trade_usd * (10_000 + policy.max_slippage_bps) / 10_000
        rules.append(RuleResult(rule="within_operator_approval", passed=trade_usd <= limit,
                                detail=f"trade now ${trade_usd:,.2f}; the operator approved ${x.approved_trade_usd:,.2f} "
                                       f"(at most ${limit:,.2f} with {policy.max_slippage_bps} bps)"))
    approved = all(r.passed for r in rules)
    needs_human = (approved and x.approved_trade_usd is None and policy.human_approval_above_usd is not None
                   and trade_usd > policy.human_approval_above_usd)
    return RiskDecision(approved=approved, needs_human=needs_human, trade_usd=trade_usd, min_out=min_out, rules=rules)
