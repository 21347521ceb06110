"""`swarm new` makes a project whose own test passes out of the box."""
from __future__ import annotations

import os
import subprocess
import sys


def swarm_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "swarm.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_generated_project_passes_its_own_test(tmp_path):
    proc = swarm_cli("new", "my_bot", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    project = tmp_path / "my_bot"
    assert (project / "my_bot" / "liquidity_guard.py").exists() and (project / "tests" / "test_my_bot.py").exists()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "SWARM_HOME": str(tmp_path / "h")})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "3 passed" in run.stdout


def test_refuses_bad_names_and_non_empty_directories(tmp_path):
    proc = swarm_cli("new", "My-Bot!", cwd=tmp_path)
    assert proc.returncode == 1 and "not a valid project name" in proc.stdout
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    proc = swarm_cli("new", "taken", cwd=tmp_path)
    assert proc.returncode == 1 and "not empty" in proc.stdout
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
