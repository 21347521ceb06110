"""Errors of the EVM tools: the core's error tree (defai_swarm.core.errors), specialised for EVM.

Messages say what went wrong and never carry secrets.
"""
from defai_swarm.core import errors as core
from defai_swarm.core.errors import PriceUnavailable


class EvmToolError(core.SwarmError):
    """Base class: any refusal or failure of an EVM tool."""


class RpcUnavailableError(EvmToolError, core.RpcUnavailable):
    """The RPC endpoint did not answer after bounded retries."""


class UnknownTokenError(EvmToolError, core.UnknownToken):
    """A symbol or address that the registry does not know; never guessed."""


class AmountError(EvmToolError, core.AmountError):
    """An amount that is not positive, not representable in the token's decimals, or absurd."""


class SimulationFailed(EvmToolError, core.SimulationFailed):
    """eth_call / estimateGas reverted: the transaction was not sent."""

    def __init__(self, reason: str):
        super().__init__(f"simulation reverted, nothing sent: {reason}")
        self.reason = reason


class TxFailed(EvmToolError, core.TxFailed):
    """A sent transaction reverted on chain or was not confirmed in time."""


class ChainClockError(EvmToolError, core.Refused):
    """The chain's clock and this machine's disagree by more than the allowed skew: no deadline can be set."""


class StalePriceError(EvmToolError, PriceUnavailable):
    """A price feed answer older than the allowed age, or not positive."""


__all__ = ["AmountError", "ChainClockError", "EvmToolError", "PriceUnavailable", "RpcUnavailableError", "SimulationFailed",
           "StalePriceError", "TxFailed", "UnknownTokenError"]
