"""`swarm new NAME`: a hackathon starter project with one custom tool, one custom agent (a task plugin) and a
devnet test.

The generated project depends on the library by name and the version this command runs
(`defai-swarm==0.1.0`), as on a package index. Until defai-swarm is on one, pip finds it in a directory
holding its wheel (`pip install --find-links DIR`): a path would tie the project to one machine's checkout.
"""
from __future__ import annotations

import re
from pathlib import Path
from string import Template

PYPROJECT = '''[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "$name"
version = "0.1.0"
requires-python = ">=3.11"
# defai-swarm is not on PyPI yet: `pip install --find-links DIR -e .`, DIR holding its wheel (README.md, "Install")
dependencies = ["$dependency"]

[tool.setuptools.packages.find]
include = ["$name*"]

[tool.pytest.ini_options]
pythonpath = ["."]
testpaths = ["tests"]
filterwarnings = ["ignore:websockets.legacy is deprecated:DeprecationWarning"]
'''

README = '''# $name

A defai-swarm starter: a custom tool (`$name/pool_depth.py`), a custom narrow agent
(`$name/liquidity_guard.py`, a task plugin), and tests that run both, plus intents, on a real local devnet.

## Install

`pyproject.toml` names the library by name and version, as on a package index:

    $dependency

defai-swarm is not on PyPI yet: point pip at a directory holding its wheel (everything else still
comes from the index):

    pip install --find-links /path/to/wheels -e .

(or `export PIP_FIND_LINKS=/path/to/wheels` once).

$wheel_note

In a virtualenv that already has the library (the library's own `.venv`, an editable checkout),
install this project alone: `pip install -e . --no-deps`.

Running in place (no install at all) also works from a checkout's virtualenv: `pythonpath = ["."]` in
`pyproject.toml` lets pytest import `$name`, and `python -m $name` works from this directory.

## Run

    python -m pytest                          # starts anvil with Uniswap V2, runs the tests
    swarm devnet up                           # a devnet for the command line
    python -m $name "swap 0.5 ETH to USDC"    # passes the guard, swaps
    python -m $name "swap 3 ETH to USDC"      # refused by the guard: 3 ETH is over 0.1% of the pool

`python -m $name` prints the run's summary and where the audit log is. The guard is a node of the run's
task graph like the built-in agents: it runs in front of the risk check of every swap, its decision is
checkpointed and written to the audit log, and a refusal stops the swap before anything is signed.

    swarm audit show RUN_ID                   # the guard's entry is there, kind liquidity_guard
    swarm audit verify RUN_ID

`swarm audit replay` (the command) replays the built-in agents' entries; the guard's entries replay with
`replay(entries, swarm.plugins)` from a swarm that has the guard registered (see the tests).

## How the agent works

`LiquidityGuard` is a `defai_swarm.plugins.TaskPlugin`:

- `extend_plan` adds one `liquidity_guard` task (`LiquidityGuardTask`) per swap, in front of its risk check;
- `handle` measures the pool with the `pool_depth` tool through `deps.chain` and refuses a trade whose USD
  value is more than `max_share` of the pool's depth (`LiquidityGuardResult` says why);
- `replay` recomputes the decision from the logged reserve and price.

Ideas: add a rule to the guard, a price source to the tool, or another task kind (see the defai-swarm
README, "Writing an agent").
'''

WHEEL_FROM_CHECKOUT = '''To make that wheel from the checkout `swarm new` ran from:

    pip install build && python -m build --wheel --outdir /path/to/wheels $root'''

WHEEL_FROM_ELSEWHERE = '''Use the wheel this copy of defai-swarm was installed from, or build one from
a checkout: `pip install build && python -m build --wheel --outdir /path/to/wheels /path/to/defai-swarm`.'''

INIT = '''"""$name: a defai-swarm bot."""
'''

