"""An attacker with chain access, on the real devnet: the attacker's tools and what is measured after them.

Used by `benchmarks/bench_reliability.py` (its "attacker: ..." rows). The techniques are those of the tests in
this package (`test_prices_and_approval.py`, `test_audit_forgery.py`, `test_ledger_and_nonces.py`), which keep
their own copies: this module is scenario code, not a fixture library, and the tests do not import it.

The attacker's means are the ones issue 12 grants it:
  - another funded devnet account, sending ordinary transactions signed with its own key (pool moves, front-
    and back-runs, re-anchoring a forged checkpoint);
  - the feed's owner (the deployer) writing a stale or zero round, as a halted or broken feed would answer;
  - control of mining (`evm_setAutomine`, `evm_mine`) to order a sandwich around the user's transaction;
  - write access to the operator's state directory (the audit database, and the signing key beside it).
No other anvil cheatcodes. Snapshots and the wall-clock timestamp only reset the stage between scenarios.

Everything a scenario concludes is read from the chain (balances, blocks, receipts, the mempool) or from the
verifier's exit status, never from the swarm's own report.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from web3 import Web3

from defai_swarm.audit import AuditLog, Signer, SigningKey, checkpoint_hash
from defai_swarm.audit.canonical import dumps as canonical_dumps
from defai_swarm.audit.checkpoint import Checkpoint, origin_for_run, sign_checkpoint
from defai_swarm.audit.log import leaf_data
from defai_swarm.audit.merkle import MerkleTree, leaf_hash
from defai_swarm.core.anchor import AnchorRef
from defai_swarm.tools.devnet.contracts import abi
from defai_swarm.tools.evm import erc20
from defai_swarm.tools.evm.anchor import anchor_on_evm
from defai_swarm.tools.evm.tokens import Token, TokenRegistry
from defai_swarm.tools.evm.tx import TxSender
from defai_swarm.tools.evm.uniswap import UniswapV2
from defai_swarm.tools.evm.wallet import Wallet

ROOT = Path(__file__).resolve().parents[2]
GWEI = 10**9
UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
FEED_ABI = [
    {"name": "latestRoundData", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint80"}, {"name": "", "type": "int256"}, {"name": "", "type": "uint256"},
                 {"name": "", "type": "uint256"}, {"name": "", "type": "uint80"}]},
    {"name": "set_answer", "type": "function", "stateMutability": "nonpayable",
     "inputs": [{"name": "_answer", "type": "int256"}, {"name": "_updated_at", "type": "uint256"}], "outputs": []},
]


# -- the node ----------------------------------------------------------------------------------------------
def rpc(w3, method: str, *params) -> Any:
    answer = w3.provider.make_request(method, list(params))
    if answer.get("error"):
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer.get("result")


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


def wall_clock(w3) -> None:
    """anvil rewinds its clock on `evm_revert`; the next block goes back on wall time (the audit entries carry
    wall time and the anchor window compares the two)."""
    now = int(time.time())
    if w3.eth.get_block("latest")["timestamp"] < now:
        rpc(w3, "evm_setNextBlockTimestamp", now)


class Stage:
    """One devnet state every scenario starts from: `reset()` reverts to it, on wall-clock time, automine on."""

    def __init__(self, w3, snapshot: str | None = None):
        self.w3 = w3
        self.base = snapshot if snapshot is not None else rpc(w3, "evm_snapshot")

    def reset(self) -> None:
        rpc(self.w3, "evm_setAutomine", True)
        if not rpc(self.w3, "evm_revert", self.base):
            raise RuntimeError(f"evm_revert {self.base} failed")
        self.base = rpc(self.w3, "evm_snapshot")  # a revert consumes the snapshot
        wall_clock(self.w3)

    def rebase(self) -> None:
        """What the chain is now becomes the stage (after setting it up)."""
        self.base = rpc(self.w3, "evm_snapshot")


# -- feeds (the deployer owns them) -----------------------------------------------------------------------
def _feed(w3, devnet, pair: str):
    return w3.eth.contract(address=Web3.to_checksum_address(devnet.manifest.feeds[pair].address), abi=FEED_ABI)


def feed_usd(w3, devnet, pair: str) -> Decimal:
    """What the feed answers, read straight from its contract (no library reader, no staleness rule)."""
    answer = _feed(w3, devnet, pair).functions.latestRoundData().call()[1]
    return Decimal(answer).scaleb(-devnet.manifest.feeds[pair].decimals)


def set_feed(w3, devnet, pair: str, usd: Decimal | int, age_seconds: int = 0) -> None:
    """The feed answers `usd`, updated `age_seconds` ago (an old round: a stale feed; 0 USD: a broken one)."""
    now = max(w3.eth.get_block("latest")["timestamp"], int(time.time()))
    scaled = int(Decimal(usd).scaleb(devnet.manifest.feeds[pair].decimals))
    tx = _feed(w3, devnet, pair).functions.set_answer(scaled, now - age_seconds if age_seconds else 0).transact(
        {"from": devnet.manifest.deployer})
    if w3.eth.wait_for_transaction_receipt(tx)["status"] != 1:
        raise RuntimeError(f"set_answer on {pair} reverted")


def redate_feeds(w3, devnet) -> None:
    """Every feed answers what it answers now, dated now (so a long benchmark never reads a stale feed)."""
    for pair in devnet.manifest.feeds:
        set_feed(w3, devnet, pair, feed_usd(w3, devnet, pair))


def oracle_min_out(w3, devnet, registry: TokenRegistry, token_in: str, token_out: str, amount_in: Decimal,
                   slippage_bps: int) -> int:
    """The independent floor: output implied by the feeds alone (not by any pool), less the user's slippage."""
    def usd(symbol: str) -> Decimal:
        token = registry.resolve(symbol)
        return feed_usd(w3, devnet, f"{'ETH' if token.kind in ('native', 'wrapped_native') else token.symbol}/USD")
    out = registry.resolve(token_out)
    expected = int((Decimal(amount_in) * usd(token_in) / usd(token_out)).scaleb(out.decimals))
    return expected * (10_000 - slippage_bps) // 10_000


