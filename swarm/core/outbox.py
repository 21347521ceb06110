"""What every chain's executor writes before it acts: signed transactions (the outbox) and spend reservations.

Both are protocols here and durable tables in `defai_swarm.store.RunStore`. The rules
they carry (see `defai_swarm.core.chain.SwapExecutor`): a step is signed once; its
signed bytes are recorded before broadcast; a reservation is released only when
non-landing is proven.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from defai_swarm.core.errors import SwarmError

M = TypeVar("M", bound=BaseModel)


class AlreadySigned(SwarmError):
    """The step already has a signed transaction: it is confirmed or rebroadcast, never signed again."""


@runtime_checkable
class SignedTxRecord(Protocol):
    """A signed transaction as recorded before broadcast (EVM `SignedTx`, Solana `SignedSolanaTx`)."""

    @property
    def tx_id(self) -> str: ...

    @property
    def sequence(self) -> int | None: ...  # EVM nonce; None where the chain has no sequence

    def model_dump_json(self) -> str: ...


class Outbox(Protocol):
    def signed_for(self, run_id: str, step: str, model: type[M]) -> M | None: ...

    def record_signed(self, run_id: str, step: str, signed: SignedTxRecord) -> None:
        """Raises AlreadySigned if the step has one."""
        ...

    def sent_ids(self, run_id: str) -> list[str]: ...


class SpendLedger(Protocol):
    """The daily cap's bookkeeping for one (chain, wallet): reserve before signing, release only when
    non-landing is proven. One ledger keeps a wallet's day: a reservation through any other ledger that day
    raises `defai_swarm.core.errors.Refused` (see `defai_swarm.ledger`), so two stores never each allow the whole cap."""

    def reserve_spend(self, run_id: str, step: str, usd: Decimal, cap: Decimal) -> tuple[bool, Decimal]:
        """Reserve `usd` for (run, step) if today's total stays within `cap`; idempotent for the same step.
        Returns (ok, spent today before this reservation, not counting this step's own). Raises Refused when
        this ledger does not keep the wallet's cap today."""
        ...

    def release_spend(self, run_id: str, step: str) -> None: ...

    def spent_today(self, exclude: tuple[str, str] | None = None) -> Decimal:
        """Today's reserved total, without the (run, step) in `exclude` (a step re-checking itself)."""
        ...
