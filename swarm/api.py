"""The Python entry point.

    Swarm.from_devnet().run("swap 1 ETH to USDC if ETH is above 2500, max 0.5% slippage")
    Swarm.from_config("solana.json").run("swap 1 SOL to USDC, max 1% slippage")

A `Swarm` joins one chain adapter (`defai_swarm.core.chain.ChainAdapter`), a risk policy,
the task plugins (built-ins plus `Swarm.use(...)`), the planner, the LangGraph
runtime and the audit log.
"""
from __future__ import annotations

import hashlib
import json
import logging
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from pydantic import BaseModel

from defai_swarm.agents import builtin_plugins
from defai_swarm.audit import AuditLog, Signer
from defai_swarm.auditing import RunAuditor
from defai_swarm.chains import adapter_class, read_config
from defai_swarm.config import swarm_home, user_path
from defai_swarm.core.chain import ChainAdapter, Recorder
from defai_swarm.core.errors import ChainMismatch, Refused, SwarmError, UnknownRun
from defai_swarm.core.faults import fault_point
from defai_swarm.core.policy import SwapPolicy
from defai_swarm.core.status import RunStatus, TaskStatus
from defai_swarm.intent import MAX_INTENT_CHARS
from defai_swarm.ledger import SpendLedger
from defai_swarm.planner import Planner, PlanningContext, PlanResult
from defai_swarm.plugins import PluginRegistry, ProgressObserver, RunDeps, TaskPlugin
from defai_swarm.runrecords import RecordNotAuthentic, RecordSeal, same_address, seal_checkpointer, stricter_policy
from defai_swarm.runtime import Runtime
from defai_swarm.store import RunRecord, RunStore
from defai_swarm.stores import audit_storage, open_stores
from defai_swarm.taskgraph import SwapTask, TaskGraph

if TYPE_CHECKING:  # langchain/langgraph load lazily: planning needs neither (see bench_overhead's start-up rows)
    from langchain_core.runnables import RunnableConfig

FINAL_FAILURES = (TaskStatus.REFUSED, TaskStatus.FAILED, TaskStatus.SKIPPED)
log = logging.getLogger(__name__)


class RunResult(BaseModel):
    run_id: str
    intent: str
    status: RunStatus
    plan: PlanResult | None = None
    tasks: dict[str, dict] = {}
    tx_hashes: list[str] = []
    reasons: list[str] = []
    pending_approval: Any = None
    anchor: dict | None = None

    def summary(self) -> str:
        lines = [f"run {self.run_id}: {self.status}"]
        lines += [f"  {tid}: {r.get('status')} - {r.get('reason', '')}" for tid, r in self.tasks.items()]
        lines += [f"  tx {h}" for h in self.tx_hashes]
        return "\n".join(lines)


def run_status(graph: TaskGraph, tasks: dict[str, dict], plugins: PluginRegistry) -> RunStatus:
    """Effectful tasks (swaps) decide: all confirmed is done, some is partial. A read-only graph is done when
    every task finished ok."""
    effects = [tasks.get(t.id, {}).get("status") for t in graph.tasks if plugins.get(t.kind).effectful]
    if not effects:
        statuses = [tasks.get(t.id, {}).get("status") for t in graph.tasks]
        return RunStatus.DONE if all(s == TaskStatus.OK for s in statuses) else (
            RunStatus.FAILED if TaskStatus.FAILED in statuses else RunStatus.REFUSED)
    if all(s == TaskStatus.CONFIRMED for s in effects):
        return RunStatus.DONE
    if any(s == TaskStatus.CONFIRMED for s in effects):
        return RunStatus.PARTIAL
    if any(s == TaskStatus.FAILED for s in effects):
        return RunStatus.FAILED
    if all(s == TaskStatus.SKIPPED for s in effects):
        return RunStatus.SKIPPED
    return RunStatus.REFUSED


def _config(run_id: str) -> RunnableConfig:
    """The run id is the LangGraph thread id: one checkpoint history per run."""
    return {"configurable": {"thread_id": run_id}}


def _initial_state(run_id: str) -> dict:
    return {"run_id": run_id, "results": {}, "trace": []}


