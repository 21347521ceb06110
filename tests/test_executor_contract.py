"""The swap executor contract (`defai_swarm.core.chain`), proven once for every chain on real nodes.

Each test runs against both chains through one harness interface: the EVM executor on the session's
anvil devnet (Uniswap V2), the Solana executor on LiteSVM behind the local JSON-RPC endpoint with the
Jupiter stand-in. Faults are injected on the wire by `defai_swarm.tools.devnet.fault_proxy.FaultProxy` in front
of each node (a JSON-RPC proxy: it works for both chains); crashes are real SIGKILLs of a subprocess at
the executor's named fault points. What landed is counted on the node itself, never through the
executor under test.

The contract:
- an honest swap is `confirmed`, at least min_out arrived, exactly one swap landed;
- a min_out the route cannot give is not confirmed and nothing is signed (no outbox row);
- while a signed transaction's fate is unknown (the send or its answer lost, the node down, the node
  answering lookups of the sent transaction with errors), `execute` raises core RpcUnavailable /
  TxFateUnknown (never `failed`, never another exception); a later `execute` for the same
  (run_id, step) confirms the same signed bytes;
- a process killed after signing or after sending is finished by a fresh executor on the same outbox,
  with the same transaction: never a second one.
- `execute_exact_out` keeps the same contract: exactly amount_out arrives for at most max_in (`spent` is what was
  taken), a max_in the route cannot meet signs nothing, a lost send or answer is settled on the same bytes.
"""
from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from defai_swarm.core.errors import RpcUnavailable, TxFateUnknown
from defai_swarm.store import RunStore
from defai_swarm.tools.devnet.fault_proxy import Fault, FaultProxy

ROOT = Path(__file__).resolve().parents[1]
RUN, STEP = "contract-run", "s1"

# A fresh executor process for one step: loads the chain from its configuration file (its `family`
# picks the adapter), as `Swarm.from_config` does, and swaps. Killed at SWARM_FAULT_KILL_AT.
EXECUTE_SCRIPT = """
import sys
from pathlib import Path
from defai_swarm.chains import adapter_class, read_config
from defai_swarm.store import RunStore
path = Path(sys.argv[1])
adapter = adapter_class(read_config(path)["family"])
chain = adapter.from_config(adapter.config_model.load(path))
executor = chain.executor(RunStore(Path(sys.argv[2])), lambda run_id, kind, payload: None, chain.policy_model())
run_id, step, token_in, token_out = sys.argv[3:7]
amount_in, min_out, slippage_bps = (int(a) for a in sys.argv[7:10])
out = executor.execute(run_id, step, token_in, token_out, amount_in, min_out, slippage_bps)
print("not killed:", out.status, out.reason)
"""


class FaultyNode(FaultProxy):
    """`FaultProxy` plus a node outage that begins at the first send: that send is dropped unanswered
    (`deliver=False`, it never reaches the node) or reaches the node and loses its answer
    (`deliver=True`), and from then on every request is dropped until `clear()`."""

    def __init__(self, upstream: str, send_method: str):
        super().__init__(upstream)
        self.send_method = send_method
        self._outage: str | None = None  # the send's fate once armed: "drop" or "lose_response"
        self.down = False

    def arm_outage(self, deliver: bool) -> None:
        with self._lock:
            self._outage = "lose_response" if deliver else "drop"

    def _take(self, method: str) -> Fault | None:
        with self._lock:
            mode = None
            if self._outage is not None and method == self.send_method:
                mode, self._outage, self.down = self._outage, None, True
            elif self.down:
                mode = "drop"
            if mode is not None:
                self.stats.injected[mode] = self.stats.injected.get(mode, 0) + 1
                return Fault(mode, remaining=-1)
        return super()._take(method)

    def clear(self) -> None:
        super().clear()
        with self._lock:
            self._outage, self.down = None, False


