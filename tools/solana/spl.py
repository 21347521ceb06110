"""SOL and SPL balances and transfers (SPL Token and Token-2022), with associated token accounts.

The recipient's ATA is created in the same transaction, with the idempotent
instruction, when it is missing; transfers use TransferChecked so the mint and
decimals are asserted on chain.
"""
from __future__ import annotations

from solders.instruction import Instruction
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from spl.token.instructions import (create_idempotent_associated_token_account, get_associated_token_address,
                                    transfer_checked)
from spl.token.models import TransferCheckedParams

from defai_swarm.tools.solana.errors import AccountNotFound, SolanaToolError
from defai_swarm.tools.solana.rpc import SolanaRpc
from defai_swarm.tools.solana.token_layout import MintInfo, TokenAccountInfo, parse_mint, parse_token_account
from defai_swarm.tools.solana.tokens import AmountError, SolanaToken
from defai_swarm.tools.solana.tx import ConfirmedTx, SolanaTxSender


def ata_address(owner: Pubkey, token: SolanaToken) -> Pubkey:
    return get_associated_token_address(owner, token.mint_pubkey, token.program_pubkey)


class SplTokens:
    def __init__(self, rpc: SolanaRpc, sender: SolanaTxSender):
        self.rpc, self.sender = rpc, sender

    @property
    def owner(self) -> Pubkey:
        return self.sender.wallet.pubkey

    def mint_info(self, mint: Pubkey | str) -> MintInfo:
        """The mint as it is on chain, extensions included (for the risk checker)."""
        key = Pubkey.from_string(mint) if isinstance(mint, str) else mint
        acc = self.rpc.account(key)
        if acc is None:
            raise AccountNotFound(f"mint {key} does not exist")
        return parse_mint(key, acc.owner, acc.data)

    def token_account(self, address: Pubkey) -> TokenAccountInfo | None:
        acc = self.rpc.account(address)
        return None if acc is None else parse_token_account(address, acc.owner, acc.data)

    def balance(self, token: SolanaToken, owner: Pubkey | None = None) -> int:
        """Base units: lamports for SOL, the ATA's amount for SPL tokens (0 when it does not exist)."""
        owner = owner or self.owner
        if token.is_native:
            return self.rpc.balance(owner)
        return self.rpc.token_balance(ata_address(owner, token)) or 0

    def _checked_mint(self, token: SolanaToken) -> MintInfo:
        info = self.mint_info(token.mint)
        if info.program != token.program or info.decimals != token.decimals:
            raise SolanaToolError(f"{token.symbol}: registry says program {token.program}, {token.decimals} decimals; "
                                  f"chain says {info.program}, {info.decimals}")
        return info

    def transfer_instructions(self, token: SolanaToken, to_owner: Pubkey, amount: int) -> list[Instruction]:
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise AmountError(f"amount must be a positive integer of base units, got {amount!r}")
        if token.is_native:
            return [transfer(TransferParams(from_pubkey=self.owner, to_pubkey=to_owner, lamports=amount))]
        self._checked_mint(token)
        source, dest = ata_address(self.owner, token), ata_address(to_owner, token)
        held = self.rpc.token_balance(source) or 0
        if held < amount:
            raise AmountError(f"balance {held} of {token.symbol} (base units) is below the transfer amount {amount}")
        ixs = []
        if self.rpc.account(dest) is None:
            ixs.append(create_idempotent_associated_token_account(self.owner, to_owner, token.mint_pubkey,
                                                                  token.program_pubkey))
        ixs.append(transfer_checked(TransferCheckedParams(program_id=token.program_pubkey, source=source,
                                                          mint=token.mint_pubkey, dest=dest, owner=self.owner,
                                                          amount=amount, decimals=token.decimals)))
        return ixs

    def transfer(self, token: SolanaToken, to_owner: Pubkey, amount: int, label: str = "") -> ConfirmedTx:
        return self.sender.send(lambda: self.transfer_instructions(token, to_owner, amount),
                                label=label or f"transfer {token.symbol}")
