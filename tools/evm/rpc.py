"""Connecting to an EVM node; reads retry on transient errors, sends never do."""
from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar, overload

import requests
from eth_abi.exceptions import DecodingError
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential
from web3 import Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3RPCError
from web3.types import RPCEndpoint

from defai_swarm.tools.evm.errors import EvmToolError, RpcUnavailableError

log = logging.getLogger(__name__)
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
        where = "" if f.__name__ == "<lambda>" else f" in {f.__name__}"

        def before_sleep(state) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            log.warning("RPC read%s failed (%s), retry %d of %d", where, type(exc).__name__, state.attempt_number,
                        attempts - 1)

        retrying = retry(retry=retry_if_exception(is_transient), stop=stop_after_attempt(attempts),
                         wait=wait_exponential(multiplier=0.1, max=2), reraise=True, before_sleep=before_sleep)(f)

        @functools.wraps(f)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return retrying(*args, **kwargs)
            except Exception as exc:
                if is_transient(exc):
                    raise RpcUnavailableError(f"RPC unavailable after {attempts} attempts{where}: {type(exc).__name__}") from None
                if isinstance(exc, requests.RequestException):  # an HTTP answer that is no JSON-RPC node's (404, 501...)
                    raise RpcUnavailableError(f"RPC unavailable{where}: {type(exc).__name__}: {_first_line(exc)}") from None
                raise
        return inner
    return wrap if fn is None else wrap(fn)


def http_session(rpc_url: str) -> requests.Session:
    """One HTTP session per connection, with the environment's proxy and CA settings read once here: requests
    would otherwise re-read them (and parse no_proxy) on every JSON-RPC request."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(rpc_url))
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if ca_bundle:
        session.verify = ca_bundle
    session.trust_env = False
    return session


def connect(rpc_url: str, timeout: float = 10.0, session: requests.Session | None = None) -> Web3:
    """A Web3 client with web3's own request retries off (we decide what is safe to retry).

    The chain id is cached per connection (it cannot change under a connection; the chain's identity, id and
    genesis, is checked when an adapter is made, and every signed transaction carries it). web3's ENS-name and
    chain-id validation middleware are off: they cost an `eth_chainId` and validator building per call, and
    every address here comes checksummed from the configuration, never an ENS name from a user."""
    provider = Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None,
                                 session=session or http_session(rpc_url), cache_allowed_requests=True,
                                 cacheable_requests={RPCEndpoint("eth_chainId")})
    w3 = Web3(provider)
    for name in ("validation", "ens_name_to_address"):
        w3.middleware_onion.remove(name)
    return w3


@read_retry
def chain_id(w3: Web3) -> int:
    return w3.eth.chain_id


class ContractAnswerError(EvmToolError):
    """A contract read was answered, but not the way the contract we expect there would answer: it reverted, the
    address has no such function (or no code), the output does not decode, or the node refused the call. The
    configured address is probably not that contract: a refusal with a reason, never a traceback."""


# What web3 / eth_abi raise when the contract at an address is not the one its ABI describes.
CONTRACT_ANSWER_ERRORS: tuple[type[Exception], ...] = (BadFunctionCallOutput, ContractLogicError, Web3RPCError,
                                                        DecodingError)


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    text = str(text).splitlines()[0] if str(text).strip() else type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


@contextmanager
def answering_as(what: str, error: type[EvmToolError] = ContractAnswerError, hint: str = "") -> Iterator[None]:
    """Inside a read of one contract: a call error becomes `error("<what>: <reason>[; <hint>]")`. Transient node
    errors pass through untouched, so `read_retry` around the read still retries them (and reports an outage)."""
    try:
        yield
    except CONTRACT_ANSWER_ERRORS as exc:
        if is_transient(exc):
            raise
        raise error(f"{what}: {type(exc).__name__}: {_first_line(exc)}" + (f"; {hint}" if hint else "")) from None