# -- the attacker's account ----------------------------------------------------------------------------------
def attacker_of(devnet, *not_these: str) -> Wallet:
    """A funded devnet account that is none of `not_these` (the user's wallets): the last one."""
    taken = {a.lower() for a in not_these}
    funded = [a.lower() for a in devnet.manifest.funded_accounts if a.lower() not in taken]
    for i in range(1, 20):
        w = Wallet.devnet(i)
        if w.address.lower() == funded[-1]:
            return w
    raise RuntimeError("no funded devnet account left for the attacker")


def send_as(w3, wallet: Wallet, to: str, data: Any = b"", value: int = 0, tip_gwei: int = 2, gas: int = 400_000,
            wait: bool = True) -> str:
    """An ordinary EIP-1559 transaction signed with `wallet`'s own key; with `wait`, mined and successful."""
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    tip = tip_gwei * GWEI
    tx = {"to": Web3.to_checksum_address(to), "data": data, "value": value, "gas": gas, "type": 2,
          "nonce": w3.eth.get_transaction_count(wallet.address, "pending"), "chainId": w3.eth.chain_id,
          "maxPriorityFeePerGas": tip, "maxFeePerGas": 3 * base + tip}
    tx_hash = "0x" + bytes(w3.eth.send_raw_transaction(wallet.sign_transaction(tx).raw_transaction)).hex()
    if wait and w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] != 1:
        raise RuntimeError(f"the attacker's transaction {tx_hash} reverted")
    return tx_hash


def _deadline(w3) -> int:
    return w3.eth.get_block("latest")["timestamp"] + 600