TOOL = '''"""Tool: how deep a Uniswap V2 pool is, in USD, read from its reserves (a plain function of the chain adapter)."""
from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from defai_swarm.tools.evm.chain import EvmChain


class PoolDepth(BaseModel):
    pair: str
    reserve_a: Decimal  # the first token's reserve, in its own units
    price_a_usd: Decimal  # median USD price of the first token (several sources)
    depth_usd: Decimal  # value of both reserves: 2 * reserve_a * price_a_usd
    block_number: int


def pool_depth(chain: EvmChain, token_a: str, token_b: str) -> PoolDepth:
    """`chain`: `swarm.chain` outside a run, `deps.chain` inside a task plugin."""
    a, b = chain.token(token_a), chain.token(token_b)
    reserves = chain.uniswap.reserves(a, b)
    reserve_a = a.from_base(reserves.reserve_a)
    price_a = chain.read_price(a.symbol).median
    return PoolDepth(pair=f"{a.symbol}/{b.symbol}", reserve_a=reserve_a, price_a_usd=price_a,
                     depth_usd=2 * reserve_a * price_a, block_number=reserves.block_number)
'''

AGENT = '''"""Agent: refuse a swap whose USD value is too large a share of the pool it trades against.

    swarm = Swarm.from_devnet()
    swarm.use(LiquidityGuard(max_share=Decimal("0.001")))
    swarm.run("swap 3 ETH to USDC")   # refused: $$9,000 is over 0.1% of a $$6M pool

A task plugin: `extend_plan` puts one `liquidity_guard` task in front of the risk check of every swap;
its result is checkpointed, written to the audit log and replayed like a built-in agent's, and a
refusal here makes the risk check refuse, so the swap is never signed.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Literal

from defai_swarm.core.errors import SwarmError
from defai_swarm.core.status import TaskStatus
from defai_swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult
from defai_swarm.taskgraph import SwapTask, Task, TaskGraph
from $name.pool_depth import pool_depth


class LiquidityGuardTask(Task):
    kind: Literal["liquidity_guard"] = "liquidity_guard"
    swap_task: str  # the swap this task guards
    token_in: str
    token_out: str
    amount_in: Decimal | None = None  # the swap's amount, as planned: exactly one of these three
    amount_task: str | None = None  # "$$200 of ETH", "half of it": resolved at run time by this task
    amount_out: Decimal | None = None  # exact output: the trade measured on the token_out side
    max_share: Decimal  # of the pool's USD depth

    def symbols(self) -> set[str]:
        return {self.token_in, self.token_out}


class LiquidityGuardResult(TaskResult):
    pair: str = ""
    block_number: int | None = None
    token: str = ""  # the side the trade is measured on (token_in, or token_out for exact output)
    amount: Decimal | None = None  # the trade, in that token
    reserve: Decimal | None = None  # the pool's reserve of that token
    price_usd: Decimal | None = None
    trade_usd: Decimal | None = None
    depth_usd: Decimal | None = None
    share: Decimal | None = None
    max_share: Decimal | None = None


def decide(amount: Decimal, reserve: Decimal, price_usd: Decimal, max_share: Decimal
           ) -> tuple[Decimal, Decimal, Decimal, bool]:
    """(trade_usd, depth_usd, share, ok): the rule, shared by `handle` and `replay` (amount, reserve and price
    all of one token of the pool)."""
    trade_usd = amount * price_usd
    depth_usd = 2 * reserve * price_usd
    share = trade_usd / depth_usd
    return trade_usd, depth_usd, share, share <= max_share


class LiquidityGuard(TaskPlugin[LiquidityGuardTask]):
    kind = "liquidity_guard"
    task_model = LiquidityGuardTask
    result_model = LiquidityGuardResult
    chains = frozenset({"evm"})  # reads Uniswap V2 reserves

    def __init__(self, max_share: Decimal | str = Decimal("0.001")):
        self.max_share = Decimal(max_share)

    def extend_plan(self, graph: TaskGraph) -> TaskGraph:
        for swap in graph.swaps():
            risk = graph.by_id()[swap.risk_task]  # the guard runs when the risk check could: amount resolved
            guard = LiquidityGuardTask(id=f"guard_{swap.id}", swap_task=swap.id, token_in=swap.token_in,
                                       token_out=swap.token_out, amount_in=swap.amount_in, amount_task=swap.amount_task,
                                       amount_out=swap.amount_out, max_share=self.max_share, depends_on=risk.depends_on)
            graph = graph.with_task(guard, before=(swap.risk_task,))
        return graph

    def validate(self, task: LiquidityGuardTask, graph: TaskGraph) -> list[str]:
        swap = graph.by_id().get(task.swap_task)
        if not isinstance(swap, SwapTask):
            return [f"{task.id}: guards unknown swap {task.swap_task}"]
        errors = []
        if (swap.token_in, swap.token_out, swap.amount_in, swap.amount_task, swap.amount_out) != (
                task.token_in, task.token_out, task.amount_in, task.amount_task, task.amount_out):
            errors.append(f"{task.id}: checks a different trade than {swap.id}")
        if task.id not in graph.ancestors(swap.risk_task):
            errors.append(f"{task.id}: does not run before {swap.risk_task}")
        return errors

    def handle(self, task: LiquidityGuardTask, run: RunView, deps: RunDeps) -> LiquidityGuardResult:
        # the trade in the token whose amount is known: exact input (written, or resolved at run time by its
        # resolve_amount task), or the exact output
        side, other, amount = task.token_in, task.token_out, task.amount_in
        if task.amount_out is not None:
            side, other, amount = task.token_out, task.token_in, task.amount_out
        elif task.amount_task is not None:
            resolved = run.result(task.amount_task)
            if resolved.get("status") != TaskStatus.OK or resolved.get("amount") is None:
                return LiquidityGuardResult(status=TaskStatus.REFUSED, max_share=task.max_share,
                                            reason=f"no amount to check: {task.amount_task} "
                                                   f"{resolved.get('reason') or 'did not resolve'}")
            amount = Decimal(resolved["amount"])
        if amount is None:  # never let a trade through unmeasured
            return LiquidityGuardResult(status=TaskStatus.REFUSED, max_share=task.max_share,
                                        reason=f"{task.swap_task} has no amount to check")
        try:
            depth = pool_depth(deps.chain, side, other)  # type: ignore[arg-type]
        except SwarmError as exc:
            return LiquidityGuardResult(status=TaskStatus.REFUSED, token=side, amount=amount, max_share=task.max_share,
                                        reason=f"cannot measure the {task.token_in}/{task.token_out} pool: {exc}")
        trade_usd, depth_usd, share, ok = decide(amount, depth.reserve_a, depth.price_a_usd, task.max_share)
        return LiquidityGuardResult(
            status=TaskStatus.OK if ok else TaskStatus.REFUSED, pair=depth.pair, block_number=depth.block_number,
            token=side, amount=amount, reserve=depth.reserve_a, price_usd=depth.price_a_usd, trade_usd=trade_usd,
            depth_usd=depth_usd, share=share, max_share=task.max_share,
            reason=f"trade $${trade_usd:,.2f} is {share:.4%} of the {depth.pair} pool ($${depth_usd:,.0f}), "
                   f"max {task.max_share:.2%}")

    def replay(self, payload: dict, run_context: dict) -> tuple[bool, str] | None:
        """The logged reserve and price, through the same rule: the logged numbers and verdict must follow."""
        if payload.get("reserve") is None:  # no amount or no pool measured: only a refusal is right
            return payload["status"] == TaskStatus.REFUSED, f"nothing measured, logged {payload['status']}"
        trade_usd, depth_usd, share, ok = decide(Decimal(payload["amount"]), Decimal(payload["reserve"]),
                                                 Decimal(payload["price_usd"]), Decimal(payload["max_share"]))
        matches = (Decimal(payload["trade_usd"]) == trade_usd and Decimal(payload["depth_usd"]) == depth_usd
                   and Decimal(payload["share"]) == share and (payload["status"] == TaskStatus.OK) == ok)
        return matches, f"{share:.4%} of the {payload['pair']} pool, max {Decimal(payload['max_share']):.2%}: " \\
                        f"{'ok' if ok else 'refused'} (logged {payload['status']})"
'''