class Harness:
    """One chain as the contract tests see it. Subclasses fill in the chain-specific parts."""

    family: str
    token_in: str
    token_out: str
    amount_in: int
    slippage_bps: int
    kill_suffix: str  # what the executor appends to the step in its fault point names
    lookup_method: str  # the JSON-RPC method that tells whether a sent transaction landed
    node: FaultyNode
    config_path: Path  # the chain's configuration, pointing at the node directly (for subprocesses)

    def __init__(self, tmp_path: Path):
        self.store = RunStore(tmp_path / "runs.sqlite")
        self.store_path = self.store.path
        self.events: list[tuple[str, str, dict]] = []
        self._adapters: list = []

    # -- chain specifics
    def adapter(self):
        """A fresh chain adapter whose every RPC call goes through the fault proxy."""
        raise NotImplementedError

    def landed(self) -> int:
        """Transactions from the wallet that landed since the harness was made, as the node reports them."""
        raise NotImplementedError

    def landed_ok(self, tx_id: str) -> bool:
        """The node has this transaction landed without error."""
        raise NotImplementedError

    def balance_out(self) -> int:
        """The wallet's balance of the output token, read on the node directly."""
        raise NotImplementedError

    # -- shared
    def record(self, run_id: str, kind: str, payload: dict) -> None:
        self.events.append((run_id, kind, payload))

    def executor(self, adapter=None):
        adapter = adapter or self.adapter()
        return adapter.executor(self.store, self.record, adapter.policy_model())

    def quote_out(self) -> int:
        return self.adapter().quote(self.token_in, self.token_out, self.amount_in).amount_out

    def execute(self, executor, min_out: int):
        return executor.execute(RUN, STEP, self.token_in, self.token_out, self.amount_in, min_out, self.slippage_bps)

    def quote_in(self, amount_out: int) -> int:
        return self.adapter().quote_exact_out(self.token_in, self.token_out, amount_out).amount_in

    def execute_exact_out(self, executor, amount_out: int, max_in: int):
        return executor.execute_exact_out(RUN, STEP, self.token_in, self.token_out, amount_out, max_in,
                                          self.slippage_bps)

    def signed_events(self) -> list[str]:
        return [p["event"] for _, kind, p in self.events if kind == "tx" and p.get("event") == "signed"]

    def inject(self, fault: str) -> None:
        if fault == "send_lost":  # every send is dropped before it reaches the node, until cleared
            self.node.inject("drop", {self.node.send_method}, times=-1)
        elif fault == "response_lost":  # every send reaches the node; its answer is lost
            self.node.inject("lose_response", {self.node.send_method}, times=-1)
        elif fault == "node_down_send_lost":
            self.node.arm_outage(deliver=False)
        elif fault == "node_down_send_delivered":
            self.node.arm_outage(deliver=True)
        elif fault == "lookup_rpc_error":  # the node is up, but answers every lookup of the sent tx with an error
            self.node.inject("rpc_error", {self.lookup_method}, times=-1)
        elif fault == "lookup_rate_limited":  # ... or with HTTP 429, as a public RPC provider does
            self.node.inject("rate_limit", {self.lookup_method}, times=-1)
        else:
            raise ValueError(fault)
        self.patience(silenced=True)

    def clear(self) -> None:
        """The node is back: every fault cleared, and a transaction's fate waited for patiently again."""
        self.node.clear()
        self.patience(silenced=False)

    def patience(self, silenced: bool) -> None:
        """How long the senders wait for a transaction's fate: briefly while a fault silences the node (the wait
        ends only by giving up, whatever the machine's speed), long otherwise (a loaded machine may take seconds
        to confirm). Chains whose sender gives up on its own need nothing here."""

    def kill_point(self, when: str) -> str:
        return f"{when}:{STEP}{self.kill_suffix}"

    def run_killed(self, kill_at: str, min_out: int) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k not in ("SWARM_PRIVATE_KEY", "SWARM_SOLANA_KEYPAIR")}
        env["SWARM_FAULT_KILL_AT"] = kill_at
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        args = [sys.executable, "-c", EXECUTE_SCRIPT, str(self.config_path), str(self.store_path), RUN, STEP,
                self.token_in, self.token_out, str(self.amount_in), str(min_out), str(self.slippage_bps)]
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=90, cwd=ROOT)

    def close(self) -> None:
        for adapter in self._adapters:
            adapter.close()
        self.node.stop()


