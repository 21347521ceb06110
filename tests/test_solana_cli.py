"""The Solana front door as a user types it, through the installed `swarm` console script:

    swarm devnet up --chain solana && swarm run --chain solana "swap 1 SOL to USDC, max 1% slippage" \
        && swarm audit verify RUN
    swarm devnet down --chain solana

Every command is a real subprocess with its own SWARM_HOME; the devnet it starts is a detached process
that this module stops in a finalizer whatever happens.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from defai_swarm.tools.devnet.node import free_port
from defai_swarm.tools.devnet.solana import stop_devnet
from defai_swarm.tools.devnet.solana.devnet import pid_alive

pytestmark = pytest.mark.solana  # `swarm devnet up --chain solana` in a subprocess

SWARM = shutil.which("swarm", path=str(Path(sys.executable).parent)) or str(Path(sys.executable).parent / "swarm")
INTENT = "swap 1 SOL to USDC, max 1% slippage"


def swarm(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SWARM_FAULT_KILL_AT", "SWARM_MODEL", "SWARM_SOLANA_KEYPAIR", "SWARM_PRIVATE_KEY")}
    env.update(SWARM_HOME=str(home), NO_COLOR="1", COLUMNS="200", TERM="dumb")
    return subprocess.run([SWARM, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=home)


def output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """`swarm devnet up --chain solana --port P` under a fresh SWARM_HOME; stopped at the end whatever happens."""
    home = tmp_path_factory.mktemp("swarm-home")
    up = swarm(home, "devnet", "up", "--chain", "solana", "--port", str(port := free_port()))
    try:
        assert up.returncode == 0, output(up)
        assert f"Solana devnet up at http://127.0.0.1:{port}" in up.stdout, output(up)
        yield home
    finally:
        stop_devnet(home)  # a no-op once `swarm devnet down` ran; only signals a verified devnet process


def devnet_pid(home: Path) -> int:
    return json.loads((home / "solana-devnet" / "config.json").read_text())["pid"]


def test_up_run_verify(home):
    assert pid_alive(devnet_pid(home))
    run = swarm(home, "run", "--chain", "solana", INTENT)
    assert run.returncode == 0, output(run)
    found = re.search(r"^run (\S+): (\S+)$", run.stdout, re.MULTILINE)
    assert found and found.group(2) == "done", output(run)
    run_id = found.group(1)
    # human amounts with the symbol, as on EVM (not base units: `received 149548509 >= min_out 148500000`)
    assert re.search(r"confirmed\s+swap_1\s+received 149\.\d{1,4} USDC \(min_out 148\.\d{1,4}\)$", run.stdout,
                     re.MULTILINE), output(run)
    assert len(re.findall(r"^\s+tx: \w+$", run.stdout, re.MULTILINE)) == 1, output(run)  # one swap
    assert f"check with: swarm audit verify {run_id}" in run.stdout

    verify = swarm(home, "audit", "verify", run_id)
    assert verify.returncode == 0, output(verify)
    assert f"PASS run {run_id}" in verify.stdout, output(verify)
    anchor = re.search(r"^\s*ok\s+anchor: memo in tx \w+ in slot \d+ carries the hash, signed by (\w+)$",
                       verify.stdout, re.MULTILINE)
    assert anchor, output(verify)
    assert "FAIL" not in verify.stdout


def test_transfer_fee_token_is_refused(home):
    run = swarm(home, "run", "--chain", "solana", "swap 100 USDC to FEE")
    assert run.returncode == 5, output(run)  # ExitCode.REFUSED
    assert re.search(r"^run \S+: refused$", run.stdout, re.MULTILINE), output(run)
    assert "no_transfer_fee:FEE" in run.stdout
    assert not re.search(r"^\s+tx: ", run.stdout, re.MULTILINE)  # nothing sent
    assert "Traceback" not in output(run)


def test_down_stops_the_devnet(home):  # last: the module's devnet is gone after it
    pid = devnet_pid(home)
    down = swarm(home, "devnet", "down", "--chain", "solana")
    assert down.returncode == 0, output(down)
    assert "Solana devnet stopped" in down.stdout
    assert not pid_alive(pid)
    assert not (home / "solana-devnet" / "config.json").exists()
    status = swarm(home, "devnet", "status", "--chain", "solana")
    assert status.returncode == 1 and "no Solana devnet running" in status.stdout, output(status)


def test_run_without_a_devnet_is_one_line(tmp_path):
    run = swarm(tmp_path, "run", "--chain", "solana", INTENT)
    assert run.returncode != 0
    text = output(run).strip()
    assert "Traceback" not in text
    assert text.splitlines() == ["error: no Solana devnet running; start one with `swarm devnet up --chain solana`"], text