MAIN = '''"""`python -m $name "<intent>"`: run one intent on the running devnet, with the liquidity guard in every swap."""
from __future__ import annotations

import sys

from defai_swarm.api import Swarm
from defai_swarm.core.errors import SwarmError
from defai_swarm.exitcodes import for_status
from $name.liquidity_guard import LiquidityGuard

USAGE = """usage: python -m $name "<intent>"

Runs the intent once on the running devnet (start one with `swarm devnet up`), with the
liquidity guard in front of every swap; prints the run's summary and where its audit log is.
Exit codes are the `swarm` command's (swarm/exitcodes.py): 0 done, 1 error, 2 usage, 3 partial,
4 skipped, 5 refused, 6 failed, 7 awaiting approval.

example: python -m $name "swap 0.5 ETH to USDC"
"""


def main(argv: list[str]) -> int:
    if argv in (["-h"], ["--help"]):
        print(USAGE, end="")
        return 0
    intent = " ".join(argv).strip()
    if not intent:
        print(USAGE, end="", file=sys.stderr)
        return 2
    try:
        swarm = Swarm.from_devnet()
    except (FileNotFoundError, SwarmError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        swarm.use(LiquidityGuard())
        result = swarm.run(intent)
        print(result.summary())
        if swarm.auditor is not None:
            print(f"audit log: {swarm.auditor.log.path} (run {result.run_id}); "
                  f"check with: swarm audit show {result.run_id} && swarm audit verify {result.run_id}")
        return int(for_status(result.status))
    finally:
        swarm.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''

TEST = '''"""Runs against a real local devnet (anvil + Uniswap V2), started for this test session."""
from __future__ import annotations