def dump_eth(w3, uniswap: UniswapV2, registry: TokenRegistry, attacker: Wallet, stable: str, wei_in: int,
             tip_gwei: int = 2, wait: bool = True) -> str:
    """The attacker sells `wei_in` of ETH into the WETH/<stable> pool (ETH gets cheaper there)."""
    path = [registry.resolve("WETH").address, registry.resolve(stable).address]
    data = uniswap.router.encode_abi("swapExactETHForTokens", [1, path, attacker.address, _deadline(w3)])
    return send_as(w3, attacker, uniswap.router_address, data, value=wei_in, tip_gwei=tip_gwei, wait=wait)


def sell_for_eth(w3, uniswap: UniswapV2, registry: TokenRegistry, attacker: Wallet, symbol: str, amount: int,
                 tip_gwei: int = 2, wait: bool = True) -> str:
    """The attacker sells `amount` of a token for ETH (ETH gets dearer in that pool). Its allowance is set first
    (mined at once; call `approve_router` ahead when mining is paused)."""
    token = registry.resolve(symbol)
    if erc20.allowance(w3, token, attacker.address, uniswap.router_address) < amount:
        approve_router(w3, uniswap, registry, attacker, symbol)
    path = [token.address, registry.resolve("WETH").address]
    data = uniswap.router.encode_abi("swapExactTokensForETH", [amount, 1, path, attacker.address, _deadline(w3)])
    return send_as(w3, attacker, uniswap.router_address, data, tip_gwei=tip_gwei, wait=wait)


def approve_router(w3, uniswap: UniswapV2, registry: TokenRegistry, attacker: Wallet, symbol: str) -> None:
    """An unlimited allowance for the router (the attacker is not bound by the library's exact approvals)."""
    token = registry.resolve(symbol)
    contract = w3.eth.contract(address=Web3.to_checksum_address(token.address), abi=abi("TestToken"))
    send_as(w3, attacker, token.address, contract.encode_abi("approve", [uniswap.router_address, 2**256 - 1]))


def amm_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """Uniswap V2's getAmountOut (0.3 % fee)."""
    return amount_in * 997 * reserve_out // (reserve_in * 1000 + amount_in * 997)


def _smallest(lo: int, hi: int, holds: Callable[[int], bool]) -> int:
    """Smallest x in (lo, hi] with holds(x), holds monotone; hi if none below it."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if holds(mid):
            hi = mid
        else:
            lo = mid
    return hi


def push_eth_price(w3, uniswap: UniswapV2, registry: TokenRegistry, attacker: Wallet, stable: str,
                   target: Decimal) -> Decimal:
    """Trade the WETH/<stable> pool (real router swaps from the attacker's account) until one ETH is worth
    `target` there; returns the pool's new spot price."""
    weth, token = registry.resolve("WETH"), registry.resolve(stable)
    r = uniswap.reserves(weth, token)

    def price(e: int, s: int) -> Decimal:
        return token.from_base(s) / weth.from_base(e)
    if target < price(r.reserve_a, r.reserve_b):
        wei = _smallest(0, r.reserve_a * 4, lambda x: price(r.reserve_a + x, r.reserve_b - amm_out(
            x, r.reserve_a, r.reserve_b)) <= target)
        dump_eth(w3, uniswap, registry, attacker, stable, wei)
    else:
        units = _smallest(0, r.reserve_b * 4, lambda x: price(r.reserve_a - amm_out(x, r.reserve_b, r.reserve_a),
                                                              r.reserve_b + x) >= target)
        if erc20.balance_of(w3, token, attacker.address) < units:
            raise RuntimeError(f"the attacker cannot afford to move the {stable} pool to {target}")
        sell_for_eth(w3, uniswap, registry, attacker, stable, units)
    return uniswap.spot_price(weth, token)[0]


# -- a sandwich: the victim's transaction seen in the mempool ---------------------------------------------------
def pending_tx(w3, sender: str, nonce: int) -> dict | None:
    """The mempool's copy of `sender`'s transaction `nonce` (`txpool_content`), or None."""
    for address, txs in (rpc(w3, "txpool_content") or {}).get("pending", {}).items():
        if address.lower() == sender.lower():
            return txs.get(str(nonce))
    return None


def victim_terms(uniswap: UniswapV2, tx: dict) -> tuple[str, list[str], int, int]:
    """(router function, path, amount in, amountOutMin) decoded from a pending router call, as a searcher does."""
    fn, args = uniswap.router.decode_function_input(tx["input"])
    amount_in = int(tx["value"], 16) if fn.fn_name.startswith("swapExactETH") else int(args["amountIn"])
    return fn.fn_name, [str(a) for a in args["path"]], amount_in, int(args["amountOutMin"])


def largest_front_run(reserve_in: int, reserve_out: int, victim_in: int, victim_min_out: int) -> int:
    """The largest input the attacker can trade ahead of the victim, in the victim's direction, that still
    leaves the victim at least its amountOutMin (the most a sandwich can take without making it revert)."""
    def victim_gets(x: int) -> int:
        out = amm_out(x, reserve_in, reserve_out)
        return amm_out(victim_in, reserve_in + x, reserve_out - out)
    if victim_gets(0) < victim_min_out:
        return 0
    return _smallest(0, reserve_in * 4, lambda x: victim_gets(x) < victim_min_out) - 1


# -- measured on the chain -------------------------------------------------------------------------------------
def wallet_txs(w3, address: str, start_block: int) -> list:
    """Every transaction `address` sent in the blocks after `start_block`."""
    return [tx for n in range(start_block + 1, w3.eth.block_number + 1)
            for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]
            if tx["from"].lower() == address.lower()]


