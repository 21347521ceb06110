"""Risk checker for Solana swaps: the EVM policy's rules plus what a Solana mint can hide.

A Token-2022 mint can carry extensions that make a token unsafe to receive: a
transfer hook (arbitrary program on every transfer), a transfer fee, a permanent
delegate (can move or burn anyone's balance), or accounts frozen by default. A
mint or freeze authority lets the issuer inflate supply or freeze our account;
both are refused unless the mint is on an allowlist (regulated stablecoins such
as USDC keep them). Every rule gives a reasoned result; all must pass.
"""
from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from agents.price_reader import PriceReading
from agents.risk import RiskDecision, RuleResult, SwapPolicy, common_rules, oracle_min_out
from tools.solana.jupiter import JupiterQuote
from tools.solana.token_layout import AccountState, ExtensionType, MintInfo
from tools.solana.tokens import MAINNET_TRUSTED_AUTHORITY_MINTS, SolanaToken

# Extensions reviewed as harmless to a holder: metadata and grouping pointers, a close authority (only for an empty mint).
HARMLESS_EXTENSIONS = frozenset({ExtensionType.MintCloseAuthority, ExtensionType.MetadataPointer,
                                 ExtensionType.TokenMetadata, ExtensionType.GroupPointer, ExtensionType.TokenGroup,
                                 ExtensionType.GroupMemberPointer, ExtensionType.TokenGroupMember})
CHECKED_EXTENSIONS = frozenset({ExtensionType.TransferHook, ExtensionType.TransferFeeConfig,
                                ExtensionType.PermanentDelegate, ExtensionType.DefaultAccountState})


class SolanaRiskPolicy(SwapPolicy):
    max_price_impact_bps: int = Field(100, ge=0)
    max_priority_fee_lamports: int = Field(2_000_000, ge=0)
    token_allowlist: frozenset[str] = frozenset({"SOL", "USDC", "USDT"})
    authority_allowlist: frozenset[str] = Field(MAINNET_TRUSTED_AUTHORITY_MINTS,
                                                description="mints allowed to keep mint/freeze authorities")


def mint_rules(token: SolanaToken, mint: MintInfo | None, policy: SolanaRiskPolicy) -> list[RuleResult]:
    """Deterministic checks of one mint as read from chain. Native SOL has no mint to check."""
    sym = token.symbol
    if token.is_native:
        return [RuleResult(rule=f"mint_safe:{sym}", passed=True, detail="native SOL: no mint account")]
    if mint is None or mint.address != token.mint:
        return [RuleResult(rule=f"mint_read:{sym}", passed=False, detail="mint account not read from chain")]
    allowlisted = mint.address in policy.authority_allowlist
    rules = [
        RuleResult(rule=f"mint_program:{sym}", passed=mint.program == token.program and mint.is_initialized,
                   detail=f"owner {mint.program}, registry says {token.program}, initialized={mint.is_initialized}"),
        RuleResult(rule=f"mint_authority:{sym}", passed=mint.mint_authority is None or allowlisted,
                   detail=f"mint authority {mint.mint_authority or 'none'}" + (" (allowlisted issuer)" if allowlisted else "")),
        RuleResult(rule=f"freeze_authority:{sym}", passed=mint.freeze_authority is None or allowlisted,
                   detail=f"freeze authority {mint.freeze_authority or 'none'}" + (" (allowlisted issuer)" if allowlisted else "")),
    ]
    hook = mint.extension(ExtensionType.TransferHook)
    rules.append(RuleResult(rule=f"no_transfer_hook:{sym}", passed=hook is None,
                            detail="no transfer hook" if hook is None else
                            f"transfer hook program {hook.transfer_hook.program_id}, authority {hook.transfer_hook.authority}"))
    fee = mint.extension(ExtensionType.TransferFeeConfig)
    rules.append(RuleResult(rule=f"no_transfer_fee:{sym}", passed=fee is None,
                            detail="no transfer fee" if fee is None else
                            f"transfer fee {fee.transfer_fee.newer.basis_points} bps (max {fee.transfer_fee.newer.maximum_fee}), "
                            f"fee authority {fee.transfer_fee.config_authority}"))
    delegate = mint.extension(ExtensionType.PermanentDelegate)
    rules.append(RuleResult(rule=f"no_permanent_delegate:{sym}", passed=delegate is None,
                            detail="no permanent delegate" if delegate is None else
                            f"permanent delegate {delegate.permanent_delegate} can move or burn any holder's tokens"))
    state = mint.extension(ExtensionType.DefaultAccountState)
    frozen = state is not None and state.default_state == AccountState.Frozen
    rules.append(RuleResult(rule=f"not_default_frozen:{sym}", passed=not frozen,
                            detail="new token accounts start frozen" if frozen else
                            f"default account state {state.default_state.name if state else 'initialized'}"))
    other = [e.type for e in mint.extensions
             if e.type_id not in HARMLESS_EXTENSIONS and e.type_id not in CHECKED_EXTENSIONS]
    rules.append(RuleResult(rule=f"only_reviewed_extensions:{sym}", passed=not other,
                            detail=f"unreviewed extensions: {', '.join(other)}" if other else
                            f"extensions: {', '.join(e.type for e in mint.extensions) or 'none'}"))
    return rules


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
            RuleResult(rule="max_price_impact", passed=q.price_impact_bps <= p.max_price_impact_bps,
                       detail=f"route price impact {q.price_impact_bps} bps, max {p.max_price_impact_bps} bps"),
            RuleResult(rule="quote_matches_request",
                       passed=(q.input_mint, q.output_mint, q.in_amount, q.swap_mode) ==
                              (x.token_in.mint, x.token_out.mint, x.amount_in, "ExactIn"),
                       detail=f"quote {q.in_amount} {q.input_mint} -> {q.output_mint} ({q.swap_mode})"),
        ]
        rules.append(RuleResult(rule="quote_meets_min_out", passed=q.out_amount >= min_out > 0,
                                detail=f"route quote {q.out_amount}, independent minimum {min_out} ({x.slippage_bps} bps "
                                       f"below the oracle-implied output); the executor sets the on-chain floor to it"))
        rules += mint_rules(x.token_in, x.mint_in, p) + mint_rules(x.token_out, x.mint_out, p)
        approved = all(r.passed for r in rules)
        needs_human = approved and p.human_approval_above_usd is not None and trade_usd > p.human_approval_above_usd
        return RiskDecision(approved=approved, needs_human=needs_human, trade_usd=trade_usd, min_out=min_out, rules=rules)
