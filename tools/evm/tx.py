"""Sending transactions safely: simulate first, exact nonces under concurrency, never a blind re-send."""
from __future__ import annotations

import heapq
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Literal

import requests
from pydantic import BaseModel
from eth_typing import HexStr
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import BlockNotFound, ContractLogicError, TimeExhausted, TransactionNotFound, Web3RPCError
from web3.types import RPCEndpoint, TxParams, Wei

from defai_swarm.core import errors as core_errors
from defai_swarm.tools.evm.errors import ChainClockError, EvmToolError, RpcUnavailableError, SimulationFailed, TxFailed
from defai_swarm.tools.evm.rpc import is_transient, read_retry
from defai_swarm.tools.evm.wallet import Wallet

log = logging.getLogger(__name__)

# Gas can rise between estimate and inclusion: Uniswap V2's price accumulators are only
# written when the block timestamp moved, and their first write (zero to non-zero)
# costs 2 x 20k. Unused gas is refunded, so the margin costs nothing.
GAS_HEADROOM, GAS_MARGIN = 1.2, 50_000
NONCE_LOCK_TIMEOUT_SECONDS = 120.0
# The chain's clock (its next block) and this machine's may differ by this much; beyond it, nothing is signed.
MAX_CLOCK_SKEW_SECONDS = 3600

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


class TxRequest(BaseModel):
    to: str
    data: str = "0x"
    value: int = 0
    gas: int | None = None
    label: str = ""


class SentTx(BaseModel):
    hash: str
    nonce: int
    label: str = ""
    gas: int
    max_fee_per_gas: int


class SignedTx(SentTx):
    raw: str

    @property
    def tx_id(self) -> str:
        return self.hash

    @property
    def sequence(self) -> int | None:
        return self.nonce


class TxReceipt(BaseModel):
    hash: str
    nonce: int
    status: int
    block_number: int
    gas_used: int
    effective_gas_price: int
    label: str = ""
    logs: list[dict] = []


class TxFateUnknown(TxFailed, core_errors.TxFateUnknown):
    """The node could not be asked whether a signed tx was accepted; it must be looked up, not re-signed."""

    def __init__(self, tx_hash: str, nonce: int, why: str = "could not confirm its broadcast"):
        super().__init__(f"{tx_hash} (nonce {nonce}): {why}; look it up before doing anything else")
        self.tx_hash, self.nonce = tx_hash, nonce


class TxReverted(TxFailed):
    """Mined but reverted: the nonce and gas are spent, the effect is not."""

    def __init__(self, receipt: "TxReceipt"):
        super().__init__(f"{receipt.label or 'transaction'} {receipt.hash} reverted on chain in block {receipt.block_number}")
        self.receipt = receipt


class TxRejected(TxFailed):
    """Proven never to land: the node refused the signed bytes at send. Nothing was sent; the nonce is free."""

    def __init__(self, message: str, tx_hash: str, nonce: int):
        super().__init__(message)
        self.tx_hash, self.nonce = tx_hash, nonce


class NonceTaken(TxRejected):
    """Proven never to land: the node does not know the transaction and the account's confirmed nonce is past its
    nonce, so another transaction consumed it. Never replaced automatically."""

    def __init__(self, tx_hash: str, nonce: int):
        super().__init__(f"nonce {nonce} was used by another transaction; {tx_hash} never landed", tx_hash, nonce)


@read_retry
def pending_nonce(w3: Web3, address: str) -> int:
    return w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending")


@read_retry
def confirmed_nonce(w3: Web3, address: str) -> int:
    """How many of the address's transactions are mined: every nonce below it is consumed."""
    return w3.eth.get_transaction_count(Web3.to_checksum_address(address), "latest")


def tx_known(w3: Web3, tx_hash: str) -> bool:
    """Whether the node has the transaction (in its pool or mined)."""
    try:
        read_retry(lambda: w3.eth.get_transaction(HexStr(tx_hash)))()
        return True
    except TransactionNotFound:
        return False


