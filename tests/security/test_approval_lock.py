"""Issue 24, finding 5, on the real devnet: processes on one wallet swapping the same ERC-20.

An exact approval is overwritten, not added to: process A approves its amount, process B approves its own, and A's
swap then finds B's allowance (`TRANSFER_FROM_FAILED` on chain, or a failed simulation). The approve-then-swap of
one token must be serialised across processes, as the nonces are (`defai_swarm.tools.evm.tx.NonceManager`).

The processes are real (`subprocess`), share `SWARM_LEDGER` (where the wallet's locks live) and are released by a
file once every one of them is ready; no sleeps decide the order.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from defai_swarm.tools.evm import erc20
from defai_swarm.tools.evm.wallet import Wallet

ROOT = Path(__file__).resolve().parents[2]

WORKER = r"""
import json, sys, time
from pathlib import Path
from defai_swarm.store import RunStore
from defai_swarm.tools.devnet.manifest import DevnetManifest
from defai_swarm.tools.evm.executor import SwapExecutor
from defai_swarm.tools.evm.rpc import connect
from defai_swarm.tools.evm.tokens import TokenRegistry
from defai_swarm.tools.evm.tx import TxSender
from defai_swarm.tools.evm.uniswap import UniswapV2
from defai_swarm.tools.evm.wallet import Wallet

manifest = DevnetManifest.load(Path(sys.argv[1]))
home, go, swaps, amount = Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
w3 = connect(manifest.rpc_url)
registry = TokenRegistry.from_manifest(manifest)
uniswap = UniswapV2.from_manifest(w3, manifest, registry)
executor = SwapExecutor(uniswap, TxSender(w3, Wallet.devnet(1)), RunStore(home / "runs.sqlite"))
usdc, eth = registry.resolve("USDC"), registry.resolve("ETH")
print("ready", flush=True)
while not go.exists():  # released together, once every process is ready
    time.sleep(0.002)
for i in range(swaps):
    out = executor.execute(home.name, f"swap_{i}", usdc, eth, usdc.to_base(amount), 1)
    print(out.model_dump_json(), flush=True)
"""

PROCESSES, SWAPS_EACH = 2, 3


@pytest.fixture
def shared_ledger(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "shared-ledger" / "ledger.sqlite"
    monkeypatch.setenv("SWARM_LEDGER", str(path))
    return path


def test_processes_on_one_wallet_swapping_one_token_never_overwrite_each_other_s_approval(
        chain, devnet, registry, tmp_path, shared_ledger):
    wallet = Wallet.devnet(1)
    usdc = registry.resolve("USDC")
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if k not in ("SWARM_PRIVATE_KEY", "SWARM_FAULT_KILL_AT")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    homes = [tmp_path / f"p{i}" for i in range(PROCESSES)]
    for home in homes:
        home.mkdir()
    n = chain.eth.get_transaction_count(wallet.address)
    usdc_before = erc20.balance_of(chain, usdc, wallet.address)
    amounts = [str(100 + 7 * i) for i in range(PROCESSES)]  # distinct: an overwritten approval cannot fit by luck
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(devnet.manifest_path), str(home), str(go),
                               str(SWAPS_EACH), amount], env=env, cwd=ROOT, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for home, amount in zip(homes, amounts, strict=True)]
    try:
        for p in procs:  # the barrier: every process has built its executor
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    finally:
        go.touch()
    done = [p.communicate(timeout=240) for p in procs]
    for p, (_, err) in zip(procs, done, strict=True):
        assert p.returncode == 0, err[-3000:]
    outcomes = [json.loads(line) for out, _ in done for line in out.splitlines() if line.startswith("{")]
    assert len(outcomes) == PROCESSES * SWAPS_EACH
    assert [o["status"] for o in outcomes] == ["confirmed"] * len(outcomes), [o["reason"] for o in outcomes]
    sent = [h for o in outcomes for h in (o["approve_tx"], o["swap_tx"], o["revoke_tx"]) if h]
    assert all(chain.eth.get_transaction_receipt(h)["status"] == 1 for h in sent)  # nothing reverted on chain
    assert not any(o["revoke_tx"] for o in outcomes)
    assert chain.eth.get_transaction_count(wallet.address) == n + len(sent)
    spent = sum(usdc.to_base(a) for a in amounts) * SWAPS_EACH
    assert usdc_before - erc20.balance_of(chain, usdc, wallet.address) == spent
    assert erc20.allowance(chain, usdc, wallet.address, devnet.manifest.router) == 0
