"""`swarm new` makes a project whose own tests pass out of the box, whose custom agent is a task plugin,
whose `python -m NAME` prints its usage, and which installs with the library as a path dependency."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest

import swarm
from swarm.starter import create, library_checkout


def swarm_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "swarm.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=60)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    base = tmp_path_factory.mktemp("starter")
    proc = swarm_cli("new", "my_bot", cwd=base)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return base / "my_bot"


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


def test_pyproject_depends_on_this_checkout_by_path(project):
    checkout = Path(swarm.__file__).resolve().parents[1]
    assert library_checkout() == checkout
    pyproject = (project / "pyproject.toml").read_text()
    assert f'dependencies = ["defai-swarm @ {checkout.as_uri()}"]' in pyproject
    assert 'pythonpath = ["."]' in pyproject
    readme = (project / "README.md").read_text()
    assert f"defai-swarm @ {checkout.as_uri()}" in readme and "pip install -e /path/to/defai-swarm" in readme


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


def test_project_installs_with_the_path_dependency_and_no_index(project, tmp_path):
    requirements = installed_requirements(project, tmp_path)
    assert len(requirements) == 1, requirements
    match = re.fullmatch(r"defai-swarm\s*@\s*(file://\S+)", requirements[0])
    assert match, requirements
    path = Path(url2pathname(urlparse(match.group(1)).path))
    assert path == Path(swarm.__file__).resolve().parents[1]
    assert re.search(r'^name\s*=\s*"defai-swarm"', (path / "pyproject.toml").read_text(), re.MULTILINE)
    assert (path / "swarm" / "api.py").exists()


def test_without_a_checkout_the_dependency_is_by_name(tmp_path, monkeypatch):
    monkeypatch.setattr("swarm.starter.library_checkout", lambda: None)
    target = create("wheel_bot", tmp_path / "wheel_bot")
    assert 'dependencies = ["defai-swarm"]' in (target / "pyproject.toml").read_text()
    assert "pip install -e /path/to/defai-swarm" in (target / "README.md").read_text()


def test_refuses_bad_names_and_non_empty_directories(tmp_path):
    proc = swarm_cli("new", "My-Bot!", cwd=tmp_path)
    assert proc.returncode == 1 and "not a valid project name" in proc.stdout
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    proc = swarm_cli("new", "taken", cwd=tmp_path)
    assert proc.returncode == 1 and "not empty" in proc.stdout
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
