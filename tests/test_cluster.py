"""The Ray cluster suite (tests/cluster_suite.py) in a pytest process of its own (see tests/suite_runner.py):
40 intents over 2 wallets from two drivers with a node killed, restart recovery, the recorded policy, the model
actor pool and a bot schedule, on a real two-node Ray cluster, PostgreSQL and anvil."""
from __future__ import annotations

import pytest

from tests.suite_runner import run_suite

pytestmark = [pytest.mark.cluster, pytest.mark.devnet, pytest.mark.postgres]  # the suite: Ray, anvil, PostgreSQL


def test_cluster_suite_in_its_own_process(tmp_path):
    outcomes = run_suite("tests/cluster_suite.py", tmp_path, expect_at_least=5)
    assert "test_forty_intents_two_wallets_two_drivers_one_node_killed" in outcomes
