"""Finding a devnet that is already running: where its manifest is, whether its anvil is still the one that wrote
it, and stopping it by pid. Below both `devnet` (which starts one) and `control` (which steers one): neither
needs the other to find a devnet."""
from __future__ import annotations

import os
from pathlib import Path

from defai_swarm.config import swarm_home, user_path
from defai_swarm.tools.devnet.manifest import DevnetManifest
from defai_swarm.tools.devnet.node import pid_alive, rpc_alive, stop_pid

LIVENESS_TIMEOUT = 10.0  # seconds a devnet may take to answer eth_chainId: a busy machine's node is still up


def state_dir() -> Path:
    return swarm_home() / "devnet"


def default_manifest_path() -> Path:
    return user_path(os.environ.get("SWARM_MANIFEST") or state_dir() / "manifest.json")


def liveness_problem(manifest: DevnetManifest) -> str | None:
    """Why the devnet this manifest describes is not up (its anvil process gone: a stale manifest, whatever answers
    on its port now is not that devnet; no node answering; another chain id), or None. Which chain answers is
    `defai_swarm.tools.devnet.control.require_local`'s check (block 0's hash)."""
    if not manifest.anvil_pid:
        return "the manifest records no anvil process (not written by `swarm devnet up`)"
    if not pid_alive(manifest.anvil_pid):
        return f"the manifest's anvil process {manifest.anvil_pid} is not running (a stale manifest)"
    live = rpc_alive(manifest.rpc_url, timeout=LIVENESS_TIMEOUT)
    if live is None:
        return f"nothing answers at {manifest.rpc_url}"
    if live != manifest.chain_id:
        return f"the node at {manifest.rpc_url} answers chain id {live}, not {manifest.chain_id}"
    return None


def running_manifest(manifest_path: Path | None = None) -> DevnetManifest | None:
    """The manifest of a devnet that is actually up, else None (a stale manifest is removed)."""
    path = Path(manifest_path or default_manifest_path())
    if not path.exists():
        return None
    manifest = DevnetManifest.load(path)
    if liveness_problem(manifest) is None:
        return manifest
    path.unlink(missing_ok=True)
    return None


def stop_detached(manifest_path: Path | None = None) -> bool:
    path = Path(manifest_path or default_manifest_path())
    if not path.exists():
        return False
    manifest = DevnetManifest.load(path)
    stopped = bool(manifest.anvil_pid) and stop_pid(manifest.anvil_pid)
    path.unlink(missing_ok=True)
    return stopped


__all__ = ["LIVENESS_TIMEOUT", "default_manifest_path", "liveness_problem", "running_manifest", "state_dir",
           "stop_detached"]
