"""Test tiers: what each marker means, and the guard that keeps a test from starting a node, a browser, a model
server, Ray or PostgreSQL without the marker that says so.

A test gets its markers from the fixtures it uses (tests/conftest.py, `pytest_collection_modifyitems`) or from a
`pytestmark` line in its module. With SWARM_TEST_TIER set (scripts/test-fast.sh sets `fast`), every process the
suite starts goes through `check_launch`: starting anvil, the Solana devnet, llama_cpp.server, Chromium, a Ray node
or PostgreSQL from a test without that marker raises, and is written to SWARM_TEST_GUARD_LOG so that the test fails
even when the launch happened in a subprocess (tests/tier_guard/sitecustomize.py installs the same guard there) or
its error was caught. This module imports nothing heavy: every `swarm` subprocess loads it.
"""
from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

# marker -> what a test carrying it needs (registered in pyproject's [tool.pytest.ini_options])
TIERS = {
    "devnet": "a local anvil node (EVM devnet)",
    "solana": "the local Solana devnet process (LiteSVM behind JSON-RPC)",
    "cluster": "a Ray cluster",
    "browser": "headless Chromium (node + puppeteer-core)",
    "model": "a llama.cpp model (the tiny GGUF loaded in-process, or llama_cpp.server)",
    "postgres": "a PostgreSQL server (pgserver)",
}
ALLOW_ENV = "SWARM_TEST_ALLOW"  # the running test's tier markers, comma-separated (set per test by the conftest)
LOG_ENV = "SWARM_TEST_GUARD_LOG"  # where refused launches are written, one line each
TIER_ENV = "SWARM_TEST_TIER"  # set (scripts/test-fast.sh: "fast") = the guard is on

_PG_BINARIES = {"initdb", "pg_ctl", "postgres", "psql", "pg_isready", "createdb"}
_RAY_BINARIES = {"gcs_server", "raylet", "plasma_store_server", "dashboard_agent"}


def _argv(args) -> list[str]:
    if isinstance(args, (str, bytes, os.PathLike)):
        text = os.fsdecode(args)
        try:
            return shlex.split(text)
        except ValueError:
            return text.split()
    return [os.fsdecode(a) for a in args]


def launch_needs(args) -> str | None:
    """The tier marker a process with this command line needs (None: any test may start it)."""
    argv = _argv(args)
    if not argv:
        return None
    names = [Path(a).name for a in argv]
    exe, exe_path = names[0], argv[0]
    modules = {argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-m"}
    if exe == "anvil" or exe_path == os.environ.get("SWARM_ANVIL") or (exe == "npm" and "install" in argv):
        return "devnet"  # npm install: `swarm devnet install` (anvil and the Uniswap builds, or the browser)
    if any(m == "defai_swarm.tools.devnet.solana" or m.startswith("defai_swarm.tools.devnet.solana.") for m in modules):
        return "solana"
    if "llama_cpp.server" in modules:
        return "model"
    if "chrom" in exe.lower() or "headless_shell" in exe or (exe == "node" and any(
            n == "render.js" for n in names[1:])):
        return "browser"
    if exe == "pg_ctl" and ("stop" in argv or "status" in argv):
        return None  # a session fixture stops its server after the last test, whatever that test is marked
    if exe in _PG_BINARIES or "pginstall" in exe_path:
        return "postgres"
    if exe in _RAY_BINARIES or any("/ray/" in a and ("_private" in a or "core/src" in a) for a in argv[:3]):
        return "cluster"
    return None


def _describe(argv: list[str]) -> str:
    """The program and what it runs, never its arguments (anvil's carry the dev mnemonic)."""
    parts = [Path(argv[0]).name]
    parts += [f"-m {argv[i + 1]}" for i, a in enumerate(argv[:-1]) if a == "-m"]
    parts += [Path(a).name for a in argv[1:] if a.endswith(".js")]
    return " ".join(parts)


class TierGuardError(RuntimeError):
    """A test started something its markers do not allow."""


def refuse(tier: str, what: str) -> None:
    """Raise (and record, for the test's teardown check) unless the running test carries `tier`."""
    allowed = {t for t in os.environ.get(ALLOW_ENV, "").split(",") if t}
    if tier in allowed:
        return
    message = (f"this test needs the `{tier}` marker: it started {TIERS[tier]} ({what}); use the fixture "
               f"that provides it or add `pytestmark = pytest.mark.{tier}` (the fast tier, scripts/test-fast.sh, "
               f"starts none)")
    log = os.environ.get(LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(message.replace("\n", " ") + "\n")
    raise TierGuardError(message)


def install_popen_guard() -> None:
    """Every subprocess.Popen of this process is checked against the running test's markers (idempotent)."""
    original = subprocess.Popen.__init__
    if getattr(original, "_tier_guard", False):
        return

    def guarded(self, args, *a, **kw):
        tier = launch_needs(args)
        if tier is not None:
            refuse(tier, _describe(_argv(args)))
        original(self, args, *a, **kw)

    guarded._tier_guard = True  # type: ignore[attr-defined]
    subprocess.Popen.__init__ = guarded  # type: ignore[method-assign]
