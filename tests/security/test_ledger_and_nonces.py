"""Issue 12, findings 8, 9, 14 and 18, reproduced on the real devnet.

- 8: several processes on one wallet: no "nonce too low", and a broadcast the node refused neither
  stays listed as sent nor keeps its spend reservation (the ledger total is what moved).
- 9: the daily cap is the wallet's (chain identity + genesis, wallet), shared by every state directory.
- 14: a swap that fails after its exact approval landed takes the approval back (allowance 0).
- 18: a run killed after signing, whose nonce another run then used, resumes to `failed` with the
  transaction dropped (not listed) and its reservation released; nothing is re-signed.

Every test points `SWARM_LEDGER` (the shared ledger, and the nonce locks next to it) at its own file.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from web3 import Web3

from defai_swarm.agents.risk import RiskPolicy
from defai_swarm.api import Swarm
from defai_swarm.core.chain import ChainIdentity
from defai_swarm.ledger import SpendLedger, default_ledger_path
from defai_swarm.store import RunStore
from tests.test_runtime import swap_graph
from defai_swarm.tools.evm import erc20
from defai_swarm.tools.evm.executor import SwapExecutor
from defai_swarm.tools.evm.tx import NonceManager, SignedTx, TxSender, ledger_dir
from defai_swarm.tools.evm.wallet import Wallet

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def ledger_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "shared-ledger" / "ledger.sqlite"
    monkeypatch.setenv("SWARM_LEDGER", str(path))
    return path


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SWARM_PRIVATE_KEY", "SWARM_FAULT_KILL_AT")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def make_swarm(devnet, w3, home: Path, **policy) -> Swarm:
    policy.setdefault("require_honeypot_check", False)
    return Swarm(w3=w3, manifest=devnet.manifest, wallet=Wallet.devnet(1), home=home, policy=RiskPolicy(**policy),
                 audit=False, anchor=False)


def trade_usd(result) -> Decimal:
    return Decimal(result.tasks["risk_1"]["decision"]["trade_usd"])


# -- finding 8: several processes on one wallet ------------------------------------------------------------

WORKER = r"""
import json, os, sys, time
from decimal import Decimal
from pathlib import Path
from defai_swarm.agents.risk import RiskPolicy
from defai_swarm.api import Swarm
from tests.test_runtime import swap_graph
from defai_swarm.tools.devnet.manifest import DevnetManifest
from defai_swarm.tools.evm.rpc import connect
from defai_swarm.tools.evm.wallet import Wallet

manifest = DevnetManifest.load(Path(sys.argv[1]))
home, go, swaps, cap = Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), Decimal(sys.argv[5])
policy = RiskPolicy(daily_cap_usd=cap, require_honeypot_check=False, max_slippage_bps=100)
swarm = Swarm(w3=connect(manifest.rpc_url), manifest=manifest, wallet=Wallet.devnet(1), home=home, policy=policy,
              audit=False, anchor=False)
Path(f"{go}.ready.{os.getpid()}").touch()  # built: the test starts every worker at once when all are ready
while not go.exists():  # every worker starts swapping at the same moment
    time.sleep(0.002)
for _ in range(swaps):
    r = swarm.execute(swap_graph("ETH", "USDC", "0.01", slippage_bps=100))
    print(json.dumps({"status": r.status, "tx_hashes": r.tx_hashes, "reasons": r.reasons, "tasks": r.tasks},
                     default=str), flush=True)
