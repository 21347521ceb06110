"""Errors of the EVM tools. Messages say what went wrong and never carry secrets."""


class EvmToolError(RuntimeError):
    """Base class: any refusal or failure of an EVM tool."""


class RpcUnavailableError(EvmToolError):
    """The RPC endpoint did not answer after bounded retries."""


class UnknownTokenError(EvmToolError, KeyError):
    """A symbol or address that the registry does not know; never guessed."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown token"


class AmountError(EvmToolError, ValueError):
    """An amount that is not positive, not representable in the token's decimals, or absurd."""


class SimulationFailed(EvmToolError):
    """eth_call / estimateGas reverted: the transaction was not sent."""

    def __init__(self, reason: str):
        super().__init__(f"simulation reverted, nothing sent: {reason}")
        self.reason = reason


class TxFailed(EvmToolError):
    """A sent transaction reverted on chain or was not confirmed in time."""


class StalePriceError(EvmToolError):
    """A price feed answer older than the allowed age, or not positive."""
