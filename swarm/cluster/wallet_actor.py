"""The one place in a cluster that signs for a (chain, wallet): a Ray actor that owns the wallet's nonce stream and
spend reservations.

Why an actor: Ray runs one actor's calls one at a time (`max_concurrency=1`), in one process on one node, so the
wallet has exactly one nonce sequence however many drivers and machines submit intents. The actor does not trust its
callers: it takes intent text (or a run id to resume), plans and checks it itself (the risk agent decides and
reserves against the cap in PostgreSQL inside the actor), and signs. Nor does it trust the store: it resumes only
runs whose records (context, plan, checkpoints) carry its wallet's seal (`defai_swarm.runrecords`), under the stricter of
its own policy and the recorded one; a run id that another wallet claimed is refused. Its key is resolved inside the
actor from a reference (`defai_swarm.cluster.keys`); the audit signer is loaded from the actor's own state directory.
Neither leaves the process: results are `RunResult` JSON.

Restarts: Ray restarts a dead actor (its node was lost) on another node. The new incarnation registers itself as the
wallet's owner in PostgreSQL (the old one, if it were somehow alive, can no longer reserve), then resumes every run
of this wallet that has a signed transaction the node has not mined, in nonce order, before it takes new work: the
wallet's next nonce then follows from the chain and the outbox, never from memory. A run it cannot authenticate is
refused (logged, listed in `info()["refused"]`), never signed. A call that was in flight is retried by Ray and is
idempotent: a stored run is resumed (a finished one is only reported), never run again.
"""
from __future__ import annotations

import logging
import os
import re
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from defai_swarm.cluster.node import NAMESPACE, node_id
from defai_swarm.core.errors import ConfigError, Refused, SwarmError, UnknownRun
from defai_swarm.runrecords import same_address

log = logging.getLogger(__name__)


class WalletSpec(BaseModel):
    """What a wallet actor is built from: nothing secret (the key is a reference resolved on the node)."""

    label: str
    key: str  # env:VAR | file:/path | devnet:N (defai_swarm.cluster.keys)
    chain_config: str  # a chain configuration or devnet manifest at this path on every node
    store: str  # postgresql://... (the cluster's shared store)
    home: str  # state directory root on each node (audit log, signing key); one sub-directory per node
    cluster: str = "default"
    policy: dict | None = None  # the chain's policy model as JSON; None = the chain's default policy
    model: str | None = None  # an OpenAI-compatible server URL (a GGUF is served by model actors instead)
    model_actors: list[str] = []  # names of the cluster's model actors (defai_swarm.cluster.model_pool)
    anchor: bool = True


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:80]


