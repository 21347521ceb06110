"""Fetch the devnet's outside parts (anvil, official Uniswap V2 builds) from npm, and the headless browser the
audit page's tests render it in (`@sparticuz/chromium`, a Chromium packed inside the npm package, driven by
`puppeteer-core`; no browser download at run time).

They are installed at setup time into the cache (`~/.cache/defai-swarm/npm`), never at run time,
and never copied into the repository.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from defai_swarm.config import cache_home, user_path
from defai_swarm.core.errors import SwarmError

NPM_PACKAGES = {
    "@foundry-rs/anvil": "1.7.1",
    "@uniswap/v2-core": "1.0.1",
    "@uniswap/v2-periphery": "1.1.0-beta.0",
    # the audit page's browser tests (tests/test_audit_html.py, scripts/audit_page_screenshot.sh)
    "@sparticuz/chromium": "153.0.0",
    "puppeteer-core": "25.16.0",
}
BROWSER_PACKAGES = ("@sparticuz/chromium", "puppeteer-core")


class DevnetInstallError(SwarmError):
    """A devnet dependency is missing or could not be installed (a RuntimeError, through the library's root)."""


def npm_prefix() -> Path:
    """`$SWARM_NPM_PREFIX`, default `<cache>/npm` (see defai_swarm.config.cache_home)."""
    return user_path(os.environ.get("SWARM_NPM_PREFIX") or cache_home() / "npm")


def install(prefix: Path | None = None) -> Path:
    """Install the pinned npm packages into `prefix` (idempotent)."""
    prefix = prefix or npm_prefix()
    if _installed(prefix):
        return prefix
    npm = shutil.which("npm")
    if npm is None:
        raise DevnetInstallError("npm is not installed; install Node.js 18+ (which ships npm), then run `swarm devnet install`")
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "package.json").write_text(json.dumps({"name": "swarm-devnet-deps", "private": True, "dependencies": NPM_PACKAGES}, indent=2))
    proc = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"],
        cwd=prefix, capture_output=True, text=True,
    )
    if proc.returncode != 0 or not _installed(prefix):
        raise DevnetInstallError(f"npm install failed in {prefix}:\n{proc.stderr[-2000:]}")
    return prefix


def _installed(prefix: Path) -> bool:
    for name, version in NPM_PACKAGES.items():
        pkg = prefix / "node_modules" / name / "package.json"
        if not pkg.exists() or json.loads(pkg.read_text()).get("version") != version:
            return False
    return _anvil_in(prefix) is not None


def _anvil_in(prefix: Path) -> Path | None:
    for candidate in (prefix / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil", prefix / "node_modules/.bin/anvil"):
        if candidate.exists() and os.access(candidate, os.X_OK):
            return candidate
    return None


def anvil_binary() -> Path:
    """`$SWARM_ANVIL`, the npm install, or anvil on PATH, in that order."""
    if env := os.environ.get("SWARM_ANVIL"):
        if not os.access(binary := user_path(env), os.X_OK):
            raise DevnetInstallError(f"SWARM_ANVIL={env} is not an executable anvil binary")
        return binary
    if found := _anvil_in(npm_prefix()):
        return found
    if on_path := shutil.which("anvil"):
        return Path(on_path)
    raise DevnetInstallError("anvil not found: run `swarm devnet install` (needs npm) or set SWARM_ANVIL=/path/to/anvil")


def browser_modules(prefix: Path | None = None) -> Path:
    """The `node_modules` holding the pinned headless Chromium and puppeteer-core (see tests/browser/render.js)."""
    modules = (prefix or npm_prefix()) / "node_modules"
    for name in BROWSER_PACKAGES:
        pkg = modules / name / "package.json"
        if not pkg.exists() or json.loads(pkg.read_text()).get("version") != NPM_PACKAGES[name]:
            raise DevnetInstallError(f"{name}@{NPM_PACKAGES[name]} missing under {modules}: run `swarm devnet install`")
    return modules


def uniswap_artifact(package: str, contract: str) -> dict:
    """A build artifact (abi + bytecode) from an official Uniswap npm package."""
    path = npm_prefix() / "node_modules" / "@uniswap" / package / "build" / f"{contract}.json"
    if not path.exists():
        raise DevnetInstallError(f"Uniswap artifact {package}/{contract} missing at {path}: run `swarm devnet install`")
    data = json.loads(path.read_text())
    return {"abi": data["abi"], "bytecode": "0x" + data["bytecode"].removeprefix("0x")}
