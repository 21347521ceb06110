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


def _lint_a_copy(tmp_path: Path, change) -> str:
    """lint-imports over a copy of the tree in the installed layout, after `change(copy_root)`."""
    import shutil
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "swarm", tmp_path / "defai_swarm", ignore=ignore)
    for package in ("agents", "tools"):
        shutil.copytree(ROOT / package, tmp_path / "defai_swarm" / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    change(tmp_path / "defai_swarm")
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent)})
    assert done.returncode != 0 and "BROKEN" in done.stdout, done.stdout[-2000:]
    return done.stdout


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}  # noqa: E402,F401\n")


def test_a_violation_is_caught(tmp_path):
    """The contracts really bite: a copy of the tree with one upward import fails."""
    out = _lint_a_copy(tmp_path, lambda root: _append(root / "tools" / "evm" / "prices.py",
                                                      "from defai_swarm.agents.risk import CheckRiskPlugin"))
    assert "tools import only the core" in out and "is layered" in out


def test_a_cycle_between_siblings_is_caught(tmp_path):
    """Two modules of one package importing each other (inside a function, as circles usually hide) fail."""
    def cycle(root: Path) -> None:
        _append(root / "audit" / "merkle.py", "def _late():\n    from defai_swarm.audit import outcome")
        _append(root / "audit" / "outcome.py", "from defai_swarm.audit import merkle")
    assert "no import cycle" in _lint_a_copy(tmp_path, cycle)


def test_a_package_the_layers_do_not_name_is_caught(tmp_path):
    """The layers contract is exhaustive: a new top-level module must be given its place."""
    assert "is layered" in _lint_a_copy(tmp_path, lambda root: (root / "newcomer.py").write_text("X = 1\n"))
