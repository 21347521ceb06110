"""EVM tools on web3.py: tokens, ERC20, Uniswap V2, price feeds, safe transaction sending."""
from tools.evm.errors import (AmountError, EvmToolError, RpcUnavailableError, SimulationFailed, StalePriceError,
                              TxFailed, UnknownTokenError)
from tools.evm.tokens import Token, TokenRegistry
from tools.evm.tx import NonceManager, SentTx, TxReceipt, TxRequest, TxSender
from tools.evm.wallet import Wallet

__all__ = ["AmountError", "EvmToolError", "RpcUnavailableError", "SimulationFailed", "StalePriceError", "TxFailed",
           "UnknownTokenError", "Token", "TokenRegistry", "NonceManager", "SentTx", "TxReceipt", "TxRequest",
           "TxSender", "Wallet"]