swarm.close()
"""

PROCESSES, SWAPS_EACH = 4, 6


def test_swarm_processes_on_one_wallet_never_collide_on_nonces_and_the_ledger_is_what_moved(
        chain, devnet, tmp_path):
    """Four `swarm` processes, one wallet, one state directory, started at the same instant: every swap lands or
    is refused by the cap, none fails on a nonce, and the cap's total is exactly what the landed swaps moved."""
    home, go = tmp_path / "home", tmp_path / "go"
    wallet = Wallet.devnet(1)
    cap = Decimal(450)  # each swap is 0.01 ETH (~$30): about 15 of the 24 fit
    n = chain.eth.get_transaction_count(wallet.address)
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(devnet.manifest_path), str(home), str(go),
                               str(SWAPS_EACH), str(cap)], env=subprocess_env(), cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(PROCESSES)]
    while len(list(tmp_path.glob("go.ready.*"))) < PROCESSES and all(p.poll() is None for p in procs):
        time.sleep(0.05)  # imports and Swarm construction, however long they take here (a worker that died: below)
    go.touch()
    outputs = [p.communicate(timeout=240) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    results = [json.loads(line) for out, _ in outputs for line in out.splitlines() if line.startswith("{")]
    assert len(results) == PROCESSES * SWAPS_EACH

    reasons = [r for res in results for r in res["reasons"]]
    assert not [r for r in reasons if "nonce" in r.lower()], reasons
    done = [r for r in results if r["status"] == "done"]
    refused = [r for r in results if r["status"] == "refused"]
    assert len(done) + len(refused) == len(results), [(r["status"], r["reasons"]) for r in results]
    assert done and refused  # the cap was reached, and it was shared by the processes
    assert all("daily_cap_usd" in r["tasks"]["swap_1"]["reason"] for r in refused)

    moved = sum(Decimal(r["tasks"]["risk_1"]["decision"]["trade_usd"]) for r in done)
    landed = [h for r in done for h in r["tx_hashes"]]
    assert len(landed) == len(done)
    assert all(chain.eth.get_transaction_receipt(h)["status"] == 1 for h in landed)
    assert chain.eth.get_transaction_count(wallet.address) == n + len(done)  # nothing else was sent
    swarm = make_swarm(devnet, chain, home, daily_cap_usd=cap, max_slippage_bps=100)
    try:
        assert swarm.deps.ledger.spent_today() == moved <= cap
    finally:
        swarm.close()


def test_a_broadcast_the_node_refused_is_not_listed_and_releases_its_reservation(chain, devnet, tmp_path):
    """Another program spends the wallet's nonce between our signing and our broadcast: the node refuses our
    bytes ("nonce too low"). Nothing of the swap can land, so it is not a sent transaction and the cap gets the
    reservation back."""
    wallet = Wallet.devnet(1)
    swarm = make_swarm(devnet, chain, tmp_path / "home")
    record_signed = swarm.store.record_signed
    taken: list[int] = []

    def record_then_lose_the_nonce(run_id, step, signed):
        record_signed(run_id, step, signed)
        if step.endswith(":swap"):  # a wallet app on the same key sends with our nonce first (anvil signs it)
            spent_nonce = chain.eth.send_transaction({"from": wallet.address, "to": wallet.address, "value": 1,
                                                      "nonce": signed.nonce})
            chain.eth.wait_for_transaction_receipt(spent_nonce, timeout=120)  # spent means mined, before our send
            taken.append(signed.nonce)

    swarm.store.record_signed = record_then_lose_the_nonce  # pyright: ignore[reportAttributeAccessIssue]
    try:
        result = swarm.execute(swap_graph("ETH", "USDC", "1"))
        spent = swarm.deps.ledger.spent_today()
    finally:
        swarm.close()
    assert taken, "the swap was never signed"
    assert result.status == "failed", result.summary()
    reason = result.tasks["swap_1"]["reason"]
    assert "rejected" in reason and "nothing of this swap landed" in reason, reason
    assert result.tx_hashes == []
    assert swarm.store.dropped(result.run_id)[0]["nonce"] == taken[0]
    assert spent == 0


# -- finding 9: one cap per wallet and chain, whatever the state directory -------------------------------------

def test_two_state_directories_on_one_wallet_share_one_daily_cap(chain, devnet, tmp_path, ledger_path):
    policy = {"daily_cap_usd": Decimal(2000), "max_slippage_bps": 100}
    first = make_swarm(devnet, chain, tmp_path / "home-a", **policy)
    second = make_swarm(devnet, chain, tmp_path / "home-b", **policy)
    try:
        a = first.execute(swap_graph("ETH", "USDC", "0.5", slippage_bps=100))  # ~$1,500
        b = second.execute(swap_graph("ETH", "USDC", "0.5", slippage_bps=100))
    finally:
        first.close()
        second.close()
    assert a.status == "done", a.summary()
    assert b.status == "refused", b.summary()
    assert "daily_cap_usd" in b.tasks["swap_1"]["reason"]
    assert b.tx_hashes == []
    ledger = SpendLedger.for_wallet(ledger_path, first.chain.identity, Wallet.devnet(1).address)
    assert ledger.spent_today() == trade_usd(a)


def test_the_ledger_is_keyed_by_chain_identity_genesis_and_wallet(tmp_path):
    path = tmp_path / "ledger.sqlite"
    chain = ChainIdentity(family="evm", chain_id="31337", genesis_hash="0x" + "aa" * 32)
    fresh_devnet = ChainIdentity(family="evm", chain_id="31337", genesis_hash="0x" + "bb" * 32)
    me, other = "0x" + "11" * 20, "0x" + "22" * 20
    a = SpendLedger.for_wallet(path, chain, me, scope="/home/a/.swarm")
    b = SpendLedger.for_wallet(path, chain, me.upper().replace("0X", "0x"), scope="/home/b/.swarm")
    cap = Decimal(100)
    assert a.reserve_spend("run1", "swap_1", Decimal(60), cap) == (True, Decimal(0))
    assert a.reserve_spend("run1", "swap_1", Decimal(60), cap) == (True, Decimal(0))  # idempotent
    # the same run id in another state directory is another reservation, against the same total
    assert b.reserve_spend("run1", "swap_1", Decimal(60), cap) == (False, Decimal(60))
    assert b.reserve_spend("run1", "swap_1", Decimal(40), cap) == (True, Decimal(60))
    assert a.spent_today() == b.spent_today() == Decimal(100)
    assert a.spent_today(exclude=("run1", "swap_1")) == Decimal(40)
    # a fresh devnet (new genesis) and another wallet are other keys
    assert SpendLedger.for_wallet(path, fresh_devnet, me).spent_today() == 0
    assert SpendLedger.for_wallet(path, chain, other).spent_today() == 0
    # a release is kept as history and gives the amount back; the step can reserve again
    a.release_spend("run1", "swap_1")
    assert b.spent_today() == Decimal(40)
    assert [r["released_at"] is not None for r in a.reservations(include_released=True)] == [True, False]
    assert a.reserve_spend("run1", "swap_1", Decimal(60), cap) == (True, Decimal(40))


LEDGER_WORKER = r"""
import sys
from decimal import Decimal
from pathlib import Path
from defai_swarm.core.chain import ChainIdentity
from defai_swarm.ledger import SpendLedger
identity = ChainIdentity(family="evm", chain_id="31337", genesis_hash="0x" + "aa" * 32)
ledger = SpendLedger.for_wallet(Path(sys.argv[1]), identity, "0x" + "11" * 20, scope=sys.argv[2])
ok = sum(ledger.reserve_spend(f"run{i}", "swap_1", Decimal(10), Decimal(250))[0] for i in range(20))
print(ok)
"""


def test_reservations_are_atomic_across_processes(tmp_path):
    path = tmp_path / "ledger.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", LEDGER_WORKER, str(path), f"home{i}"], env=subprocess_env(),
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(6)]
    granted = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        granted.append(int(out.strip()))
    assert sum(granted) == 25  # $250 / $10, never one more
    identity = ChainIdentity(family="evm", chain_id="31337", genesis_hash="0x" + "aa" * 32)
    assert SpendLedger.for_wallet(path, identity, "0x" + "11" * 20).spent_today() == Decimal(250)


