"""The Ray cluster tests (tests/cluster_suite.py), run by pytest in a process of their own.

Ray's driver aborted (std::bad_alloc at its first task submission) when it ran inside the long-lived suite
process after a few hundred other tests; in a fresh process it runs as a user's driver would. The suite's
fixtures (anvil, pgserver) come from tests/conftest.py there too."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cluster_suite_in_its_own_process():
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/cluster_suite.py"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    tail = done.stdout[-6000:] + done.stderr[-3000:]
    assert done.returncode == 0, tail
    assert " passed" in done.stdout.splitlines()[-1] and "failed" not in done.stdout.splitlines()[-1], tail