class EvmHarness(Harness):
    family, token_in, token_out, slippage_bps, kill_suffix = "evm", "ETH", "USDC", 50, ":swap"
    lookup_method = "eth_getTransactionReceipt"
    amount_in = 10**18  # 1 ETH: no approval, so the swap is the wallet's only transaction
    amount_out = 1_000 * 10**6  # exact-output swaps: 1000 USDC for at most max_in ETH (the unused ETH is refunded)

    def __init__(self, tmp_path: Path, devnet, w3):
        super().__init__(tmp_path)
        from defai_swarm.tools.evm.tokens import TokenRegistry
        from defai_swarm.tools.evm.wallet import Wallet

        self.devnet, self.w3 = devnet, w3  # w3: straight to anvil, for counting
        self.wallet = Wallet.devnet(1)  # the wallet `EvmChain.from_config` uses on a local devnet
        self.usdc = TokenRegistry.from_manifest(devnet.manifest).resolve(self.token_out)
        self.config_path = Path(devnet.manifest_path)
        self.node = FaultyNode(devnet.manifest.rpc_url, "eth_sendRawTransaction").start()
        self.nonce0 = w3.eth.get_transaction_count(self.wallet.address, "latest")

    def adapter(self):
        from defai_swarm.tools.evm.chain import EvmChain
        from defai_swarm.tools.evm.rpc import connect

        adapter = EvmChain(self.devnet.manifest, self.wallet, w3=connect(self.node.url, timeout=5))
        self._adapters.append(adapter)
        return adapter

    def landed(self) -> int:
        return self.w3.eth.get_transaction_count(self.wallet.address, "latest") - self.nonce0

    def landed_ok(self, tx_id: str) -> bool:
        from web3.exceptions import TransactionNotFound

        try:
            return self.w3.eth.get_transaction_receipt(tx_id)["status"] == 1
        except TransactionNotFound:
            return False

    def balance_out(self) -> int:
        from defai_swarm.tools.evm import erc20

        return erc20.balance_of(self.w3, self.usdc, self.wallet.address)


