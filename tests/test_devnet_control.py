"""Devnet levers (defai_swarm.tools.devnet.control, `swarm devnet reset|set-price|mine|align`) on a devnet of this module's own:
a reset reverts the deploy snapshot, which would pull the rug from under the session devnet's per-test snapshots."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest

from defai_swarm.exitcodes import ExitCode
from tests.secret_scan import record_output
from defai_swarm.tools.devnet import Devnet, control
from defai_swarm.tools.devnet.control import NotLocalDevnet
from defai_swarm.tools.devnet.install import install
from defai_swarm.tools.devnet.manifest import DevnetManifest
from defai_swarm.tools.devnet.node import DevnetError, free_port
from defai_swarm.tools.devnet.status import devnet_status
from defai_swarm.tools.evm.wallet import Wallet

pytestmark = pytest.mark.devnet  # an anvil of the module's own (its levers move it)


@pytest.fixture(scope="module")
def own_devnet(tmp_path_factory):
    install()
    with Devnet.start(port=free_port(), manifest_path=tmp_path_factory.mktemp("own-devnet") / "manifest.json") as dn:
        yield dn


def pool_prices(devnet) -> dict[str, Decimal]:
    return {p.pair: p.price for p in devnet_status(DevnetManifest.load(devnet.manifest_path)).pools}


def test_set_price_moves_feed_and_every_pool_of_the_token_then_reset_restores(own_devnet):
    path = own_devnet.manifest_path
    before = pool_prices(own_devnet)
    moves = control.set_price("ETH", 3500, path)
    assert {m.pair for m in moves} == {"WETH/USDC", "WETH/DAI", "WETH/FOT", "HONEY/WETH"}  # every ETH pool, no other
    status = devnet_status(DevnetManifest.load(path))
    assert status.feeds["ETH/USD"] == Decimal(3500)
    prices = {p.pair: p.price for p in status.pools}
    for pair in ("WETH/USDC", "WETH/DAI", "WETH/FOT"):
        assert abs(prices[pair] / Decimal(3500) - 1) < Decimal("1e-6"), (pair, prices[pair])
    assert abs(prices["HONEY/WETH"] * 3500 - 1) < Decimal("1e-6")
    assert prices["USDC/DAI"] == before["USDC/DAI"]  # not an ETH pool: untouched
    # the agents' wallet paid nothing: only the deployer's funds move pools
    snapshot = control.reset(path)
    assert snapshot.snapshot_id and DevnetManifest.load(path).snapshot_id == snapshot.snapshot_id
    assert pool_prices(own_devnet) == before
    assert devnet_status(DevnetManifest.load(path)).feeds["ETH/USD"] == Decimal(3000)
    control.reset(path)  # a reset takes a new snapshot: a second one works too
    assert pool_prices(own_devnet) == before


def test_align_pools_undoes_a_trade(own_devnet):
    from defai_swarm.tools.evm.chain import EvmChain
    path = own_devnet.manifest_path
    manifest = DevnetManifest.load(path)
    chain = EvmChain.from_config(manifest, Wallet.devnet(1))
    w3, uni = chain.w3, chain.uniswap
    weth, usdc = chain.registry.resolve("WETH"), chain.registry.resolve("USDC")
    deadline = w3.eth.get_block("latest")["timestamp"] + 600  # pyright: ignore[reportTypedDictNotRequiredAccess]
    router = uni.router
    tx = router.functions.swapExactETHForTokens(0, [weth.address, usdc.address], manifest.deployer, deadline)
    params: Any = {"from": manifest.deployer, "value": 50 * 10**18}
    w3.eth.wait_for_transaction_receipt(tx.transact(params))
    drifted = pool_prices(own_devnet)["WETH/USDC"]
    assert drifted < Decimal(2900)
    moves = {m.pair: m for m in control.align_pools(path)}
    assert moves["WETH/USDC"].swapped_in.endswith("WETH") is False and moves["WETH/USDC"].swapped_in.endswith("USDC")
    assert abs(pool_prices(own_devnet)["WETH/USDC"] / 3000 - 1) < Decimal("1e-6")
    chain.close()
    control.reset(path)


def test_mine_and_refusals(own_devnet, tmp_path):
    path = own_devnet.manifest_path
    w3 = own_devnet.w3()
    start = w3.eth.block_number
    assert control.mine(3, path) == start + 3
    with pytest.raises(DevnetError, match="at least one block"):
        control.mine(0, path)
    with pytest.raises(DevnetError, match="positive"):
        control.set_price("ETH", -1, path)
    with pytest.raises(DevnetError, match="no NOPE/USD feed"):
        control.set_price("NOPE", 1, path)
    data = json.loads(path.read_text())
    remote = tmp_path / "remote.json"
    remote.write_text(json.dumps({**data, "rpc_url": "http://10.1.2.3:8545"}))
    with pytest.raises(NotLocalDevnet, match="not a loopback address"):
        control.set_price("ETH", 3500, remote)
    other_chain = tmp_path / "mainnet.json"
    other_chain.write_text(json.dumps({**data, "chain_id": 1}))
    with pytest.raises(NotLocalDevnet, match="chain id 1"):
        control.align_pools(other_chain)
    not_devnet = tmp_path / "configured.json"
    not_devnet.write_text(json.dumps({**data, "local_devnet": False}))
    with pytest.raises(NotLocalDevnet):
        control.reset(not_devnet)


def test_cli_levers_json_and_help(own_devnet, tmp_path):
    env = {**os.environ, "SWARM_HOME": str(tmp_path), "SWARM_MANIFEST": str(own_devnet.manifest_path), "NO_COLOR": "1"}

    def swarm(*args):
        proc = subprocess.run([sys.executable, "-m", "defai_swarm.cli", "devnet", *args], capture_output=True, text=True,
                              env=env, timeout=120)
        record_output(proc.stdout + proc.stderr)
        return proc
    proc = swarm("set-price", "ETH", "3200", "--json")
    assert proc.returncode == 0, proc.stderr
    moves = json.loads(proc.stdout)
    assert {m["pair"] for m in moves} >= {"WETH/USDC"} and all(Decimal(m["target"]) in (Decimal(3200), 1 / Decimal(3200))
                                                              for m in moves)
    proc = swarm("status", "--json")
    assert json.loads(proc.stdout)["feeds"]["ETH/USD"] in ("3200", "3200.00000000")
    proc = swarm("mine", "2", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["mined"] == 2
    proc = swarm("reset")
    assert proc.returncode == 0 and "no longer count against the daily cap" in proc.stdout
    proc = swarm("set-price", "ETH", "abc")
    assert proc.returncode == ExitCode.ERROR and "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout.startswith("error: ") and len(proc.stdout.strip().splitlines()) == 1, proc.stdout
    proc = swarm("reset", "--chain", "solana")
    assert proc.returncode == ExitCode.ERROR and "not available for the Solana devnet (its VM has no snapshots)" in proc.stdout


def test_verify_tells_a_reset_chain_from_a_missing_anchor(own_devnet, tmp_path):
    from defai_swarm.api import Swarm
    home = tmp_path / "home"
    swarm = Swarm.from_devnet(own_devnet.manifest_path, home=home)
    try:
        result = swarm.run("swap 1 ETH to USDC")
    finally:
        swarm.close()
    assert result.status == "done" and result.anchor
    env = {**os.environ, "SWARM_HOME": str(home), "SWARM_MANIFEST": str(own_devnet.manifest_path), "NO_COLOR": "1",
           "COLUMNS": "300"}

    def verify(*extra):
        proc = subprocess.run([sys.executable, "-m", "defai_swarm.cli", "audit", "verify", result.run_id, *extra],
                              capture_output=True, text=True, env=env, timeout=120)
        record_output(proc.stdout + proc.stderr)
        return proc
    proc = verify()
    assert proc.returncode == 0 and "CHAIN RESET" not in proc.stdout, proc.stdout
    control.reset(own_devnet.manifest_path)
    proc = verify()
    assert proc.returncode == ExitCode.VERIFY_FAILED, proc.stdout
    assert "CHAIN RESET" in proc.stdout and "reset or rewound since the run" in proc.stdout, proc.stdout
    control.mine(int(result.anchor["block"]) + 5 - own_devnet.w3().eth.block_number, own_devnet.manifest_path)
    proc = verify("--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == ExitCode.VERIFY_FAILED and report["verdict"] == "FAIL"
    assert "this devnet was reset since the run" in report["chain_reset"], report
    control.reset(own_devnet.manifest_path)


def test_alignment_is_off_unless_asked(devnet, own_devnet, tmp_path):
    """Pools are re-aligned only on a devnet started with --keep-pools-aligned (never the suite's shared devnet,
    which the security tests use), and only before a run starts."""
    from defai_swarm.api import Swarm
    assert DevnetManifest.load(devnet.manifest_path).keep_pools_aligned is False
    plain = Swarm.from_devnet(devnet.manifest_path, home=tmp_path / "a")
    assert plain.before_run == []
    plain.close()
    data = json.loads(own_devnet.manifest_path.read_text())
    aligned_path = tmp_path / "aligned.json"
    aligned_path.write_text(json.dumps({**data, "keep_pools_aligned": True}))
    aligned = Swarm.from_devnet(aligned_path, home=tmp_path / "b")
    assert len(aligned.before_run) == 1
    aligned.close()


def test_levers_refuse_a_node_that_is_not_the_manifests(own_devnet, tmp_path):
    """A stale manifest and another anvil on its port (same chain id, same unlocked dev accounts, its own state):
    every lever refuses in one line before any write (block 0's hash is not the manifest's), and that node's
    block number and balances are unchanged; reset used to revert its snapshot 0x0, set_price to send first."""
    from defai_swarm.tools.devnet.node import AnvilNode
    from defai_swarm.tools.evm.rpc import connect

    other = AnvilNode(port=free_port(), log_path=tmp_path / "other.log", genesis_timestamp=1_700_000_000).start()
    try:
        w3: Any = connect(other.url)  # (untyped: raw RPC methods and plain addresses)
        manifest = DevnetManifest.load(own_devnet.manifest_path)
        assert w3.eth.get_block(0)["hash"].to_0x_hex() != manifest.genesis_hash
        assert w3.provider.make_request("evm_snapshot", [])["result"] == "0x0"  # what a stale reset would revert to
        bystander = Wallet.devnet(5).address
        w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
            {"from": manifest.deployer, "to": bystander, "value": 10**18}))
        stale = tmp_path / "stale.json"
        stale.write_text(json.dumps({**json.loads(own_devnet.manifest_path.read_text()), "rpc_url": other.url}))

        def state() -> tuple[int, int, int]:
            return w3.eth.block_number, w3.eth.get_balance(bystander), w3.eth.get_transaction_count(manifest.deployer)
        before = state()
        levers = [lambda: control.mine(1, stale), lambda: control.set_price("ETH", 3500, stale),
                  lambda: control.reset(stale), lambda: control.align_pools(stale),
                  lambda: control.mine(1, DevnetManifest.load(stale))]
        for lever in levers:
            with pytest.raises(NotLocalDevnet) as refused:
                lever()
            message = str(refused.value)
            assert "\n" not in message and "genesis" in message and other.url in message, message
            assert state() == before
    finally:
        other.stop()


def test_levers_refuse_a_manifest_whose_anvil_is_gone(own_devnet, tmp_path):
    """Liveness as `swarm devnet ...` checks it: the manifest's anvil process is gone (a stale manifest), so whatever
    answers on its port is not trusted, even with the right chain: refused before any write."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**json.loads(own_devnet.manifest_path.read_text()), "anvil_pid": gone.pid}))
    w3 = own_devnet.w3()
    head = w3.eth.block_number
    for lever in (lambda: control.mine(1, stale), lambda: control.reset(stale), lambda: control.align_pools(stale),
                  lambda: control.set_price("ETH", 3500, stale)):
        with pytest.raises(DevnetError, match=f"anvil process {gone.pid} is not running") as refused:
            lever()
        assert "\n" not in str(refused.value)
    assert w3.eth.block_number == head
