"""`swarm devnet` as a user runs it: a detached anvil, a manifest, clear errors."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from defai_swarm.tools.devnet.install import npm_prefix
from defai_swarm.tools.devnet.node import free_port

pytestmark = pytest.mark.devnet  # `swarm devnet up` in a subprocess starts anvil


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "SWARM_HOME": str(tmp_path), "SWARM_NPM_PREFIX": str(npm_prefix()), "COLUMNS": "200"}

    def run(*args, extra_env=None):
        proc = subprocess.run([sys.executable, "-m", "defai_swarm.cli", "devnet", *args], capture_output=True, text=True,
                              env={**env, **(extra_env or {})}, timeout=120)
        return proc.returncode, proc.stdout + proc.stderr

    yield run, tmp_path
    run("down")


def test_up_status_twice_down(cli):
    run, home = cli
    port = str(free_port())
    rc, out = run("up", "--port", port)
    assert rc == 0, out
    manifest = home / "devnet" / "manifest.json"
    assert f"manifest: {manifest}" in out.replace("\n", "")
    assert manifest.exists()
    rc, out = run("status")
    assert rc == 0, out
    assert "WETH/USDC" in out and "3,000.000000 USDC per WETH" in out
    assert "ETH/USD" in out
    rc, out = run("up", "--port", port)
    assert rc == 0 and "already running" in out
    rc, out = run("down")
    assert rc == 0 and "stopped" in out
    assert not manifest.exists()
    rc, out = run("status")
    assert rc == 1 and "no devnet running" in out


def test_port_in_use_is_refused_and_nothing_left(cli):
    run, home = cli
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        rc, out = run("up", "--port", str(s.getsockname()[1]))
    assert rc == 1
    assert "already in use" in out
    assert not (home / "devnet" / "manifest.json").exists()


def test_anvil_missing_is_a_clear_error(cli):
    run, home = cli
    rc, out = run("up", "--port", str(free_port()), extra_env={"SWARM_ANVIL": str(home / "no-anvil")})
    assert rc == 1
    assert "not an executable anvil" in out
    assert not (home / "devnet" / "manifest.json").exists()


def test_failed_deploy_leaves_nothing_running(cli):
    run, home = cli
    from defai_swarm.tools.devnet.install import anvil_binary
    from defai_swarm.tools.devnet.node import port_in_use

    port = free_port()
    empty = home / "empty-npm"
    empty.mkdir()
    rc, out = run("up", "--port", str(port), extra_env={"SWARM_ANVIL": str(anvil_binary()), "SWARM_NPM_PREFIX": str(empty)})
    assert rc == 1
    assert "Uniswap artifact" in out and "swarm devnet install" in out
    assert not (home / "devnet" / "manifest.json").exists()
    assert not port_in_use(port)
