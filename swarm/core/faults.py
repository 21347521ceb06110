"""Named fault points for crash-recovery tests: `SWARM_FAULT_KILL_AT=<name>[,<name>...]` SIGKILLs the process there.

Costs one environment lookup when unset; used by the test suite to prove that a
run killed at any step boundary resumes without repeating a sent transaction.
With `SWARM_FAULT_KILL_ONCE=<path>` as well, each named point fires for the first process to reach it only (it
creates `<path>-<name>`): a restarted process (a Ray actor brought back by the cluster) runs on past it, to the
next point of the list.
"""
from __future__ import annotations

import os
import re
import signal


def fault_point(name: str) -> None:
    wanted = os.environ.get("SWARM_FAULT_KILL_AT")
    if not wanted or name not in wanted.split(","):
        return
    once = os.environ.get("SWARM_FAULT_KILL_ONCE")
    if once:
        try:
            os.close(os.open(once_marker(once, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    os.kill(os.getpid(), signal.SIGKILL)


def once_marker(prefix: str, name: str) -> str:
    """The file that records that the point `name` has fired (SWARM_FAULT_KILL_ONCE)."""
    return f"{prefix}-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}"
