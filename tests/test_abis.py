"""The contract ABIs production code uses ship with the package (`defai_swarm.tools.evm.abi`, issue 25 item 2):
a user on a real chain needs neither npm, nor Vyper, nor the devnet.

- every shipped entry is byte for byte the entry of the pinned official build it names (npm `@uniswap/v2-core@1.0.1`,
  `@uniswap/v2-periphery@1.1.0-beta.0`) or of the devnet's own Vyper contract (the feed, the Multicall3 subset);
- every call and event production encodes by hand (selectors, topics, `Read` signatures) is an entry shipped;
- no shipped module outside tools/devnet imports the devnet, except the front doors that start and steer it;
- importing the EVM adapter loads neither Vyper nor the devnet, and the reads work with no npm install at all.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest
from eth_utils.abi import (abi_to_signature, event_abi_to_log_topic, function_abi_to_4byte_selector,
                           function_signature_to_4byte_selector)

from defai_swarm.tools.evm.abi import NAMES, abi_source
from defai_swarm.tools.evm.abi import abi as shipped_abi

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"swarm": "defai_swarm", "agents": "defai_swarm.agents", "tools": "defai_swarm.tools"}
DEVNET = "defai_swarm.tools.devnet"
# The front doors that start, find and steer a local devnet for a person (`swarm devnet ...`, `Swarm.from_devnet`,
# `--keep-pools-aligned`, `swarm devnet reset` clearing the devnet's cap after `control.require_local`'s proof). Every
# other shipped module (core, planner, runtime, audit, stores, llm, agents, the chain tools) must not import it.
FRONT_DOORS = {
    "defai_swarm.api": "Swarm.from_devnet and the --keep-pools-aligned hook",
    "defai_swarm.cli.audit_commands": "`swarm audit verify` finds the running devnet's configuration",
    "defai_swarm.cli": "the `swarm devnet` commands",
    "defai_swarm.ledger": "clear_local_devnet: `swarm devnet reset` releases the devnet's own reservations",
    "defai_swarm.session": "building a Swarm from --chain devnet flags",
    "defai_swarm.integrations.mcp_server": "its --chain choices are the local devnets (tools.devnet.local.names)",
}


def abi(name: str) -> list[Any]:
    """The shipped entries, untyped for eth_utils' TypedDict signatures."""
    return shipped_abi(name)


def _function(name: str, signature: str) -> Any:
    found = [e for e in abi(name) if e["type"] == "function" and abi_to_signature(e) == signature]
    assert len(found) == 1, f"{signature} is not (exactly once) in the shipped {name} ABI"
    return found[0]


def _event(name: str, signature: str) -> Any:
    found = [e for e in abi(name) if e["type"] == "event" and abi_to_signature(e) == signature]
    assert len(found) == 1, f"event {signature} is not (exactly once) in the shipped {name} ABI"
    return found[0]


def _output_types(entry: Any) -> tuple[str, ...]:
    return tuple(o["type"] for o in entry["outputs"])


# ---- the loader ------------------------------------------------------------------------------------------------

def test_every_shipped_file_is_named_and_loads():
    files = {p.stem for p in (ROOT / "tools" / "evm" / "abis").glob("*.json")}
    assert files == set(NAMES)
    for name in NAMES:
        entries = abi(name)
        assert entries and all(e["type"] in ("function", "event") for e in entries), name
        keys = [(e["type"], abi_to_signature(e)) for e in entries]
        assert len(keys) == len(set(keys)), f"{name} ships an entry twice"
        assert {"npm", "devnet_vyper"} & set(abi_source(name)), name


def test_the_loader_hands_out_copies_and_refuses_unknown_names():
    abi("ERC20")[0]["name"] = "changed"
    assert abi("ERC20")[0]["name"] != "changed"
    with pytest.raises(KeyError, match="no shipped ABI named 'PriceFeed'"):
        abi("PriceFeed")  # the devnet contract's name: production asks for the interface, AggregatorV3


