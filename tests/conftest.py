"""Shared fixtures: one real anvil devnet and one local Solana devnet per test session (snapshots isolate EVM
tests), and the test tiers: markers from the fixtures a test uses, and the guard of tests/tiers.py."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest


def _check_editable_install() -> None:
    """The checkout installs in setuptools' strict editable mode (scripts/setup.sh): its files are linked into
    build/__editable__.*, so a file added since the install cannot be imported yet. Say so in one line."""
    import importlib.util

    spec = importlib.util.find_spec("defai_swarm")
    if spec is None or spec.origin is None:
        pytest.exit("defai_swarm is not installed in this Python: run `bash scripts/setup.sh`", returncode=2)
    installed, root = Path(spec.origin).parent, Path(__file__).resolve().parents[1]
    if installed.resolve() == (root / "swarm").resolve():
        return  # a layout that reads the folders directly
    shipped = {".py", ".js", ".html", ".css", ".vy", ".json"}
    missing = [str(path.relative_to(root)) for folder, inside in (("swarm", ""), ("agents", "agents"), ("tools", "tools"))
               for path in (root / folder).rglob("*") if path.suffix in shipped and "__pycache__" not in path.parts
               and not (installed / inside / path.relative_to(root / folder)).exists()]
    if missing:
        pytest.exit(f"{len(missing)} file(s) added since the editable install ({', '.join(sorted(missing)[:3])}): "
                    "run `bash scripts/setup.sh` to link them", returncode=2)


_check_editable_install()

from defai_swarm.tools.devnet import Devnet  # noqa: E402
from defai_swarm.tools.devnet.install import install  # noqa: E402
from defai_swarm.tools.devnet.node import free_port  # noqa: E402
from defai_swarm.tools.evm.rpc import connect  # noqa: E402
from defai_swarm.tools.evm.tokens import TokenRegistry  # noqa: E402
from defai_swarm.tools.evm.uniswap import UniswapV2  # noqa: E402
from defai_swarm.tools.evm.wallet import Wallet  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def session_spend_ledger(tmp_path_factory):
    """Swarms built by module- or session-scoped fixtures use a ledger of this session, never the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SWARM_LEDGER", str(tmp_path_factory.mktemp("session-ledger") / "ledger.sqlite"))
        yield


@pytest.fixture(autouse=True)
def own_spend_ledger(session_spend_ledger, tmp_path_factory, monkeypatch):
    """Every test gets its own wallet spend ledger and EVM nonce locks (`defai_swarm.ledger`): caps never carry over."""
    monkeypatch.setenv("SWARM_LEDGER", str(tmp_path_factory.mktemp("ledger") / "ledger.sqlite"))


@pytest.fixture(scope="session")
def devnet(tmp_path_factory):
    install()
    with Devnet.start(port=free_port(), manifest_path=tmp_path_factory.mktemp("devnet") / "manifest.json") as dn:
        yield dn


@pytest.fixture
def chain(devnet):
    """Each test sees the freshly deployed world: snapshot before, revert after.

    anvil rewinds its clock on `evm_revert`, so over a session block times would fall behind the wall clock that
    the audit entries carry (the anchor time check compares the two): the next block is put back on wall time."""
    w3 = connect(devnet.manifest.rpc_url)
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    now = int(time.time())
    if w3.eth.get_block("latest")["timestamp"] < now:
        w3.provider.make_request("evm_setNextBlockTimestamp", [now])
        w3.provider.make_request("evm_mine", [])  # the latest block (what swap deadlines are relative to) is now
    yield w3
    w3.provider.make_request("evm_revert", [snap])


@pytest.fixture
def registry(devnet) -> TokenRegistry:
    return TokenRegistry.from_manifest(devnet.manifest)


@pytest.fixture
def uniswap(chain, devnet, registry) -> UniswapV2:
    return UniswapV2.from_manifest(chain, devnet.manifest, registry)


@pytest.fixture
def wallet() -> Wallet:
    return Wallet.devnet(1)