class SolanaHarness(Harness):
    family, token_in, token_out, slippage_bps, kill_suffix = "solana", "SOL", "USDC", 100, ":swap#0"
    lookup_method = "getSignatureStatuses"
    amount_in = 10**9  # 1 SOL
    amount_out = 100 * 10**6  # exact-output swaps: 100 USDC

    def __init__(self, tmp_path: Path):
        super().__init__(tmp_path)
        from defai_swarm.tools.devnet.solana.hermes_standin import HermesStandIn
        from defai_swarm.tools.devnet.solana.jupiter_standin import JupiterStandIn
        from defai_swarm.tools.devnet.solana.litesvm_rpc import LocalSolanaRpc
        from defai_swarm.tools.devnet.solana.world import DevnetWorld
        from defai_swarm.tools.solana.config import SolanaChainConfig
        from defai_swarm.tools.solana.spl import ata_address
        from defai_swarm.tools.solana.wallet import SolanaWallet

        # The devnet's world (funded wallet, USDC mint, deep SOL/USDC pool), in this process, fresh per test.
        self.wallet = SolanaWallet.generate()
        self.world = DevnetWorld.build(self.wallet.pubkey)
        self.rpc = LocalSolanaRpc(self.world.svm, genesis_hash=self.world.genesis_hash).start()
        self.jupiter = JupiterStandIn(self.rpc, self.world.pool, self.world.jupiter_mints()).start()
        self.hermes = HermesStandIn().start()
        self.node = FaultyNode(self.rpc.url, "sendTransaction").start()
        wallet_path = self.wallet.write_keypair_file(tmp_path / "id.json")
        direct = SolanaChainConfig(cluster="localnet", rpc_url=self.rpc.url, jupiter_url=self.jupiter.url + "/swap/v1",
                                   hermes_url=self.hermes.url, genesis_hash=self.world.genesis_hash,
                                   tokens=self.world.tokens, pyth_feeds=self.world.pyth_feeds,
                                   wallet_path=str(wallet_path))
        self.config_path = direct.save(tmp_path / "solana.json")
        self.config = direct.model_copy(update={"rpc_url": self.node.url})
        self.out_account = ata_address(self.wallet.pubkey, self.world.usdc)

    def adapter(self):
        from defai_swarm.tools.solana.chain import SolanaChain

        adapter = SolanaChain.from_config(self.config, wallet=self.wallet)
        s = adapter.sender  # a local node: poll fast; how long to wait for a fate: `patience`
        s.poll_seconds, s.rebroadcast_seconds, s.timeout_seconds = 0.01, 0.05, self.PATIENT
        self._adapters.append(adapter)
        return adapter

    PATIENT, SILENCED = 120.0, 1.5  # seconds (the sender's default; a silenced node is given up on within seconds)

    def patience(self, silenced: bool) -> None:
        for adapter in self._adapters:
            adapter.sender.timeout_seconds = self.SILENCED if silenced else self.PATIENT

    def _from_wallet(self) -> list[str]:
        from solders.transaction import VersionedTransaction

        with self.rpc.lock:
            landed = dict(self.rpc.landed)
        me = self.wallet.address
        return [sig for sig, rec in landed.items()
                if str(VersionedTransaction.from_bytes(base64.b64decode(rec["raw"])).message.account_keys[0]) == me]

    def landed(self) -> int:
        return len(self._from_wallet())

    def landed_ok(self, tx_id: str) -> bool:
        with self.rpc.lock:
            rec = self.rpc.landed.get(tx_id)
        return rec is not None and rec["err"] is None

    def balance_out(self) -> int:
        with self.rpc.lock:
            return int(self.rpc.rpc_getTokenAccountBalance(str(self.out_account))["value"]["amount"])

    def close(self) -> None:
        super().close()
        for server in (self.jupiter, self.hermes, self.rpc):
            server.close()


@pytest.fixture(params=[pytest.param("evm", marks=pytest.mark.devnet), "solana"])
def harness(request, tmp_path):
    if request.param == "evm":
        w3 = request.getfixturevalue("chain")  # the session anvil devnet, snapshot before and reverted after
        h: Harness = EvmHarness(tmp_path, request.getfixturevalue("devnet"), w3)
    else:
        h = SolanaHarness(tmp_path)
    yield h
    h.close()


def assert_one_swap_confirmed(h: Harness, out, min_out: int, balance_before: int, tx_id: str | None = None):
    """Confirmed, at least min_out arrived (on chain, not just in the outcome), and exactly one swap landed:
    the transaction in the outbox row, which is the only row."""
    assert out.status == "confirmed", out.reason
    assert out.received is not None and out.received >= min_out > 0
    assert h.balance_out() - balance_before == out.received
    rows = h.store.sent_ids(RUN)
    assert len(rows) == 1 and out.tx_ids() == rows, (out.tx_ids(), rows)
    if tx_id is not None:
        assert rows == [tx_id]
    assert h.landed_ok(rows[0])
    assert h.landed() == 1


def test_honest_swap_confirms_once(harness):
    h = harness
    min_out = h.quote_out() * 99 // 100
    before = h.balance_out()
    out = h.execute(h.executor(), min_out)
    assert_one_swap_confirmed(h, out, min_out, before)
    assert h.signed_events() == ["signed"]
    assert not h.node.stats.injected  # no fault was in play


