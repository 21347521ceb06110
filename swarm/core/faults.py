"""Named fault points for crash-recovery tests: `SWARM_FAULT_KILL_AT=<name>` SIGKILLs the process there.

Costs one environment lookup when unset; used by the test suite to prove that a
run killed at any step boundary resumes without repeating a sent transaction.
With `SWARM_FAULT_KILL_ONCE=<path>` as well, only the first process to reach the point dies (it creates the
file): a restarted process (a Ray actor brought back by the cluster) then runs on past it.
"""
from __future__ import annotations

import os
import signal


def fault_point(name: str) -> None:
    if os.environ.get("SWARM_FAULT_KILL_AT") != name:
        return
    once = os.environ.get("SWARM_FAULT_KILL_ONCE")
    if once:
        try:
            os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    os.kill(os.getpid(), signal.SIGKILL)