# ---- what production encodes by hand is what ships --------------------------------------------------------------

def test_hand_encoded_calls_and_events_are_shipped_entries():
    from defai_swarm.tools.evm import erc20, executor, feeds, multicall, uniswap

    assert function_abi_to_4byte_selector(_function("ERC20", "approve(address,uint256)")) == erc20.APPROVE
    assert erc20.APPROVE == executor.APPROVE_SELECTOR
    assert _output_types(_function("ERC20", "balanceOf(address)")) == ("uint256",)  # EvmChain.balances' Read
    _function("ERC20", "allowance(address,address)")
    topics = {"ERC20": ["Transfer(address,address,uint256)"], "WETH9": ["Deposit(address,uint256)",
                                                                        "Withdrawal(address,uint256)"]}
    shipped = {"0x" + event_abi_to_log_topic(_event(n, s)).hex() for n, sigs in topics.items() for s in sigs}
    assert {executor.TRANSFER_TOPIC, executor.DEPOSIT_TOPIC, executor.WITHDRAWAL_TOPIC} == shipped

    for name, types in uniswap.ROUTER_FUNCTIONS.items():
        _function("UniswapV2Router02", f"{name}({','.join(types)})")
    for name in ("getAmountsOut", "getAmountsIn"):
        assert _output_types(_function("UniswapV2Router02", f"{name}(uint256,address[])")) == ("uint256[]",)
    assert _output_types(_function("UniswapV2Factory", "getPair(address,address)")) == ("address",)
    assert _output_types(_function("UniswapV2Pair", "getReserves()")) == ("uint112", "uint112", "uint32")

    feed = _function("AggregatorV3", feeds.LATEST_ROUND_SIGNATURE)
    assert _output_types(feed) == feeds.LATEST_ROUND_TYPES

    aggregate3 = _function("Multicall3", "aggregate3((address,bool,bytes)[])")
    assert function_abi_to_4byte_selector(aggregate3) == multicall.AGGREGATE3
    assert _output_types(aggregate3) == ("tuple[]",)
    for signature in ("getBlockNumber()", "getCurrentBlockTimestamp()", "getEthBalance(address)"):
        assert function_abi_to_4byte_selector(_function("Multicall3", signature)) == \
            function_signature_to_4byte_selector(signature)


# ---- production does not reach into the devnet ------------------------------------------------------------------

def _shipped_modules() -> dict[str, Path]:
    """Every module the wheel installs (the packages pyproject lists), by its import name."""
    packages = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    modules = {}
    for folder, name in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            package = ".".join((name, *path.parent.relative_to(ROOT / folder).parts))
            if package in packages:
                modules[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return modules


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_no_shipped_module_outside_the_devnet_imports_it():
    """Also imports inside functions: a production path that reaches the devnet at run time needs its toolchain."""
    modules = _shipped_modules()
    assert "defai_swarm.tools.evm.chain" in modules and "defai_swarm.tools.devnet.control" in modules
    offenders = [f"{module}:{line} imports {imported}" for module, path in sorted(modules.items())
                 if not _within(module, DEVNET) and not any(_within(module, door) for door in FRONT_DOORS)
                 for line, imported in _imports(path) if _within(imported, DEVNET)]
    assert offenders == []


def test_the_import_check_sees_a_lazy_import(tmp_path):
    """The walk above finds an import inside a function (the way production used to reach the devnet's ABIs)."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from defai_swarm.tools.devnet.contracts import abi\n    return abi\n")
    assert (2, "defai_swarm.tools.devnet.contracts") in _imports(source)


def test_the_evm_adapter_imports_neither_vyper_nor_the_devnet():
    script = textwrap.dedent("""
        import sys
        import defai_swarm.tools.evm.chain, defai_swarm.tools.evm.executor, defai_swarm.tools.evm.prices
        from defai_swarm.tools.evm.abi import NAMES, abi
        for name in NAMES:
            abi(name)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "vyper" or m.startswith("defai_swarm.tools.devnet"))
        print(loaded)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"


