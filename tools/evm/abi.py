"""The contract ABIs production code uses, shipped with the package (`tools/evm/abis/*.json`).

Only the functions and events the library calls or decodes are kept, each entry exactly as in the pinned
official build it was taken from (the file's `source`: `@uniswap/v2-core@1.0.1` or
`@uniswap/v2-periphery@1.1.0-beta.0` on npm, or the devnet's own Vyper contract for the interfaces the devnet
implements: the AggregatorV3 feed read and Multicall3's read subset). tests/test_abis.py checks every entry
against that source. Nothing here needs npm, Vyper or the devnet: a user on a real chain installs none of them.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

NAMES = ("AggregatorV3", "ERC20", "Multicall3", "UniswapV2Factory", "UniswapV2Pair", "UniswapV2Router02", "WETH9")


@lru_cache(maxsize=None)
def _document(name: str) -> dict:
    if name not in NAMES:
        raise KeyError(f"no shipped ABI named {name!r}; shipped: {', '.join(NAMES)}")
    text = (resources.files("defai_swarm.tools.evm") / "abis" / f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def abi(name: str) -> list[dict[str, Any]]:
    """The shipped ABI `name` as JSON (a fresh copy: a caller cannot change what the next one gets)."""
    return json.loads(json.dumps(_document(name)["abi"]))


def abi_source(name: str) -> dict:
    """Where the entries of `name` come from: {"npm": "<package>@<version>", "artifact": "build/X.json"} or
    {"devnet_vyper": "X.vy", "note": ...}."""
    return dict(_document(name)["source"])


__all__ = ["NAMES", "abi", "abi_source"]
