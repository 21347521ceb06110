"""A small synchronous facade over solana-py's AsyncClient.

solana-py (0.40+) only ships an async client; the agents are synchronous. Each
SolanaRpc owns one private event loop on a daemon thread and runs the client's
coroutines there, so it works from plain code and from inside another running
loop alike. Reads retry transient failures a bounded number of times; sends are
never retried here (the sender decides, by signature status).
"""
from __future__ import annotations

import logging

import asyncio
import base64
import threading
import weakref
from typing import Any, Coroutine, TypeVar

import httpx2
from pydantic import BaseModel, ConfigDict
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment
from solana.rpc.core import RPCException
from solana.rpc.models import TxOpts
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from defai_swarm.tools.solana.config import SolanaConfig
from defai_swarm.tools.solana.errors import RpcError, RpcUnavailableError, TxFailed


class RawAccount(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    address: Pubkey
    lamports: int
    owner: Pubkey
    data: bytes
    executable: bool = False


class SimulationResult(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    err: Any = None
    logs: list[str] = []
    accounts: list[RawAccount | None] = []
    units_consumed: int | None = None


class SignatureStatus(BaseModel):
    slot: int
    err: Any = None
    confirmation_status: str | None = None


class TokenBalance(BaseModel):
    account_index: int
    mint: str
    owner: str | None
    amount: int


class TxRecord(BaseModel):
    """A landed transaction as getTransaction reports it (what we need of it)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    signature: str
    slot: int
    err: Any = None
    fee: int
    transaction: VersionedTransaction
    loaded_addresses: list[str] = []
    pre_balances: list[int] = []
    post_balances: list[int] = []
    pre_token_balances: list[TokenBalance] = []
    post_token_balances: list[TokenBalance] = []
    log_messages: list[str] = []

    def account_keys(self) -> list[str]:
        """Static keys then lookup-table keys (writable, readonly): what balance indexes point at."""
        return [str(k) for k in self.transaction.message.account_keys] + self.loaded_addresses

    def holdings_delta(self, owner: str, mint: str) -> int:
        """How much `owner`'s holdings of `mint` changed across ALL its token accounts in this transaction
        (associated or not, Token or Token-2022): moving tokens between two accounts of the same owner is no
        change. The node reports every token account the transaction loaded, with its owner before and after."""
        pre = sum(b.amount for b in self.pre_token_balances if b.owner == owner and b.mint == mint)
        post = sum(b.amount for b in self.post_token_balances if b.owner == owner and b.mint == mint)
        return post - pre


_T = TypeVar("_T")


log = logging.getLogger(__name__)


class _Transient(Exception):
    pass


def _log_retry(state) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    log.warning("Solana RPC read failed (%s), retry %d of 2", type(exc).__name__, state.attempt_number)


_read_retry = retry(retry=retry_if_exception_type(_Transient), stop=stop_after_attempt(3),
                    wait=wait_exponential(multiplier=0.2, max=2.0), reraise=True, before_sleep=_log_retry)


def _status_name(value) -> str | None:
    if value is None:
        return None
    return str(value).split(".")[-1].lower()


def _raw(address: Pubkey, acc) -> RawAccount | None:
    if acc is None:
        return None
    return RawAccount(address=address, lamports=acc.lamports, owner=acc.owner, data=bytes(acc.data),
                      executable=acc.executable)


def _token_balances(items) -> list[TokenBalance]:
    return [TokenBalance(account_index=b.account_index, mint=str(b.mint), owner=str(b.owner) if b.owner else None,
                         amount=int(b.ui_token_amount.amount)) for b in (items or [])]


def _loaded(meta) -> list[str]:
    loaded = getattr(meta, "loaded_addresses", None) if meta else None
    if not loaded:
        return []
    return [str(k) for k in loaded.writable] + [str(k) for k in loaded.readonly]


class SolanaRpc:
    def __init__(self, url: str, commitment: str = "confirmed", timeout: float = 15.0):
        self.url, self.commitment = url, commitment
        level = Commitment(commitment)  # solana-py wants its enum; its values are the same strings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="solana-rpc", daemon=True)
        self._thread.start()

        async def make() -> AsyncClient:
            return AsyncClient(url, commitment=level, timeout=timeout, http2=False)

        self.client = self._run(make())
        self._finalizer = weakref.finalize(self, SolanaRpc._shutdown, self._loop, self._thread, self.client)

    @classmethod
    def from_config(cls, config: SolanaConfig) -> "SolanaRpc":
        return cls(config.rpc_url, commitment=config.commitment, timeout=config.rpc_timeout_seconds)

    @staticmethod
    def _shutdown(loop, thread, client) -> None:
        if loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(client.close(), loop).result(5)
            except Exception:
                pass
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> "SolanaRpc":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SolanaRpc({self.url})"

    def _run(self, coro: Coroutine[Any, Any, _T], timeout: float = 60.0) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @_read_retry
    def _read(self, make_coro):
        try:
            return self._run(make_coro())
        except (SolanaRpcException, httpx2.HTTPError, TimeoutError) as exc:
            raise _Transient(str(exc)) from None

    def read(self, make_coro):
        """Run one read call with bounded retries; RpcUnavailableError when the node stays unreachable."""
        try:
            return self._read(make_coro)
        except RPCException as exc:
            raise RpcError(f"RPC error from {self.url}: {exc}") from None
        except _Transient as exc:
            raise RpcUnavailableError(f"Solana RPC {self.url} unavailable: {exc}") from None

    # -- reads
    def balance(self, pubkey: Pubkey) -> int:
        return self.read(lambda: self.client.get_balance(pubkey)).value

    def account(self, pubkey: Pubkey) -> RawAccount | None:
        return _raw(pubkey, self.read(lambda: self.client.get_account_info(pubkey)).value)

    def accounts(self, pubkeys: list[Pubkey]) -> list[RawAccount | None]:
        if not pubkeys:
            return []
        values = self.read(lambda: self.client.get_multiple_accounts(pubkeys)).value
        if len(values) != len(pubkeys):
            raise RpcError(f"{self.url} answered {len(values)} accounts for {len(pubkeys)} asked")
        return [_raw(k, a) for k, a in zip(pubkeys, values, strict=True)]

    def latest_blockhash(self) -> tuple[Hash, int]:
        value = self.read(lambda: self.client.get_latest_blockhash()).value
        return value.blockhash, value.last_valid_block_height

    def block_height(self) -> int:
        return self.read(lambda: self.client.get_block_height()).value

    def slot(self) -> int:
        return self.read(lambda: self.client.get_slot()).value

    def token_balance(self, token_account: Pubkey) -> int | None:
        """Raw amount, or None when the account does not exist."""
        try:
            return int(self.read(lambda: self.client.get_token_account_balance(token_account)).value.amount)
        except RpcError:
            return None

    def signature_status(self, signature: str) -> SignatureStatus | None:
        sig = Signature.from_string(signature)
        value = self.read(lambda: self.client.get_signature_statuses([sig], search_transaction_history=True)).value[0]
        if value is None:
            return None
        return SignatureStatus(slot=value.slot, err=value.err, confirmation_status=_status_name(value.confirmation_status))

    def transaction(self, signature: str) -> TxRecord | None:
        sig = Signature.from_string(signature)
        value = self.read(lambda: self.client.get_transaction(sig, encoding="base64",
                                                              max_supported_transaction_version=0)).value
        if value is None:
            return None
        meta = value.transaction.meta
        return TxRecord(signature=signature, slot=value.slot, err=meta.err if meta else None, fee=meta.fee if meta else 0,
                        transaction=value.transaction.transaction,
                        loaded_addresses=_loaded(meta),
                        pre_balances=list(meta.pre_balances) if meta else [],
                        post_balances=list(meta.post_balances) if meta else [],
                        pre_token_balances=_token_balances(meta.pre_token_balances if meta else None),
                        post_token_balances=_token_balances(meta.post_token_balances if meta else None),
                        log_messages=list(meta.log_messages or []) if meta else [])

    def simulate(self, tx: VersionedTransaction, accounts: list[Pubkey] | None = None) -> SimulationResult:
        value = self.read(lambda: self.client.simulate_transaction(tx, sig_verify=True, accounts_addresses=accounts)).value
        post = []
        if len(value.accounts or []) != len(accounts or []):
            raise RpcError(f"{self.url} simulated {len(value.accounts or [])} accounts for {len(accounts or [])} asked")
        for key, acc in zip(accounts or [], value.accounts or [], strict=True):
            post.append(None if acc is None else RawAccount(address=key, lamports=acc.lamports, owner=acc.owner,
                                                            data=bytes(acc.data), executable=acc.executable))
        return SimulationResult(err=value.err, logs=list(value.logs or []), accounts=post, units_consumed=value.units_consumed)

    # -- writes
    def send_raw(self, raw: bytes) -> str:
        """Broadcast signed bytes without preflight (we simulate before signing). Not retried here.

        TxFailed: the node refused it. RpcUnavailableError: unknown whether the node got it.
        """
        try:
            resp = self._run(self.client.send_raw_transaction(raw, opts=TxOpts(skip_preflight=True, skip_confirmation=True)))
        except RPCException as exc:
            raise TxFailed(f"node refused the transaction: {exc}") from None
        except (SolanaRpcException, httpx2.HTTPError, TimeoutError) as exc:
            raise RpcUnavailableError(f"broadcast to {self.url} got no answer: {exc}") from None
        return str(resp.value)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