@read_retry
def _block_time(w3: Web3, which: Literal["latest", "pending"]) -> int:
    # web3 types every block field as optional, but a block always has its timestamp
    return int(w3.eth.get_block(which)["timestamp"])  # pyright: ignore[reportTypedDictNotRequiredAccess]


def next_block_time(w3: Web3, max_skew: int = MAX_CLOCK_SKEW_SECONDS) -> int:
    """The time the next block will carry, as far as it can be known: the latest of this machine's clock, the
    latest block's time + 1 and the node's pending block time (where the node reports one).

    Deadlines and simulations use it, not the latest block's time: after minutes without a block (a quiet chain,
    a paused sequencer, a devnet nobody mined on) a transaction is mined at a later time than that block's, and
    a deadline relative to it has already passed (the swap reverts, its gas spent). Bounded: when the chain's
    clock (its pending block, else its latest) and this machine's are more than `max_skew` seconds apart, one of
    them is wrong or the chain has stopped, and no deadline can be trusted: `ChainClockError`, nothing signed."""
    latest = _block_time(w3, "latest")
    try:
        pending: int | None = _block_time(w3, "pending")
    except (BlockNotFound, Web3RPCError, KeyError, ValueError):  # a node without a pending block: the latest says it
        pending = None
    now = int(time.time())
    chain_now = pending if pending is not None else latest
    if abs(chain_now - now) > max_skew:
        which = "next" if pending is not None else "latest"
        side = "ahead of" if chain_now > now else "behind"
        raise ChainClockError(f"the chain's {which} block time {chain_now} is {abs(chain_now - now)}s {side} this "
                              f"machine's clock ({now}), more than the {max_skew}s allowed: no swap deadline can be "
                              f"set; check this machine's clock and that the chain is producing blocks (nothing was "
                              f"signed)")
    return max(now, latest + 1, pending or 0)


def _rpc_error_message(exc: Web3RPCError) -> str:
    """The node's own message for a failed call (e.g. "execution reverted: UniswapV2Router: EXPIRED")."""
    error = exc.rpc_response.get("error") if isinstance(exc.rpc_response, dict) else None
    return str(error.get("message") or error) if isinstance(error, dict) else str(exc)


def ledger_dir() -> Path:
    """The directory of the wallet's shared spend ledger: that of `$SWARM_LEDGER`, else
    `$XDG_DATA_HOME/defai-swarm` (`~/.local/share/defai-swarm`). The same place as `defai_swarm.ledger.default_ledger_path`
    (tools may not import it; a test keeps the two in step). The nonce locks live in its `nonces/`."""
    explicit = os.environ.get("SWARM_LEDGER")
    if explicit:
        return Path(explicit).expanduser().parent
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share").expanduser() / "defai-swarm"


class NonceLockTimeout(EvmToolError):
    """Another process held the wallet's nonce lock for too long; nothing was signed."""


class WalletLockTimeout(NonceLockTimeout):
    """Another process held one of the wallet's other locks (`NonceManager.wallet_lock`) for too long."""


class ProcessLock:
    """A re-entrant lock held across threads *and* processes: a thread lock plus an fcntl lock on a file.

    Every process on this machine that opens the same file serialises on it (so do two objects in one process:
    flock is per open file); a process that dies holding it releases it. Waiting for another process is bounded
    by `timeout` seconds, then `error` is raised (nothing was done under the lock)."""

    def __init__(self, path: Callable[[], Path], timeout: float, what: str,
                 error: type[NonceLockTimeout] = NonceLockTimeout):
        self._path, self.timeout, self.what, self.error = path, timeout, what, error
        self.thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self.thread_lock:
            if self._depth == 0:
                self._fd = self._acquire_file()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fd, self._fd = self._fd, None
                    if fcntl is not None:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)

    def _acquire_file(self) -> int:
        path = self._path()
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is None:  # no fcntl (Windows): threads are serialised, processes are not
            return fd
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise self.error(f"another process held the {self.what} lock {path} for over "
                                     f"{self.timeout:.0f}s; nothing was signed, try again") from None
                time.sleep(0.005)


