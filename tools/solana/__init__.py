"""Solana tools on solana-py and solders: wallet, RPC, SPL / Token-2022, transactions, memos, Jupiter, Pyth,
and the chain adapter that puts them behind `defai_swarm.core.chain.ChainAdapter` (`SolanaChain`, imported on first use)."""
from typing import TYPE_CHECKING

from defai_swarm.tools.solana.config import SolanaChainConfig, SolanaConfig
from defai_swarm.tools.solana.errors import (AccountNotFound, AmountError, BlockhashExpired, JupiterError, LayoutError,
                                 PriceUnavailable, RpcError, RpcUnavailableError, SimulationFailed, SolanaToolError,
                                 TxFailed, TxFateUnknown, UnknownTokenError)
from defai_swarm.tools.solana.jupiter import JupiterClient, JupiterQuote, JupiterSwap
from defai_swarm.tools.solana.memo import AnchorReceipt, MemoAnchor
from defai_swarm.tools.solana.policy import SolanaRiskPolicy
from defai_swarm.tools.solana.rpc import SolanaRpc
from defai_swarm.tools.solana.spl import SplTokens
from defai_swarm.tools.solana.token_layout import ExtensionType, MintInfo, TokenAccountInfo, parse_mint, parse_token_account
from defai_swarm.tools.solana.tokens import SolanaToken, SolanaTokenRegistry
from defai_swarm.tools.solana.tx import ConfirmedTx, SignedSolanaTx, SolanaTxSender
from defai_swarm.tools.solana.wallet import SolanaWallet

if TYPE_CHECKING:  # for type checkers only: at run time __getattr__ below loads it on first use
    from defai_swarm.tools.solana.chain import SolanaChain

__all__ = ["SolanaChain", "SolanaChainConfig", "SolanaConfig", "AccountNotFound", "AmountError", "BlockhashExpired",
           "JupiterError", "LayoutError", "PriceUnavailable", "RpcError", "RpcUnavailableError", "SimulationFailed",
           "SolanaToolError", "TxFailed", "TxFateUnknown", "UnknownTokenError", "JupiterClient", "JupiterQuote",
           "JupiterSwap", "AnchorReceipt", "MemoAnchor", "SolanaRiskPolicy", "SolanaRpc", "SplTokens", "ExtensionType",
           "MintInfo", "TokenAccountInfo", "parse_mint", "parse_token_account", "SolanaToken", "SolanaTokenRegistry",
           "ConfirmedTx", "SignedSolanaTx", "SolanaTxSender", "SolanaWallet"]


def __getattr__(name: str):
    if name == "SolanaChain":  # the adapter pulls in the executor and its checks: loaded only when asked for
        from defai_swarm.tools.solana.chain import SolanaChain
        return SolanaChain
    raise AttributeError(f"module 'defai_swarm.tools.solana' has no attribute {name!r}")
