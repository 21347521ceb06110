"""A whole devnet: anvil started, the world deployed, the manifest written; or nothing at all.

Finding, checking and stopping a running one is `defai_swarm.tools.devnet.running` (re-exported here)."""
from __future__ import annotations

import logging
from pathlib import Path

from defai_swarm.tools.devnet.manifest import DevnetManifest
from defai_swarm.tools.devnet.node import DEFAULT_PORT, AnvilNode, DevnetError
from defai_swarm.tools.devnet.running import (LIVENESS_TIMEOUT, default_manifest_path, liveness_problem,
                                              running_manifest, state_dir, stop_detached)


log = logging.getLogger(__name__)


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


__all__ = ["LIVENESS_TIMEOUT", "Devnet", "DevnetError", "default_manifest_path", "liveness_problem", "running_manifest",
           "state_dir", "stop_detached"]
