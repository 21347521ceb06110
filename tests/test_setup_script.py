"""Issue 28 #3: scripts/setup.sh compiled llama.cpp for ~5 minutes in silence. While pip compiles it, a line every
$SETUP_HEARTBEAT_S seconds says it is still alive; the step's exit status is kept; nothing is added when there is
nothing to compile. The script's functions are tested by sourcing it (it then defines them and returns).

No timing is raced: the step under test ends only once it has seen the heartbeat line in the output."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "scripts" / "setup.sh"


def _bash(script: str, tmp_path: Path, **env: str) -> tuple[int, str]:
    out = tmp_path / "out.txt"
    with open(out, "w") as f:
        code = subprocess.run(["bash", "-c", f"source {SETUP}; {script}"], stdout=f, stderr=subprocess.STDOUT,
                              cwd=tmp_path, env={"PATH": "/usr/bin:/bin", **env}, timeout=600).returncode
    return code, out.read_text()


def test_a_long_silent_step_says_it_is_still_alive_and_keeps_its_exit_status(tmp_path):
    step = "bash -c 'until grep -q \"still compiling llama.cpp\" out.txt; do sleep 0.1; done; exit 3'"
    code, out = _bash(f'with_heartbeat "compiling llama.cpp" {step} || echo "status $?"', tmp_path,
                      SETUP_HEARTBEAT_S="1")
    assert out.splitlines()[0].startswith("  still compiling llama.cpp (") and out.strip().endswith("status 3"), out
    assert code == 0 and "s so far)..." in out


def test_a_quick_step_prints_nothing_extra(tmp_path):
    code, out = _bash('with_heartbeat "compiling llama.cpp" true && echo done', tmp_path, SETUP_HEARTBEAT_S="3600")
    assert (code, out) == (0, "done\n")


def test_compiling_is_announced_only_when_llama_cpp_is_missing(tmp_path):
    """This venv has llama_cpp: nothing to compile (setup then says nothing about compiling)."""
    code, out = _bash(f'llama_needs_compiling {sys.executable} && echo compile || echo ready', tmp_path)
    assert out == "ready\n", out
    code, out = _bash('llama_needs_compiling /bin/false && echo compile || echo ready', tmp_path)
    assert out == "compile\n", out  # an interpreter without llama_cpp (nor a cached wheel) compiles
