"""Wallet keys on a cluster travel only as references; no key rides in an actor's environment (no Ray needed)."""
from __future__ import annotations

import json

import pytest

from defai_swarm.cluster.keys import check_actor_env, check_reference, load_wallet
from defai_swarm.core.errors import ConfigError
from defai_swarm.tools.evm.wallet import Wallet


def test_a_reference_resolves_on_the_node_and_a_pasted_key_is_refused_unechoed(monkeypatch, tmp_path):
    key = "0x" + "5a" * 32
    monkeypatch.setenv("SWARM_TEST_NODE_KEY", key)
    assert load_wallet("evm", "env:SWARM_TEST_NODE_KEY").address == Wallet.from_key(key).address
    (tmp_path / "k").write_text(key + "\n")
    assert load_wallet("evm", f"file:{tmp_path / 'k'}").address == Wallet.from_key(key).address
    assert load_wallet("evm", "devnet:3").address == Wallet.devnet(3).address
    with pytest.raises(ConfigError) as refused:
        check_reference(key)
    assert key[2:] not in str(refused.value)
    with pytest.raises(ConfigError, match="not set on this node"):
        load_wallet("evm", "env:SWARM_TEST_UNSET")
    with pytest.raises(ConfigError, match="devnet:N names anvil's development accounts"):
        load_wallet("solana", "devnet:1")


@pytest.mark.parametrize("value", ["0x" + "ab" * 32, "cd" * 32, json.dumps(list(range(64))), "4" * 88])
def test_a_key_like_actor_environment_value_is_refused_naming_only_the_variable(value):
    with pytest.raises(ConfigError, match="variable TRADER looks like a key") as refused:
        check_actor_env({"FAULT": "after_plan", "TRADER": value})
    assert value not in str(refused.value)


def test_ordinary_actor_environment_passes():
    env = {"SWARM_MODEL_FAMILY": "gemma", "SWARM_FAULT_KILL_AT": "after_sign:swap_1:swap", "PATHS": "/opt/x:/opt/y"}
    assert check_actor_env(env) == env


def test_outside_ray_the_node_is_local_and_no_ray_instance_is_started():
    """`ray.get_runtime_context()` outside Ray starts a local Ray instance (GCS, raylet, workers): a wallet actor's
    class used in-process (restart recovery, its tests) must not."""
    ray = pytest.importorskip("ray", reason="the test extra installs ray")
    from defai_swarm.cluster.wallet_actor import node_id

    assert not ray.is_initialized()
    assert node_id() == "local"
    assert not ray.is_initialized()