def test_min_out_above_the_route_signs_nothing(harness):
    h = harness
    best = h.quote_out()
    before = h.balance_out()
    out = h.execute(h.executor(), best + 1)  # one base unit more than the route gives
    assert out.status in ("refused", "failed")
    assert out.reason and "min_out" in out.reason, out.reason
    assert out.received is None
    assert h.store.sent_ids(RUN) == [] and not h.store.has_signed(RUN, f"{STEP}:")
    assert h.signed_events() == []
    assert h.landed() == 0 and h.balance_out() == before
    assert h.node.stats.forwarded.get(h.node.send_method, 0) == 0  # nothing was even offered to the node


FAULTS = ["send_lost", "response_lost", "node_down_send_lost", "node_down_send_delivered", "lookup_rpc_error",
          "lookup_rate_limited"]


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_during_send_never_signs_twice(harness, fault):
    """Either the executor settles it on the same signed bytes, or it raises (the fate is unknown) and
    a second `execute` for the same step, with the fault cleared, confirms that same transaction."""
    h = harness
    min_out = h.quote_out() * 99 // 100
    before = h.balance_out()
    executor = h.executor()
    h.inject(fault)
    try:
        out, raised = h.execute(executor, min_out), None
    except Exception as exc:  # which exception it is, is what this test checks
        out, raised = None, exc
    assert raised is None or isinstance(raised, (RpcUnavailable, TxFateUnknown)), (
        f"execute raised {type(raised).__module__}.{type(raised).__name__}: {raised}; the contract allows only "
        f"an outcome or defai_swarm.core.errors RpcUnavailable / TxFateUnknown while a signed tx's fate is unknown")
    assert h.node.stats.injected, "the fault was never exercised"
    rows = h.store.sent_ids(RUN)
    assert len(rows) == 1, rows  # signed once, recorded before it was sent
    tx_id = rows[0]
    sends = h.node.stats.forwarded.get(h.node.send_method, 0)
    if fault.startswith("node_down"):
        assert raised is not None, f"the node was down with a signed tx in flight, but execute returned {out}"
    if raised is not None:
        assert out is None and h.store.sent_ids(RUN) == [tx_id]
        # delivered or not, the node decides: the transaction is there exactly when a send reached the node
        assert h.landed() == (1 if sends else 0)
        if fault in ("send_lost", "node_down_send_lost"):
            assert sends == 0 and h.landed() == 0
        else:
            assert sends >= 1 and h.landed_ok(tx_id)
        h.clear()  # the node is back
        out = h.execute(executor, min_out)  # a second execute for the same (run, step), as `Swarm.resume` does
    assert_one_swap_confirmed(h, out, min_out, before, tx_id)
    assert h.signed_events() == ["signed"]  # the resume signed nothing


@pytest.mark.parametrize("when", ["after_sign", "after_send"])
def test_killed_executor_is_finished_with_the_same_transaction(harness, when):
    h = harness
    min_out = h.quote_out() * 99 // 100
    before = h.balance_out()
    proc = h.run_killed(h.kill_point(when), min_out)
    assert proc.returncode == -9, proc.stdout + proc.stderr  # SIGKILLed at the fault point
    rows = h.store.sent_ids(RUN)
    assert len(rows) == 1, rows  # recorded before it was broadcast
    assert h.landed() == (0 if when == "after_sign" else 1)
    out = h.execute(h.executor(), min_out)  # a fresh executor in this process, on the same outbox
    assert_one_swap_confirmed(h, out, min_out, before, rows[0])
    assert h.signed_events() == []  # this process signed nothing: it finished the killed one's transaction


def test_fault_proxy_speaks_both_chains(harness):
    """The fault tool itself: it forwards this chain's JSON-RPC and counts what it injects."""
    h = harness
    h.node.inject("drop", None, times=1)
    assert h.quote_out() > 0  # a read survives one dropped connection (bounded retries)
    assert h.node.stats.injected == {"drop": 1} and sum(h.node.stats.forwarded.values()) >= 1


