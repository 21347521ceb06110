"""Mint and token-account layouts parsed from raw bytes, checked against real mints created in LiteSVM
(SPL Token and Token-2022 with extensions initialised by hand-built instructions), and the mint risk rules."""
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from defai_swarm.tools.solana.mint_rules import mint_rules
from defai_swarm.tools.solana.policy import SolanaRiskPolicy
from tests.solana_fakes import (LocalChain, ext_default_frozen, ext_mint_close_authority, ext_non_transferable, ext_permanent_delegate,
                                ext_transfer_fee, ext_transfer_hook, fund_tokens, revoke_mint_authority)
from defai_swarm.tools.solana.errors import LayoutError
from defai_swarm.tools.solana.programs import SYSTEM_PROGRAM, TOKEN_2022_PROGRAM, TOKEN_PROGRAM
from defai_swarm.tools.solana.spl import SplTokens, ata_address
from defai_swarm.tools.solana.token_layout import AccountState, ExtensionType, parse_mint, parse_token_account


@pytest.fixture(scope="module")
def chain():
    c = LocalChain()
    yield c
    c.close()


@pytest.fixture(scope="module")
def spl(chain):
    return SplTokens(chain.rpc, chain.sender)


def _failed(rules):
    return {r.rule.split(":")[0] for r in rules if not r.passed}


def test_legacy_mint_fields_and_authorities(chain, spl):
    freezer = Keypair().pubkey()
    token = chain.token("AAA", 9, freeze_authority=freezer, fund=123_456)
    info = spl.mint_info(token.mint)
    assert (info.decimals, info.supply, info.is_initialized, info.program) == (9, 123_456, True, str(TOKEN_PROGRAM))
    assert info.mint_authority == str(chain.issuer.pubkey()) and info.freeze_authority == str(freezer)
    assert info.extensions == [] and not info.is_token_2022
    policy = SolanaRiskPolicy(authority_allowlist=frozenset())
    assert _failed(mint_rules(token, info, policy)) == {"mint_authority", "freeze_authority"}
    allowed = SolanaRiskPolicy(authority_allowlist=frozenset({token.mint}))
    assert _failed(mint_rules(token, info, allowed)) == set()


def test_clean_token_2022_mint_passes_after_authority_revoked(chain, spl):
    token = chain.token("CLEAN", 6, program=TOKEN_2022_PROGRAM, fund=10,
                        extensions=[lambda m: ext_mint_close_authority(m, chain.issuer.pubkey())])
    revoke_mint_authority(chain.svm, chain.issuer, token.mint_pubkey, TOKEN_2022_PROGRAM)
    info = spl.mint_info(token.mint)
    assert info.is_token_2022 and info.mint_authority is None and info.freeze_authority is None
    assert [e.type for e in info.extensions] == ["MintCloseAuthority"]
    assert info.extensions[0].close_authority == str(chain.issuer.pubkey())
    rules = mint_rules(token, info, SolanaRiskPolicy())
    assert all(r.passed for r in rules) and len(rules) == 8


def _t22(chain, spl, *extensions, freeze=None):
    token = chain.token("T22", 6, program=TOKEN_2022_PROGRAM, extensions=list(extensions), freeze_authority=freeze)
    revoke_mint_authority(chain.svm, chain.issuer, token.mint_pubkey, TOKEN_2022_PROGRAM)
    return token, spl.mint_info(token.mint)


def test_transfer_fee_mint_refused(chain, spl):
    auth = Keypair().pubkey()
    token, info = _t22(chain, spl, lambda m: ext_transfer_fee(m, auth, basis_points=250, maximum_fee=5_000))
    fee = info.extension(ExtensionType.TransferFeeConfig).transfer_fee
    assert (fee.newer.basis_points, fee.newer.maximum_fee, fee.older.basis_points) == (250, 5_000, 250)
    assert fee.config_authority == str(auth) and fee.withheld_amount == 0
    rules = mint_rules(token, info, SolanaRiskPolicy())
    assert _failed(rules) == {"no_transfer_fee"}
    assert "250 bps" in next(r.detail for r in rules if r.rule.startswith("no_transfer_fee"))


def test_transfer_hook_mint_refused(chain, spl):
    hook_program = Keypair().pubkey()
    token, info = _t22(chain, spl, lambda m: ext_transfer_hook(m, chain.issuer.pubkey(), hook_program))
    hook = info.extension(ExtensionType.TransferHook).transfer_hook
    assert hook.program_id == str(hook_program) and hook.authority == str(chain.issuer.pubkey())
    assert _failed(mint_rules(token, info, SolanaRiskPolicy())) == {"no_transfer_hook"}


def test_permanent_delegate_mint_refused(chain, spl):
    delegate = Keypair().pubkey()
    token, info = _t22(chain, spl, lambda m: ext_permanent_delegate(m, delegate))
    assert info.extension(ExtensionType.PermanentDelegate).permanent_delegate == str(delegate)
    assert _failed(mint_rules(token, info, SolanaRiskPolicy())) == {"no_permanent_delegate"}


