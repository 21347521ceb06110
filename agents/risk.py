"""Risk checker: a deterministic policy enforced before anything is signed.

Every rule gives a reasoned result; the swap is approved only if all pass.
A model can neither see nor override this: it runs in code on measured inputs.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Callable

from pydantic import BaseModel, Field

from agents.price_reader import PriceReading
from tools.evm.tokens import Token
from tools.evm.uniswap import SwapQuote


class SwapPolicy(BaseModel):
    """The limits every chain's swap policy has; `common_rules` enforces them."""

    max_trade_usd: Decimal = Decimal(10_000)
    daily_cap_usd: Decimal = Decimal(25_000)
    default_slippage_bps: int = Field(50, ge=1)
    max_slippage_bps: int = Field(100, ge=1, le=5_000)
    max_price_deviation_bps: int = Field(200, ge=1)
    human_approval_above_usd: Decimal | None = None


class RiskPolicy(SwapPolicy):
    token_allowlist: frozenset[str] = frozenset({"ETH", "WETH", "USDC", "DAI"})
    require_honeypot_check: bool = True


class RuleResult(BaseModel):
    rule: str
    passed: bool
    detail: str


class SwapCheckInput(BaseModel):
    """Everything a decision depends on, so it can be replayed from the audit log."""

    token_in: Token
    token_out: Token
    amount_in: int
    slippage_bps: int
    recipient: str
    wallet: str
    price_in: PriceReading
    price_out: PriceReading
    quote: SwapQuote
    spent_today_usd: Decimal
    sell_back_ok: bool | None = Field(None, description="simulated sell of token_out; None when not checked")
    sell_back_detail: str = ""


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


def oracle_min_out(amount_in: Decimal, price_in: PriceReading, price_out: PriceReading, out_decimals: int,
                   slippage_bps: int) -> int:
    """Base units of output implied by the independent USD prices (not by the pool or route being traded),
    less the slippage allowance."""
    expected = int((amount_in * price_in.median / price_out.median).scaleb(out_decimals))
    return expected * (10_000 - slippage_bps) // 10_000


def common_rules(policy: SwapPolicy, *, symbol_in: str, symbol_out: str, recipient: str, recipient_ok: bool, trade_usd: Decimal,
                 spent_today_usd: Decimal, readings: tuple[PriceReading, PriceReading]) -> list[RuleResult]:
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
    for reading in readings:
        failed = f"; failed: {list(reading.failed_sources)}" if reading.failed_sources else ""
        rules.append(RuleResult(
            rule=f"price_sources_agree:{reading.base}",
            passed=reading.max_deviation_bps <= p.max_price_deviation_bps and len(reading.sources) >= 2,
            detail=f"{len(reading.sources)} sources, spread {reading.max_deviation_bps} bps, "
                   f"max {p.max_price_deviation_bps} bps{failed}"))
    return rules


class RiskChecker:
    def __init__(self, policy: RiskPolicy):
        self.policy = policy

    def decide(self, x: SwapCheckInput) -> RiskDecision:
        p = self.policy
        amount_in = x.token_in.from_base(x.amount_in)
        trade_usd = amount_in * x.price_in.median
        min_out = oracle_min_out(amount_in, x.price_in, x.price_out, x.token_out.decimals, x.slippage_bps)
        rules = common_rules(p, symbol_in=x.token_in.symbol, symbol_out=x.token_out.symbol, recipient=x.recipient,
                             recipient_ok=x.recipient.lower() == x.wallet.lower(), trade_usd=trade_usd,
                             spent_today_usd=x.spent_today_usd, readings=(x.price_in, x.price_out))
        rules.append(RuleResult(rule="max_slippage", passed=x.slippage_bps <= p.max_slippage_bps,
                                detail=f"requested {x.slippage_bps} bps, policy max {p.max_slippage_bps} bps"))
        rules.append(RuleResult(rule="quote_meets_min_out", passed=x.quote.amount_out >= min_out > 0,
                                detail=f"pool quote {x.quote.amount_out}, independent minimum {min_out} "
                                       f"({x.slippage_bps} bps below the oracle-implied output)"))
        if p.require_honeypot_check:
            rules.append(RuleResult(rule="sell_back_simulation", passed=x.sell_back_ok is True,
                                    detail=x.sell_back_detail or "not checked"))
        approved = all(r.passed for r in rules)
        needs_human = approved and p.human_approval_above_usd is not None and trade_usd > p.human_approval_above_usd
        return RiskDecision(approved=approved, needs_human=needs_human, trade_usd=trade_usd, min_out=min_out, rules=rules)


SellBackProbe = Callable[[Token], tuple[bool, str]]
