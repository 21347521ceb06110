"""The test tiers (tests/tiers.py, tests/conftest.py): markers follow the fixtures a test uses, and with the guard on a
launch the running test is not marked for fails, in this process and in a Python subprocess. No node is started:
the "anvil" here is a script that leaves a file behind if it ever runs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tiers import ALLOW_ENV, LOG_ENV, TIER_ENV, TierGuardError, install_popen_guard, launch_needs

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def test_every_launcher_is_known_by_its_command_line():
    from defai_swarm.tools.devnet.solana.devnet import _MODULE as SOLANA_DEVNET_MODULE

    assert launch_needs(["/x/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil", "--port", "8545"]) == "devnet"
    assert launch_needs(["/usr/bin/npm", "install", "--no-audit"]) == "devnet"
    assert launch_needs([PY, "-m", SOLANA_DEVNET_MODULE, "serve", "--port", "1"]) == "solana"
    assert launch_needs([PY, "-m", "llama_cpp.server", "--model", "m.gguf"]) == "model"
    assert launch_needs(["/usr/bin/node", str(ROOT / "tests" / "browser" / "render.js"), "jobs.json"]) == "browser"
    assert launch_needs(["/tmp/chromium", "--headless"]) == "browser"
    assert launch_needs([".../site-packages/pgserver/pginstall/bin/pg_ctl", "-D", "x", "start"]) == "postgres"
    assert launch_needs(".../site-packages/pgserver/pginstall/bin/psql postgresql://x") == "postgres"  # shell=True
    assert launch_needs([".../site-packages/pgserver/pginstall/bin/pg_ctl", "-D", "x", "-w", "stop"]) is None
    assert launch_needs([".../site-packages/ray/core/src/ray/gcs/gcs_server", "--port=1"]) == "cluster"
    for free in (["git", "status"], [PY, "-m", "pytest", "-q"], ["npm", "--version"], [PY, "-m", "defai_swarm.cli", "run"],
                 ["/usr/bin/node", "--version"]):
        assert launch_needs(free) is None, free


@pytest.fixture
def fake_anvil(tmp_path) -> tuple[Path, Path]:
    """An executable named anvil that only leaves `ran` behind."""
    ran = tmp_path / "ran"
    anvil = tmp_path / "anvil"
    anvil.write_text(f"#!/bin/sh\ntouch {ran}\n")
    anvil.chmod(0o755)
    return anvil, ran


def guarded_env(tmp_path: Path, allow: str) -> dict[str, str]:
    return {**os.environ, TIER_ENV: "fast", ALLOW_ENV: allow, LOG_ENV: str(tmp_path / "guard.log"),
            "PYTHONPATH": str(ROOT / "tests" / "tier_guard")}


def test_a_subprocess_cannot_start_what_the_test_is_not_marked_for(fake_anvil, tmp_path):
    anvil, ran = fake_anvil
    script = "import subprocess, sys; subprocess.run([sys.argv[1], '--port', '1'], check=True)"
    refused = subprocess.run([PY, "-c", script, str(anvil)], env=guarded_env(tmp_path, "model"), cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "TierGuardError: this test needs the `devnet` marker" in refused.stderr
    assert not ran.exists()  # refused before it ran
    assert "needs the `devnet` marker" in (tmp_path / "guard.log").read_text()  # the test's teardown reads this
    allowed = subprocess.run([PY, "-c", script, str(anvil)], env=guarded_env(tmp_path, "model,devnet"), cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert allowed.returncode == 0, allowed.stderr
    assert ran.exists()


def test_the_guard_in_this_process_refuses_and_lets_a_marked_test_through(fake_anvil, tmp_path, monkeypatch):
    anvil, ran = fake_anvil
    monkeypatch.setattr(subprocess.Popen, "__init__", subprocess.Popen.__init__)  # undone after the test
    install_popen_guard()
    monkeypatch.setenv(LOG_ENV, str(tmp_path / "guard.log"))
    monkeypatch.setenv(ALLOW_ENV, "")
    with pytest.raises(TierGuardError, match=r"needs the `devnet` marker: it started a local anvil .*\(anvil\)"):
        subprocess.run([str(anvil)], check=True)
    assert not ran.exists()
    (tmp_path / "guard.log").unlink()  # read: this test's own refusal is no failure of the test
    monkeypatch.setenv(ALLOW_ENV, "devnet")
    subprocess.run([str(anvil)], check=True)
    assert ran.exists()


def collected(*selections: tuple[str, ...]) -> list[set[str]]:
    """The tests `pytest --collect-only` selects with each set of arguments (collected side by side)."""
    procs = [subprocess.Popen([PY, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for args in selections]
    found = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out[-3000:] + err[-2000:]
        found.append({line.split("::", 1)[1] for line in out.splitlines() if "::" in line})
    return found


def test_markers_follow_the_fixtures_a_test_uses():
    [marked] = collected(("-m", "devnet or postgres", "tests/test_examples.py", "tests/test_store_contract.py",
                          "tests/test_executor_contract.py"))
    assert "test_one_shot_swap" in marked  # the session devnet, through the `flags` fixture
    assert "test_honest_swap_confirms_once[evm]" in marked  # a param that asks for the devnet by getfixturevalue
    assert "test_runs_and_context_round_trip[postgresql]" in marked  # and one that asks for PostgreSQL
    # in-process SQLite and LiteSVM need neither
    assert not any("[solana" in t or "[sqlite" in t for t in marked), marked


def test_the_two_shards_split_the_suite_and_each_runs_the_secret_scan():
    files = ("tests/test_store_contract.py", "tests/test_zz_secret_scan.py")
    first, second, everything = collected(("--shard", "1/2", *files), ("--shard", "2/2", *files), files)
    assert first & second == {"test_no_secret_in_anything_the_suite_produced"}
    assert "test_runs_and_context_round_trip[postgresql]" in first and not any("[sqlite]" in t for t in first)
    assert "test_runs_and_context_round_trip[sqlite]" in second and not any("[postgresql]" in t for t in second)
    assert first | second == everything
    files = ("tests/test_devnet_cli.py", "tests/test_devnet_control.py")
    first, second, everything = collected(("--shard", "1/2", *files), ("--shard", "2/2", *files), files)
    assert "test_up_status_twice_down" in first and "test_cli_levers_json_and_help" in second  # by file, to balance
    assert first | second == everything and not first & second