class Swarm:
    """Plans an intent, runs it on one chain through narrow agents, and records every step.

    `Swarm(chain=EvmChain(...))` or `Swarm(chain=SolanaChain(...))`; `Swarm(manifest=..., wallet=..., w3=...)`
    is the shortcut the tests and bots use: the manifest's family's adapter (`defai_swarm.chains`) made from it
    (`w3`, an EVM adapter's own connection, passed on when given).
    """

    def __init__(self, chain: ChainAdapter | None = None, *, w3=None, manifest=None, wallet=None,
                 policy: SwapPolicy | None = None, backend=None, home: Path | str | None = None, k: int = 3,
                 audit: bool = True, anchor: bool = True, on_task: Callable[[str, dict], None] | None = None,
                 plugins: PluginRegistry | None = None, store: str | None = None, store_owner: str | None = None,
                 on_progress: ProgressObserver | None = None):
        if chain is None:
            if manifest is None or wallet is None:
                raise TypeError("Swarm needs chain=..., or manifest=... and wallet=... (a chain configuration and "
                                "its family's wallet)")
            made: ChainAdapter = adapter_class(manifest.family)(manifest, wallet,
                                                                **({"w3": w3} if w3 is not None else {}))
            chain = made
        self.chain: ChainAdapter = chain
        self.home = user_path(home) if home else swarm_home()
        self.policy = policy or chain.policy_model()
        if not isinstance(self.policy, chain.policy_model):
            raise ChainMismatch(f"a {type(self.policy).__name__} cannot govern a {chain.family} chain: "
                                f"use {chain.policy_model.__name__}")
        self.registry = chain.registry
        if plugins is None:
            plugins = PluginRegistry(builtin_plugins())
            plugins.load_entry_points()
        self.plugins = plugins
        # SQLite under home + $SWARM_LEDGER by default; store= / $SWARM_STORE=postgresql://... for a cluster
        self.home.mkdir(parents=True, exist_ok=True)
        self.stores = open_stores(self.home, chain.identity, chain.wallet_address, store, owner=store_owner)
        self.store: RunStore = self.stores.run_store
        self.ledger: SpendLedger = self.stores.ledger
        # run records and checkpoints are sealed with a key derived from the wallet's: a store's rows that this
        # wallet did not write are never resumed (defai_swarm.runrecords)
        self.seal = RecordSeal.for_chain(chain)
        self.backend, self.k, self.on_task = backend, k, on_task
        self.on_progress = on_progress  # a long task's progress (wait_3: 7 of 10 blocks), see defai_swarm.plugins
        self.auditor: RunAuditor | None = None
        if audit:
            # with a shared store, the audit log is in the same database: a resumed run keeps one log
            log = AuditLog(audit_storage(self.stores.url or self.home / "audit" / "audit.db"))
            for secret in chain.secret_markers():
                log.register_secret(secret)
            self.auditor = RunAuditor(log, Signer.load(self.home / "audit" / "signing.key"),
                                      chain.anchorer() if anchor else None)
        self.record: Recorder = self.auditor.record if self.auditor else (lambda run_id, kind, payload: None)
        self.runtime = Runtime(self.plugins, checkpointer_factory=self._sealed_checkpointer)
        self.deps = self._deps(self.policy)
        # run before each run, never inside one: a local devnet started with --keep-pools-aligned re-aligns its pools
        self.before_run: list[Callable[[], None]] = []
        manifest = getattr(chain, "config", None)
        if getattr(manifest, "keep_pools_aligned", False):
            from defai_swarm.tools.devnet.control import align_pools

            def align() -> None:
                align_pools(manifest)
            self.before_run.append(align)

    def _sealed_checkpointer(self) -> Any:
        """The store's LangGraph checkpointer, every blob sealed with the wallet's key and bound to its run."""
        return seal_checkpointer(self.stores.checkpointer, self.seal)

    def _deps(self, policy: SwapPolicy) -> RunDeps:
        return RunDeps(chain=self.chain, policy=policy, outbox=self.store, ledger=self.ledger, record=self.record,
                       executor=self.chain.executor(self.store, self.record, policy), plugins=self.plugins,
                       on_progress=self.on_progress)

    # -- construction ----------------------------------------------------------------------------------
    @classmethod
    def from_devnet(cls, manifest_path: Path | str | None = None, wallet=None, **kwargs) -> "Swarm":
        """The local EVM devnet (`swarm devnet up`); wallet: the one given, `SWARM_PRIVATE_KEY`, or dev account 1.
        A path may start with `~` (the home directory), here and in `from_config`."""
        from defai_swarm.tools.devnet import default_manifest_path
        from defai_swarm.tools.devnet.manifest import DevnetManifest
        manifest = DevnetManifest.load(user_path(manifest_path or default_manifest_path()))
        return cls(adapter_class(manifest.family).from_config(manifest, wallet), **kwargs)

    @classmethod
    def from_config(cls, path: Path | str, wallet=None, **kwargs) -> "Swarm":
        """Any configured chain: the JSON's `family` picks the adapter (`evm`, `solana`, or a plugin's)."""
        path = user_path(path)
        data = read_config(path)
        adapter = adapter_class(data["family"])
        config = adapter.config_model.load(path)
        return cls(adapter.from_config(config, wallet), **kwargs)

    def use(self, plugin: TaskPlugin) -> "Swarm":
        """Add a task kind (a narrow agent). A kind registered twice is an error."""
        self.plugins.register(plugin)
        return self

    def close(self) -> None:
        """Release the stores, the audit log and the chain connection (entries still pending are flushed first)."""
        if self.auditor is not None:
            self.auditor.log.close()
        self.stores.close()
        self.chain.close()

    # -- the chain adapter's own parts, for bots and tests: `swarm.chain.<part>` says the same ----------------
    def _chain_part(self, name: str) -> Any:
        """An attribute of this swarm's chain adapter that the adapter protocol does not declare (EVM: w3, uniswap,
        sender; the built-in adapters: wallet, config). AttributeError naming the family where it has none."""
        part = getattr(self.chain, name, None)
        if part is None:
            raise AttributeError(f"this swarm's chain ({self.chain.family}) has no {name}")
        return part

    @property
    def wallet(self) -> Any:
        return self._chain_part("wallet")

    @property
    def manifest(self) -> Any:
        """The chain's configuration (`chain.config`)."""
        return self._chain_part("config")

    @property
    def w3(self) -> Any:
        """An EVM chain's web3 connection (`chain.w3`)."""
        return self._chain_part("w3")

    @property
    def uniswap(self) -> Any:
        """An EVM chain's Uniswap V2 client (`chain.uniswap`; its DEXes, Uniswap V2 among them: `chain.dexes()`)."""
        return self._chain_part("uniswap")

    @property
    def sender(self) -> Any:
        """The chain's transaction sender (`chain.sender`)."""
        return self._chain_part("sender")

    # -- planning and running -------------------------------------------------------------------------------
    def balances(self) -> dict:
        tokens = [self.chain.token(sym) for sym in self.registry.symbols()]
        return {t.symbol: t.from_base(self.chain.balance_of(t.symbol)) for t in tokens}

    def plan(self, text: str) -> PlanResult:
        """The planner's graph, then every plugin's `extend_plan` (its own tasks added), validated again."""
        context = PlanningContext(balances=self.balances(), max_slippage_bps=self.policy.max_slippage_bps,
                                  default_slippage_bps=self.policy.default_slippage_bps,
                                  gas_reserve=self.policy.gas_reserve)
        plan = Planner(self.registry, self.backend, context, k=self.k).plan(text)
        if not plan.ok or plan.task_graph is None:
            return plan
        graph = plan.task_graph
        for plugin in self.plugins.plugins():
            graph = plugin.extend_plan(graph)
        if graph is plan.task_graph:
            return plan
        errors = self.plugins.validate(graph, self.registry, self.chain.family)
        if errors:
            return plan.model_copy(update={"ok": False, "task_graph": None,
                                           "refusal_reason": "a plugin's additions broke the plan: " + "; ".join(errors)})
        return plan.model_copy(update={"task_graph": graph})

    def _claim(self, run_id: str | None) -> str:
        """A fresh id, or the caller's if no run has it yet, claimed before anything of the run is written: one
        atomic insert binds it to this wallet, chain and policy (sealed with the wallet's key). Of two processes
        (or wallets) given the same id at once, one claims it; the other is refused having written nothing."""
        run_id = run_id or uuid.uuid4().hex[:16]
        taken = f"run id {run_id!r} already exists; pick a new one (or `swarm resume {run_id}` to continue it)"
        if self.auditor is not None and self.auditor.log.size(run_id) > 0:
            raise Refused(taken)
        chain, context_json = self.chain.identity.label, json.dumps(self._run_context())
        if not self.store.claim_run(run_id, chain, context_json, self.seal.context(run_id, chain, context_json)):
            raise Refused(taken)
        return run_id

    def run(self, text: str, run_id: str | None = None) -> RunResult:
        run_id = self._claim(run_id)
        for hook in self.before_run:
            hook()
        log.info("run %s: %r on %s", run_id, text[:200], self.chain.identity.label)
        if len(text) > MAX_INTENT_CHARS:  # refused before anything is stored: the log keeps a digest, not the text
            digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
            reason = f"intent is {len(text)} characters long; the limit is {MAX_INTENT_CHARS}"
            self.record(run_id, "intent", {"text": text[:MAX_INTENT_CHARS], "truncated": True, "length": len(text),
                                           "sha256": digest, **self._run_context()})
            self.record(run_id, "plan", {"ok": False, "refusal_reason": reason, "note": "refused before planning",
                                         "operations": None, "task_graph": None})
            self.record(run_id, "refusal", {"reason": reason})
            return self._finish(RunResult(run_id=run_id, intent=text[:MAX_INTENT_CHARS], status=RunStatus.REFUSED,
                                          reasons=[reason]))
        self.record(run_id, "intent", {"text": text, **self._run_context()})
        fault_point("after_intent")
        with self._sealed_on_error(run_id):
            return self._plan_and_execute(text, run_id)

    @contextmanager
    def _live_model_calls(self, run_id: str):
        """Every model call of the planning goes to the audit log as it finishes (prompt, reasoning, raw answer,
        token counts), so a planning run killed half-way leaves its thoughts behind."""
        backend = self.backend
        if backend is None or not hasattr(backend, "on_call"):
            yield
            return
        observed: Any = backend
        previous = observed.on_call

        def observe(event) -> None:
            self.record(run_id, "model_call", event.model_dump(mode="json"))
            if previous is not None:  # e.g. the CLI's planning progress
                previous(event)
        observed.on_call = observe
        try:
            yield
        finally:
            observed.on_call = previous

    @contextmanager
    def _sealed_on_error(self, run_id: str):
        """An unexpected error still leaves the run recorded and sealed (its cause in the log), then propagates."""
        try:
            yield
        except Exception as exc:
            self.record(run_id, "error", {"reason": f"{type(exc).__name__}: {exc}"})
            self._finish(RunResult(run_id=run_id, intent="", status=RunStatus.FAILED, reasons=[str(exc)]))
            raise

    def _plan_and_execute(self, text: str, run_id: str) -> RunResult:
        with self._live_model_calls(run_id):
            plan = self.plan(text)
        for thought in plan.thoughts:
            self.record(run_id, "thought", thought.model_dump(mode="json"))
        self.record(run_id, "plan", {"ok": plan.ok, "refusal_reason": plan.refusal_reason, "note": plan.note,
                                     "refusal_class": plan.refusal_class, "readings": plan.readings,
                                     "request": plan.request.model_dump(mode="json") if plan.request else None,
                                     "trace": [r.model_dump(mode="json") for r in plan.trace],
                                     "operations": plan.operations.model_dump(mode="json"),
                                     "task_graph": plan.task_graph.model_dump(mode="json") if plan.task_graph else None})
        if not plan.ok or plan.task_graph is None:
            reason = plan.refusal_reason or "no plan"
            self.record(run_id, "refusal", {"reason": reason})
            return self._finish(RunResult(run_id=run_id, intent=text, status=RunStatus.REFUSED, plan=plan,
                                          reasons=[reason]))
        return self.execute(plan.task_graph, run_id, plan)

    def execute(self, graph: TaskGraph, run_id: str | None = None, plan: PlanResult | None = None) -> RunResult:
        """Run a task graph (from the planner, or built in code); it is validated first, never trusted."""
        if plan is None:
            run_id = self._claim(run_id)
            self.record(run_id, "intent", {"text": graph.intent, "task_graph": graph.model_dump(mode="json"),
                                           **self._run_context()})
        assert run_id is not None
        errors = self.plugins.validate(graph, self.registry, self.chain.family)
        if errors:
            self.record(run_id, "refusal", {"reason": "invalid task graph", "errors": errors})
            return self._finish(RunResult(run_id=run_id, intent=graph.intent, status=RunStatus.REFUSED, plan=plan,
                                          reasons=errors))
        # the context (wallet, policy) was stored when the id was claimed; the plan now, sealed like it
        plan_json, chain = graph.model_dump_json(), self.chain.identity.label
        self.store.save_run(run_id, graph.intent, plan_json, self.seal.run(run_id, chain, graph.intent, plan_json))
        fault_point("after_plan")
        return self._invoke(run_id, self.runtime.compile(graph), graph, _initial_state(run_id), plan, self.deps)

    def resume(self, run_id: str, approve: bool | None = None, operator: str = "cli") -> RunResult:
        """Continue a run from its last checkpoint (after a crash or an approval request), on the chain it was
        started on, with the wallet that started it, under the stricter of this swarm's policy and the recorded
        one. Only records this wallet sealed are acted on: anything else in the store is refused, nothing signed."""
        record = self.store.run_record(run_id)
        if record is None or record.plan_json is None:
            raise UnknownRun(f"no run {run_id} in {self.store.path}")
        try:
            policy = self._resume_policy(run_id, record)
            graph = self.plugins.parse_graph(record.plan_json)
            app = self.runtime.compile(graph)
            state = self._state(app, run_id)
        except RecordNotAuthentic as exc:
            log.warning("refused to resume: %s", exc)
            raise
        deps = self._deps(policy)
        if state.values and not state.next:  # already finished: report it, sign and anchor nothing new
            return self._finished(run_id, graph, state.values.get("results", {}))
        if policy != self.chain.policy_model.model_validate(json.loads(record.context_json)["policy"]):
            # decisions from here on are made under it: the audit replay uses it for them (defai_swarm.audit.replay)
            self.record(run_id, "resume", {"policy": policy.model_dump(mode="json"),
                                           "note": "the stricter of the resuming swarm's and the recorded policy"})
        if approve is not None:
            from langgraph.types import Command
            payload: Any = Command(resume={"approve": approve, "operator": operator})
        elif state.values.get("run_id"):  # the graph's input was recorded
            payload = None  # continue from the last checkpoint
        else:  # stopped after planning, before the first step (or before LangGraph stored the input): start it
            payload = _initial_state(run_id)
        return self._invoke(run_id, app, graph, payload, None, deps)

    def _state(self, app, run_id: str):
        """The run's checkpointed state; every blob's seal is checked on the way (RecordNotAuthentic)."""
        state = app.get_state(_config(run_id))
        if state.values.get("run_id") not in (None, run_id):  # a value stored in the clear (PostgreSQL)
            raise RecordNotAuthentic(f"run {run_id}: its stored checkpoint names run {state.values['run_id']!r}: "
                                     f"refused, nothing signed")
        return state

    def _resume_policy(self, run_id: str, record: RunRecord) -> SwapPolicy:
        """The run's chain and wallet must be this swarm's, its rows sealed by this wallet; the policy is the
        stricter of this swarm's and the recorded one (a stored policy can tighten a limit, never loosen it)."""
        if not record.chain:
            raise RecordNotAuthentic(f"run {run_id}: the store holds its plan but no context (wallet, chain, policy): "
                                     f"refused, nothing signed")
        try:
            context = json.loads(record.context_json)
            identity = context.get("chain_identity", {})
            started_by = str(context.get("wallet", ""))
        except (ValueError, AttributeError):
            raise RecordNotAuthentic(f"run {run_id}: its stored context is not a run context: refused, nothing "
                                     f"signed") from None
        here = self.chain.identity
        if record.chain != here.label or identity.get("genesis_hash", "") != here.genesis_hash:
            raise ChainMismatch(f"run {run_id} ran on {record.chain} (genesis {identity.get('genesis_hash')}); "
                                f"this swarm is on {self.chain.identity.label}: resume it against that chain")
        if not same_address(started_by, self.chain.wallet_address, identity.get("family", "")):
            raise Refused(f"run {run_id} was started by wallet {started_by}; it resumes only with that wallet "
                          f"(this swarm signs for {self.chain.wallet_address})")
        self.seal.check(run_id, record, self.chain.wallet_address)
        recorded = self.chain.policy_model.model_validate(context["policy"])
        policy = stricter_policy(self.policy, recorded)
        if policy != recorded:
            log.info("run %s resumes under this swarm's policy where it is stricter than the recorded one", run_id)
        return policy

    def _invoke(self, run_id: str, app, graph: TaskGraph, payload, plan: PlanResult | None,
                deps: RunDeps) -> RunResult:
        config = _config(run_id)
        interrupts: list = []
        try:
            for chunk in app.stream(payload, config, stream_mode="updates", durability="sync", context=deps):
                for node, update in chunk.items():
                    if node == "__interrupt__":
                        interrupts.extend(i.value for i in update)
                    elif self.on_task and update:
                        for task_id, task_result in update.get("results", {}).items():
                            self.on_task(task_id, task_result)
        except (SwarmError, OSError) as exc:  # OSError: a transport failure no adapter wrapped
            # A step could not finish (node unreachable, a signed tx's fate unknown). Its checkpoint and
            # outbox entry stay, so `resume` completes it later without signing anything twice.
            tasks = app.get_state(config).values.get("results", {})
            reason = f"interrupted: {exc}; resume with `swarm resume {run_id}` once the RPC is reachable"
            self.record(run_id, "error", {"reason": reason, "completed_tasks": sorted(tasks)})
            return self._finish(RunResult(run_id=run_id, intent=graph.intent, status=RunStatus.FAILED, plan=plan,
                                          tasks=tasks, tx_hashes=self.store.sent_ids(run_id), reasons=[reason]))
        tasks = app.get_state(config).values.get("results", {})
        result = RunResult(run_id=run_id, intent=graph.intent, status=run_status(graph, tasks, self.plugins),
                           plan=plan, tasks=tasks, tx_hashes=self.store.sent_ids(run_id),
                           reasons=[f"{tid}: {r.get('reason')}" for tid, r in tasks.items()
                                    if r.get("status") in FINAL_FAILURES])
        if interrupts:
            result.status, result.pending_approval = RunStatus.AWAITING_APPROVAL, interrupts
            self.record(run_id, "approval_request", {"requests": interrupts})
            return result
        return self._finish(result)

    def _finished(self, run_id: str, graph: TaskGraph, tasks: dict[str, dict]) -> RunResult:
        anchored = self.auditor.anchor_for(run_id) if self.auditor is not None else None
        return RunResult(run_id=run_id, intent=graph.intent, status=run_status(graph, tasks, self.plugins), tasks=tasks,
                         tx_hashes=self.store.sent_ids(run_id), anchor=anchored[1] if anchored else None,
                         reasons=[f"{tid}: {r.get('reason')}" for tid, r in tasks.items() if r.get("status") in FINAL_FAILURES])

    def _run_context(self) -> dict:
        """What a reviewer needs to replay the run's decisions: chain identity, wallet, policy, model file."""
        model = self.backend.info.model_dump(mode="json", include={"path", "sha256", "size_bytes", "architecture", "name"}) \
            if self.backend is not None else None
        identity = self.chain.identity
        return {"wallet": self.chain.wallet_address, "chain": identity.label,
                "chain_identity": identity.model_dump(mode="json"),
                "chain_id": identity.recorded_chain_id,
                "policy": self.policy.model_dump(mode="json"), "model": model}

    def _finish(self, result: RunResult) -> RunResult:
        """Record the outcome, then sign and anchor the run's checkpoint."""
        log.info("run %s: %s (%d transaction(s))", result.run_id, result.status, len(result.tx_hashes))
        self.record(result.run_id, "run_result", {"status": result.status, "tx_hashes": result.tx_hashes,
                                                  "reasons": result.reasons})
        if self.auditor is not None:
            _, result.anchor = self.auditor.seal(result.run_id)
            if result.anchor:
                log.info("run %s: audit checkpoint anchored in tx %s", result.run_id, result.anchor.get("tx_id"))
        return result

    def trace(self, run_id: str) -> list[dict]:
        stored = self.store.load_run(run_id)
        if stored is None:
            raise UnknownRun(f"no run {run_id} in {self.store.path}")
        state = self._state(self.runtime.compile(self.plugins.parse_graph(stored[1])), run_id)
        return state.values.get("trace", [])


__all__ = ["Swarm", "RunResult", "SwapTask", "run_status"]