def gas_paid(w3, txs: list) -> int:
    total = 0
    for tx in txs:
        receipt = w3.eth.get_transaction_receipt(tx["hash"])
        total += receipt["gasUsed"] * receipt["effectiveGasPrice"]
    return total


def balance(w3, token: Token, owner: str, block: int | str = "latest") -> int:
    if token.is_native:
        return w3.eth.get_balance(Web3.to_checksum_address(owner), block_identifier=block)
    return erc20.balance_of(w3, token, owner, block)


def spent_on_chain(w3, token_in: Token, owner: str, start_block: int) -> int:
    """What `owner` paid of `token_in` since `start_block`, from its balances (gas left out for the native coin)."""
    spent = balance(w3, token_in, owner, start_block) - balance(w3, token_in, owner)
    if token_in.is_native:
        spent -= gas_paid(w3, wallet_txs(w3, owner, start_block))
    return spent


def received_on_chain(w3, token_out: Token, owner: str, start_block: int) -> int:
    """What `owner` received of `token_out` since `start_block`, from its balances: for the native coin, the
    gas and the value it sent itself are added back (nothing else moves the wallet meanwhile)."""
    delta = balance(w3, token_out, owner) - balance(w3, token_out, owner, start_block)
    if token_out.is_native:
        txs = wallet_txs(w3, owner, start_block)
        delta += gas_paid(w3, txs) + sum(int(tx["value"]) for tx in txs)
    return delta


# -- forged audit records ----------------------------------------------------------------------------------------
def _leaf(e: dict) -> bytes:
    return leaf_hash(leaf_data(e["run_id"], e["index"], e["kind"], e["created_at"], e["salt"], e["payload"]))


def _say_nothing_happened(entries: list[dict], wallet: str | None) -> None:
    for e in entries:
        if e["kind"] == "intent" and wallet:
            e["payload"]["wallet"] = wallet
        if e["kind"] == "run_result":
            e["payload"]["tx_hashes"] = []  # "no swap happened"


def edited_bundle(bundle: dict) -> dict:
    """An entry edited, nothing re-signed or re-anchored (the naive forgery)."""
    forged = json.loads(json.dumps(bundle))
    _say_nothing_happened(forged["entries"], None)
    return forged


