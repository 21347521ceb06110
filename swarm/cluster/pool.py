"""Submit intents to a Ray cluster: one wallet actor per (chain, wallet), read-only work as plain Ray tasks.

    pool = SwarmPool("manifest.json", store="postgresql://swarm@db.internal/swarm", address="auto")
    pool.wallet("treasury", key="env:TREASURY_KEY")
    results = pool.run_many([("treasury", "swap 0.01 ETH to USDC, max 1% slippage")] * 10)

Any number of drivers (processes, machines) may build a pool with the same cluster name: `wallet(label, ...)` gets
the running actor when one exists, so all of them feed the same nonce stream and the same cap. Actors are
detached (they outlive the driver that started them) and restart on another node when theirs is lost; a call that
was in flight is retried there and is idempotent (see `swarm.cluster.wallet_actor`).

Ray has no authentication: start it on a private interface only (README "Scale-out").
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from swarm.cluster.keys import check_reference
from swarm.cluster.wallet_actor import WalletActor, WalletSpec
from swarm.core.errors import ConfigError
from swarm.stores import store_url

NAMESPACE = "defai-swarm"


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("the cluster needs Ray: pip install 'defai-swarm[ray]'") from None
    return ray


def _read_prices(chain_config: str, symbols: list[str]) -> list[dict]:
    """A read-only task: its chain adapter holds no key of any wallet."""
    from swarm.chains import adapter_class, read_config
    from swarm.cluster.keys import readonly_wallet

    family = read_config(Path(chain_config))["family"]
    adapter = adapter_class(family)
    chain = adapter.from_config(adapter.config_model.load(Path(chain_config)), readonly_wallet(family))
    try:
        return [chain.read_price(symbol).model_dump(mode="json") for symbol in symbols]
    finally:
        chain.close()


class SwarmPool:
    """A driver's handle on the cluster's wallet actors (see the module docstring)."""

    def __init__(self, chain_config: str | Path, store: str | None = None, *, cluster: str = "default",
                 home: str | Path = "~/.local/share/defai-swarm/cluster", policy: BaseModel | dict | None = None,
                 model: str | None = None, anchor: bool = True, address: str | None = None):
        url = store_url(store)
        if url is None:
            raise ConfigError("a cluster needs a shared store: pass store='postgresql://...' or set SWARM_STORE")
        self.ray = _ray()
        if not self.ray.is_initialized():
            self.ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
        self.chain_config, self.store, self.cluster = str(Path(chain_config).resolve()), url, cluster
        self.home = str(home)
        self.policy = policy.model_dump(mode="json") if isinstance(policy, BaseModel) else policy
        self.model, self.anchor = model, anchor
        self.actors: dict[str, Any] = {}
        self._remote_actor = self.ray.remote(WalletActor)
        self._remote_read = self.ray.remote(num_cpus=0.5)(_read_prices)

    def actor_name(self, label: str) -> str:
        return f"{self.cluster}/wallet/{label}"

    def wallet(self, label: str, key: str, node_id: str | None = None) -> Any:
        """The wallet actor named `label` in this cluster (started when it is not running). `key` is a reference
        (`env:VAR`, `file:/path`, `devnet:N`) resolved on the actor's node; `node_id` prefers a node (soft)."""
        check_reference(key)
        spec = WalletSpec(label=label, key=key, chain_config=self.chain_config, store=self.store, home=self.home,
                          cluster=self.cluster, policy=self.policy, model=self.model, anchor=self.anchor)
        options: dict[str, Any] = dict(name=self.actor_name(label), namespace=NAMESPACE, get_if_exists=True,
                                       lifetime="detached", max_restarts=-1, max_task_retries=-1, max_concurrency=1,
                                       # a token CPU share: with none, Ray ignores a node preference for the actor
                                       num_cpus=0.01)
        if node_id is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id, soft=True)
        actor = self._remote_actor.options(**options).remote(spec)
        self.actors[label] = actor
        return actor

    def _actor(self, label: str) -> Any:
        if label not in self.actors:
            try:
                self.actors[label] = self.ray.get_actor(self.actor_name(label), namespace=NAMESPACE)
            except ValueError:
                raise ConfigError(f"no wallet {label!r} in cluster {self.cluster!r}: add it with pool.wallet("
                                  f"{label!r}, key='env:VAR')") from None
        return self.actors[label]

    def submit(self, label: str, text: str, run_id: str | None = None) -> Any:
        """An ObjectRef to the run's result (a `RunResult` as JSON plus `requested_run_id` and `node`)."""
        return self._actor(label).submit.remote(run_id or uuid.uuid4().hex[:16], text)

    def run_many(self, items: list[tuple[str, str]], timeout: float | None = None) -> list[dict]:
        """Submit every (wallet label, intent) at once; results in the same order. Wallets run in parallel, each
        wallet's intents one after another (its single nonce stream)."""
        refs = [self.submit(label, text) for label, text in items]
        return self.ray.get(refs, timeout=timeout)

    def read_prices(self, symbols: list[str], per_task: int = 1) -> list[dict]:
        """Price readings fanned out as read-only Ray tasks (no wallet key involved)."""
        chunks = [symbols[i:i + per_task] for i in range(0, len(symbols), per_task)]
        refs = [self._remote_read.remote(self.chain_config, chunk) for chunk in chunks]
        return [reading for chunk in self.ray.get(refs) for reading in chunk]

    def info(self, label: str, timeout: float | None = 180) -> dict:
        """Where the wallet's actor runs and what it recovered on start (waits for a restarting actor)."""
        return self.ray.get(self._actor(label).info.remote(), timeout=timeout)

    def stop_wallet(self, label: str) -> None:
        """Kill the wallet's actor for good (no restart); its runs stay in the store."""
        self.ray.kill(self._actor(label), no_restart=True)
        self.actors.pop(label, None)


__all__ = ["NAMESPACE", "SwarmPool"]
