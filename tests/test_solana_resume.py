"""A Solana run killed at every step boundary resumes to exactly one swap.

"swap 1 SOL to USDC, max 1% slippage" runs through `Swarm.from_config(<devnet config.json>)` in a
subprocess that is SIGKILLed at a named fault point (SWARM_FAULT_KILL_AT); `Swarm.resume` in this
process finishes the run on the same local Solana devnet (a real `SolanaDevnet` process: LiteSVM
behind JSON-RPC, the Jupiter and Hermes stand-ins). What landed is read on the devnet: the wallet's
SOL went down by exactly 1 SOL plus the fees of the one swap and the one anchor, and its USDC went up
by the swap's received amount once.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from defai_swarm.api import Swarm
from defai_swarm.audit import verify_log
from defai_swarm.tools.solana.chain import SolanaChain

ROOT = Path(__file__).resolve().parents[1]
INTENT = "swap 1 SOL to USDC, max 1% slippage"
RUN = "crash-run"
LAMPORTS = 10**9

CRASH_SCRIPT = f"""
import sys
from pathlib import Path
from defai_swarm.api import Swarm
swarm = Swarm.from_config(Path(sys.argv[1]), home=Path(sys.argv[2]))
result = swarm.run({INTENT!r}, run_id={RUN!r})
print("not killed:", result.status)
"""

KILL_POINTS = [  # every step boundary of the run: plan, both price reads, risk, sign, send, the swap task
    "after_plan", "after_task:price_sol", "after_task:price_usdc", "after_task:risk_1",
    "after_sign:swap_1:swap#0", "after_send:swap_1:swap#0", "after_task:swap_1"]


@pytest.fixture(scope="module")
def devnet(solana_devnet):
    """The session's Solana devnet (tests/conftest.py): every check below is on what this run moved."""
    return solana_devnet


def test_an_unkilled_run_is_the_baseline(devnet, tmp_path):
    """The same intent without a kill: the plan has the task ids the kill points name, and it is done."""
    swarm = Swarm.from_config(devnet.paths.config, home=tmp_path)
    try:
        result = swarm.run(INTENT, run_id=RUN)
    finally:
        swarm.close()
    assert result.status == "done", result.summary()
    assert [t.id for t in result.plan.task_graph.tasks] == ["price_sol", "price_usdc", "risk_1", "swap_1"]
    assert result.tx_hashes == [result.tasks["swap_1"]["outcome"]["signature"]]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_killed_run_resumes_to_exactly_one_swap(devnet, tmp_path, kill_at):
    config = devnet.paths.config
    watcher = SolanaChain.from_config(devnet.config)  # the devnet wallet's balances, read on the devnet
    try:
        sol0, usdc0 = watcher.balance_of("SOL"), watcher.balance_of("USDC")
    finally:
        watcher.close()

    env = {k: v for k, v in os.environ.items() if k not in ("SWARM_SOLANA_KEYPAIR", "SWARM_MODEL")}
    env["SWARM_FAULT_KILL_AT"] = kill_at
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(config), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == -9, proc.stdout + proc.stderr  # SIGKILLed at the fault point

    swarm = Swarm.from_config(config, home=tmp_path)
    try:
        signed_before = [e.payload["signature"] for e in swarm.auditor.log.entries(RUN)
                         if e.kind == "tx" and e.payload["event"] == "signed"]
        result = swarm.resume(RUN)
        assert result.status == "done", result.summary()
        entries = swarm.auditor.log.entries(RUN)
        signed = [e.payload["signature"] for e in entries if e.kind == "tx" and e.payload["event"] == "signed"]
        anchored = swarm.auditor.anchor_for(RUN)
        assert anchored is not None, "the resumed run was not anchored"
        note, anchor = anchored
        audit = verify_log(swarm.auditor.log, RUN, anchor_checker=swarm.chain.anchor_checker(swarm.chain.wallet_address),
                           checkpoint_note=note, anchor=anchor)
        # the killed process's entries and the resumed ones form one valid log, anchored on the devnet
        assert audit.ok, audit.reason
        assert any(name == "anchor" and ok for name, ok, _ in audit.checks), audit.checks
        outcome = result.tasks["swap_1"]["outcome"]
        signature = outcome["signature"]
        swap_tx, anchor_tx = swarm.chain.rpc.transaction(signature), swarm.chain.rpc.transaction(anchor["tx_id"])
        sol1, usdc1 = swarm.chain.balance_of("SOL"), swarm.chain.balance_of("USDC")
    finally:
        swarm.close()

    # one transaction signed for the swap, across both processes; the killed one's, if it got that far
    assert signed == [signature] and result.tx_hashes == [signature]
    expect_signed_before = kill_at.startswith(("after_sign", "after_send")) or kill_at == "after_task:swap_1"
    assert signed_before == ([signature] if expect_signed_before else [])
    assert outcome["attempts"] == 1 and outcome["expired"] == []
    # on the devnet: exactly one swap's worth moved, and the wallet paid only the swap's and the anchor's fees
    assert swap_tx is not None and swap_tx.err is None and anchor_tx is not None and anchor_tx.err is None
    received = int(outcome["received"])
    assert received >= int(outcome["min_out"]) > 0
    assert usdc1 - usdc0 == received
    assert sol0 - sol1 == LAMPORTS + swap_tx.fee + anchor_tx.fee
