"""`swarm new NAME`: a hackathon starter project with one custom tool, one custom agent, and a devnet test."""
from __future__ import annotations

import re
from pathlib import Path
from string import Template

PYPROJECT = '''[project]
name = "$name"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["defai-swarm"]

[tool.pytest.ini_options]
pythonpath = ["."]
testpaths = ["tests"]
'''

README = '''# $name

A defai-swarm starter: a custom tool (`$name/pool_depth.py`), a custom narrow agent
(`$name/liquidity_guard.py`), and a test that runs both, plus one intent, on a real local devnet.

    python -m pytest                     # starts anvil with Uniswap V2, runs the test
    swarm devnet up && python -m $name "swap 0.5 ETH to USDC"

Ideas: add a rule to the guard, a price source to the tool, or a new task type to the plan
(see the defai-swarm README, "Writing an agent").
'''

INIT = '''"""$name: a defai-swarm bot."""
'''

TOOL = '''"""Tool: how deep a Uniswap V2 pool is, in USD, read from its reserves."""
from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from swarm.api import Swarm


class PoolDepth(BaseModel):
    pair: str
    depth_usd: Decimal  # value of both reserves at the median price of the first token
    block_number: int


def pool_depth(swarm: Swarm, token_a: str, token_b: str) -> PoolDepth:
    a, b = swarm.registry.resolve(token_a), swarm.registry.resolve(token_b)
    reserves = swarm.uniswap.reserves(a, b)
    price_a = swarm.chain.read_price(a.symbol).median
    depth = 2 * a.from_base(reserves.reserve_a) * price_a
    return PoolDepth(pair=f"{a.symbol}/{b.symbol}", depth_usd=depth, block_number=reserves.block_number)
'''

AGENT = '''"""Agent: refuse trades that are too large a share of the pool they trade against."""
from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from $name.pool_depth import PoolDepth


class GuardDecision(BaseModel):
    approved: bool
    reason: str


class LiquidityGuard:
    def __init__(self, max_share: Decimal = Decimal("0.01")):
        self.max_share = max_share

    def check(self, trade_usd: Decimal, depth: PoolDepth) -> GuardDecision:
        share = trade_usd / depth.depth_usd
        ok = share <= self.max_share
        return GuardDecision(approved=ok, reason=f"trade is {share:.4%} of the {depth.pair} pool "
                                                 f"(max {self.max_share:.2%})")
'''

MAIN = '''"""`python -m $name "<intent>"`: check the guard, then run the intent on the running devnet."""
from __future__ import annotations

import sys

from swarm.api import Swarm
from $name.liquidity_guard import LiquidityGuard
from $name.pool_depth import pool_depth


def main(argv: list[str]) -> int:
    swarm = Swarm.from_devnet()
    try:
        plan = swarm.plan(argv[0])
        if not plan.ok:
            print("refused:", plan.refusal_reason)
            return 1
        s = plan.slots
        depth = pool_depth(swarm, s.token_in, s.token_out)
        trade_usd = s.amount_in * swarm.chain.read_price(s.token_in).median
        decision = LiquidityGuard().check(trade_usd, depth)
        print(decision.reason)
        if not decision.approved:
            return 1
        result = swarm.run(argv[0])
        print(result.summary())
        return 0 if result.status == "done" else 1
    finally:
        swarm.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''

TEST = '''"""Runs against a real local devnet (anvil + Uniswap V2), started for this test session."""
from __future__ import annotations

from decimal import Decimal

import pytest

from swarm.api import Swarm
from tools.devnet import Devnet
from tools.devnet.install import install
from tools.devnet.node import free_port
from $name.liquidity_guard import LiquidityGuard
from $name.pool_depth import pool_depth


@pytest.fixture(scope="session")
def swarm(tmp_path_factory):
    install()
    home = tmp_path_factory.mktemp("swarm")
    with Devnet.start(port=free_port(), manifest_path=home / "manifest.json") as devnet:
        s = Swarm.from_devnet(devnet.manifest_path, home=home)
        yield s
        s.close()


def test_pool_depth_reads_the_pool(swarm):
    depth = pool_depth(swarm, "ETH", "USDC")
    assert Decimal(5_000_000) < depth.depth_usd < Decimal(7_000_000)  # 1000 ETH + 3M USDC on the devnet


def test_guard_refuses_a_trade_too_large_for_the_pool(swarm):
    depth = pool_depth(swarm, "ETH", "USDC")
    guard = LiquidityGuard(max_share=Decimal("0.001"))
    assert guard.check(Decimal(3000), depth).approved
    assert not guard.check(Decimal(30_000), depth).approved


def test_an_intent_runs_end_to_end(swarm):
    result = swarm.run("swap 0.5 ETH to USDC")
    assert result.status == "done", result.summary()
    assert len(result.tx_hashes) == 1
'''

FILES = {"pyproject.toml": PYPROJECT, "README.md": README, "$name/__init__.py": INIT, "$name/pool_depth.py": TOOL,
         "$name/liquidity_guard.py": AGENT, "$name/__main__.py": MAIN, "tests/test_$name.py": TEST}


class StarterError(ValueError):
    """A name that cannot be a Python package, or a target that is not empty."""


def create(name: str, directory: Path | None = None) -> Path:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
        raise StarterError(f"{name!r} is not a valid project name: use lower-case letters, digits and _ (a Python package name)")
    target = Path(directory or name)
    if target.exists() and any(target.iterdir()):
        raise StarterError(f"{target} exists and is not empty: nothing written")
    for rel, text in FILES.items():
        path = target / Template(rel).substitute(name=name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(name=name))
    return target
