"""`defai_swarm.session`: the one way the front doors (CLI, MCP server, bots, cluster) open a swarm from flags."""
from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path

import pytest

from defai_swarm.core.errors import ConfigError, NotRunning
from defai_swarm.session import SessionOptions, chain_config_path, load_policy, open_swarm


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No running devnet, no model, no key or shared store from the caller's environment."""
    for name in ("SWARM_MODEL", "SWARM_PRIVATE_KEY", "SWARM_STORE", "SWARM_MANIFEST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SWARM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SWARM_LEDGER", str(tmp_path / "ledger.sqlite"))
    return tmp_path


def test_options_from_the_run_flags_and_their_defaults():
    args = argparse.Namespace(config=None, manifest="m.json", chain="solana", policy="p.json", model=None, k=5,
                              no_anchor=True)
    options = SessionOptions.from_args(args)
    assert (options.manifest, options.chain, options.policy, options.k, options.anchor) == ("m.json", "solana",
                                                                                           "p.json", 5, False)
    bare = SessionOptions.from_args(argparse.Namespace(manifest=None, home=None, policy=None))  # a bot's flags
    assert (bare.chain, bare.k, bare.anchor, bare.model) == ("evm", 3, True, None)


def test_the_model_comes_from_the_flag_then_the_environment_unless_told_not_to(monkeypatch):
    monkeypatch.setenv("SWARM_MODEL", "/models/r1.gguf")
    assert SessionOptions().model_spec() == "/models/r1.gguf"
    assert SessionOptions(model="http://127.0.0.1:8080").model_spec() == "http://127.0.0.1:8080"
    assert SessionOptions(model_from_env=False).model_spec() is None  # the bot helpers' choice


def test_no_running_devnet_is_not_running_with_the_command_that_starts_it(isolated):
    with pytest.raises(NotRunning, match="swarm devnet up"):
        chain_config_path()
    with pytest.raises(NotRunning, match="--chain solana"):
        chain_config_path(chain="solana")
    with pytest.raises(NotRunning):
        open_swarm(SessionOptions())


def test_a_policy_file_is_read_strictly(tmp_path):
    from defai_swarm.tools.evm.policy import RiskPolicy

    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"max_tradeusd": 100}))
    with pytest.raises(ConfigError, match="unknown field 'max_tradeusd' .did you mean 'max_trade_usd'"):
        load_policy(path, RiskPolicy)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_policy(path, RiskPolicy)
    with pytest.raises(ConfigError, match="no such file"):
        load_policy(tmp_path / "missing.json", RiskPolicy)
    path.write_text(json.dumps({"max_trade_usd": "250"}))
    assert load_policy(path, RiskPolicy).max_trade_usd == Decimal(250)


def test_open_swarm_on_a_devnet_with_a_policy_file_and_hooks(devnet, isolated):
    from defai_swarm.bot import open_swarm as bot_swarm

    policy = isolated / "policy.json"
    policy.write_text(json.dumps({"max_trade_usd": "123"}))
    seen: list[str] = []
    swarm = open_swarm(SessionOptions(manifest=devnet.manifest_path, policy=policy, anchor=False, k=2,
                                      home=isolated / "state"), on_task=lambda task_id, result: seen.append(task_id))
    try:
        assert swarm.policy.max_trade_usd == Decimal(123) and swarm.k == 2 and swarm.backend is None
        assert Path(swarm.home) == isolated / "state"
        assert swarm.chain.identity.family == "evm"
        assert swarm.on_task is not None
        swarm.on_task("read_price_1", {"status": "ok"})  # the session's hook logs, then calls the front door's
        assert seen == ["read_price_1"]
    finally:
        swarm.close()
    bot = bot_swarm(argparse.Namespace(manifest=str(devnet.manifest_path), home=str(isolated / "bot"), policy=str(policy)))
    try:
        assert bot.policy.max_trade_usd == Decimal(123) and Path(bot.home) == isolated / "bot"
    finally:
        bot.close()
