"""A whole devnet: anvil started, the world deployed, the manifest written; or nothing at all."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from tools.devnet.manifest import DevnetManifest
from tools.devnet.node import DEFAULT_PORT, AnvilNode, DevnetError, pid_alive, rpc_alive, stop_pid
from swarm.config import swarm_home


log = logging.getLogger(__name__)


def state_dir() -> Path:
    return swarm_home() / "devnet"


def default_manifest_path() -> Path:
    return Path(os.environ.get("SWARM_MANIFEST") or state_dir() / "manifest.json")


class Devnet:
    """Use as a context manager in tests; the CLI starts it detached and stops it by pid."""

    def __init__(self, node: AnvilNode, manifest: DevnetManifest, manifest_path: Path):
        self.node, self.manifest, self.manifest_path = node, manifest, manifest_path

    @classmethod
    def start(cls, port: int = DEFAULT_PORT, manifest_path: Path | None = None, detach: bool = False,
              keep_pools_aligned: bool = False) -> "Devnet":
        manifest_path = Path(manifest_path or default_manifest_path())
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        from tools.devnet.control import snapshot  # web3 and the deployer: only to start a devnet, not to find one
        from tools.devnet.deploy import deploy_world
        from tools.evm.rpc import connect

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
        from tools.evm.rpc import connect
        return connect(self.manifest.rpc_url)

    def stop(self) -> None:
        self.node.stop()
        self.manifest_path.unlink(missing_ok=True)

    def __enter__(self) -> "Devnet":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def running_manifest(manifest_path: Path | None = None) -> DevnetManifest | None:
    """The manifest of a devnet that is actually up, else None (a stale manifest is removed)."""
    path = Path(manifest_path or default_manifest_path())
    if not path.exists():
        return None
    manifest = DevnetManifest.load(path)
    if manifest.anvil_pid and pid_alive(manifest.anvil_pid) and rpc_alive(manifest.rpc_url) == manifest.chain_id:
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


__all__ = ["Devnet", "DevnetError", "running_manifest", "stop_detached", "default_manifest_path"]
