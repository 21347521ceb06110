"""Submit intents to a Ray cluster: one wallet actor per (chain, wallet), read-only work as plain Ray tasks.

    pool = SwarmPool("manifest.json", store="postgresql://swarm@db.internal/swarm", address="auto")
    pool.wallet("treasury", key="env:TREASURY_KEY")
    results = pool.run_many([("treasury", "swap 0.01 ETH to USDC, max 1% slippage")] * 10)
    dca = pool.schedule("treasury", "swap 100 USDC to ETH", every_blocks=300, rounds=10)   # a bot schedule

Any number of drivers (processes, machines) may build a pool with the same cluster name: `wallet(label, ...)` gets
the running actor when one exists, so all of them feed the same nonce stream and the same cap. Actors are
detached (they outlive the driver that started them) and restart on another node when theirs is lost; a call that
was in flight is retried there and is idempotent (see `defai_swarm.cluster.wallet_actor`).

A model is either a GGUF path (loaded once in each of `model_actors` model actors that every wallet actor's plans
share, see `defai_swarm.cluster.model_pool`) or an OpenAI-compatible server URL (every wallet actor calls it).

Ray has no authentication of its own by default: start it on a private interface only (README "Scale-out").
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from defai_swarm.audit.log import RUN_ID_RE
from defai_swarm.cluster.keys import check_actor_env, check_reference, readonly_chain
from defai_swarm.cluster.model_pool import ModelActor
from defai_swarm.cluster.schedule import ScheduleActor, ScheduleSpec
from defai_swarm.cluster.node import NAMESPACE
from defai_swarm.cluster.wallet_actor import WalletActor, WalletSpec
from defai_swarm.config import user_path
from defai_swarm.core.errors import ConfigError
from defai_swarm.llm import is_server_spec
from defai_swarm.stores import store_url


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("the cluster needs Ray: pip install 'defai-swarm[ray]'") from None
    return ray


def _read_prices(chain_config: str, symbols: list[str]) -> list[dict]:
    """A read-only task: its chain adapter holds no key of any wallet."""
    chain = readonly_chain(chain_config)
    try:
        return [chain.read_price(symbol).model_dump(mode="json") for symbol in symbols]
    finally:
        chain.close()


def _block_height(chain_config: str) -> int:
    """A read-only task: the chain's height now (a schedule's first round)."""
    from defai_swarm.agents.wait_blocks import block_height

    chain = readonly_chain(chain_config)
    try:
        return block_height(chain)
    finally:
        chain.close()


def _last_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _root_cause(exc: BaseException) -> str:
    """The error an actor's constructor raised, from Ray's report (which carries the remote traceback as text):
    its last `SomeError: message` line, without the module path."""
    import re

    found = re.findall(r"^\s*(?:[\w.]+\.)?(\w+(?:Error|Exception|Refused|Mismatch)): (.+)$", str(exc), re.MULTILINE)
    if not found:
        return _last_line(exc)
    name, message = found[-1]
    return f"{message.strip()} ({name})"


def _first_error(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False)[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)


class SwarmPool:
    """A driver's handle on the cluster's wallet actors (see the module docstring)."""

    def __init__(self, chain_config: str | Path, store: str | None = None, *, cluster: str = "default",
                 home: str | Path = "~/.local/share/defai-swarm/cluster", policy: BaseModel | dict | None = None,
                 model: str | None = None, model_actors: int = 1, model_cpus: float = 1.0,
                 model_options: dict | None = None, anchor: bool = True, address: str | None = None):
        """`model`: a GGUF path on every node (served by `model_actors` actors of `model_cpus` CPUs each, one loaded
        model per actor; `model_options` go to `defai_swarm.llm.load_backend`) or an OpenAI-compatible server URL."""
        url = store_url(store)
        if url is None:
            raise ConfigError("a cluster needs a shared store: pass store='postgresql://...' or set SWARM_STORE")
        gguf = model if model is not None and not is_server_spec(model) else None
        if gguf is not None and model_actors < 1:
            raise ConfigError("a GGUF model on a cluster is served by model actors: model_actors must be 1 or more")
        self.ray = _ray()
        if not self.ray.is_initialized():
            try:
                self.ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = address or "the RAY_ADDRESS / local cluster"
                raise ConfigError(f"cannot join the Ray cluster at {where}: {_last_line(exc)}; start it with `ray "
                                  f"start --head` (README \"Scale-out\"; with token auth, the same RAY_AUTH_MODE and "
                                  f"token on the driver)") from None
        self.chain_config, self.store, self.cluster = str(user_path(chain_config).resolve()), url, cluster
        self.home = str(home)
        self.policy = policy.model_dump(mode="json") if isinstance(policy, BaseModel) else policy
        self.model_url, self.anchor = None if gguf else model, anchor  # a server every wallet actor calls
        self.actors: dict[str, Any] = {}
        self._remote_actor = self.ray.remote(WalletActor)
        self._remote_read = self.ray.remote(num_cpus=0.5)(_read_prices)
        self._remote_height = self.ray.remote(num_cpus=0.1)(_block_height)
        self.schedules: dict[str, Any] = {}
        self.model_actor_names: list[str] = []
        if gguf is not None:
            self.model_actor_names = [self._start_model_actor(i, gguf, model_cpus, model_options)
                                      for i in range(model_actors)]

    def actor_name(self, label: str) -> str:
        return f"{self.cluster}/wallet/{label}"

    def schedule_name(self, schedule_id: str) -> str:
        return f"{self.cluster}/schedule/{schedule_id}"

    def wallet(self, label: str, key: str, node_id: str | None = None, env: dict[str, str] | None = None,
               start_timeout: float = 300) -> Any:
        """The wallet actor named `label` in this cluster (started when it is not running). `key` is a reference
        (`env:VAR`, `file:/path`, `devnet:N`) resolved on the actor's node; `node_id` prefers a node (soft); `env`
        sets environment variables of the actor's process (never secrets: Ray stores them in the clear)."""
        check_reference(key)
        spec = WalletSpec(label=label, key=key, chain_config=self.chain_config, store=self.store, home=self.home,
                          cluster=self.cluster, policy=self.policy,
                          model=self.model_url, model_actors=self.model_actor_names, anchor=self.anchor)
        options: dict[str, Any] = dict(name=self.actor_name(label), namespace=NAMESPACE, get_if_exists=True,
                                       lifetime="detached", max_restarts=-1, max_task_retries=-1, max_concurrency=1,
                                       # a token CPU share: with none, Ray ignores a node preference for the actor
                                       num_cpus=0.01)
        if env:
            options["runtime_env"] = {"env_vars": dict(check_actor_env(env))}
        if node_id is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id, soft=True)
        actor = self._remote_actor.options(**options).remote(spec)
        self._started(actor, f"wallet {label!r}", start_timeout)
        self.actors[label] = actor
        return actor

    def _started(self, actor: Any, what: str, timeout: float) -> None:
        """Wait until the actor answers: a creation error (a key reference not set on the node, the store
        unreachable, a model file missing) is one line here, not a dead actor found at the first intent."""
        from ray.exceptions import GetTimeoutError, RayActorError

        try:
            self.ray.get(actor.info.remote(), timeout=timeout)
        except RayActorError as exc:
            raise ConfigError(f"{what} could not start on the cluster: {_root_cause(exc)}") from None
        except GetTimeoutError:
            raise ConfigError(f"{what} did not start within {timeout:.0f} s: is a node with free CPU in the "
                              f"cluster (`ray status`)?") from None

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
        if run_id is not None and not RUN_ID_RE.fullmatch(run_id):
            raise ConfigError(f"run id {run_id[:40]!r} is not valid: use letters, digits and . _ : - (at most 128)")
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

    def schedule(self, label: str, intent: str, every_blocks: int, rounds: int, schedule_id: str | None = None,
                 start_block: int | None = None, poll_seconds: float = 1.0) -> Any:
        """Run `intent` for wallet `label` every `every_blocks` blocks, `rounds` times (first round at
        `start_block`, default: now); an ObjectRef to every round's result. The schedule is a detached actor: it
        goes on when this driver exits and after a node loss, and never runs a round twice (see
        `defai_swarm.cluster.schedule`). Give the round's intent without a schedule of its own."""
        self._actor(label)  # the wallet must be in the cluster
        sid = schedule_id or f"sched-{uuid.uuid4().hex[:12]}"
        if start_block is None:
            start_block = self.ray.get(self._remote_height.remote(self.chain_config))
        try:
            spec = ScheduleSpec(schedule_id=sid, wallet_actor=self.actor_name(label), namespace=NAMESPACE,
                                intent=intent, every_blocks=every_blocks, rounds=rounds, start_block=start_block,
                                chain_config=self.chain_config, poll_seconds=poll_seconds)
        except ValueError as exc:
            raise ConfigError(f"schedule: {_first_error(exc)}") from None
        self._check_new_schedule(sid)
        actor = self.ray.remote(ScheduleActor).options(
            name=self.schedule_name(sid), namespace=NAMESPACE, get_if_exists=True, lifetime="detached",
            max_restarts=-1, max_task_retries=-1, max_concurrency=2, num_cpus=0.01).remote(spec)
        self.schedules[sid] = actor
        return actor.run.remote()

    def _check_new_schedule(self, sid: str) -> None:
        """A schedule id is used once: a running schedule of that id would keep its own intent and rounds, and a
        stopped one's rounds would be reported as this schedule's."""
        from defai_swarm.stores.postgres import PgRunStore

        store = PgRunStore(self.store)
        try:
            used = store.load_run(ScheduleSpec.round_run_id_of(sid, 1)) is not None
        finally:
            store.db.close()
        if not used:
            try:
                self.ray.get_actor(self.schedule_name(sid), namespace=NAMESPACE)
                used = True
            except ValueError:
                pass
        if used:
            raise ConfigError(f"schedule id {sid!r} is taken in cluster {self.cluster!r} (a schedule runs under it, "
                              f"or its rounds are in the store): pick another id")

    def schedule_status(self, schedule_id: str) -> dict:
        """The schedule and the rounds finished so far."""
        return self.ray.get(self._schedule(schedule_id).status.remote(), timeout=60)

    def stop_schedule(self, schedule_id: str) -> None:
        """End the schedule for good: no more rounds (a round already handed to the wallet actor finishes)."""
        self.ray.kill(self._schedule(schedule_id), no_restart=True)
        self.schedules.pop(schedule_id, None)

    def _schedule(self, schedule_id: str) -> Any:
        if schedule_id not in self.schedules:
            try:
                self.schedules[schedule_id] = self.ray.get_actor(self.schedule_name(schedule_id),
                                                                 namespace=NAMESPACE)
            except ValueError:
                raise ConfigError(f"no schedule {schedule_id!r} in cluster {self.cluster!r}") from None
        return self.schedules[schedule_id]

    def model_info(self) -> list[dict]:
        """Where each model actor runs, which model file it holds and how many calls it has served."""
        handles = [self.ray.get_actor(name, namespace=NAMESPACE) for name in self.model_actor_names]
        infos = self.ray.get([h.info.remote() for h in handles], timeout=600)
        places = self.ray.get([h.where.remote() for h in handles], timeout=600)
        return [{"name": name, **place, "sha256": info.sha256, "path": info.path}
                for name, info, place in zip(self.model_actor_names, infos, places, strict=True)]

    def stop_models(self) -> None:
        for name in self.model_actor_names:
            try:
                self.ray.kill(self.ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
            except ValueError:
                pass

    def _start_model_actor(self, i: int, model: str, cpus: float, options: dict | None) -> str:
        name = f"{self.cluster}/model/{i}"
        actor = self.ray.remote(ModelActor).options(
            name=name, namespace=NAMESPACE, get_if_exists=True, lifetime="detached", max_restarts=-1,
            max_task_retries=-1, max_concurrency=1, num_cpus=cpus).remote(model, options)
        self._started(actor, f"model actor {name!r}", 600)
        return name

    def stop_wallet(self, label: str) -> None:
        """Kill the wallet's actor for good (no restart); its runs stay in the store."""
        self.ray.kill(self._actor(label), no_restart=True)
        self.actors.pop(label, None)


__all__ = ["NAMESPACE", "SwarmPool"]
