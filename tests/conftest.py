"""Shared fixtures: one real anvil devnet per test session, snapshots for isolation."""
from __future__ import annotations

import time

import pytest

from tools.devnet import Devnet
from tools.devnet.install import install
from tools.devnet.node import free_port
from tools.evm.rpc import connect
from tools.evm.tokens import TokenRegistry
from tools.evm.uniswap import UniswapV2
from tools.evm.wallet import Wallet


@pytest.fixture(scope="session", autouse=True)
def session_spend_ledger(tmp_path_factory):
    """Swarms built by module- or session-scoped fixtures use a ledger of this session, never the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SWARM_LEDGER", str(tmp_path_factory.mktemp("session-ledger") / "ledger.sqlite"))
        yield


@pytest.fixture(autouse=True)
def own_spend_ledger(session_spend_ledger, tmp_path_factory, monkeypatch):
    """Every test gets its own wallet spend ledger and EVM nonce locks (`swarm.ledger`): caps never carry over."""
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
    from swarm.api import Swarm
    from tools.evm.policy import RiskPolicy

    made = []

    def make(anchor: bool = False, **policy) -> Swarm:
        s = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, policy=RiskPolicy(**policy), home=tmp_path,
                  anchor=anchor)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


pytest_plugins = ["tests.llm_fixtures", "tests.secret_scan"]
