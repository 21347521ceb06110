"""Local EVM devnet: a real anvil node with the official Uniswap V2 stack and test tokens."""
from tools.devnet.devnet import Devnet, DevnetError, default_manifest_path, running_manifest, stop_detached
from tools.devnet.manifest import DevnetManifest

__all__ = ["Devnet", "DevnetError", "DevnetManifest", "default_manifest_path", "running_manifest", "stop_detached"]
