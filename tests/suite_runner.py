"""Run a test suite file in a pytest process of its own and report its own failures (the Ray cluster suites).

Ray's driver aborted (std::bad_alloc at its first task submission) when it ran inside the long-lived suite process
after a few hundred other tests; in a fresh process it runs as a user's driver would. The JUnit report says which
of the suite's tests ran, failed or were skipped: every one must pass, and a failure shows its own assertion and
traceback here, not a log tail."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_suite(suite: str, report_dir: Path, expect_at_least: int, timeout: float = 2400) -> dict[str, str]:
    """Every test's outcome ("passed" only, or the assertion fails with the failures' texts)."""
    report = report_dir / (Path(suite).stem + ".xml")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                           suite], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert report.exists(), done.stdout[-6000:] + done.stderr[-3000:]
    outcomes: dict[str, str] = {}
    problems: list[str] = []
    for case in ET.parse(report).getroot().iter("testcase"):
        bad = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
        outcomes[case.get("name", "?")] = "passed" if bad is None else bad.tag
        if bad is not None:
            problems.append(f"{case.get('name')}: {bad.tag}: {bad.get('message', '')}\n{(bad.text or '')[-4000:]}")
    assert not problems, "\n\n".join(problems)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert len(outcomes) >= expect_at_least, outcomes
    return outcomes
