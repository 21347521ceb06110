"""Exit codes of `swarm` and the example bots: one per outcome, so scripts can branch without parsing text.

Documented in the README ("Exit codes"); the same numbers everywhere (the CLI, examples/, defai_swarm.bot).
"""
from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    DONE = 0               # the run finished as asked (or the command succeeded)
    ERROR = 1              # environment, input or unexpected problem: RPC down, model missing, devnet not running,
    #                        an unreadable policy, manifest or chain configuration
    USAGE = 2              # bad command line: unknown flag, missing argument, unknown run id (argparse uses 2 too)
    PARTIAL = 3            # some trades ran, others did not
    SKIPPED = 4            # the intent's condition did not hold: nothing was traded
    REFUSED = 5            # the risk policy (or a safety check) refused: nothing was traded
    FAILED = 6             # a trade was attempted and failed
    AWAITING_APPROVAL = 7  # the run paused for a human decision (`swarm resume RUN --approve|--decline`)
    VERIFY_FAILED = 8      # an audit verification did not PASS


_BY_STATUS = {
    "done": ExitCode.DONE,
    "partial": ExitCode.PARTIAL,
    "skipped": ExitCode.SKIPPED,
    "refused": ExitCode.REFUSED,
    "failed": ExitCode.FAILED,
    "awaiting_approval": ExitCode.AWAITING_APPROVAL,
}


def for_status(status: str) -> ExitCode:
    """The exit code for a run's status (RunResult.status); an unknown status is FAILED, never DONE."""
    return _BY_STATUS.get(str(status), ExitCode.FAILED)


def error_document(message: str, code: ExitCode, command: str | None = None) -> dict:
    """What a command run with `--json` prints on stdout when it fails: a script reads one JSON document either
    way, and tells a failure by its `error` key (a result document has none)."""
    return {"error": message, "exit_code": int(code), "exit_name": code.name.lower(), "command": command}


__all__ = ["ExitCode", "error_document", "for_status"]
