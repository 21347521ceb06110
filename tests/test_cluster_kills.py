"""The wallet-actor kill suite (tests/cluster_kill_suite.py) in a pytest process of its own (see
tests/suite_runner.py): the actor killed at every step boundary of a run, on a real two-node Ray cluster."""
from __future__ import annotations

import pytest

from tests.suite_runner import run_suite

pytestmark = [pytest.mark.cluster, pytest.mark.devnet, pytest.mark.postgres]  # the suite: Ray, anvil, PostgreSQL


def test_cluster_kill_suite_in_its_own_process(tmp_path):
    outcomes = run_suite("tests/cluster_kill_suite.py", tmp_path, expect_at_least=7)  # one per fault point, and a double kill
    assert all(name.startswith("test_actor_killed_mid_run") for name in outcomes), outcomes