def forge_bundle(bundle: dict, w3, attacker: Wallet) -> tuple[dict, Signer]:
    """Entries edited, leaves and root recomputed, re-signed with a fresh key under the operator's key name,
    re-anchored by a self-transaction from the attacker's own account: self-consistent throughout."""
    forged = json.loads(json.dumps(bundle))
    entries = forged["entries"]
    _say_nothing_happened(entries, attacker.address)
    tree = MerkleTree(_leaf(e) for e in entries)
    forger = Signer(SigningKey.generate())
    note = sign_checkpoint(Checkpoint(origin=origin_for_run(forged["run_id"]), size=len(entries), root=tree.root()),
                           forger)
    ref = anchor_on_evm(TxSender(w3, attacker), checkpoint_hash(note))
    forged.update(checkpoint=note, checkpoint_hash=checkpoint_hash(note).hex(), vkey=forger.vkey,
                  leaf_hashes=[tree.leaf(i).hex() for i in range(len(entries))], anchor=ref.to_dict())
    return forged, forger


def _open_for_writing(db: Path) -> sqlite3.Connection:
    raw = sqlite3.connect(db)
    for trigger in ("entries_no_update", "entries_no_delete", "checkpoints_no_delete"):
        raw.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    return raw


def edit_log(home: Path, run_id: str, rehash: bool) -> None:
    """Rewrite the run's result in the audit database ("no transaction was sent"), the append-only triggers
    dropped; `rehash`: the entry's leaf hash recomputed too. Nothing re-signed or re-anchored."""
    raw = _open_for_writing(home / "audit" / "audit.db")
    idx, created_at, salt, payload_text = raw.execute(
        "SELECT idx, created_at, salt, payload FROM entries WHERE run_id = ? AND kind = 'run_result' "
        "ORDER BY idx DESC LIMIT 1", (run_id,)).fetchone()
    payload = json.loads(payload_text)
    payload["tx_hashes"] = []
    if rehash:
        h = leaf_hash(leaf_data(run_id, idx, "run_result", created_at, bytes(salt).hex(), payload))
        raw.execute("UPDATE entries SET payload = ?, leaf_hash = ? WHERE run_id = ? AND idx = ?",
                    (canonical_dumps(payload).decode(), h, run_id, idx))
    else:
        raw.execute("UPDATE entries SET payload = ? WHERE run_id = ? AND idx = ?",
                    (canonical_dumps(payload).decode(), run_id, idx))
    raw.commit()
    raw.close()
    AuditLog(home / "audit" / "audit.db").close()  # the triggers come back: nothing looks touched


def rewrite_log(home: Path, run_id: str, anchorer: Callable[[bytes], AnchorRef], backdate: timedelta = timedelta(0),
                intent_wallet: str | None = None) -> dict:
    """Someone with write access to the state directory: edit entries, drop the old checkpoints and anchor
    record, re-sign with the machine's own key, re-anchor with `anchorer` (optionally backdating the entries)."""
    db = home / "audit" / "audit.db"
    raw = _open_for_writing(db)
    raw.execute("DELETE FROM entries WHERE run_id = ? AND kind = 'anchor'", (run_id,))
    raw.execute("DELETE FROM checkpoints WHERE run_id = ?", (run_id,))
    rows = raw.execute("SELECT idx, kind, created_at, salt, payload FROM entries WHERE run_id = ? ORDER BY idx",
                       (run_id,)).fetchall()
    for idx, kind, created_at, salt, payload_text in rows:
        entry = {"kind": kind, "payload": json.loads(payload_text)}
        _say_nothing_happened([entry], intent_wallet)
        when = (datetime.strptime(created_at, UTC_FORMAT).replace(tzinfo=UTC) - backdate).strftime(UTC_FORMAT)
        h = leaf_hash(leaf_data(run_id, idx, kind, when, bytes(salt).hex(), entry["payload"]))
        raw.execute("UPDATE entries SET created_at = ?, payload = ?, leaf_hash = ? WHERE run_id = ? AND idx = ?",
                    (when, canonical_dumps(entry["payload"]).decode(), h, run_id, idx))
    raw.commit()
    raw.close()
    with AuditLog(db) as log:
        note = log.checkpoint(run_id, Signer.load(home / "audit" / "signing.key"))
        ref = anchorer(checkpoint_hash(note))
        log.append(run_id, "anchor", ref.to_dict())
    return ref.to_dict()


