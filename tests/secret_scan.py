"""Pytest plugin: collect everything the suite produces that a secret could leak into.

Log records (every logger, DEBUG and up), what `swarm` subprocesses printed (their log lines included,
via record_output), the text of every failure and error,
and the files under pytest's temporary directories (audit logs, run stores,
checkpoints, anvil logs, generated projects). tests/test_zz_secret_scan.py,
collected last, scans them for private keys.
"""
from __future__ import annotations

import logging

import pytest

LOG_LINES: list[str] = []
FAILURE_TEXTS: list[str] = []
CLI_OUTPUTS: list[str] = []  # what `swarm` subprocesses printed (stdout, stderr, their log lines): see record_output


def record_output(text: str) -> str:
    """Keep a subprocess's output (its logs go to stderr) for the final secret scan; returns it unchanged."""
    CLI_OUTPUTS.append(text)
    return text


class _Collector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            LOG_LINES.append(record.getMessage())
        except Exception:  # a record that cannot be formatted carries nothing to scan
            pass


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.addHandler(_Collector(level=logging.DEBUG))
    root.setLevel(logging.DEBUG)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        FAILURE_TEXTS.append(report.longreprtext)
