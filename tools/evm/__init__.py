"""EVM tools on web3.py: tokens, ERC20, Uniswap V2, price feeds, safe transaction sending."""
from defai_swarm.tools.evm.errors import (AmountError, EvmToolError, RpcUnavailableError, SimulationFailed, StalePriceError,
                              TxFailed, UnknownTokenError)
from defai_swarm.tools.evm.tokens import Token, TokenRegistry
from defai_swarm.tools.evm.tx import NonceManager, SentTx, TxReceipt, TxRequest, TxSender
from defai_swarm.tools.evm.wallet import Wallet

__all__ = ["AmountError", "EvmToolError", "RpcUnavailableError", "SimulationFailed", "StalePriceError", "TxFailed",
           "UnknownTokenError", "Token", "TokenRegistry", "NonceManager", "SentTx", "TxReceipt", "TxRequest",
           "TxSender", "Wallet"]
