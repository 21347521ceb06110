"""HEAVY (about a minute; deselect with `-k "not heavy"`): defai-swarm installs like a library.

`python -m build` makes an sdist and, from it, a wheel; the wheel goes into a FRESH virtualenv (no system site
packages, nothing of this checkout on the path) with `pip install --find-links DIST 'defai-swarm[devnet]'`, and
there, from a directory with no repository around, the first day runs as the README tells it: `swarm devnet up`,
`swarm run "swap 0.1 ETH to USDC"`, `swarm audit verify RUN`, `swarm devnet down`. A starter project from
`swarm new` installs against the same wheel by name and version, and every extra (devnet, server, mcp, ray)
resolves against it.

Time goes to pip (about 20 s: the dependencies come from the index or its local mirror; llama-cpp-python from
pip's wheel cache, never compiled here) and to the devnet run; nothing is compiled into .pyc files.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from defai_swarm.tools.devnet import stop_detached
from defai_swarm.tools.devnet.install import install, npm_prefix
from defai_swarm.tools.devnet.node import free_port

pytestmark = [pytest.mark.heavy, pytest.mark.devnet]  # builds the wheel; its `swarm devnet up` starts anvil

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DATA = ["swarm/audit/viewer/page.html", "swarm/audit/viewer/verify.js", "swarm/audit/viewer/summaries.js",
                "swarm/audit/viewer/render.js", "swarm/audit/viewer/style.css", "swarm/audit/viewer/ed25519.js",
                "swarm/starter_template/pyproject.toml.tmpl", "swarm/starter_template/README.md.tmpl",
                "swarm/starter_template/starter_project/liquidity_guard.py",
                "swarm/starter_template/tests/test_starter_project.py", "tools/devnet/contracts/HoneypotToken.vy",
                "tools/devnet/contracts/Multicall3.vy", "tools/devnet/contracts/PriceFeed.vy",
                "tools/devnet/contracts/TestToken.vy"]


def run(*args: str | Path, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kwargs)


def output(proc: subprocess.CompletedProcess) -> str:
    return f"$ {' '.join(map(str, proc.args))}\nexit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Path:
    """The sdist and the wheel, built as a user builds them (`python -m build`: the wheel is built from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    proc = run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    assert proc.returncode == 0, output(proc)
    return out


@pytest.fixture
def fresh_venv(tmp_path) -> Path:
    """A virtualenv of its own: no system site packages, no pip inside (this interpreter's pip installs into it
    with `--python`: a second pip would only cost time)."""
    venv = tmp_path / "venv"
    proc = run(sys.executable, "-m", "venv", "--without-pip", venv)
    assert proc.returncode == 0, output(proc)
    return venv


def pip(venv: Path, *args: str | Path) -> subprocess.CompletedProcess:
    proc = run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-compile",
               "--disable-pip-version-check", "-q", *args, cwd=venv.parent)
    assert proc.returncode == 0, output(proc)
    return proc


def test_heavy_the_distributions_carry_the_package_data(dist):
    [wheel] = dist.glob("defai_swarm-*.whl")
    [sdist] = dist.glob("defai_swarm-*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    installed = {"defai_swarm/" + path.removeprefix("swarm/") for path in PACKAGE_DATA}  # swarm/ is defai_swarm/,
    assert installed <= names, sorted(installed - names)  # tools/ is defai_swarm/tools/ (pyproject's package-dir)
    assert not any(n.startswith(("tests/", "examples/", "benchmarks/")) for n in names)  # the library only
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    assert set(PACKAGE_DATA) | {"pyproject.toml", "README.md"} <= members


def test_heavy_wheel_in_a_fresh_venv_runs_the_first_day(dist, fresh_venv, tmp_path):
    install()  # anvil and the Uniswap V2 builds (npm, once per machine): `swarm devnet install` in the README
    pip(fresh_venv, "--find-links", dist, "defai-swarm[devnet]")
    bin_dir = fresh_venv / "bin"
    work = tmp_path / "work"  # no repository around: nothing of this checkout is importable from here
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWARM_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(SWARM_HOME=str(tmp_path / "home"), SWARM_LEDGER=str(tmp_path / "ledger.sqlite"),
               XDG_CACHE_HOME=str(tmp_path / "cache"),  # the devnet's contracts compiled by the installed vyper
               SWARM_NPM_PREFIX=str(npm_prefix()), PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
               NO_COLOR="1", COLUMNS="200")

    def swarm(*args: str) -> subprocess.CompletedProcess:
        return run(bin_dir / "swarm", *args, cwd=work, env=env, timeout=180)

    where = run(bin_dir / "python", "-c", "import defai_swarm.tools, defai_swarm.agents as a; print(defai_swarm.__file__, a.__file__)",
                cwd=work, env=env)
    assert where.returncode == 0 and str(ROOT) not in where.stdout and str(fresh_venv) in where.stdout, output(where)

    up = swarm("devnet", "up", "--port", str(free_port()))
    try:
        assert up.returncode == 0 and "devnet up at http://127.0.0.1:" in up.stdout, output(up)
        ran = swarm("run", "swap 0.1 ETH to USDC", "--json")
        assert ran.returncode == 0, output(ran)
        result = json.loads(ran.stdout)
        assert result["status"] == "done" and result["tx_hashes"] and result["anchor"], result
        verify = swarm("audit", "verify", result["run_id"])
        assert verify.returncode == 0 and f"PASS run {result['run_id']}" in verify.stdout, output(verify)
        assert re.search(r"ok\s+anchor: ", verify.stdout), output(verify)
    finally:
        down = swarm("devnet", "down")
        stop_detached(tmp_path / "home" / "devnet" / "manifest.json")  # a no-op once `down` stopped it
    assert down.returncode == 0 and "devnet stopped" in down.stdout, output(down)

    # a starter project installs against the same wheel: by name and version, found with --find-links
    new = swarm("new", "wheel_bot")
    assert new.returncode == 0, output(new)
    [wheel] = dist.glob("defai_swarm-*.whl")
    version = wheel.name.split("-")[1]
    assert f'dependencies = ["defai-swarm[devnet]=={version}"]' in (work / "wheel_bot" / "pyproject.toml").read_text()
    pip(fresh_venv, "--find-links", dist, work / "wheel_bot")
    origin = run(bin_dir / "python", "-c", "from importlib.metadata import distribution as d; x = d('defai-swarm'); "
                 "print(x.version, x.read_text('direct_url.json'))", cwd=tmp_path, env=env)
    assert origin.stdout.split() == [version, "None"], output(origin)  # still the wheel, not a path or a rebuild
    usage = run(bin_dir / "python", "-m", "wheel_bot", "--help", cwd=tmp_path, env=env)
    assert usage.returncode == 0 and usage.stdout.startswith('usage: python -m wheel_bot "<intent>"'), output(usage)

    # every extra resolves against the wheel (resolution only: Ray alone would take minutes to install)
    report = tmp_path / "extras.json"
    pip(fresh_venv, "--dry-run", "--report", report, "--find-links", dist, "defai-swarm[devnet,server,mcp,ray]")
    names = {item["metadata"]["name"].lower().replace("_", "-") for item in json.loads(report.read_text())["install"]}
    assert {"ray", "mcp", "uvicorn", "fastapi"} <= names, sorted(names)  # fastapi: llama-cpp-python[server]
