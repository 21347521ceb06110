"""Errors of the Solana tools: the core's error tree (defai_swarm.core.errors), specialised for Solana.

Every leaf is both a `SolanaToolError` and the core error of the same meaning
(`RpcUnavailableError` is a `defai_swarm.core.errors.RpcUnavailable`, ...), so the runtime
reacts to what happened without knowing which chain raised it. `PriceUnavailable`
is the core class itself. Messages say what went wrong and never carry secrets.
"""
from __future__ import annotations

from defai_swarm.core import errors as core
from defai_swarm.core.errors import PriceUnavailable


class SolanaToolError(core.SwarmError):
    """Base class: any refusal or failure of a Solana tool."""


class RpcUnavailableError(SolanaToolError, core.RpcUnavailable):
    """The RPC endpoint did not answer after bounded retries."""


class AccountNotFound(SolanaToolError):
    """An account the operation needs does not exist on chain."""


class LayoutError(SolanaToolError, ValueError):
    """Account bytes that do not match the documented layout: refused, never guessed around."""


class AmountError(SolanaToolError, core.AmountError):
    """An amount that is not positive or not representable in the token's decimals."""


class UnknownTokenError(SolanaToolError, core.UnknownToken):
    """A symbol or mint the registry does not know; never guessed."""


class SimulationFailed(SolanaToolError, core.SimulationFailed):
    """simulateTransaction reported an error: nothing was sent."""

    def __init__(self, reason: str, logs: list[str] | None = None):
        super().__init__(f"simulation failed, nothing sent: {reason}")
        self.reason, self.logs = reason, logs or []


class TxFailed(SolanaToolError, core.TxFailed):
    """A transaction landed with an error, or was refused by the node."""


class BlockhashExpired(TxFailed):
    """The blockhash expired and the signature status, checked after expiry, shows the tx never landed.

    Only this error makes it safe to sign a new transaction for the same intent.
    """

    def __init__(self, signature: str, last_valid_block_height: int):
        super().__init__(f"{signature} expired unlanded (block height passed {last_valid_block_height}); safe to re-sign")
        self.signature, self.last_valid_block_height = signature, last_valid_block_height


class TxFateUnknown(TxFailed, core.TxFateUnknown):
    """Could not establish whether a signed tx landed: look it up before doing anything else, never re-sign.

    Also a `TxFailed` (as before the core tree existed); catch `defai_swarm.core.errors.TxFateUnknown`
    before `TxFailed` where the difference matters (an executor must re-raise it).
    """

    def __init__(self, signature: str, why: str):
        super().__init__(f"fate of {signature} unknown ({why}); look it up before signing anything else for this intent")
        self.signature = signature


class JupiterError(SolanaToolError):
    """The Jupiter API failed or answered something we refuse to use."""


class RpcError(SolanaToolError):
    """The node answered with a JSON-RPC error (not a transport failure)."""


__all__ = ["AccountNotFound", "AmountError", "BlockhashExpired", "JupiterError", "LayoutError", "PriceUnavailable",
           "RpcError", "RpcUnavailableError", "SimulationFailed", "SolanaToolError", "TxFailed", "TxFateUnknown",
           "UnknownTokenError"]
