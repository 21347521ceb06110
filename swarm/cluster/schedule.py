"""Bot schedules on a cluster: "this intent, for this wallet, every N blocks, K times", run by a Ray actor.

Why an actor of its own: a schedule mostly waits for blocks. Run inside the wallet actor, the wait would hold the
wallet's only queue for the whole schedule; here the schedule actor waits (a read-only chain adapter, no key) and
hands each round to the wallet actor as an ordinary intent, so other intents of the wallet run between rounds and
every round is planned, risk-checked and capped at its own time, exactly like a submitted intent.

Durable without a table of its own: the rounds are fixed when the schedule is made (`start_block` and the
interval travel in the actor's creation arguments, which Ray keeps), and round k is run `<schedule>.round<k>`.
A schedule actor that is restarted, or whose `run` call is retried, walks the rounds again: a round already stored
is only reported by the wallet actor (never run twice) and a block already passed is not waited for.
"""
from __future__ import annotations

import threading
import time
from typing import Any, cast

from pydantic import BaseModel, Field, field_validator

from defai_swarm.audit.log import RUN_ID_RE
from defai_swarm.intent import MAX_EVERY_BLOCKS, MAX_ROUNDS


class ScheduleSpec(BaseModel):
    """One schedule, fixed when it is made (nothing secret: the wallet actor holds the key)."""

    schedule_id: str = Field(max_length=96)
    wallet_actor: str  # the wallet actor's name in the pool's namespace
    namespace: str
    intent: str = Field(min_length=1, max_length=2000)
    every_blocks: int = Field(ge=1, le=MAX_EVERY_BLOCKS)
    rounds: int = Field(ge=1, le=MAX_ROUNDS)
    start_block: int = Field(ge=0)
    chain_config: str
    poll_seconds: float = Field(default=1.0, gt=0, le=60)

    @field_validator("schedule_id")
    @classmethod
    def _run_id_alphabet(cls, v: str) -> str:
        if not RUN_ID_RE.fullmatch(v):
            raise ValueError("use letters, digits and . _ : - (it prefixes the rounds' run ids)")
        return v

    def round_block(self, k: int) -> int:
        """The block from which round k (1-based) may run."""
        return self.start_block + (k - 1) * self.every_blocks

    def round_run_id(self, k: int) -> str:
        return self.round_run_id_of(self.schedule_id, k)

    @staticmethod
    def round_run_id_of(schedule_id: str, k: int) -> str:
        return f"{schedule_id}.round{k}"


class ScheduleActor:
    """Waits for each round's block and submits the round to the wallet actor (wrap with `ray.remote`)."""

    def __init__(self, spec: ScheduleSpec):
        from defai_swarm.cluster.keys import readonly_chain

        self.spec = spec
        self.chain = readonly_chain(spec.chain_config)
        self._results: list[dict] = []
        self._lock = threading.Lock()

    def run(self) -> list[dict]:
        """Every round's result, in order (a round's result is its run's, as `SwarmPool.submit` returns it)."""
        import ray

        from defai_swarm.agents.wait_blocks import block_height

        wallet = ray.get_actor(self.spec.wallet_actor, namespace=self.spec.namespace)
        results: list[dict] = []
        for k in range(1, self.spec.rounds + 1):
            while block_height(self.chain) < self.spec.round_block(k):
                time.sleep(self.spec.poll_seconds)
            result = cast(dict, ray.get(wallet.submit.remote(self.spec.round_run_id(k), self.spec.intent)))
            results.append({**result, "round": k, "round_block": self.spec.round_block(k)})
            with self._lock:
                self._results = list(results)
        return results

    def status(self) -> dict[str, Any]:
        """The schedule and the rounds finished so far (answers while `run` waits: the actor runs two calls)."""
        with self._lock:
            done = list(self._results)
        return {"schedule": self.spec.model_dump(mode="json", exclude={"chain_config", "namespace"}),
                "rounds_done": len(done), "results": done}


__all__ = ["ScheduleActor", "ScheduleSpec"]
