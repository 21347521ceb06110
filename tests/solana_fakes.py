"""Test fixtures over the local Solana stand-ins, which now live in the package `defai_swarm.tools.devnet.solana`.

The stand-ins are re-exported here under their old names (FakeJupiter is
`JupiterStandIn`, FakeHermes is `HermesStandIn`); see that package for what is
real (LiteSVM with the real SPL programs, the documented wire formats) and what
is a stand-in (the Jupiter swap transaction, Hermes' price source). Only
`LocalChain`, a whole chain for one test, is test-only.
"""
from __future__ import annotations

from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey

from defai_swarm.tools.devnet.solana.accounts import (PRICE_UPDATE_V2_LEN, SetupError, _opt, create_mint, ext_default_frozen,
                                          ext_mint_close_authority, ext_non_transferable, ext_permanent_delegate,
                                          ext_transfer_fee, ext_transfer_hook, fund_tokens, put_account,
                                          pyth_legacy_price, pyth_price_update_v2, revoke_mint_authority, send_direct,
                                          wrap_sol)
from defai_swarm.tools.devnet.solana.hermes_standin import HermesStandIn
from defai_swarm.tools.devnet.solana.http import MAX_BODY_BYTES, MAX_LIFETIME_SECONDS, LocalHttpServer
from defai_swarm.tools.devnet.solana.jupiter_standin import JupiterStandIn
from defai_swarm.tools.devnet.solana.litesvm_rpc import BLOCKHASH_VALID_BLOCKS, NOT_LANDED, LocalSolanaRpc, RpcFault
from defai_swarm.tools.devnet.solana.wire import account_json, err_json, ui_amount
from defai_swarm.tools.solana.programs import TOKEN_PROGRAM
from defai_swarm.tools.solana.pyth import PRICE_UPDATE_V2_DISCRIMINATOR

FakeJupiter = JupiterStandIn
FakeHermes = HermesStandIn
_LocalServer = LocalHttpServer
_RpcFault = RpcFault
_ui_amount = ui_amount

__all__ = ["BLOCKHASH_VALID_BLOCKS", "MAX_BODY_BYTES", "MAX_LIFETIME_SECONDS", "NOT_LANDED",
           "PRICE_UPDATE_V2_DISCRIMINATOR", "PRICE_UPDATE_V2_LEN", "FakeHermes", "FakeJupiter", "HermesStandIn",
           "JupiterStandIn", "LocalChain", "LocalHttpServer", "LocalSolanaRpc", "RpcFault", "SetupError",
           "account_json", "create_mint", "err_json", "ext_default_frozen", "ext_mint_close_authority",
           "ext_non_transferable", "ext_permanent_delegate", "ext_transfer_fee", "ext_transfer_hook", "fund_tokens",
           "put_account", "pyth_legacy_price", "pyth_price_update_v2", "revoke_mint_authority", "send_direct",
           "ui_amount", "wrap_sol", "_opt"]


class LocalChain:
    """LiteSVM + LocalSolanaRpc + the library's SolanaRpc client, with a funded wallet and a token issuer."""

    def __init__(self, poll_seconds: float = 0.01, rebroadcast_seconds: float = 0.05, timeout_seconds: float = 10.0):
        from defai_swarm.tools.solana.rpc import SolanaRpc
        from defai_swarm.tools.solana.tx import SolanaTxSender
        from defai_swarm.tools.solana.wallet import SolanaWallet

        self.svm = LiteSVM()
        self.server = LocalSolanaRpc(self.svm).start()
        self.rpc = SolanaRpc(self.server.url, timeout=5.0)
        self.issuer = Keypair()
        self.svm.airdrop(self.issuer.pubkey(), 100 * 10**9)
        self.wallet = SolanaWallet.generate()
        self.svm.airdrop(self.wallet.pubkey, 10 * 10**9)
        self.sender = SolanaTxSender(self.rpc, self.wallet, poll_seconds=poll_seconds,
                                     rebroadcast_seconds=rebroadcast_seconds, timeout_seconds=timeout_seconds)

    def token(self, symbol: str, decimals: int = 6, program: Pubkey = TOKEN_PROGRAM, fund: int = 0, **mint_kw):
        from defai_swarm.tools.solana.tokens import SolanaToken

        mint = create_mint(self.svm, self.issuer, decimals, program, **mint_kw)
        if fund:
            fund_tokens(self.svm, self.issuer, mint, self.wallet.pubkey, fund, decimals, program)
        return SolanaToken(symbol=symbol, mint=str(mint), decimals=decimals, program=str(program))

    def close(self) -> None:
        self.rpc.close()
        self.server.close()
