"""What a Solana mint can hide, as deterministic rules over the mint account read from chain.

A Token-2022 mint can carry extensions that make a token unsafe to receive: a
transfer hook (arbitrary program on every transfer), a transfer fee, a permanent
delegate (can move or burn anyone's balance), or accounts frozen by default. A
mint or freeze authority lets the issuer inflate supply or freeze our account;
both are refused unless the mint is on an allowlist (regulated stablecoins such
as USDC keep them). Extensions nobody reviewed are refused too.
"""
from __future__ import annotations

from defai_swarm.core.policy import RuleResult
from defai_swarm.tools.solana.policy import SolanaRiskPolicy
from defai_swarm.tools.solana.token_layout import AccountState, ExtensionType, MintInfo
from defai_swarm.tools.solana.tokens import SolanaToken

# Extensions reviewed as harmless to a holder: metadata and grouping pointers, a close authority (only for an empty mint).
HARMLESS_EXTENSIONS = frozenset({ExtensionType.MintCloseAuthority, ExtensionType.MetadataPointer,
                                 ExtensionType.TokenMetadata, ExtensionType.GroupPointer, ExtensionType.TokenGroup,
                                 ExtensionType.GroupMemberPointer, ExtensionType.TokenGroupMember})
CHECKED_EXTENSIONS = frozenset({ExtensionType.TransferHook, ExtensionType.TransferFeeConfig,
                                ExtensionType.PermanentDelegate, ExtensionType.DefaultAccountState})


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
    # The parser fills an extension's decoded field whenever the extension is present; the rule itself keys on
    # presence, so an extension that somehow lacks its decoded field still fails (with a plainer detail).
    hook_ext = mint.extension(ExtensionType.TransferHook)
    hook = hook_ext.transfer_hook if hook_ext is not None else None
    rules.append(RuleResult(rule=f"no_transfer_hook:{sym}", passed=hook_ext is None,
                            detail="no transfer hook" if hook_ext is None else
                            "transfer hook (not decoded)" if hook is None else
                            f"transfer hook program {hook.program_id}, authority {hook.authority}"))
    fee_ext = mint.extension(ExtensionType.TransferFeeConfig)
    fee = fee_ext.transfer_fee if fee_ext is not None else None
    rules.append(RuleResult(rule=f"no_transfer_fee:{sym}", passed=fee_ext is None,
                            detail="no transfer fee" if fee_ext is None else
                            "transfer fee (not decoded)" if fee is None else
                            f"transfer fee {fee.newer.basis_points} bps (max {fee.newer.maximum_fee}), "
                            f"fee authority {fee.config_authority}"))
    delegate = mint.extension(ExtensionType.PermanentDelegate)
    rules.append(RuleResult(rule=f"no_permanent_delegate:{sym}", passed=delegate is None,
                            detail="no permanent delegate" if delegate is None else
                            f"permanent delegate {delegate.permanent_delegate} can move or burn any holder's tokens"))
    state_ext = mint.extension(ExtensionType.DefaultAccountState)
    state = state_ext.default_state if state_ext is not None else None
    frozen = state == AccountState.Frozen
    state_name = state.name if state is not None else "initialized" if state_ext is None else "not decoded"
    rules.append(RuleResult(rule=f"not_default_frozen:{sym}", passed=not frozen,
                            detail="new token accounts start frozen" if frozen else
                            f"default account state {state_name}"))
    other = [e.type for e in mint.extensions
             if e.type_id not in HARMLESS_EXTENSIONS and e.type_id not in CHECKED_EXTENSIONS]
    rules.append(RuleResult(rule=f"only_reviewed_extensions:{sym}", passed=not other,
                            detail=f"unreviewed extensions: {', '.join(other)}" if other else
                            f"extensions: {', '.join(e.type for e in mint.extensions) or 'none'}"))
    return rules


__all__ = ["CHECKED_EXTENSIONS", "HARMLESS_EXTENSIONS", "mint_rules"]
