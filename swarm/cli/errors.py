"""How a failed command ends: its exit code, chosen by the error's class (never by its name or message).

Every error the library raises on purpose is a `defai_swarm.core.errors.SwarmError`; the table below maps its
branches to the documented exit codes (README "Exit codes", `swarm --help`). Anything else is a bug or an
unwrapped library failure: exit 1, named as unexpected, with the traceback under --debug.
"""
from __future__ import annotations

import argparse

from defai_swarm.core.errors import NotRunning, Refused, SwarmError, UnknownRun
from defai_swarm.exitcodes import ExitCode


class UsageError(SwarmError):
    """argparse's complaint about the command line, raised rather than exiting so that `main` tells it once, in the
    same way as any failure (and, when the script asked for --json, as a JSON error document too)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str):
        super().__init__(message)
        self.parser, self.message = parser, message


# First match wins: a subclass is listed before its base.
EXIT_CODE_BY_CLASS: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (Refused, ExitCode.REFUSED),     # the risk policy or a safety check refused: nothing traded
    (UsageError, ExitCode.USAGE),    # a bad command line
    (UnknownRun, ExitCode.USAGE),    # a run id this machine does not have (`swarm resume nosuchrun`)
    (SwarmError, ExitCode.ERROR),    # configuration, RPC, model, devnet not running, audit files, ...
    (FileNotFoundError, ExitCode.ERROR),  # a file the command was given is not there
)


def classify(exc: BaseException) -> tuple[ExitCode, str]:
    """The exit code and one line for an error that ended a command."""
    message = str(exc).strip() or type(exc).__name__
    for cls, code in EXIT_CODE_BY_CLASS:
        if isinstance(exc, cls):
            return code, message
    return ExitCode.ERROR, f"unexpected {type(exc).__name__}: {message} (run again with --debug for the traceback)"


__all__ = ["EXIT_CODE_BY_CLASS", "NotRunning", "UsageError", "classify"]