from decimal import Decimal

import pytest

from defai_swarm.api import Swarm
from defai_swarm.audit import AuditLog, verify_log
from defai_swarm.audit.replay import replay
from defai_swarm.tools.devnet import Devnet
from defai_swarm.tools.devnet.install import install
from defai_swarm.tools.devnet.node import free_port
from $name.liquidity_guard import LiquidityGuard
from $name.pool_depth import pool_depth

MAX_SHARE = Decimal("0.001")  # 0.1% of a ~$$6M pool: ~$$6,000


@pytest.fixture(scope="session")
def swarm(tmp_path_factory):
    install()
    home = tmp_path_factory.mktemp("swarm")
    with Devnet.start(port=free_port(), manifest_path=home / "manifest.json") as devnet:
        s = Swarm.from_devnet(devnet.manifest_path, home=home)
        s.use(LiquidityGuard(max_share=MAX_SHARE))
        yield s
        s.close()


def audit_entries(swarm, run_id):
    with AuditLog(swarm.auditor.log.path) as log:
        assert verify_log(log, run_id, trusted_vkey=swarm.auditor.signer.vkey).ok
        return log.entries(run_id)


def test_pool_depth_reads_the_pool(swarm):
    depth = pool_depth(swarm.chain, "ETH", "USDC")
    assert Decimal(5_000_000) < depth.depth_usd < Decimal(7_000_000)  # 1000 ETH + 3M USDC on the devnet


def test_guard_is_planned_in_front_of_the_risk_check(swarm):
    graph = swarm.plan("swap 0.5 ETH to USDC").task_graph
    guard = graph.by_id()["guard_swap_1"]
    assert guard.kind == "liquidity_guard" and guard.max_share == MAX_SHARE
    assert "guard_swap_1" in graph.by_id()["risk_1"].depends_on


def test_guard_passes_a_small_trade_and_it_is_audited_and_replayed(swarm):
    result = swarm.run("swap 0.5 ETH to USDC")  # ~$$1,500: 0.025% of the pool
    assert result.status == "done", result.summary()
    assert len(result.tx_hashes) == 1
    assert result.tasks["guard_swap_1"]["status"] == "ok"
    entries = audit_entries(swarm, result.run_id)
    guard = [e for e in entries if e.kind == "liquidity_guard"]
    assert len(guard) == 1 and guard[0].payload["task"] == "guard_swap_1" and guard[0].payload["status"] == "ok"
    report = replay(entries, swarm.plugins)
    assert report.ok, report.reason
    assert any(c.kind == "liquidity_guard" and c.ok for c in report.checks)


