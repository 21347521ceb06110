"""One error tree for the whole library.

`SwarmError` is the root. The leaves below name *what happened*, whatever the
chain; each chain package subclasses them (`defai_swarm.tools.evm.errors.RpcUnavailableError`
is both an `EvmToolError` and an `RpcUnavailable`), so the runtime can react to a
situation without knowing which chain raised it. Messages say what is wrong and
what to do, and never carry a secret.

Every error the library raises on purpose derives from `SwarmError` (tests/test_error_root.py walks every
module), keeping a builtin second base where callers catch one (`UnknownToken` and `UnknownRun` are KeyErrors,
`ConfigError` a ValueError). The `swarm` command's exit code follows from the class alone
(`defai_swarm.cli.errors.classify`): a `Refused` is 5, an `UnknownRun` 2, any other `SwarmError` 1.
"""
from __future__ import annotations


class SwarmError(RuntimeError):
    """Root of every error the library raises on purpose."""


class ConfigError(SwarmError, ValueError):
    """A configuration file or option that cannot be used as given."""


class ChainMismatch(ConfigError):
    """The node answering at the configured RPC is not the chain the configuration names."""


class RpcUnavailable(SwarmError):
    """The chain's RPC endpoint did not answer after bounded retries. Nothing is assumed about what happened."""


class TxFateUnknown(SwarmError):
    """A signed transaction may or may not have landed: look it up (or rebroadcast the same bytes); never re-sign."""


class TxFailed(SwarmError):
    """A transaction was rejected by the node, reverted, or did not land."""


class SimulationFailed(SwarmError):
    """A transaction's simulation failed: nothing was sent."""


class PriceUnavailable(SwarmError):
    """No price (or no fresh, precise enough price) could be read: refuse, never guess."""


class UnknownToken(SwarmError, KeyError):
    """A symbol or address the registry does not know; never guessed."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown token"


class AmountError(SwarmError, ValueError):
    """An amount that is not positive, not representable in the token's decimals, or absurd."""


class Refused(SwarmError):
    """A deterministic check refused the action; nothing was signed."""


class PluginError(SwarmError):
    """A task plugin is missing, registered twice, or does not support the chain."""


class EffectRefused(Refused):
    """A task tried to move funds without its risk check's approval, or beyond it: nothing was signed.
    (The runtime hands every task an executor that enforces this, whoever wrote the task.)"""


class UnknownRun(SwarmError, KeyError):
    """A run id this store does not hold (resume, trace of a run never started here). Also a `KeyError`, which
    callers caught before there was a class for it."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown run"


class NotRunning(SwarmError):
    """A local service a command needs (a devnet) is not running: an environment problem, told in one line with
    the command that starts it."""