class WalletActor:
    """Plans, checks and signs every intent of one wallet (wrap with `ray.remote`; see `defai_swarm.cluster.pool`)."""

    def __init__(self, spec: WalletSpec):
        from defai_swarm.api import Swarm
        from defai_swarm.cluster.keys import chain_for
        from defai_swarm.stores import store_url
        from defai_swarm.stores.postgres import PgSpendLedger

        url = store_url(spec.store)
        if url is None:
            raise SwarmError("a wallet actor needs the cluster's shared store (postgresql://...)")
        self.spec = spec
        chain = chain_for(spec.chain_config, spec.key)
        self.node = node_id()
        self.home = Path(spec.home).expanduser() / _safe(spec.cluster) / _safe(spec.label) / self.node[:12]
        self.home.mkdir(parents=True, exist_ok=True)
        # this incarnation becomes the wallet's only reserver before anything else touches the ledger
        self.token = uuid.uuid4().hex
        owner = PgSpendLedger.for_wallet(url, chain.identity, chain.wallet_address)
        owner.register_owner(self.token, spec.cluster)
        owner.db.close()
        policy = chain.policy_model.model_validate(spec.policy) if spec.policy is not None else None
        backend: Any = None
        if spec.model_actors:
            import ray

            from defai_swarm.cluster.model_pool import RemoteModelBackend
            backend = RemoteModelBackend([ray.get_actor(name, namespace=NAMESPACE) for name in spec.model_actors])
        elif spec.model:
            from defai_swarm.session import open_model
            backend = open_model(spec.model)
        self.swarm = Swarm(chain, policy=policy, backend=backend, home=self.home, store=url, store_owner=self.token,
                           anchor=spec.anchor)
        self.refused: list[dict] = []  # runs the restart recovery would not resume (not this wallet's seal)
        self.recovered = self._recover()

    # -- for the pool
    def address(self) -> str:
        return self.swarm.chain.wallet_address

    def info(self) -> dict:
        """Where this incarnation runs and what it recovered on start (no secrets)."""
        return {"label": self.spec.label, "address": self.address(), "node": self.node, "pid": os.getpid(),
                "home": str(self.home), "chain": self.swarm.chain.identity.label, "recovered": self.recovered,
                "refused": self.refused,
                "model": _model_summary(self.swarm.backend)}

    def submit(self, run_id: str, text: str) -> dict:
        """Run `text` as run `run_id`, or continue that run if it is already stored (a retried call)."""
        try:
            attempt, stored = self._attempt(run_id)
            if stored:
                via = "resume"
                result = self.swarm.resume(attempt)
            else:
                via = "run"
                result = self.swarm.run(text, run_id=attempt)
        except Exception as exc:  # one intent's failure is its own result, not the caller's whole batch
            reason = str(exc) if isinstance(exc, SwarmError) else f"{type(exc).__name__}: {exc}"
            log.error("wallet %s: run %s failed: %s", self.spec.label, run_id, reason,
                      exc_info=not isinstance(exc, SwarmError))
            return {"requested_run_id": run_id, "run_id": run_id, "intent": text, "status": "failed",
                    "reasons": [reason], "tx_hashes": [], "tasks": {}, "node": self.node, "via": "refused"}
        return {"requested_run_id": run_id, "node": self.node, "via": via,
                **result.model_dump(mode="json", exclude={"plan"})}

    def resume(self, run_id: str) -> dict:
        result = self.swarm.resume(run_id)
        return {"requested_run_id": run_id, "node": self.node, **result.model_dump(mode="json", exclude={"plan"})}

    # -- internals
    def _attempt(self, run_id: str) -> tuple[str, bool]:
        """The run that serves the requested id, and whether it is stored (then it is resumed, never run again).

        An incarnation killed while planning leaves the id's claim (and audit entries) but no stored run (nothing
        was reserved or signed): the next call then runs under `<id>.retryN`, the first id not claimed. So a
        requested id maps to at most one stored run, `<id>` or one `<id>.retryN`, found here however many times the
        call is retried. An id another wallet claimed is refused: this actor never runs or resumes it."""
        store, auditor, candidate, n = self.swarm.store, self.swarm.auditor, run_id, 0
        family = self.swarm.chain.identity.family
        while True:
            claimed = store.load_context(candidate)
            if claimed is not None:
                owner = str(claimed[1].get("wallet", ""))
                if not same_address(owner, self.address(), family):
                    raise Refused(f"run id {candidate!r} belongs to wallet {owner}: this wallet ({self.address()}) "
                                  f"never runs or resumes it; submit it with another id")
                if store.load_run(candidate) is not None:
                    return candidate, True
            elif auditor is None or auditor.log.size(candidate) == 0:
                return candidate, False  # `Swarm.run` claims it (refused if another caller claims it first)
            n += 1
            candidate = f"{run_id[:112]}.retry{n}"

    def _recover(self) -> list[str]:
        """Resume, in nonce order, the runs whose signed transactions the node has not mined (an incarnation died
        between recording and confirming them), so new work never takes their nonces."""
        chain: Any = self.swarm.chain
        w3 = getattr(chain, "w3", None)
        if w3 is None:  # chains without a nonce sequence: the driver's retried calls resume their runs
            return []
        mined = w3.eth.get_transaction_count(chain.wallet_address, "latest")
        runs: list[str] = []
        store: Any = self.swarm.store  # PgRunStore: the actor's store is always the shared one
        for run_id, _step, _tx, _nonce in store.open_transactions(chain.identity.label, chain.wallet_address, mined):
            if run_id not in runs:
                runs.append(run_id)
        recovered: list[str] = []
        for run_id in runs:
            log.warning("wallet %s: resuming run %s (a signed transaction not yet mined)", self.spec.label, run_id)
            try:
                self.swarm.resume(run_id)
            except (Refused, ConfigError, UnknownRun) as exc:  # not this wallet's sealed run: never signed
                reason = str(exc)
                log.warning("wallet %s: run %s not resumed: %s", self.spec.label, run_id, reason)
                self.refused.append({"run_id": run_id, "reason": reason})
                continue
            recovered.append(run_id)
        return recovered


def _model_summary(backend: Any) -> dict | None:
    """How this actor plans with a model: through the cluster's model actors, a server, or one of its own."""
    if backend is None:
        return None
    via = {"RemoteModelBackend": "model actors", "OpenAIServerBackend": "server"}.get(type(backend).__name__, "local")
    return {"via": via, "sha256": backend.info.sha256, "path": backend.info.path}


__all__ = ["NAMESPACE", "WalletActor", "WalletSpec", "node_id"]