def test_the_ledger_lives_outside_every_state_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("SWARM_LEDGER")
    monkeypatch.setenv("SWARM_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_ledger_path() == tmp_path / "data" / "defai-swarm" / "ledger.sqlite"
    assert ledger_dir() == default_ledger_path().parent  # the EVM nonce locks sit next to the ledger
    monkeypatch.setenv("SWARM_LEDGER", str(tmp_path / "elsewhere" / "l.sqlite"))
    assert default_ledger_path() == tmp_path / "elsewhere" / "l.sqlite"
    assert ledger_dir() == tmp_path / "elsewhere"


def test_the_nonce_lock_is_per_chain_and_wallet_and_excludes_other_processes(chain, devnet, ledger_path):
    wallet = Wallet.devnet(1)
    nonces = NonceManager(chain, wallet.address)
    path = nonces.lock_path()
    assert path.parent == ledger_path.parent / "nonces"
    assert devnet.manifest.genesis_hash.lower() in path.name and wallet.address.lower() in path.name
    probe = ("import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR)\n"
             "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); print('free')\n"
             "except BlockingIOError:\n    print('held')\n")
    with nonces.hold():
        held = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=30)
    free = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=30)
    assert (held.stdout.strip(), free.stdout.strip()) == ("held", "free")
    # a nonce recorded for a transaction the node no longer knows (a restart, a revert) does not hold the wallet back
    pending = chain.eth.get_transaction_count(wallet.address, "pending")
    nonces.record_sent(pending + 5, "0x" + "ab" * 32)
    assert NonceManager(chain, wallet.address).reserve() == pending