class NonceManager:
    """Hands out nonces for one wallet on one chain, never the same one twice: across threads *and* processes.

    `hold()` takes the wallet's lock: a `ProcessLock` (re-entrant thread lock plus an fcntl lock) on a file keyed
    by (chain id, genesis hash, address) in `<ledger dir>/nonces/` (see `ledger_dir`), so every process on this
    machine that uses the same ledger serialises on it. `TxSender.sign_and_send` holds it from the nonce
    reservation through signing, recording and broadcast: no other process can read the node's pending
    count while a signed transaction is not yet in the node's pool. A process that dies holding it releases it.
    `wallet_lock(name)` makes the wallet's other locks the same way, beside it (the swap executor's per-token
    approval lock).

    Each reservation takes the largest of the local counter, the node's pending count, and one above the
    highest nonce this machine broadcast for the key (recorded next to the lock) while the node still knows
    that transaction (a node that lost it, e.g. restarted or reverted, does not hold the wallet back). A nonce
    whose transaction the node definitely rejected is released and handed out again first, so no gap blocks
    the later transactions.
    """

    def __init__(self, w3: Web3, address: str, lock_dir: Path | None = None, chain_key: str | None = None,
                 lock_timeout: float = NONCE_LOCK_TIMEOUT_SECONDS):
        self.w3, self.address = w3, address
        self.lock_timeout = lock_timeout
        self._lock_dir, self._chain_key = lock_dir, chain_key
        self._paths: tuple[Path, Path] | None = None
        self._process_lock = ProcessLock(lambda: self._files()[0], lock_timeout, "nonce")
        self._lock = self._process_lock.thread_lock  # guards the counters too
        self._next = 0
        self._released: list[int] = []

    # -- the cross-process lock
    def key(self) -> str:
        """(chain id, genesis hash, address) as a file name: a fresh chain (new genesis) is a new key."""
        if self._chain_key is None:
            chain_id = read_retry(lambda: self.w3.eth.chain_id)()
            genesis = read_retry(lambda: self.w3.eth.get_block(0))()
            self._chain_key = f"evm-{chain_id}-0x{bytes(genesis.get('hash', b'')).hex()}"
        return f"{self._chain_key}-{self.address.lower()}"

    def lock_path(self) -> Path:
        return self._files()[0]

    def _files(self) -> tuple[Path, Path]:
        if self._paths is None:
            directory = (self._lock_dir or ledger_dir() / "nonces")
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            key = self.key()
            self._paths = directory / f"{key}.lock", directory / f"{key}.json"
        return self._paths

    def hold(self) -> AbstractContextManager[None]:
        """The wallet's nonce lock (re-entrant): reserve, sign and broadcast inside it."""
        return self._process_lock.hold()

    def wallet_lock(self, name: str, timeout: float) -> ProcessLock:
        """Another lock of this wallet on this chain, held across threads and processes like the nonce lock, in a
        file beside it (`<key>.<name>.lock`). Take it *before* the nonce lock, never inside it."""
        return ProcessLock(lambda: self._files()[0].parent / f"{self.key()}.{name}.lock", timeout, name,
                           WalletLockTimeout)

    # -- the highest nonce broadcast from this machine for the key
    def _recorded(self) -> tuple[int, str] | None:
        try:
            data = json.loads(self._files()[1].read_text())
            return int(data["nonce"]), str(data["hash"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def record_sent(self, nonce: int, tx_hash: str) -> None:
        """The node accepted `tx_hash` with `nonce`: later reservations start above it while the node knows it."""
        with self.hold():
            recorded = self._recorded()
            if recorded is not None and recorded[0] > nonce:
                return
            _, record = self._files()
            tmp = record.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"nonce": nonce, "hash": tx_hash}))
            os.replace(tmp, record)

    def _recorded_floor(self, on_chain: int) -> int:
        """One above the recorded broadcast while the node still has that transaction (its pending count may lag
        behind its pool); 0 when the node's count covers it, lost it, or cannot say (then a reused nonce is
        refused at send: proven not landed, never a gap that blocks the wallet)."""
        recorded = self._recorded()
        if recorded is None or recorded[0] < on_chain:
            return 0
        try:
            return recorded[0] + 1 if tx_known(self.w3, recorded[1]) else 0
        except RpcUnavailableError:
            return 0

    # -- reservations
    def reserve(self) -> int:
        with self.hold():
            on_chain = pending_nonce(self.w3, self.address)
            floor = max(on_chain, self._recorded_floor(on_chain))
            self._released = [n for n in self._released if n >= floor]
            heapq.heapify(self._released)
            if self._released:
                return heapq.heappop(self._released)
            nonce = max(self._next, floor)
            self._next = nonce + 1
            return nonce

    def release(self, nonce: int) -> None:
        """The node definitely refused the transaction with `nonce` (or it was never sent): hand it out again."""
        with self._lock:
            heapq.heappush(self._released, nonce)


