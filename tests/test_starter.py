"""`swarm new` makes a project whose own tests pass out of the box, whose custom agent is a task plugin,
whose `python -m NAME` prints its usage, and which depends on the library by name and version (`defai-swarm[devnet]==0.1.0`,
found by `pip install --find-links DIR` until it is on an index), never by a path to one machine's checkout.
tests/test_wheel_install.py installs such a project against the built wheel in a fresh virtualenv."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from importlib.metadata import version

import pytest

import defai_swarm
from defai_swarm.starter import create, library_checkout


def swarm_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "defai_swarm.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=60)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    base = tmp_path_factory.mktemp("starter")
    proc = swarm_cli("new", "my_bot", cwd=base)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return base / "my_bot"


@pytest.mark.devnet  # the project's own test starts an anvil devnet
def test_generated_project_passes_its_own_test(project, tmp_path):
    assert (project / "my_bot" / "liquidity_guard.py").exists() and (project / "tests" / "test_my_bot.py").exists()
    agent = (project / "my_bot" / "liquidity_guard.py").read_text()
    assert "class LiquidityGuard(TaskPlugin[LiquidityGuardTask])" in agent and "def replay(" in agent
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "SWARM_HOME": str(tmp_path / "h")})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "6 passed" in run.stdout and "failed" not in run.stdout


def test_main_without_an_intent_prints_usage(project, tmp_path):
    run = subprocess.run([sys.executable, "-m", "my_bot"], cwd=project, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "SWARM_HOME": str(tmp_path / "h")})
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.startswith('usage: python -m my_bot "<intent>"') and run.stdout == ""


def test_pyproject_depends_on_the_library_by_name_and_version(project):
    checkout = Path(defai_swarm.__file__).resolve().parents[1]
    assert library_checkout() == checkout
    pyproject = (project / "pyproject.toml").read_text()
    assert f'dependencies = ["defai-swarm[devnet]=={version("defai-swarm")}"]' in pyproject
    assert 'pythonpath = ["."]' in pyproject
    readme = (project / "README.md").read_text()
    assert "pip install --find-links /path/to/wheels -e ." in readme and "PIP_FIND_LINKS" in readme
    assert f"python -m build --wheel --outdir /path/to/wheels {checkout}" in readme  # how to make that wheel here
    assert not any("file:" in p.read_text() for p in project.rglob("*") if p.is_file()), "a path to this machine"


def installed_requirements(project: Path, tmp_path: Path) -> list[str]:
    """The generated project's Requires-Dist, as pip builds and would install it: no index, no build download."""
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--no-build-isolation",
           "--disable-pip-version-check"]
    report = tmp_path / "report.json"
    proc = subprocess.run([*pip, "--dry-run", "--report", str(report), str(project)], capture_output=True, text=True,
                          timeout=120)
    if "no such option" in proc.stderr:  # a pip without --dry-run / --report (< 22.2)
        target = tmp_path / "target"
        proc = subprocess.run([*pip, "--target", str(target), str(project)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        metadata = next(target.glob("my_bot-*.dist-info")) / "METADATA"
        return [line.split(":", 1)[1].strip() for line in metadata.read_text().splitlines()
                if line.startswith("Requires-Dist:")]
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [item] = json.loads(report.read_text())["install"]
    assert item["metadata"]["name"] == "my-bot"
    return item["metadata"].get("requires_dist", [])


def test_project_requires_the_library_by_name_and_version(project, tmp_path):
    assert installed_requirements(project, tmp_path) == [f"defai-swarm[devnet]=={version('defai-swarm')}"]


def test_from_an_installed_copy_the_readme_says_where_the_wheel_comes_from(tmp_path, monkeypatch):
    monkeypatch.setattr("defai_swarm.starter.library_checkout", lambda: None)
    target = create("wheel_bot", tmp_path / "wheel_bot")
    assert f'dependencies = ["defai-swarm[devnet]=={version("defai-swarm")}"]' in (target / "pyproject.toml").read_text()
    readme = (target / "README.md").read_text()
    assert "the wheel this copy of defai-swarm was installed from" in readme and "--find-links" in readme
    monkeypatch.setattr("defai_swarm.starter.library_version", lambda: None)  # a checkout never installed: any version
    assert 'dependencies = ["defai-swarm[devnet]"]' in (create("any_bot", tmp_path / "any_bot") / "pyproject.toml").read_text()


def test_refuses_bad_names_and_non_empty_directories(tmp_path):
    proc = swarm_cli("new", "My-Bot!", cwd=tmp_path)
    assert proc.returncode == 1 and "not a valid project name" in proc.stdout
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    proc = swarm_cli("new", "taken", cwd=tmp_path)
    assert proc.returncode == 1 and "not empty" in proc.stdout
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
