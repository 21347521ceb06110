"""Runs last: no private key or seed in anything the suite produced (logs, audit logs, stores, errors, prompts)."""
from __future__ import annotations

from pathlib import Path

from tests.secret_scan import CLI_OUTPUTS, FAILURE_TEXTS, LOG_LINES
from defai_swarm.tools.evm.wallet import Wallet


def secret_markers(base: Path) -> list[str]:
    markers = [m for i in range(10) for m in Wallet.devnet(i).secret_markers()]
    for key_file in base.rglob("signing.key"):  # the audit signing keys the suite created
        seed = key_file.read_bytes()
        if len(seed) == 32:
            markers.append(seed.hex())
    return markers


def test_no_secret_in_anything_the_suite_produced(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    markers = secret_markers(base)
    files = [p for p in base.rglob("*") if p.is_file() and p.name != "signing.key"]
    assert files, "the suite produced no files to scan"
    assert LOG_LINES, "no log records were collected"
    assert any(line.startswith("model prompt sha256=") for line in LOG_LINES) or not _llm_tests_ran(), \
        "model prompts were not captured"
    leaks = []
    for path in files:
        data = path.read_bytes().lower()
        leaks += [f"{path}" for m in markers if m.lower().encode() in data]
    for i, text in enumerate(LOG_LINES + FAILURE_TEXTS + CLI_OUTPUTS):
        low = text.lower()
        leaks += [f"log/failure text #{i}" for m in markers if m.lower() in low]
    assert not leaks, f"secret material found in: {sorted(set(leaks))[:10]}"


def _llm_tests_ran() -> bool:
    import sys
    return "tests.test_llm_backend" in sys.modules or "tests.test_planner" in sys.modules
