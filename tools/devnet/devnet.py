"""A whole devnet: anvil started, the world deployed, the manifest written; or nothing at all."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from defai_swarm.tools.devnet.manifest import DevnetManifest
from defai_swarm.tools.devnet.node import DEFAULT_PORT, AnvilNode, DevnetError, pid_alive, rpc_alive, stop_pid
from defai_swarm.config import swarm_home, user_path


log = logging.getLogger(__name__)
LIVENESS_TIMEOUT = 10.0  # seconds a devnet may take to answer eth_chainId: a busy machine's node is still up


def state_dir() -> Path:
    return swarm_home() / "devnet"


def default_manifest_path() -> Path:
    return user_path(os.environ.get("SWARM_MANIFEST") or state_dir() / "manifest.json")


class Devnet:
    """Use as a context manager in tests; the CLI starts it detached and stops it by pid."""

    def __init__(self, node: AnvilNode, manifest: DevnetManifest, manifest_path: Path):
        self.node, self.manifest, self.manifest_path = node, manifest, manifest_path

    @classmethod
    def start(cls, port: int = DEFAULT_PORT, manifest_path: Path | None = None, detach: bool = False,
              keep_pools_aligned: bool = False) -> "Devnet":
        manifest_path = Path(manifest_path or default_manifest_path())
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        from defai_swarm.tools.devnet.control import snapshot  # web3 and the deployer: only to start a devnet, not to find one
        from defai_swarm.tools.devnet.deploy import deploy_world
        from defai_swarm.tools.evm.rpc import connect

        node = AnvilNode(port=port, log_path=manifest_path.parent / "anvil.log", detach=detach).start()
        try:
            w3 = connect(node.url)
            manifest = deploy_world(w3, node.url)
            manifest.anvil_pid = node.pid
            manifest.keep_pools_aligned = keep_pools_aligned
            manifest.snapshot_id = snapshot(manifest, w3)  # what `swarm devnet reset` returns to
            manifest.save(manifest_path)
            log.info("devnet deployed: %d tokens, %d pools, %d feeds; manifest %s", len(manifest.tokens),
                     len(manifest.pairs), len(manifest.feeds), manifest_path)
        except BaseException:
            node.stop()
            manifest_path.unlink(missing_ok=True)
            raise
        return cls(node, manifest, manifest_path)

    def w3(self):
        from defai_swarm.tools.evm.rpc import connect
        return connect(self.manifest.rpc_url)

    def stop(self) -> None:
        self.node.stop()
        self.manifest_path.unlink(missing_ok=True)

    def __enter__(self) -> "Devnet":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


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


__all__ = ["Devnet", "DevnetError", "default_manifest_path", "liveness_problem", "running_manifest", "stop_detached"]