@pytest.mark.devnet
def test_evm_transaction_not_mined_in_time_stays_open(request, tmp_path):
    """A sent transaction that is not mined within the wait may still land: the executor must say its fate is
    unknown (never `failed`), and the resume confirms the same transaction once it is mined."""
    from defai_swarm.core.errors import TxFateUnknown

    w3 = request.getfixturevalue("chain")
    h = EvmHarness(tmp_path, request.getfixturevalue("devnet"), w3)
    try:
        adapter = h.adapter()
        adapter.sender.timeout_seconds = 1.0
        min_out = h.quote_out() * 99 // 100
        before = h.balance_out()
        w3.provider.make_request("evm_setAutomine", [False])
        try:
            with pytest.raises(TxFateUnknown, match="not mined within"):
                h.execute(h.executor(adapter), min_out)
            assert h.landed() == 0 and len(h.store.sent_ids(RUN)) == 1
            w3.provider.make_request("evm_mine", [])
        finally:
            w3.provider.make_request("evm_setAutomine", [True])
        out = h.execute(h.executor(), min_out)
        assert_one_swap_confirmed(h, out, min_out, before, tx_id=h.store.sent_ids(RUN)[0])
        assert h.signed_events() == ["signed"]
    finally:
        h.close()


def assert_exact_out_confirmed(h: Harness, out, amount_out: int, needed: int, max_in: int, balance_before: int,
                               tx_id: str | None = None):
    assert_one_swap_confirmed(h, out, amount_out, balance_before, tx_id)
    assert out.amount_in == max_in and out.min_out == amount_out
    assert out.spent is not None and needed <= out.spent <= max_in, (needed, out.spent, max_in)


def test_exact_out_swap_confirms_once(harness):
    h = harness
    needed = h.quote_in(h.amount_out)
    max_in = needed * 101 // 100
    before = h.balance_out()
    out = h.execute_exact_out(h.executor(), h.amount_out, max_in)
    assert_exact_out_confirmed(h, out, h.amount_out, needed, max_in, before)
    assert out.spent == needed  # nothing else traded meanwhile: the route took what it quoted
    assert out.received == h.amount_out
    assert h.signed_events() == ["signed"]


def test_exact_out_max_in_below_the_route_signs_nothing(harness):
    h = harness
    needed = h.quote_in(h.amount_out)
    before = h.balance_out()
    out = h.execute_exact_out(h.executor(), h.amount_out, needed - 1)  # one base unit less than the route needs
    assert out.status in ("refused", "failed")
    assert out.reason and "max_in" in out.reason, out.reason
    assert out.received is None and out.spent is None
    assert h.store.sent_ids(RUN) == [] and not h.store.has_signed(RUN, f"{STEP}:")
    assert h.signed_events() == [] and h.landed() == 0 and h.balance_out() == before
    assert h.node.stats.forwarded.get(h.node.send_method, 0) == 0


@pytest.mark.parametrize("fault", ["response_lost", "node_down_send_delivered"])
def test_exact_out_fault_during_send_never_signs_twice(harness, fault):
    h = harness
    needed = h.quote_in(h.amount_out)
    max_in = needed * 101 // 100
    before = h.balance_out()
    executor = h.executor()
    h.inject(fault)
    try:
        out, raised = h.execute_exact_out(executor, h.amount_out, max_in), None
    except Exception as exc:  # which exception it is, is what this test checks
        out, raised = None, exc
    assert raised is None or isinstance(raised, (RpcUnavailable, TxFateUnknown)), repr(raised)
    assert h.node.stats.injected, "the fault was never exercised"
    rows = h.store.sent_ids(RUN)
    assert len(rows) == 1, rows
    if fault.startswith("node_down"):
        assert raised is not None
    if raised is not None:
        assert h.landed() == 1 and h.landed_ok(rows[0])  # the send reached the node
        h.clear()
        out = h.execute_exact_out(executor, h.amount_out, max_in)
    assert_exact_out_confirmed(h, out, h.amount_out, needed, max_in, before, rows[0])
    assert h.signed_events() == ["signed"]
