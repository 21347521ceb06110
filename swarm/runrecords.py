"""Run records a wallet can trust after reading them back from a store that others can write.

A resume acts on what the store holds: the run's context (chain, wallet, policy), its plan, and its LangGraph
checkpoints (the risk check's approved amounts and minimum output among them). A shared store (a cluster's
PostgreSQL, `SWARM_STORE`) is written by every process that holds its credentials, so those must not be enough
to make a wallet sign. Every such record therefore carries an HMAC-SHA256 under a key derived from the wallet's own
key material, which the store never sees; a record without a valid seal is refused before anything is signed.

The key is HMAC-SHA256 over the wallet's secret (the text forms `ChainAdapter.secret_markers` gives) with a fixed
label: every process and node that holds the wallet derives the same key, and there is nothing new to distribute
or store. (A devnet account's key is public, so are its seals: it guards nothing of value.)

A stored policy is never trusted to loosen anything either: a resume runs under `stricter_policy(own, recorded)`.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any, TypeVar

from defai_swarm import chains
from defai_swarm.core.errors import Refused
from defai_swarm.core.policy import SwapPolicy
from defai_swarm.store import RunRecord

P = TypeVar("P", bound=SwapPolicy)

_KEY_LABEL = b"defai-swarm run records v1"
SEAL_PREFIX = b"swarm-seal1:"  # a sealed checkpoint blob: this prefix, the 32-byte HMAC, then the blob
_MAC_BYTES = 32


class RecordNotAuthentic(Refused):
    """A stored run record (context, plan or checkpoint) carries no valid seal of this wallet: never acted on."""


def same_address(a: str, b: str, family: str) -> bool:
    """Whether `a` and `b` are one wallet of chain family `family`, by the family's address form
    (`defai_swarm.chains.same_address`: a hex address without its checksum case, base58 exactly)."""
    return chains.same_address(family, a, b)


class RecordSeal:
    """Seals and checks one wallet's run records (the key never leaves this object: no repr, no log)."""

    def __init__(self, key: bytes | None):
        self._key = key

    @classmethod
    def for_chain(cls, chain: Any) -> RecordSeal:
        """The wallet's seal; a chain adapter without a key (read-only) seals nothing and authenticates nothing."""
        markers = [str(m) for m in chain.secret_markers()]
        if not markers:
            return cls(None)
        material = "\n".join(sorted(markers)).encode()
        return cls(hmac.new(_KEY_LABEL, material, hashlib.sha256).digest())

    def __repr__(self) -> str:
        return "RecordSeal(<key not shown>)"

    @property
    def can_seal(self) -> bool:
        return self._key is not None

    def _mac(self, domain: str, *fields: str | bytes) -> bytes:
        if self._key is None:
            raise RecordNotAuthentic("this swarm holds no wallet key: it cannot seal or authenticate run records")
        mac = hmac.new(self._key, domain.encode(), hashlib.sha256)
        for field in fields:  # length-prefixed: no two field lists give the same message
            data = field.encode() if isinstance(field, str) else field
            mac.update(len(data).to_bytes(8, "big") + data)
        return mac.digest()

    def context(self, run_id: str, chain: str, context_json: str) -> str | None:
        """The seal of a run's context row (its claim: chain, wallet, policy), over the text exactly as stored."""
        return self._mac("context", run_id, chain, context_json).hex() if self._key else None

    def run(self, run_id: str, chain: str, intent: str, plan_json: str) -> str | None:
        """The seal of a run's plan row."""
        return self._mac("run", run_id, chain, intent, plan_json).hex() if self._key else None

    def check(self, run_id: str, record: RunRecord, wallet: str) -> None:
        """Raise RecordNotAuthentic unless the run's context and plan rows both carry this wallet's seal."""
        rows = (("context (wallet, chain, policy)", record.context_seal,
                 lambda: self._mac("context", run_id, record.chain, record.context_json)),
                ("plan", record.run_seal,
                 lambda: self._mac("run", run_id, record.chain, record.intent or "", record.plan_json or "")))
        for what, seal, expected in rows:
            if not seal or not hmac.compare_digest(_from_hex(seal), expected()):
                raise RecordNotAuthentic(
                    f"run {run_id}: its stored {what} is not authenticated by wallet {wallet} (written without "
                    f"this wallet's key, or altered): refused, nothing signed")

    # -- LangGraph checkpoints
    def checkpoint_mac(self, run_id: str, type_: str, data: bytes) -> bytes:
        return self._mac("checkpoint", run_id, type_, data)


def _from_hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""


_sealing_run: ContextVar[str | None] = ContextVar("swarm_sealing_run", default=None)


@contextmanager
def _sealing(run_id: str | None) -> Iterator[None]:
    token = _sealing_run.set(run_id)
    try:
        yield
    finally:
        _sealing_run.reset(token)


def _thread_of(config: Any) -> str | None:
    thread = ((config or {}).get("configurable") or {}).get("thread_id")
    return str(thread) if thread is not None else None


