"""Named fault points for crash-recovery tests: `SWARM_FAULT_KILL_AT=<name>` SIGKILLs the process there.

Costs one environment lookup when unset; used by the test suite to prove that a
run killed at any step boundary resumes without repeating a sent transaction.
"""
from __future__ import annotations

import os
import signal


def fault_point(name: str) -> None:
    if os.environ.get("SWARM_FAULT_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