def test_guard_refuses_a_trade_too_large_for_the_pool(swarm):
    usdc = swarm.chain.balance_of("USDC")
    nonce = swarm.w3.eth.get_transaction_count(swarm.wallet.address)
    result = swarm.run("swap 3 ETH to USDC")  # ~$$9,000: within the risk policy, over 0.1% of the pool
    assert result.status == "refused", result.summary()
    assert result.tasks["guard_swap_1"]["status"] == "refused"
    assert "guard_swap_1 refused" in result.tasks["risk_1"]["reason"]
    assert result.tx_hashes == [] and swarm.chain.balance_of("USDC") == usdc  # nothing signed, nothing swapped
    anchors = 1 if result.anchor else 0  # the audit checkpoint's anchor is the only transaction
    assert swarm.w3.eth.get_transaction_count(swarm.wallet.address) == nonce + anchors
    entries = audit_entries(swarm, result.run_id)
    guard = [e for e in entries if e.kind == "liquidity_guard"]
    assert len(guard) == 1 and guard[0].payload["status"] == "refused"
    report = replay(entries, swarm.plugins)
    assert report.ok and any(c.kind == "liquidity_guard" for c in report.checks), report.reason


def test_guard_checks_amounts_known_only_at_run_time(swarm):
    usdc = swarm.chain.balance_of("USDC")
    dollars = swarm.run("swap $$9000 of ETH to USDC")  # resolved at run time to ~3 ETH: over 0.1% of the pool
    assert dollars.status == "refused", dollars.summary()
    guard = dollars.tasks["guard_swap_1"]
    assert guard["status"] == "refused" and Decimal(guard["amount"]) == Decimal(dollars.tasks["amount"]["amount"])
    exact = swarm.run("buy exactly 9000 USDC with ETH")  # measured on the USDC side of the pool
    assert exact.status == "refused", exact.summary()
    assert exact.tasks["guard_swap_1"]["status"] == "refused" and exact.tasks["guard_swap_1"]["token"] == "USDC"
    assert dollars.tx_hashes == exact.tx_hashes == [] and swarm.chain.balance_of("USDC") == usdc
    small = swarm.run("buy exactly 300 USDC with ETH")  # ~$$300: passes, and is bought
    assert small.status == "done", small.summary()
    assert small.tasks["guard_swap_1"]["status"] == "ok" and swarm.chain.balance_of("USDC") > usdc


def test_replay_catches_a_tampered_guard_decision(swarm):
    result = swarm.run("swap 0.2 ETH to USDC")
    entries = audit_entries(swarm, result.run_id)
    forged = [e.model_copy(update={"payload": {**e.payload, "status": "ok", "reserve": "1"}})
              if e.kind == "liquidity_guard" else e for e in entries]
    report = replay(forged, swarm.plugins)
    assert not report.ok and "liquidity_guard" in report.reason
'''

FILES = {"pyproject.toml": PYPROJECT, "README.md": README, "$name/__init__.py": INIT, "$name/pool_depth.py": TOOL,
         "$name/liquidity_guard.py": AGENT, "$name/__main__.py": MAIN, "tests/test_$name.py": TEST}


class StarterError(ValueError):
    """A name that cannot be a Python package, or a target that is not empty."""


def library_checkout() -> Path | None:
    """The defai-swarm checkout this library runs from (it has the pyproject.toml), or None for an installed copy."""
    import defai_swarm
    root = Path(defai_swarm.__file__).resolve().parents[1]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and re.search(r'^name\s*=\s*"defai-swarm"', pyproject.read_text(), re.MULTILINE):
        return root
    return None


def library_version() -> str | None:
    """The version of the installed library (None when it runs from a checkout that was never installed)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("defai-swarm")
    except PackageNotFoundError:
        return None


def dependency() -> str:
    """The project's requirement on the library: by name and this version (a wheel for it is what pip installs)."""
    found = library_version()
    return f"defai-swarm=={found}" if found else "defai-swarm"


def create(name: str, directory: Path | None = None) -> Path:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
        raise StarterError(f"{name!r} is not a valid project name: use lower-case letters, digits and _ (a Python package name)")
    target = Path(directory or name)
    if target.exists() and any(target.iterdir()):
        raise StarterError(f"{target} exists and is not empty: nothing written")
    root = library_checkout()
    note = Template(WHEEL_FROM_CHECKOUT).substitute(root=root) if root is not None else WHEEL_FROM_ELSEWHERE
    values = {"name": name, "dependency": dependency(), "wheel_note": note}
    for rel, text in FILES.items():
        path = target / Template(rel).substitute(name=name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(values))
    return target