def _bound_to_thread(method: Any, eager: bool = False) -> Any:
    """`method(config, ...)` of a checkpointer, run with its blobs sealed under the config's thread (the run id,
    the key the checkpointer stores them under). Bound per call, not per run: LangGraph writes from pool threads
    whose context is not the run's."""
    def call(config: Any, *args: Any, **kwargs: Any) -> Any:
        with _sealing(_thread_of(config)):
            result = method(config, *args, **kwargs)
            return iter(list(result)) if eager else result
    return call


def seal_checkpointer(saver: Any, seal: RecordSeal) -> Any:
    """Seal every blob `saver` (a LangGraph checkpointer) writes with the wallet's key and its run id, and refuse
    every blob without a valid seal on reading. Done once per saver; a seal without a key leaves it as it is."""
    if getattr(saver, "_swarm_sealed", False) or not seal.can_seal:
        return saver
    saver.serde = SealedSerde(saver.serde, seal)
    for name in ("get_tuple", "put", "put_writes", "list"):
        setattr(saver, name, _bound_to_thread(getattr(saver, name), eager=name == "list"))
    saver._swarm_sealed = True
    return saver


class SealedSerde:
    """A LangGraph serializer that seals every checkpoint blob it writes with the wallet's key and the run id
    (`seal_checkpointer` binds each checkpointer call to its run), and refuses to read a blob without a valid seal:
    a checkpoint written or altered by anyone without the key (or copied from another run) is never loaded, so its
    'approved' amounts never reach a swap."""

    def __init__(self, inner: Any, seal: RecordSeal):
        self.inner, self.seal = inner, seal

    @staticmethod
    def _run_id() -> str:
        run_id = _sealing_run.get()
        if run_id is None:  # a checkpointer call without a run (thread id): never a silent pass
            raise RecordNotAuthentic("a checkpoint was read or written without its run id: nothing is trusted")
        return run_id

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        run_id = self._run_id()
        type_, data = self.inner.dumps_typed(obj)
        return type_, SEAL_PREFIX + self.seal.checkpoint_mac(run_id, type_, data) + data

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        run_id = self._run_id()
        type_, blob = data
        start = len(SEAL_PREFIX) + _MAC_BYTES
        blob = bytes(blob or b"")
        if not blob.startswith(SEAL_PREFIX) or not hmac.compare_digest(
                blob[len(SEAL_PREFIX):start], self.seal.checkpoint_mac(run_id, type_, blob[start:])):
            raise RecordNotAuthentic(f"run {run_id}: its stored checkpoint is not authenticated by this wallet "
                                     f"(written without this wallet's key, altered, or another run's): refused, "
                                     f"nothing signed")
        return self.inner.loads_typed((type_, blob[start:]))


# -- a stored policy only tightens ---------------------------------------------------------------------------------
# How each known limit gets stricter. A field not listed here that differs between the two policies cannot be
# merged safely: the resume is refused (a chain's new limit belongs in one of these sets).
_LOWER = {"max_trade_usd", "daily_cap_usd", "default_slippage_bps", "max_slippage_bps", "max_price_deviation_bps",
          "max_price_impact_bps", "max_priority_fee_lamports"}
_HIGHER = {"min_source_families", "gas_reserve"}
_FEWER = {"token_allowlist", "authority_allowlist"}
_EITHER_ON = {"require_honeypot_check"}
_LOWER_OR_UNSET = {"human_approval_above_usd"}  # None: no operator approval at any size (the loosest)


def stricter_policy(own: P, recorded: SwapPolicy) -> P:
    """The stricter of the resuming process's own policy and the run's recorded one, limit by limit (lower caps
    and slippage, more price sources, fewer tokens, every check either turns on): a stored policy can tighten what
    this process enforces, never loosen it."""
    if type(recorded) is not type(own):
        raise Refused(f"the run's recorded policy is a {type(recorded).__name__}, this swarm's a {type(own).__name__}")
    merged: dict[str, Any] = {}
    for name in type(own).model_fields:
        mine, theirs = getattr(own, name), getattr(recorded, name)
        if mine == theirs:
            merged[name] = mine
        elif name in _LOWER:
            merged[name] = min(mine, theirs)
        elif name in _HIGHER:
            merged[name] = max(mine, theirs)
        elif name in _FEWER:
            merged[name] = frozenset(mine) & frozenset(theirs)
        elif name in _EITHER_ON:
            merged[name] = bool(mine) or bool(theirs)
        elif name in _LOWER_OR_UNSET:
            given = [Decimal(v) for v in (mine, theirs) if v is not None]
            merged[name] = min(given) if given else None
        else:
            raise Refused(f"the run's recorded policy sets {name} differently from this swarm's and it is not known "
                          f"which is stricter: resume it with the recorded value")
    return type(own).model_validate(merged)


__all__ = ["SEAL_PREFIX", "RecordNotAuthentic", "RecordSeal", "SealedSerde", "same_address", "seal_checkpointer",
           "stricter_policy"]