class TxSender:
    TIP_FRESH_SECONDS = 30.0  # the node's suggested priority fee is re-read at most this often

    def __init__(self, w3: Web3, wallet: Wallet, nonces: NonceManager | None = None, timeout_seconds: float = 60.0):
        self.w3, self.wallet = w3, wallet
        self.nonces = nonces or NonceManager(w3, wallet.address)
        self.timeout_seconds = timeout_seconds  # how long `wait` waits for a receipt before the fate is unknown
        self.sent_count = 0  # transactions this sender broadcast (readers that cache balances compare it)
        self._tip: tuple[float, int] | None = None

    def _call_params(self, req: TxRequest) -> TxParams:
        return {"from": self.wallet.address, "to": Web3.to_checksum_address(req.to), "data": HexStr(req.data), "value": Wei(req.value)}

    @read_retry
    def simulate(self, req: TxRequest) -> bytes:
        """eth_call on the latest state at the time the transaction will be mined (`next_block_time`, as a block
        override): a deadline that will have passed by then fails here, not on chain. A revert raises
        SimulationFailed with its reason; a chain clock too far from this machine's, ChainClockError.

        A node that takes no block override (it refuses the parameter as invalid) is asked at the latest block's
        time instead, as before: every deadline this library sets is itself relative to `next_block_time`."""
        at = next_block_time(self.w3)
        call = {"from": self.wallet.address, "to": Web3.to_checksum_address(req.to), "data": req.data,
                "value": hex(req.value)}
        try:
            return bytes(HexBytes(self.w3.manager.request_blocking(RPCEndpoint("eth_call"),
                                                                   [call, "latest", {}, {"time": hex(at)}])))
        except Web3RPCError as exc:
            if is_transient(exc):
                raise
            error = exc.rpc_response.get("error") if isinstance(exc.rpc_response, dict) else None
            if not (isinstance(error, dict) and error.get("code") == -32602):
                raise SimulationFailed(_rpc_error_message(exc)) from None
            log.warning("node refused eth_call with a block override (%s): simulating at the latest block's time",
                        _rpc_error_message(exc))
        try:
            return bytes(self.w3.eth.call(self._call_params(req), "latest"))
        except ContractLogicError as exc:
            raise SimulationFailed(exc.message or str(exc)) from None
        except Web3RPCError as exc:
            if is_transient(exc):
                raise
            raise SimulationFailed(_rpc_error_message(exc)) from None

    @read_retry
    def estimate_gas(self, req: TxRequest) -> int:
        try:
            return int(self.w3.eth.estimate_gas(self._call_params(req)) * GAS_HEADROOM) + GAS_MARGIN
        except ContractLogicError as exc:
            raise SimulationFailed(exc.message or str(exc)) from None

    @read_retry
    def fees(self) -> tuple[int, int]:
        """EIP-1559 (max fee, priority fee): twice the base fee plus the tip survives a few full blocks."""
        # web3 types every block field as optional; a missing baseFeePerGas (pre-London chain) stays a KeyError
        base = self.w3.eth.get_block("latest")["baseFeePerGas"]  # pyright: ignore[reportTypedDictNotRequiredAccess]
        now = time.monotonic()
        if self._tip is None or now - self._tip[0] > self.TIP_FRESH_SECONDS:
            self._tip = (now, self.w3.eth.max_priority_fee)
        tip = self._tip[1]
        return 2 * base + tip, tip

    def _prepare(self, req: TxRequest, simulate: bool) -> dict:
        """Everything but the nonce: simulated, gas estimated, priced (outside the nonce lock)."""
        if simulate:
            self.simulate(req)
        gas = req.gas or self.estimate_gas(req)
        max_fee, tip = self.fees()
        chain_id = read_retry(lambda: self.w3.eth.chain_id)()
        tx: dict = {**self._call_params(req), "gas": gas, "chainId": chain_id, "type": 2, "maxFeePerGas": max_fee,
                    "maxPriorityFeePerGas": tip}
        del tx["from"]
        return tx

    def _sign_prepared(self, tx: dict, req: TxRequest) -> SignedTx:
        nonce = self.nonces.reserve()
        try:
            signed = self.wallet.sign_transaction({**tx, "nonce": nonce})
        except Exception:
            self.nonces.release(nonce)
            raise
        return SignedTx(hash="0x" + bytes(signed.hash).hex(), raw="0x" + bytes(signed.raw_transaction).hex(),
                        nonce=nonce, label=req.label, gas=tx["gas"], max_fee_per_gas=tx["maxFeePerGas"])

    def sign(self, req: TxRequest, simulate: bool = True) -> SignedTx:
        """Simulate, price and sign; reserves a nonce. Record the result durably before broadcasting it.

        The nonce lock is released when this returns: to keep it until the node has the transaction (so no other
        process can take the same nonce meanwhile), use `sign_and_send` or call this inside `nonces.hold()`."""
        tx = self._prepare(req, simulate)
        with self.nonces.hold():
            return self._sign_prepared(tx, req)

    def sign_and_send(self, req: TxRequest, before_send: Callable[[SignedTx], None] | None = None,
                      simulate: bool = True) -> SignedTx:
        """Simulate and price, then under the wallet's nonce lock: reserve the nonce, sign, `before_send(signed)`
        (record it durably: the outbox), broadcast. A refusal at send raises `TxRejected` (proven not landed)."""
        tx = self._prepare(req, simulate)
        with self.nonces.hold():
            signed = self._sign_prepared(tx, req)
            if before_send is not None:
                try:
                    before_send(signed)
                except BaseException:
                    self.nonces.release(signed.nonce)  # never broadcast from here
                    raise
            self.broadcast(signed)
        return signed

    def broadcast(self, signed: SignedTx) -> SentTx:
        """Send signed bytes. A lost answer is resolved by hash, never by signing again; a definite refusal raises
        `TxRejected` and frees the nonce."""
        raw = bytes.fromhex(signed.raw.removeprefix("0x"))
        with self.nonces.hold():
            self.sent_count += 1
            log.info("broadcast %s %s (nonce %d)", signed.label or "transaction", signed.hash, signed.nonce)
            try:
                self.w3.eth.send_raw_transaction(raw)
            except Web3RPCError as exc:
                if is_transient(exc):  # an overloaded or failing node says nothing about the transaction
                    self._resolve_unknown(raw, signed.hash, signed.nonce)
                elif "already known" not in str(exc).lower():
                    log.warning("node refused %s %s (nonce %d)", signed.label or "transaction", signed.hash,
                                signed.nonce)
                    self.nonces.release(signed.nonce)
                    raise TxRejected(f"node rejected {signed.label or 'transaction'} (nonce {signed.nonce}): {exc}",
                                     signed.hash, signed.nonce) from None
            except (requests.ConnectionError, requests.Timeout, requests.HTTPError):
                self._resolve_unknown(raw, signed.hash, signed.nonce)
            self.nonces.record_sent(signed.nonce, signed.hash)
        return SentTx(**signed.model_dump(exclude={"raw"}))

    def rebroadcast_if_missing(self, signed: SignedTx) -> SentTx:
        """After a restart: if the node does not know the recorded tx, send the same bytes again, unless its nonce
        is already consumed by another transaction: then it can never land (`NonceTaken`)."""
        with self.nonces.hold():
            if tx_known(self.w3, signed.hash):
                return SentTx(**signed.model_dump(exclude={"raw"}))
            if confirmed_nonce(self.w3, self.wallet.address) > signed.nonce:
                if tx_known(self.w3, signed.hash):  # mined between the two reads
                    return SentTx(**signed.model_dump(exclude={"raw"}))
                raise NonceTaken(signed.hash, signed.nonce)
            return self.broadcast(signed)

    def send(self, req: TxRequest, simulate: bool = True) -> SentTx:
        signed = self.sign_and_send(req, simulate=simulate)
        return SentTx(**signed.model_dump(exclude={"raw"}))

    def _resolve_unknown(self, raw: bytes, tx_hash: str, nonce: int, attempts: int = 5) -> None:
        """Ask the node for the hash; if it never saw it, re-broadcast the *same* signed bytes
        (same hash and nonce, so it cannot land twice). Never re-signs."""
        for attempt in range(attempts):
            log.warning("broadcast of %s unconfirmed, looking it up (attempt %d of %d)", tx_hash, attempt + 1,
                        attempts)
            time.sleep(0.2 * 2**attempt)
            try:
                self.w3.eth.get_transaction(HexStr(tx_hash))
                return
            except TransactionNotFound:
                try:
                    self.w3.eth.send_raw_transaction(raw)
                    return
                except Web3RPCError as exc:
                    if "already known" in str(exc).lower():
                        return
                except requests.RequestException:
                    pass
            except (requests.RequestException, Web3RPCError):  # the lookup failed: says nothing either way
                pass
        raise TxFateUnknown(tx_hash, nonce)

    def wait(self, sent: SentTx | str, timeout: float | None = None) -> TxReceipt:
        """The receipt of a sent transaction. Not mined in time, or the node not answering, means its fate is
        unknown (it can still land): TxFateUnknown / RpcUnavailableError, never a plain failure."""
        tx_hash = sent.hash if isinstance(sent, SentTx) else sent
        timeout = self.timeout_seconds if timeout is None else timeout
        try:
            r = self.w3.eth.wait_for_transaction_receipt(HexStr(tx_hash), timeout=timeout, poll_latency=0.05)
        except TimeExhausted:
            raise TxFateUnknown(tx_hash, sent.nonce if isinstance(sent, SentTx) else -1,
                                f"not mined within {timeout:.0f}s") from None
        except (requests.RequestException, Web3RPCError) as exc:  # transport down, HTTP 429/5xx, JSON-RPC error
            raise RpcUnavailableError(f"RPC unavailable while waiting for {tx_hash}: {type(exc).__name__}") from None
        # web3 types every transaction field as optional, but a fetched transaction always has its nonce
        nonce = sent.nonce if isinstance(sent, SentTx) else read_retry(lambda: self.w3.eth.get_transaction(HexStr(tx_hash)))()["nonce"]  # pyright: ignore[reportTypedDictNotRequiredAccess]
        receipt = TxReceipt(hash=tx_hash, nonce=nonce, status=r["status"], block_number=r["blockNumber"],
                            gas_used=r["gasUsed"], effective_gas_price=r["effectiveGasPrice"],
                            label=sent.label if isinstance(sent, SentTx) else "",
                            logs=[{"address": log["address"], "topics": ["0x" + bytes(t).hex() for t in log["topics"]],
                                   "data": "0x" + bytes(log["data"]).hex()} for log in r["logs"]])
        if receipt.status != 1:
            raise TxReverted(receipt)
        return receipt

    def send_and_wait(self, req: TxRequest, timeout: float | None = None) -> TxReceipt:
        return self.wait(self.send(req), timeout=timeout)