def evm_anchorer(w3, wallet: Wallet) -> Callable[[bytes], AnchorRef]:
    return lambda digest: anchor_on_evm(TxSender(w3, wallet), digest)


# -- the CLI and other processes --------------------------------------------------------------------------------
def child_env(**extra: str) -> dict[str, str]:
    """This environment without a configured key or manifest (the CLI would sign or pin with them)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SWARM_PRIVATE_KEY", "SWARM_MANIFEST", "SWARM_SOLANA_KEYPAIR", "SWARM_FAULT_KILL_AT")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(NO_COLOR="1", COLUMNS="250", **extra)
    return env


def audit_clis(calls: list[tuple[Path, list[str]]], timeout: float = 180) -> list[tuple[int, str]]:
    """`swarm audit ...` as a user types it, one process per (SWARM_HOME, args), run side by side."""
    procs = [subprocess.Popen([sys.executable, "-m", "defai_swarm.cli", "audit", *args], cwd=ROOT, text=True,
                              env=child_env(SWARM_HOME=str(home)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for home, args in calls]
    return [(p.returncode, out) for p, (out, _) in ((p, p.communicate(timeout=timeout)) for p in procs)]


WORKER = r"""
import sys, time
from decimal import Decimal
from pathlib import Path
from defai_swarm.agents.risk import RiskPolicy
from defai_swarm.api import Swarm
from tests.test_runtime import swap_graph
from defai_swarm.tools.devnet.manifest import DevnetManifest
from defai_swarm.tools.evm.rpc import connect
from defai_swarm.tools.evm.wallet import Wallet

manifest = DevnetManifest.load(Path(sys.argv[1]))
home, go, swaps, cap, amount = Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), Decimal(sys.argv[5]), sys.argv[6]
policy = RiskPolicy(daily_cap_usd=cap, require_honeypot_check=False, max_slippage_bps=100)
swarm = Swarm(w3=connect(manifest.rpc_url), manifest=manifest, wallet=Wallet.devnet(1), home=home, policy=policy,
              audit=False, anchor=False)
print("ready", flush=True)
while not go.exists():  # every process starts swapping at the same moment
    time.sleep(0.002)
for _ in range(swaps):
    try:
        r = swarm.execute(swap_graph("ETH", "USDC", amount, slippage_bps=100))
        print(r.model_dump_json(), flush=True)
    except Exception as exc:  # reported, never hidden: a run that raised is a run without a clear end state
        print("error " + type(exc).__name__ + ": " + str(exc).replace("\n", " "), flush=True)
swarm.close()
"""


def swarm_processes(manifest_path: Path, homes: list[Path], go: Path, swaps_each: int, cap: Decimal, amount: str,
                    timeout: float = 240) -> list[tuple[int, list[str], str]]:
    """One OS process per home (homes may repeat: processes sharing a state directory), all on dev account 1,
    released at the same instant once every one has built its Swarm. Returns (exit code, stdout lines, stderr)."""
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(manifest_path), str(home), str(go), str(swaps_each),
                               str(cap), amount], cwd=ROOT, env=child_env(), text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for home in homes]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if line.strip() != "ready":
                break
    finally:
        go.touch()
    done = [p.communicate(timeout=timeout) for p in procs]
    return [(p.returncode, out.splitlines(), err) for p, (out, err) in zip(procs, done, strict=True)]