def test_default_frozen_mint_refused_even_when_freeze_authority_allowlisted(chain, spl):
    freezer = Keypair().pubkey()
    token, info = _t22(chain, spl, ext_default_frozen, freeze=freezer)
    assert info.extension(ExtensionType.DefaultAccountState).default_state == AccountState.Frozen
    policy = SolanaRiskPolicy(authority_allowlist=frozenset({token.mint}))
    assert _failed(mint_rules(token, info, policy)) == {"not_default_frozen"}
    assert _failed(mint_rules(token, info, SolanaRiskPolicy())) == {"not_default_frozen", "freeze_authority"}


def test_all_extensions_together_each_reported(chain, spl):
    auth = chain.issuer.pubkey()
    token, info = _t22(chain, spl, lambda m: ext_transfer_fee(m, auth), lambda m: ext_transfer_hook(m, auth, auth),
                       lambda m: ext_permanent_delegate(m, auth), ext_default_frozen, freeze=auth)
    assert [e.type for e in info.extensions] == ["TransferFeeConfig", "TransferHook", "PermanentDelegate",
                                                 "DefaultAccountState"]
    assert _failed(mint_rules(token, info, SolanaRiskPolicy())) == {
        "no_transfer_fee", "no_transfer_hook", "no_permanent_delegate", "not_default_frozen", "freeze_authority"}


def test_token_2022_account_with_extensions_parses(chain, spl):
    token = chain.token("ACC", 6, program=TOKEN_2022_PROGRAM, fund=77)
    ata = ata_address(chain.wallet.pubkey, token)
    acc = chain.rpc.account(ata)
    info = parse_token_account(ata, acc.owner, acc.data)
    assert (info.owner, info.mint, info.amount, info.state) == (chain.wallet.address, token.mint, 77, AccountState.Initialized)
    assert "ImmutableOwner" in [e.type for e in info.extensions]  # the ATA program adds it on Token-2022


def test_unreviewed_extension_and_wrong_records_refused(chain, spl):
    token, info = _t22(chain, spl, ext_non_transferable)
    assert [e.type for e in info.extensions] == ["NonTransferable"]
    rules = mint_rules(token, info, SolanaRiskPolicy())
    assert _failed(rules) == {"only_reviewed_extensions"}
    assert _failed(mint_rules(token, None, SolanaRiskPolicy())) == {"mint_read"}
    wrong_program = token.model_copy(update={"program": str(TOKEN_PROGRAM)})
    assert "mint_program" in _failed(mint_rules(wrong_program, info, SolanaRiskPolicy()))


def test_layout_refusals(chain, spl):
    token = chain.token("BAD", 6, program=TOKEN_2022_PROGRAM,
                        extensions=[lambda m: ext_permanent_delegate(m, chain.issuer.pubkey())])
    acc = chain.rpc.account(token.mint_pubkey)
    data = bytes(acc.data)
    assert parse_mint(token.mint, acc.owner, data).extension(ExtensionType.PermanentDelegate)
    with pytest.raises(LayoutError, match="not by SPL Token"):
        parse_mint(token.mint, SYSTEM_PROGRAM, data)
    with pytest.raises(LayoutError, match="expected 82"):
        parse_mint(token.mint, acc.owner, data[:100])
    with pytest.raises(LayoutError, match="account type byte"):
        parse_mint(token.mint, acc.owner, data[:165] + b"\x02" + data[166:])
    with pytest.raises(LayoutError, match="runs past the end"):
        parse_mint(token.mint, acc.owner, data[:-8])
    with pytest.raises(LayoutError, match="legacy token program"):
        parse_mint(token.mint, TOKEN_PROGRAM, data)
    with pytest.raises(LayoutError, match="padding"):
        parse_mint(token.mint, acc.owner, data[:90] + b"\x01" + data[91:])
    with pytest.raises(LayoutError, match="COption"):
        parse_mint(token.mint, acc.owner, b"\x07" + data[1:])
    with pytest.raises(LayoutError, match="at least 165"):
        parse_token_account(Pubkey.default(), TOKEN_PROGRAM, bytes(100))
    with pytest.raises(LayoutError, match="uninitialized"):
        parse_token_account(Pubkey.default(), TOKEN_PROGRAM, bytes(165))


def test_fund_tokens_into_token_2022_ata(chain, spl):
    token = chain.token("FND", 2, program=TOKEN_2022_PROGRAM)
    owner = Keypair().pubkey()
    fund_tokens(chain.svm, chain.issuer, token.mint_pubkey, owner, 500, 2, TOKEN_2022_PROGRAM)
    assert spl.balance(token, owner) == 500
    assert spl.mint_info(token.mint).supply == 500
