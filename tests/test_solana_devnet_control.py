"""`swarm devnet set-price|align|mine --chain solana`: the Pyth account, Hermes and the Jupiter stand-in's pool
move together, a swap then runs at the new price, and the levers refuse anything but the local devnet."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from defai_swarm.exitcodes import ExitCode
from tests.secret_scan import record_output
from defai_swarm.tools.devnet.control import NotLocalDevnet
from defai_swarm.tools.devnet.solana import control
from defai_swarm.tools.solana.jupiter import JupiterClient
from defai_swarm.tools.solana.prices import SolanaPriceReader
from defai_swarm.tools.solana.pyth import HermesClient
from defai_swarm.tools.solana.rpc import SolanaRpc


@pytest.fixture(scope="module")
def net(solana_devnet):
    """The session's Solana devnet (tests/conftest.py), its SOL price put back after the module however its tests
    end: other tests read SOL at the devnet's 150 USD."""
    yield solana_devnet
    control.set_price("SOL", 150, solana_devnet.home)


def sol_prices(config) -> dict[str, Decimal]:
    rpc = SolanaRpc(config.rpc_url, timeout=5.0)
    jupiter, hermes = JupiterClient(config.jupiter_url, timeout=5.0), HermesClient(config.hermes_url, timeout=5.0)
    try:
        reading = SolanaPriceReader(rpc, config.registry(), config.pyth_feeds, jupiter=jupiter, hermes=hermes).read("SOL")
        return {s.name: s.price for s in reading.sources}
    finally:
        jupiter.close()
        hermes.close()
        rpc.close()


def test_set_price_moves_pyth_hermes_and_the_pool_then_a_swap_runs(net, tmp_path, monkeypatch):
    home = net.home
    moves = control.set_price("SOL", 180, home)
    assert {m.pair for m in moves} == {"SOL/USDC", "USDT/USDC", "FEE/USDC"}
    sol = next(m for m in moves if m.pair == "SOL/USDC")
    assert sol.target == Decimal(180) and abs(sol.price_after / 180 - 1) < Decimal("1e-6")
    prices = sol_prices(net.config)
    assert prices["pyth:SOL/USD"] == prices["hermes:SOL/USD"] == Decimal(180)
    assert Decimal("179") < prices["jupiter:SOL/USDC"] < Decimal(180)  # the route fee below the pool price
    # a run at the new price passes every rule (the pool and the oracle agree again)
    from defai_swarm.api import Swarm
    monkeypatch.setenv("SWARM_HOME", str(tmp_path))
    swarm = Swarm.from_config(net.paths.config, home=tmp_path)
    try:
        result = swarm.run("swap 1 SOL to USDC, max 1% slippage")
    finally:
        swarm.close()
    assert result.status == "done", result.reasons
    received = Decimal(result.tasks["swap_1"]["outcome"]["received"]).scaleb(-6)
    assert Decimal(178) < received < Decimal(180)
    slot = control.mine(5, home)
    assert slot > 0 and control.mine(1, home) > slot
    control.set_price("SOL", 150, home)
    with pytest.raises(Exception, match="not NOPE"):
        control.set_price("NOPE", 1, home)


def test_levers_refuse_what_is_not_the_local_devnet(net, tmp_path, monkeypatch):
    import defai_swarm.tools.devnet.solana.control as solana_control
    remote = net.config.model_copy(update={"rpc_url": "http://10.1.2.3:8899"})
    monkeypatch.setattr(solana_control, "_config", lambda home: remote)
    with pytest.raises(NotLocalDevnet, match="not a local devnet"):
        solana_control.set_price("SOL", 200)
    other = net.config.model_copy(update={"genesis_hash": "1" * 43})
    monkeypatch.setattr(solana_control, "_config", lambda home: other)
    with pytest.raises(NotLocalDevnet, match="genesis differs"):
        solana_control.align_pools()


def test_cli_levers(net):
    env = {**os.environ, "SWARM_HOME": str(net.home), "NO_COLOR": "1"}

    def swarm(*args):
        proc = subprocess.run([sys.executable, "-m", "defai_swarm.cli", "devnet", *args, "--chain", "solana"],
                              capture_output=True, text=True, env=env, timeout=120)
        record_output(proc.stdout + proc.stderr)
        return proc
    proc = swarm("set-price", "SOL", "160", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert any(m["pair"] == "SOL/USDC" and Decimal(m["target"]) == 160 for m in json.loads(proc.stdout))
    proc = swarm("align")
    assert proc.returncode == 0 and "SOL/USDC" in proc.stdout
    proc = swarm("mine", "3", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["mined"] == 3
    proc = swarm("status", "--json")
    status = json.loads(proc.stdout)
    assert proc.returncode == 0 and status["chain"] == "solana" and status["genesis_hash"] == net.config.genesis_hash
    assert any("SOL" in line for line in status["status"])
    proc = swarm("reset")
    assert proc.returncode == ExitCode.ERROR and "no snapshots" in proc.stdout
    swarm("set-price", "SOL", "150")