@pytest.fixture
def make_swarm(chain, devnet, wallet, tmp_path):
    """Swarms on the devnet with the test's wallet, state directory and a policy from keyword arguments, closed
    after the test. Anchoring is off unless asked: most tests count the wallet's transactions."""
    from defai_swarm.api import Swarm
    from defai_swarm.tools.evm.policy import RiskPolicy

    made = []

    def make(anchor: bool = False, **policy) -> Swarm:
        s = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, policy=RiskPolicy(**policy), home=tmp_path,
                  anchor=anchor)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


@pytest.fixture(scope="session")
def solana_devnet(tmp_path_factory):
    """One local Solana devnet process for the session, like the EVM `devnet` (LiteSVM behind JSON-RPC, the Jupiter
    and Hermes stand-ins, a funded wallet). LiteSVM has no snapshots, so its tests share one world: they measure
    what they move (balance deltas, not genesis balances) and put back the prices they set; each such test is
    followed by a fresh blockhash (pytest_runtest_teardown). A test that needs the genesis world or its own process
    starts a `SolanaDevnet` of its own."""
    from defai_swarm.tools.devnet.solana import SolanaDevnet

    with SolanaDevnet.start(tmp_path_factory.mktemp("solana-devnet"), port=free_port()) as net:
        yield net


pytest_plugins = ["tests.llm_fixtures", "tests.secret_scan"]


# ---- test tiers (tests/tiers.py; the fast tier is scripts/test-fast.sh) --------------------------------------------

# the fixtures that start what a tier marker stands for, by (module, name) of their function
TIER_OF_FIXTURE = {
    ("tests.conftest", "devnet"): "devnet",
    ("tests.conftest", "solana_devnet"): "solana",
    ("tests.pg_fixtures", "pg_server_url"): "postgres",
    ("tests.llm_fixtures", "tiny_model_path"): "model",
    ("tests.test_llm_prompt", "bare_model_path"): "model",
    ("tests.model_server", "model_server"): "model",
    ("tests.cluster_helpers", "cluster"): "cluster",
}


def _fixture_tiers(item: pytest.Item) -> set[str]:
    """The tier markers of the fixtures `item` uses (the definitions it sees, an overridden one only when the
    override asks for it)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return set()
    tiers = set()
    for name in getattr(item, "fixturenames", ()):
        defs = list(info.name2fixturedefs.get(name, ()))
        while defs:
            fixturedef = defs.pop()
            func = getattr(fixturedef.func, "__wrapped__", fixturedef.func)
            if tier := TIER_OF_FIXTURE.get((getattr(func, "__module__", ""), getattr(func, "__name__", ""))):
                tiers.add(tier)
            if name not in fixturedef.argnames:
                break
    return tiers


# `--shard 1/2`: the tests needing any of these (about 40 % of the suite's time); `--shard 2/2`: the others. Two
# pytest processes, one per shard, run the whole suite on 2 cores in about two thirds of the time of one.
FIRST_SHARD = ("cluster", "heavy", "browser", "model", "postgres", "solana")
# and these devnet files (about 40 s), which even the two halves out (measured: 392 s and 477 s without them)
FIRST_SHARD_FILES = ("test_tutorial.py", "test_devnet_cli.py")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--shard", choices=("1/2", "2/2"), default=None,
                     help="run one half of the suite (the secret scan runs in both): 1/2 the tests marked "
                          + ", ".join(FIRST_SHARD) + " and " + ", ".join(FIRST_SHARD_FILES) + "; 2/2 the others")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test is marked with the tiers of the fixtures it uses (a `pytestmark` line marks what a test starts by
    itself); `-m "not devnet and ..."` selects on them, and so does `--shard`."""
    from tests.tiers import TIERS

    for item in items:
        for tier in sorted(_fixture_tiers(item) - {m.name for m in item.iter_markers() if m.name in TIERS}):
            item.add_marker(tier)
    if shard := config.getoption("--shard"):
        first = shard == "1/2"
        # the secret scan reads what its own process produced: each shard runs it last
        keep = [i for i in items if i.path.name == "test_zz_secret_scan.py"
                or (i.path.name in FIRST_SHARD_FILES or any(i.get_closest_marker(m) for m in FIRST_SHARD)) == first]
        if len(keep) < len(items):
            kept = {id(i) for i in keep}
            config.hook.pytest_deselected(items=[i for i in items if id(i) not in kept])
            items[:] = keep


