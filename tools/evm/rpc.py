"""Connecting to an EVM node; reads retry on transient errors, sends never do."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar, overload

import requests
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential
from web3 import Web3
from web3.exceptions import Web3RPCError

from tools.evm.errors import RpcUnavailableError

P = ParamSpec("P")
R = TypeVar("R")

TRANSIENT_RPC_CODES = {-32005, -32603, 429}  # limit exceeded / internal error / rate limited


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return True
    if isinstance(exc, requests.HTTPError):
        return exc.response is not None and exc.response.status_code in (429, 502, 503, 504)
    if isinstance(exc, Web3RPCError):
        code = (exc.rpc_response or {}).get("error", {}).get("code") if isinstance(exc.rpc_response, dict) else None
        return code in TRANSIENT_RPC_CODES
    return False


@overload
def read_retry(fn: Callable[P, R]) -> Callable[P, R]: ...
@overload
def read_retry(fn: None = None, *, attempts: int = 5) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def read_retry(fn: Callable[P, R] | None = None, *, attempts: int = 5) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Retry a read-only RPC call on transient errors, then raise RpcUnavailableError.

    Only for reads: a transaction send must never be wrapped in this.
    Usable as `@read_retry`, `@read_retry(attempts=n)` or `read_retry(fn)`; the wrapped function keeps its signature.
    """
    def wrap(f: Callable[P, R]) -> Callable[P, R]:
        retrying = retry(retry=retry_if_exception(is_transient), stop=stop_after_attempt(attempts),
                         wait=wait_exponential(multiplier=0.1, max=2), reraise=True)(f)

        @functools.wraps(f)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return retrying(*args, **kwargs)
            except Exception as exc:
                if is_transient(exc):
                    raise RpcUnavailableError(f"RPC unavailable after {attempts} attempts in {f.__name__}: {type(exc).__name__}") from None
                raise
        return inner
    return wrap if fn is None else wrap(fn)


def connect(rpc_url: str, timeout: float = 10.0) -> Web3:
    """A Web3 client with web3's own request retries off (we decide what is safe to retry)."""
    provider = Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
    return Web3(provider)


@read_retry
def chain_id(w3: Web3) -> int:
    return w3.eth.chain_id