def test_vyper_is_a_devnet_dependency_only():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith("vyper")]
    assert [d for d in project["optional-dependencies"]["devnet"] if d.lower().startswith("vyper")]


# ---- the shipped entries are the official ones ---------------------------------------------------------------------

def _reference(name: str) -> list[Any]:
    """The full ABI of the build `name`'s entries were taken from."""
    from defai_swarm.tools.devnet.install import NPM_PACKAGES, npm_prefix

    source = abi_source(name)
    if "npm" in source:
        package, version = source["npm"].rsplit("@", 1)
        assert NPM_PACKAGES[package] == version, f"{name} names {source['npm']}, the devnet pins {NPM_PACKAGES[package]}"
        root = npm_prefix() / "node_modules" / package
        assert json.loads((root / "package.json").read_text())["version"] == version
        return json.loads((root / source["artifact"]).read_text())["abi"]
    from defai_swarm.tools.devnet.contracts import vyper_artifact
    return vyper_artifact(source["devnet_vyper"].removesuffix(".vy"))["abi"]


@pytest.mark.devnet  # reads the npm install (`swarm devnet install`) and compiles the devnet's Vyper contracts
def test_every_shipped_entry_is_the_pinned_builds_entry():
    from defai_swarm.tools.devnet.install import install
    install()
    for name in NAMES:
        reference = {(e["type"], abi_to_signature(e)): e for e in _reference(name) if e["type"] in ("function", "event")}
        for entry in abi(name):
            key = (entry["type"], abi_to_signature(entry))
            assert key in reference, f"{name}: {key} is not in {abi_source(name)}"
            assert entry == reference[key], f"{name}: {key} differs from {abi_source(name)}"


@pytest.mark.devnet
def test_the_comparison_catches_a_changed_entry(monkeypatch):
    """One changed output type (what a hand-edited file might carry) fails the check above."""
    from defai_swarm.tools.evm import abi as abi_module

    document = json.loads(json.dumps(abi_module._document("UniswapV2Pair")))
    document["abi"][0]["outputs"][2]["type"] = "uint64"
    monkeypatch.setattr(abi_module, "_document", lambda name: document if name == "UniswapV2Pair"
                        else abi_module._document.__wrapped__(name))
    monkeypatch.setattr(sys.modules[__name__], "NAMES", ("UniswapV2Pair",))
    with pytest.raises(AssertionError, match="UniswapV2Pair"):
        test_every_shipped_entry_is_the_pinned_builds_entry()