def _guard_on() -> bool:
    from tests.tiers import TIER_ENV

    return bool(os.environ.get(TIER_ENV))


def pytest_configure(config: pytest.Config) -> None:
    """With SWARM_TEST_TIER set, everything this process and its Python subprocesses start is checked against the
    running test's markers (tests/tiers.py), and so is loading a llama.cpp model in this process."""
    if not _guard_on():
        return
    from tests import tiers

    guard_dir = Path(__file__).parent / "tier_guard"  # its sitecustomize guards every Python subprocess
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(guard_dir), os.environ.get("PYTHONPATH")) if p)
    if not os.environ.get(tiers.LOG_ENV):  # a pytest run inside a test (tests/suite_runner.py) keeps its parent's
        fd, log = tempfile.mkstemp(prefix="swarm-tier-guard-", suffix=".log")
        os.close(fd)
        os.environ[tiers.LOG_ENV] = log
        config.add_cleanup(lambda: Path(log).unlink(missing_ok=True))
    tiers.install_popen_guard()

    from defai_swarm.llm import LlamaCppBackend

    load = LlamaCppBackend.__init__

    def guarded_load(self, *args, **kwargs):
        """Refused once a model is loaded: a file that fails to load (the error tests) is no model."""
        load(self, *args, **kwargs)
        try:
            tiers.refuse("model", f"LlamaCppBackend({Path(self.info.path).name})")
        except tiers.TierGuardError:
            self.close()
            raise

    LlamaCppBackend.__init__ = guarded_load  # type: ignore[method-assign]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """The running test's tier markers, for the guard here and in every subprocess it starts."""
    if _guard_on():
        from tests.tiers import ALLOW_ENV, TIERS

        os.environ[ALLOW_ENV] = ",".join(sorted({m.name for m in item.iter_markers() if m.name in TIERS}))


def _expire_blockhash(rpc_url: str) -> str | None:
    """Mine past the Solana devnet's blockhash (straight to its RPC: a test may have patched the levers' config);
    what went wrong, if anything."""
    import httpx

    from defai_swarm.tools.devnet.solana.litesvm_rpc import BLOCKHASH_VALID_BLOCKS

    try:
        answer = httpx.post(rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "devnet_mine",
                                           "params": [BLOCKHASH_VALID_BLOCKS + 1]}, timeout=30).json()
    except (httpx.HTTPError, ValueError) as exc:
        return f"the session's Solana devnet at {rpc_url} did not mine: {type(exc).__name__}: {exc}"
    return f"the session's Solana devnet did not mine: {answer['error']}" if "error" in answer else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item):
    """Before the test's fixtures are torn down: after a test on the session's Solana devnet, its blockhash expires
    (151 blocks mined). Tests repeat the same swap (1 SOL from the same wallet), and the devnet's levers put the pool
    back where it was, so a later test could build a transaction byte for byte like an earlier one on the same
    blockhash: the chain refuses that as AlreadyProcessed, as Solana does.
    After: a launch the guard refused fails the test even if it happened in a subprocess or its error was caught."""
    net = getattr(item, "funcargs", {}).get("solana_devnet")
    mined = None if net is None else _expire_blockhash(net.config.rpc_url)
    result = yield
    if mined:
        pytest.fail(mined, pytrace=False)
    from tests.tiers import LOG_ENV

    log = os.environ.get(LOG_ENV) if _guard_on() else None
    if log and os.path.exists(log):
        refused = Path(log).read_text(encoding="utf-8").strip()
        os.unlink(log)
        if refused:
            pytest.fail(refused, pytrace=False)
    return result
