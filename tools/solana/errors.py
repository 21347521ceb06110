"""Errors of the Solana tools. Messages say what went wrong and never carry secrets."""


class SolanaToolError(RuntimeError):
    """Base class: any refusal or failure of a Solana tool."""


class RpcUnavailableError(SolanaToolError):
    """The RPC endpoint did not answer after bounded retries."""


class AccountNotFound(SolanaToolError):
    """An account the operation needs does not exist on chain."""


class LayoutError(SolanaToolError, ValueError):
    """Account bytes that do not match the documented layout: refused, never guessed around."""


class SimulationFailed(SolanaToolError):
    """simulateTransaction reported an error: nothing was sent."""

    def __init__(self, reason: str, logs: list[str] | None = None):
        super().__init__(f"simulation failed, nothing sent: {reason}")
        self.reason, self.logs = reason, logs or []


class TxFailed(SolanaToolError):
    """A transaction landed with an error, or was refused by the node."""


class BlockhashExpired(TxFailed):
    """The blockhash expired and the signature status, checked after expiry, shows the tx never landed.

    Only this error makes it safe to sign a new transaction for the same intent.
    """

    def __init__(self, signature: str, last_valid_block_height: int):
        super().__init__(f"{signature} expired unlanded (block height passed {last_valid_block_height}); safe to re-sign")
        self.signature, self.last_valid_block_height = signature, last_valid_block_height


class TxFateUnknown(TxFailed):
    """Could not establish whether a signed tx landed: look it up before doing anything else, never re-sign."""

    def __init__(self, signature: str, why: str):
        super().__init__(f"fate of {signature} unknown ({why}); look it up before signing anything else for this intent")
        self.signature = signature


class PriceUnavailable(SolanaToolError):
    """A price source could not give a fresh, precise enough price: refuse, never guess."""


class JupiterError(SolanaToolError):
    """The Jupiter API failed or answered something we refuse to use."""


class RpcError(SolanaToolError):
    """The node answered with a JSON-RPC error (not a transport failure)."""
