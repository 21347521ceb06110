"""The import layers hold: the core imports nothing above it, tools never import agents or the runtime,
agents never import the front doors, the runtime is chain-neutral (contracts in pyproject.toml)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_a_violation_is_caught(tmp_path):
    """The contracts really bite: a copy of the tree with one upward import fails."""
    import shutil
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "swarm", tmp_path / "defai_swarm", ignore=ignore)  # the installed layout
    for package in ("agents", "tools"):
        shutil.copytree(ROOT / package, tmp_path / "defai_swarm" / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bad = tmp_path / "defai_swarm" / "tools" / "evm" / "prices.py"
    bad.write_text(bad.read_text() + "\nfrom defai_swarm.agents.risk import CheckRiskPlugin  # noqa: E402,F401\n")
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent)})
    assert done.returncode != 0 and "tools import only the core" in done.stdout and "BROKEN" in done.stdout