def test_reads_on_a_chain_need_no_npm_and_no_vyper(devnet, tmp_path):
    """Against the devnet's deployed contracts, in a process where Vyper cannot be imported and the npm prefix is
    empty: the feed, balances, allowance and the shipped Uniswap/Multicall3 entries all answer."""
    script = textwrap.dedent(f"""
        import sys
        class NoVyper:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "vyper":
                    raise ImportError("vyper is not installed here")
        sys.meta_path.insert(0, NoVyper())
        from web3 import Web3
        from defai_swarm.tools.evm import erc20, feeds
        from defai_swarm.tools.evm.abi import abi
        from defai_swarm.tools.evm.config import EvmChainConfig
        from defai_swarm.tools.evm.multicall import MULTICALL3_ADDRESS
        from defai_swarm.tools.evm.rpc import connect
        from defai_swarm.tools.evm.tokens import TokenRegistry
        config = EvmChainConfig.load({str(devnet.manifest_path)!r})
        w3 = connect(config.rpc_url)
        registry = TokenRegistry.from_manifest(config)
        usdc, weth = registry.resolve("USDC"), registry.resolve("WETH")
        price = feeds.read_feed(w3, config.feeds["ETH/USD"], max_age_seconds=10**9)  # the ABI, not freshness
        assert price.price > 0, price
        assert erc20.balance_of(w3, usdc, w3.eth.accounts[1]) >= 0
        assert erc20.allowance(w3, usdc, w3.eth.accounts[1], config.router) >= 0
        contract = lambda address, name: w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi(name))
        pair = contract(config.factory, "UniswapV2Factory").functions.getPair(usdc.address, weth.address).call()
        reserves = contract(pair, "UniswapV2Pair").functions.getReserves().call()
        assert reserves[0] > 0 and reserves[1] > 0, reserves
        out = contract(config.router, "UniswapV2Router02").functions.getAmountsOut(10**18, [weth.address, usdc.address]).call()
        assert out[0] == 10**18 and out[1] > 0, out
        multicall = contract(MULTICALL3_ADDRESS, "Multicall3").functions
        assert multicall.getBlockNumber().call() == w3.eth.block_number
        assert "vyper" not in sys.modules and not [m for m in sys.modules if m.startswith("defai_swarm.tools.devnet")]
        print("ok", price.price)
    """)
    env = dict(os.environ, SWARM_NPM_PREFIX=str(tmp_path / "no-npm"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("ok ")


# ---- the devnet package: no import circle, one error root ------------------------------------------------------

def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle of `graph` (module -> modules it imports), each from its smallest member."""
    found: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in graph.get(node, ()):
            if nxt == start:
                found.add(tuple(path))
            elif nxt > start and nxt not in path:
                walk(start, nxt, path + [nxt])
    for module in sorted(graph):
        walk(module, module, [module])
    return [list(c) for c in sorted(found)]


def test_the_devnet_modules_import_no_circle():
    """`devnet` (starting one) and `control` (steering one) both need to find a running devnet: that is `running`,
    below both, so neither imports the other back (imports inside functions count: they are circles at run time)."""
    modules = {m: p for m, p in _shipped_modules().items() if _within(m, DEVNET)}
    graph = {m: {i for _, i in _imports(p) if i in modules and i != m} for m, p in modules.items()}
    assert "defai_swarm.tools.devnet.control" in graph["defai_swarm.tools.devnet.devnet"]
    assert _circles(graph) == []
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]  # the check itself finds one


def test_the_devnet_errors_are_swarm_errors():
    """One error root for the library: `except SwarmError` catches a devnet that cannot start (still RuntimeErrors,
    as callers caught them before)."""
    from defai_swarm.core.errors import SwarmError
    from defai_swarm.tools.devnet.control import NotLocalDevnet
    from defai_swarm.tools.devnet.install import DevnetInstallError
    from defai_swarm.tools.devnet.node import DevnetError
    from defai_swarm.tools.devnet.solana.accounts import SetupError
    from defai_swarm.tools.devnet.solana.devnet import SolanaDevnetError
    from defai_swarm.tools.devnet.solana.litesvm_rpc import RpcFault

    for error in (DevnetError, NotLocalDevnet, DevnetInstallError, SolanaDevnetError, SetupError, RpcFault):
        assert issubclass(error, SwarmError) and issubclass(error, RuntimeError), error


def test_the_devnet_without_vyper_says_which_extra_to_install(tmp_path):
    """Vyper is the `devnet` extra now: a plain install that starts a devnet is told what to install, in one line."""
    script = textwrap.dedent("""
        import sys
        class NoVyper:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "vyper":
                    raise ImportError("vyper is not installed here")
        sys.meta_path.insert(0, NoVyper())
        from defai_swarm.core.errors import SwarmError
        from defai_swarm.tools.devnet.contracts import vyper_artifact
        try:
            vyper_artifact("PriceFeed")
        except SwarmError as exc:
            print(type(exc).__name__, exc)
    """)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("DevnetInstallError ") and "pip install 'defai-swarm[devnet]'" in done.stdout
