"""The Solana swap policy: the shared limits (defai_swarm.core.policy.SwapPolicy) plus the route and mint limits,
and the route rules a Jupiter quote is held to before a swap is decided."""
from __future__ import annotations

from pydantic import ConfigDict, Field

from defai_swarm.core.policy import RuleResult, SwapPolicy
from defai_swarm.tools.solana.jupiter import JupiterQuote
from defai_swarm.tools.solana.tokens import MAINNET_TRUSTED_AUTHORITY_MINTS, SolanaToken


class SolanaRiskPolicy(SwapPolicy):
    model_config = ConfigDict(extra="forbid")  # a misspelt limit (`max_tradeusd`) is an error, never ignored
    max_price_impact_bps: int = Field(default=100, ge=0)
    max_priority_fee_lamports: int = Field(default=2_000_000, ge=0)
    token_allowlist: frozenset[str] = frozenset({"SOL", "USDC", "USDT"})
    authority_allowlist: frozenset[str] = Field(default=MAINNET_TRUSTED_AUTHORITY_MINTS,
                                                description="mints allowed to keep mint/freeze authorities")

    @classmethod
    def of(cls, policy: SwapPolicy) -> "SolanaRiskPolicy":
        """This policy as given, or a chain-neutral one with the Solana limits at their defaults."""
        if isinstance(policy, cls):
            return policy
        return cls.model_validate(policy.model_dump(include=set(SwapPolicy.model_fields)))


def price_impact_rule(policy: SolanaRiskPolicy, q: JupiterQuote) -> RuleResult:
    return RuleResult(rule="max_price_impact", passed=q.price_impact_bps <= policy.max_price_impact_bps,
                      detail=f"route price impact {q.price_impact_bps} bps, max {policy.max_price_impact_bps} bps")


def quote_request_rule(q: JupiterQuote, token_in: SolanaToken, token_out: SolanaToken, amount_in: int) -> RuleResult:
    """Mints and input as requested; an ExactOut quote (`quote_exact_out`) is held to the input it needs."""
    return RuleResult(rule="quote_matches_request",
                      passed=(q.input_mint, q.output_mint, q.in_amount) == (token_in.mint, token_out.mint, amount_in)
                      and q.swap_mode in ("ExactIn", "ExactOut"),
                      detail=f"quote {q.in_amount} {q.input_mint} -> {q.output_mint} ({q.swap_mode})")


def route_rules(policy: SolanaRiskPolicy, q: JupiterQuote, token_in: SolanaToken, token_out: SolanaToken,
                amount_in: int, slippage_bps: int) -> list[RuleResult]:
    """The Jupiter quote against the request: the slippage it applied, its price impact, mints and amount.

    The shared rules (`defai_swarm.core.policy.decide`) cover the requested slippage against the policy and
    the quoted output against the independent minimum; these are what only a route quote can show.
    """
    return [
        RuleResult(rule="quote_slippage_within_request", passed=q.slippage_bps <= slippage_bps,
                   detail=f"quote uses {q.slippage_bps} bps, requested {slippage_bps} bps"),
        price_impact_rule(policy, q),
        quote_request_rule(q, token_in, token_out, amount_in),
    ]


__all__ = ["SolanaRiskPolicy", "price_impact_rule", "quote_request_rule", "route_rules"]
