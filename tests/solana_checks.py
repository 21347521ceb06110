"""A one-call Solana risk decision over a complete, replayable input, for the rule tests: the shared policy's
rules plus the Solana route and mint rules, composed as `SolanaChain.pre_trade_checks` and
`defai_swarm.core.policy.decide` compose them at run time. Test-only (it was agents/solana_risk.py)."""
from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from defai_swarm.core.policy import RiskDecision, RuleResult, common_rules, oracle_min_out
from defai_swarm.core.prices import PriceReading
from defai_swarm.tools.solana.jupiter import JupiterQuote
from defai_swarm.tools.solana.mint_rules import mint_rules
from defai_swarm.tools.solana.policy import SolanaRiskPolicy, price_impact_rule, quote_request_rule
from defai_swarm.tools.solana.token_layout import MintInfo
from defai_swarm.tools.solana.tokens import SolanaToken


class SolanaSwapCheckInput(BaseModel):
    """Everything a decision depends on, so it can be replayed from the audit log."""

    token_in: SolanaToken
    token_out: SolanaToken
    mint_in: MintInfo | None
    mint_out: MintInfo | None
    amount_in: int
    slippage_bps: int
    recipient: str
    wallet: str
    price_in: PriceReading
    price_out: PriceReading
    quote: JupiterQuote
    spent_today_usd: Decimal


def min_out_for(x: SolanaSwapCheckInput) -> int:
    return oracle_min_out(x.token_in.from_base(x.amount_in), x.price_in, x.price_out, x.token_out.decimals, x.slippage_bps)


class SolanaRiskChecker:
    def __init__(self, policy: SolanaRiskPolicy):
        self.policy = policy

    def decide(self, x: SolanaSwapCheckInput) -> RiskDecision:
        p, q = self.policy, x.quote
        trade_usd = x.token_in.from_base(x.amount_in) * x.price_in.median
        min_out = min_out_for(x)
        rules = common_rules(p, symbol_in=x.token_in.symbol, symbol_out=x.token_out.symbol, recipient=x.recipient,
                             recipient_ok=x.recipient == x.wallet, trade_usd=trade_usd,
                             spent_today_usd=x.spent_today_usd, readings=(x.price_in, x.price_out))
        rules += [
            RuleResult(rule="max_slippage", passed=x.slippage_bps <= p.max_slippage_bps and q.slippage_bps <= x.slippage_bps,
                       detail=f"requested {x.slippage_bps} bps, quote uses {q.slippage_bps} bps, policy max {p.max_slippage_bps} bps"),
            price_impact_rule(p, q),
            quote_request_rule(q, x.token_in, x.token_out, x.amount_in),
        ]
        rules.append(RuleResult(rule="quote_meets_min_out", passed=q.out_amount >= min_out > 0,
                                detail=f"route quote {q.out_amount}, independent minimum {min_out} ({x.slippage_bps} bps "
                                       f"below the oracle-implied output); the executor sets the on-chain floor to it"))
        rules += mint_rules(x.token_in, x.mint_in, p) + mint_rules(x.token_out, x.mint_out, p)
        approved = all(r.passed for r in rules)
        needs_human = approved and p.human_approval_above_usd is not None and trade_usd > p.human_approval_above_usd
        return RiskDecision(approved=approved, needs_human=needs_human, trade_usd=trade_usd, min_out=min_out, rules=rules)
