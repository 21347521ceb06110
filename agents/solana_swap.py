"""Solana swaps via Jupiter: moved to `defai_swarm.tools.solana.executor` (the Solana adapter's executor).

The runtime reaches it through `SolanaChain.executor(outbox, record, policy)`; these
names stay importable from here.
"""
from __future__ import annotations

from defai_swarm.tools.solana.executor import MemoryOutbox, SignedTxOutbox, SolanaSwapExecutor, SolanaSwapOutcome, quote_checks
from defai_swarm.tools.solana.policy import SolanaRiskPolicy
from defai_swarm.tools.solana.tx import SignedSolanaTx


class DurableOutbox:
    """Kept for old callers: `defai_swarm.store.RunStore` is a `defai_swarm.core.outbox.Outbox` itself; pass it directly."""

    def __init__(self, store):
        self.store = store

    def signed_for(self, run_id: str, step: str, model=SignedSolanaTx):
        return self.store.signed_for(run_id, step, model)

    def record_signed(self, run_id: str, step: str, signed) -> None:
        self.store.record_signed(run_id, step, signed)

    def sent_ids(self, run_id: str) -> list[str]:
        return self.store.sent_ids(run_id)


__all__ = ["DurableOutbox", "MemoryOutbox", "SignedTxOutbox", "SolanaRiskPolicy", "SolanaSwapExecutor",
           "SolanaSwapOutcome", "quote_checks"]