# -- finding 18: killed after signing, its nonce then used by another run -----------------------------------

KILLED_RUN = r"""
import sys
from pathlib import Path
from defai_swarm.agents.risk import RiskPolicy
from defai_swarm.api import Swarm
from tests.test_runtime import swap_graph
from defai_swarm.tools.devnet.manifest import DevnetManifest
from defai_swarm.tools.evm.rpc import connect
from defai_swarm.tools.evm.wallet import Wallet
manifest = DevnetManifest.load(Path(sys.argv[1]))
swarm = Swarm(w3=connect(manifest.rpc_url), manifest=manifest, wallet=Wallet.devnet(1), home=Path(sys.argv[2]),
              policy=RiskPolicy(require_honeypot_check=False), audit=False, anchor=False)
swarm.execute(swap_graph("ETH", "USDC", "1"), run_id=sys.argv[3])
print("not killed")
"""


def test_a_killed_run_whose_nonce_another_run_used_fails_unlisted_and_releases_its_reservation(
        chain, devnet, tmp_path):
    home, run_id = tmp_path / "home", "killed-after-sign"
    wallet = Wallet.devnet(1)
    n = chain.eth.get_transaction_count(wallet.address)
    proc = subprocess.run([sys.executable, "-c", KILLED_RUN, str(devnet.manifest_path), str(home), run_id],
                          env=subprocess_env(SWARM_FAULT_KILL_AT="after_sign:swap_1:swap"), cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stdout + proc.stderr  # killed between recording and broadcasting
    swarm = make_swarm(devnet, chain, home)
    try:
        killed = swarm.store.signed_for(run_id, "swap_1:swap", SignedTx)
        assert killed is not None and killed.nonce == n
        other = swarm.execute(swap_graph("ETH", "USDC", "0.5"))  # takes nonce n: the node never saw the killed tx
        assert other.status == "done", other.summary()
        assert chain.eth.get_transaction(other.tx_hashes[0])["nonce"] == n
        resumed = swarm.resume(run_id)
        spent = swarm.deps.ledger.spent_today()
    finally:
        swarm.close()
    assert resumed.status == "failed", resumed.summary()
    assert f"nonce {n} was used by another transaction; nothing of this swap landed" in \
        resumed.tasks["swap_1"]["reason"]
    assert killed.hash not in resumed.tx_hashes and resumed.tx_hashes == []
    assert chain.eth.get_transaction_count(wallet.address) == n + 1  # no replacement was signed
    assert spent == trade_usd(other)  # the killed run's reservation was released
    assert [d["tx_hash"] for d in swarm.store.dropped(run_id)] == [killed.hash]  # kept on record, as dropped


# -- finding 14: a failed swap takes its exact approval back --------------------------------------------------

def _executor(chain, uniswap, tmp_path, record=lambda run_id, kind, payload: None):
    store = RunStore(tmp_path / "runs.sqlite")
    return SwapExecutor(uniswap, TxSender(chain, Wallet.devnet(1)), store, record), store


def _front_run(chain, uniswap, registry, usdc_amount: int, tip_gwei: int | None = None) -> str:
    """The attacker (another funded devnet account) buys ETH with USDC, pushing the pool against our USDC->ETH swap."""
    attacker = Wallet.devnet(2)
    usdc, eth = registry.resolve("USDC"), registry.resolve("ETH")
    quote = uniswap.quote(usdc, eth, usdc_amount)
    req = uniswap.swap_tx(quote, 1, attacker.address, chain.eth.get_block("latest")["timestamp"] + 600)
    gwei = 10**9
    tip = (tip_gwei or 2) * gwei
    tx = {"to": Web3.to_checksum_address(req.to), "data": req.data, "value": req.value, "gas": 300_000,
          "nonce": chain.eth.get_transaction_count(attacker.address, "pending"), "chainId": chain.eth.chain_id,
          "type": 2, "maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * tip + 10 * gwei}
    return "0x" + bytes(chain.eth.send_raw_transaction(attacker.sign_transaction(tx).raw_transaction)).hex()


def _attacker_approves(chain, uniswap, registry, amount: int) -> None:
    TxSender(chain, Wallet.devnet(2)).send_and_wait(
        erc20.approve_tx(chain, registry.resolve("USDC"), uniswap.router_address, amount))


def _wait_until(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_a_swap_reverted_by_a_front_run_resets_its_approval_to_zero(chain, uniswap, registry, tmp_path):
    """A sandwich with anvil's automine off: our approval is mined, then the attacker's USDC->ETH buy is ordered in
    front of our swap (higher tip), so our swap reverts at min_out on chain. The executor resets the router's
    allowance to 0 with a recorded `:revoke` transaction."""
    usdc, eth = registry.resolve("USDC"), registry.resolve("ETH")
    me = Wallet.devnet(1).address
    amount = usdc.to_base("3000")
    attack = usdc.to_base("60000")
    _attacker_approves(chain, uniswap, registry, attack)
    executor, store = _executor(chain, uniswap, tmp_path)
    min_out = uniswap.quote(usdc, eth, amount).amount_out * 995 // 1000  # 0.5% slippage
    def pending() -> int:
        return chain.eth.get_transaction_count(me, "pending")

    n = pending()
    outcome: list = []
    runner = threading.Thread(target=lambda: outcome.append(executor.execute("run", "s1", usdc, eth, amount, min_out)))
    chain.provider.make_request("evm_setAutomine", [False])
    try:
        runner.start()
        _wait_until(lambda: pending() == n + 1, "the approval in the pool")
        chain.provider.make_request("evm_mine", [])
        _wait_until(lambda: pending() == n + 2, "the swap in the pool")
        attacker_tx = _front_run(chain, uniswap, registry, attack, tip_gwei=50)
        chain.provider.make_request("evm_mine", [])
        assert chain.eth.get_transaction_receipt(attacker_tx)["status"] == 1
        _wait_until(lambda: pending() == n + 3, "the approval reset in the pool")
        chain.provider.make_request("evm_mine", [])
        runner.join(30)
    finally:
        chain.provider.make_request("evm_setAutomine", [True])
        runner.join(30)
    out = outcome[0]
    assert out.status == "failed" and "reverted" in out.reason, out.reason
    assert chain.eth.get_transaction_receipt(out.swap_tx)["status"] == 0  # a real revert at min_out, on chain
    assert erc20.allowance(chain, usdc, me, uniswap.router_address) == 0
    assert out.revoke_tx and store.sent_ids("run") == [out.approve_tx, out.swap_tx, out.revoke_tx]
    assert chain.eth.get_transaction_receipt(out.revoke_tx)["status"] == 1


def test_a_swap_refused_after_its_approval_landed_resets_the_approval(chain, uniswap, registry, tmp_path):
    """The pool moves between our approval and our swap: the swap's simulation refuses it before signing. The
    approval is reset to 0, and since nothing that moves funds was signed, the step holds no reservation."""
    usdc, eth = registry.resolve("USDC"), registry.resolve("ETH")
    me = Wallet.devnet(1).address
    amount, attack = usdc.to_base("3000"), usdc.to_base("60000")
    _attacker_approves(chain, uniswap, registry, attack)
    events: list[dict] = []

    def record(run_id, kind, payload):
        events.append({"kind": kind, **payload})
        if kind == "tx" and payload.get("event") == "receipt" and payload["step"] == "s1:approve":
            _front_run(chain, uniswap, registry, attack)  # automine: lands right after our approval

    executor, store = _executor(chain, uniswap, tmp_path, record)
    min_out = uniswap.quote(usdc, eth, amount).amount_out * 995 // 1000
    out = executor.execute("run", "s1", usdc, eth, amount, min_out)
    assert out.status == "failed" and "INSUFFICIENT_OUTPUT_AMOUNT" in out.reason, out.reason
    assert out.swap_tx is None and store.signed_for("run", "s1:swap", SignedTx) is None
    assert erc20.allowance(chain, usdc, me, uniswap.router_address) == 0
    assert out.revoke_tx and store.sent_ids("run") == [out.approve_tx, out.revoke_tx]
    assert any(e["kind"] == "approval_revoked" for e in events)
    assert not store.has_signed("run", "s1:")  # allowance steps move nothing: the reservation can go back
