"""Contract build artifacts: the devnet's own Vyper contracts and the official Uniswap V2 builds."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from defai_swarm.config import cache_home
from defai_swarm.tools.devnet.install import DevnetInstallError, uniswap_artifact

CONTRACTS_DIR = Path(__file__).parent / "contracts"


def vyper_artifact(name: str) -> dict:
    """Compile `contracts/<name>.vy` (cached by source hash and compiler version). Only the devnet needs this:
    production code reads its ABIs from `defai_swarm.tools.evm.abi`, and Vyper is the `devnet` extra."""
    try:
        import vyper
    except ImportError:
        raise DevnetInstallError(f"the devnet compiles its own contracts ({name}.vy) with Vyper, which is not "
                                 f"installed: pip install 'defai-swarm[devnet]'") from None

    source = (CONTRACTS_DIR / f"{name}.vy").read_text()
    key = hashlib.sha256(f"{vyper.__version__}\0{source}".encode()).hexdigest()[:16]
    cache = cache_home() / "vyper" / f"{name}-{key}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    out = vyper.compile_code(source, output_formats=["abi", "bytecode"])
    artifact = {"abi": out["abi"], "bytecode": out["bytecode"]}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(artifact))
    tmp.replace(cache)
    return artifact


def artifact(name: str) -> dict:
    """Artifact by contract name, from wherever it lives."""
    official = {
        "WETH9": ("v2-periphery", "WETH9"),
        "UniswapV2Factory": ("v2-core", "UniswapV2Factory"),
        "UniswapV2Pair": ("v2-core", "UniswapV2Pair"),
        "UniswapV2Router02": ("v2-periphery", "UniswapV2Router02"),
        "DeflatingERC20": ("v2-periphery", "DeflatingERC20"),
        "ERC20": ("v2-core", "ERC20"),
    }
    if name in official:
        return uniswap_artifact(*official[name])
    return vyper_artifact(name)


def abi(name: str) -> list:
    return artifact(name)["abi"]
