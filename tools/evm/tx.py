"""Sending transactions safely: simulate first, exact nonces under concurrency, never a blind re-send."""
from __future__ import annotations

import heapq
import threading
import time

import requests
from pydantic import BaseModel
from eth_typing import HexStr
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted, TransactionNotFound, Web3RPCError
from web3.types import TxParams, Wei

from swarm.core import errors as core_errors
from tools.evm.errors import RpcUnavailableError, SimulationFailed, TxFailed
from tools.evm.rpc import is_transient, read_retry
from tools.evm.wallet import Wallet

# Gas can rise between estimate and inclusion: Uniswap V2's price accumulators are only
# written when the block timestamp moved, and their first write (zero to non-zero)
# costs 2 x 20k. Unused gas is refunded, so the margin costs nothing.
GAS_HEADROOM, GAS_MARGIN = 1.2, 50_000


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


@read_retry
def pending_nonce(w3: Web3, address: str) -> int:
    return w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending")


class NonceManager:
    """Hands out nonces for one address, never the same one twice.

    Each reservation takes the larger of the local counter and the node's
    pending count, so sends made elsewhere are respected. A nonce whose tx the
    node definitely rejected is released and handed out again first, so no
    gap blocks the later transactions.
    """

    def __init__(self, w3: Web3, address: str):
        self.w3, self.address = w3, address
        self._lock = threading.Lock()
        self._next = 0
        self._released: list[int] = []

    def reserve(self) -> int:
        with self._lock:
            on_chain = pending_nonce(self.w3, self.address)
            self._released = [n for n in self._released if n >= on_chain]
            heapq.heapify(self._released)
            if self._released:
                return heapq.heappop(self._released)
            nonce = max(self._next, on_chain)
            self._next = nonce + 1
            return nonce

    def release(self, nonce: int) -> None:
        with self._lock:
            heapq.heappush(self._released, nonce)


class TxSender:
    def __init__(self, w3: Web3, wallet: Wallet, nonces: NonceManager | None = None, timeout_seconds: float = 60.0):
        self.w3, self.wallet = w3, wallet
        self.nonces = nonces or NonceManager(w3, wallet.address)
        self.timeout_seconds = timeout_seconds  # how long `wait` waits for a receipt before the fate is unknown

    def _call_params(self, req: TxRequest) -> TxParams:
        return {"from": self.wallet.address, "to": Web3.to_checksum_address(req.to), "data": HexStr(req.data), "value": Wei(req.value)}

    @read_retry
    def simulate(self, req: TxRequest) -> bytes:
        """eth_call against the latest block; a revert raises SimulationFailed with its reason."""
        try:
            return bytes(self.w3.eth.call(self._call_params(req), "latest"))
        except ContractLogicError as exc:
            raise SimulationFailed(exc.message or str(exc)) from None
        except Web3RPCError as exc:
            if is_transient(exc):
                raise
            raise SimulationFailed(str(exc)) from None

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
        tip = self.w3.eth.max_priority_fee
        return 2 * base + tip, tip

    def sign(self, req: TxRequest, simulate: bool = True) -> SignedTx:
        """Simulate, price and sign; reserves a nonce. Record the result durably before broadcasting it."""
        if simulate:
            self.simulate(req)
        gas = req.gas or self.estimate_gas(req)
        max_fee, tip = self.fees()
        chain_id = read_retry(lambda: self.w3.eth.chain_id)()
        nonce = self.nonces.reserve()
        tx = {**self._call_params(req), "gas": gas, "nonce": nonce, "chainId": chain_id, "type": 2,
              "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}
        del tx["from"]
        try:
            signed = self.wallet.sign_transaction(tx)
        except Exception:
            self.nonces.release(nonce)
            raise
        return SignedTx(hash="0x" + bytes(signed.hash).hex(), raw="0x" + bytes(signed.raw_transaction).hex(),
                        nonce=nonce, label=req.label, gas=gas, max_fee_per_gas=max_fee)

    def broadcast(self, signed: SignedTx) -> SentTx:
        """Send signed bytes. A lost answer is resolved by hash, never by signing again."""
        raw = bytes.fromhex(signed.raw.removeprefix("0x"))
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Web3RPCError as exc:
            if "already known" not in str(exc).lower():
                self.nonces.release(signed.nonce)
                raise TxFailed(f"node rejected {signed.label or 'transaction'} (nonce {signed.nonce}): {exc}") from None
        except (requests.ConnectionError, requests.Timeout):
            self._resolve_unknown(raw, signed.hash, signed.nonce)
        return SentTx(**signed.model_dump(exclude={"raw"}))

    def rebroadcast_if_missing(self, signed: SignedTx) -> SentTx:
        """After a restart: if the node does not know the recorded tx, send the same bytes again."""
        try:
            read_retry(lambda: self.w3.eth.get_transaction(HexStr(signed.hash)))()
            return SentTx(**signed.model_dump(exclude={"raw"}))
        except TransactionNotFound:
            return self.broadcast(signed)

    def send(self, req: TxRequest, simulate: bool = True) -> SentTx:
        return self.broadcast(self.sign(req, simulate=simulate))

    def _resolve_unknown(self, raw: bytes, tx_hash: str, nonce: int, attempts: int = 5) -> None:
        """Ask the node for the hash; if it never saw it, re-broadcast the *same* signed bytes
        (same hash and nonce, so it cannot land twice). Never re-signs."""
        for attempt in range(attempts):
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
                except (requests.ConnectionError, requests.Timeout):
                    pass
            except (requests.ConnectionError, requests.Timeout):
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
