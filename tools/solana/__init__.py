"""Solana tools on solana-py and solders: wallet, RPC, SPL / Token-2022, transactions, memos, Jupiter, Pyth."""
from tools.solana.config import SolanaConfig
from tools.solana.errors import (AccountNotFound, BlockhashExpired, JupiterError, LayoutError, PriceUnavailable,
                                 RpcError, RpcUnavailableError, SimulationFailed, SolanaToolError, TxFailed,
                                 TxFateUnknown)
from tools.solana.jupiter import JupiterClient, JupiterQuote, JupiterSwap
from tools.solana.memo import AnchorReceipt, MemoAnchor
from tools.solana.rpc import SolanaRpc
from tools.solana.spl import SplTokens
from tools.solana.token_layout import ExtensionType, MintInfo, TokenAccountInfo, parse_mint, parse_token_account
from tools.solana.tokens import SolanaToken, SolanaTokenRegistry
from tools.solana.tx import ConfirmedTx, SignedSolanaTx, SolanaTxSender
from tools.solana.wallet import SolanaWallet

__all__ = ["SolanaConfig", "AccountNotFound", "BlockhashExpired", "JupiterError", "LayoutError", "PriceUnavailable",
           "RpcError", "RpcUnavailableError", "SimulationFailed", "SolanaToolError", "TxFailed", "TxFateUnknown",
           "JupiterClient", "JupiterQuote", "JupiterSwap", "AnchorReceipt", "MemoAnchor", "SolanaRpc",
           "SplTokens", "ExtensionType", "MintInfo", "TokenAccountInfo", "parse_mint", "parse_token_account",
           "SolanaToken", "SolanaTokenRegistry", "ConfirmedTx", "SignedSolanaTx", "SolanaTxSender", "SolanaWallet"]
