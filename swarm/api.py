"""The Python entry point: `Swarm.from_devnet().run("swap 1 ETH to USDC if ETH is above 2500, max 0.5% slippage")`."""
from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any, Callable, Literal

import requests
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command
from pydantic import BaseModel

from agents.price_reader import PriceReader
from agents.risk import RiskChecker, RiskPolicy
from agents.swap_executor import SwapExecutor
from swarm.audit import AuditLog, Signer
from swarm.auditing import RunAuditor
from swarm.config import swarm_home
from swarm.faults import fault_point
from swarm.planner import Planner, PlanningContext, PlanResult
from swarm.runtime import AgentContext, Recorder, Runtime
from swarm.store import RunStore
from swarm.taskgraph import SwapTask, TaskGraph
from tools.devnet.manifest import DevnetManifest
from tools.evm import erc20
from tools.evm.errors import EvmToolError
from tools.evm.rpc import connect
from tools.evm.tokens import TokenRegistry
from tools.evm.tx import TxSender
from tools.evm.uniswap import UniswapV2
from tools.evm.wallet import Wallet

RunStatus = Literal["done", "partial", "skipped", "refused", "failed", "awaiting_approval"]


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


def _status(plan: TaskGraph, tasks: dict[str, dict]) -> RunStatus:
    swaps = [tasks.get(s.id, {}).get("status") for s in plan.swaps()]
    if all(s == "confirmed" for s in swaps):
        return "done"
    if any(s == "confirmed" for s in swaps):
        return "partial"
    if any(s == "failed" for s in swaps):
        return "failed"
    if all(s == "skipped" for s in swaps):
        return "skipped"
    return "refused"


def _config(run_id: str) -> dict:
    """The run id is the LangGraph thread id: one checkpoint history per run."""
    return {"configurable": {"thread_id": run_id}}


def _initial_state(run_id: str) -> dict:
    return {"run_id": run_id, "results": {}, "trace": []}


class Swarm:
    """Plans an intent, runs it on the chain through narrow agents, and records every step."""

    def __init__(self, *, w3, manifest: DevnetManifest, wallet: Wallet, policy: RiskPolicy | None = None,
                 backend=None, home: Path | None = None, k: int = 3, audit: bool = True, anchor: bool = True,
                 on_task: Callable[[str, dict], None] | None = None):
        self.home = Path(home or swarm_home())
        self.w3, self.manifest, self.wallet = w3, manifest, wallet
        self.policy = policy or RiskPolicy()
        self.registry = TokenRegistry.from_manifest(manifest)
        self.uniswap = UniswapV2.from_manifest(w3, manifest, self.registry)
        self.store = RunStore(self.home / "runs.sqlite")
        self.backend, self.k, self.on_task = backend, k, on_task
        self.sender = TxSender(w3, wallet)
        self.auditor: RunAuditor | None = None
        if audit:
            log = AuditLog(self.home / "audit" / "audit.db")
            for secret in wallet.secret_markers():
                log.register_secret(secret)
            anchorer = self._anchor_on_evm if anchor else None
            self.auditor = RunAuditor(log, Signer.load(self.home / "audit" / "signing.key"), anchorer)
        self.record: Recorder = self.auditor.record if self.auditor else (lambda run_id, kind, payload: None)
        self.ctx = AgentContext(
            registry=self.registry, uniswap=self.uniswap,
            prices=PriceReader(self.registry, self.uniswap, manifest.feeds),
            risk=RiskChecker(self.policy), executor=SwapExecutor(self.uniswap, self.sender, self.store, self.record),
            store=self.store, policy=self.policy, record=self.record)
        self._checkpoints = sqlite3.connect(self.home / "checkpoints.sqlite", check_same_thread=False)
        self.runtime = Runtime(self.ctx, SqliteSaver(self._checkpoints))

    def _anchor_on_evm(self, digest: bytes):
        from swarm.audit.anchor_evm import anchor_on_evm
        return anchor_on_evm(self.sender, digest)

    @classmethod
    def from_devnet(cls, manifest_path: Path | None = None, wallet: Wallet | None = None, **kwargs) -> "Swarm":
        from tools.devnet import default_manifest_path
        manifest = DevnetManifest.load(Path(manifest_path or default_manifest_path()))
        return cls(w3=connect(manifest.rpc_url), manifest=manifest, wallet=wallet or Wallet.devnet(1), **kwargs)

    def close(self) -> None:
        self._checkpoints.close()

    def balances(self) -> dict:
        tokens = [self.registry.resolve(sym) for sym in self.registry.symbols()]
        return {t.symbol: t.from_base(erc20.balance_of(self.w3, t, self.wallet.address)) for t in tokens}

    def plan(self, text: str) -> PlanResult:
        context = PlanningContext(balances=self.balances(), max_slippage_bps=self.policy.max_slippage_bps,
                                  default_slippage_bps=self.policy.default_slippage_bps)
        return Planner(self.registry, self.backend, context, k=self.k).plan(text)

    def run(self, text: str, run_id: str | None = None) -> RunResult:
        run_id = run_id or uuid.uuid4().hex[:16]
        self.record(run_id, "intent", {"text": text, **self._run_context()})
        plan = self.plan(text)
        for thought in plan.thoughts:
            self.record(run_id, "thought", thought.model_dump(mode="json"))
        self.record(run_id, "plan", {"ok": plan.ok, "refusal_reason": plan.refusal_reason, "note": plan.note,
                                     "operations": plan.operations.model_dump(mode="json"),
                                     "task_graph": plan.task_graph.model_dump(mode="json") if plan.task_graph else None})
        if not plan.ok:
            self.record(run_id, "refusal", {"reason": plan.refusal_reason})
            return self._finish(RunResult(run_id=run_id, intent=text, status="refused", plan=plan,
                                          reasons=[plan.refusal_reason]))
        return self.execute(plan.task_graph, run_id, plan)

    def execute(self, graph: TaskGraph, run_id: str | None = None, plan: PlanResult | None = None) -> RunResult:
        """Run a task graph (from the planner, or built in code); it is validated first, never trusted."""
        run_id = run_id or uuid.uuid4().hex[:16]
        if plan is None:
            self.record(run_id, "intent", {"text": graph.intent, "task_graph": graph.model_dump(mode="json"),
                                           **self._run_context()})
        errors = graph.validate_structure(self.registry)
        if errors:
            self.record(run_id, "refusal", {"reason": "invalid task graph", "errors": errors})
            return self._finish(RunResult(run_id=run_id, intent=graph.intent, status="refused", plan=plan, reasons=errors))
        self.store.save_run(run_id, graph.intent, graph.model_dump_json())
        fault_point("after_plan")
        return self._invoke(run_id, self.runtime.compile(graph), graph, _initial_state(run_id), plan)

    def resume(self, run_id: str, approve: bool | None = None, operator: str = "cli") -> RunResult:
        """Continue a run from its last checkpoint (after a crash or an approval request)."""
        stored = self.store.load_run(run_id)
        if stored is None:
            raise KeyError(f"no run {run_id} in {self.store.path}")
        text, plan_json = stored
        graph = TaskGraph.model_validate_json(plan_json)
        app = self.runtime.compile(graph)
        if approve is not None:
            payload = Command(resume={"approve": approve, "operator": operator})
        elif app.get_state(_config(run_id)).values:
            payload = None  # continue from the last checkpoint
        else:  # stopped after planning, before the first step: start the graph
            payload = _initial_state(run_id)
        return self._invoke(run_id, app, graph, payload, None)

    def _invoke(self, run_id: str, app, graph: TaskGraph, payload, plan: PlanResult | None) -> RunResult:
        config = _config(run_id)
        interrupts = []
        try:
            for chunk in app.stream(payload, config, stream_mode="updates", durability="sync"):
                for node, update in chunk.items():
                    if node == "__interrupt__":
                        interrupts.extend(i.value for i in update)
                    elif self.on_task and update:
                        for task_id, task_result in update.get("results", {}).items():
                            self.on_task(task_id, task_result)
        except (EvmToolError, requests.RequestException) as exc:
            # A step could not finish (node unreachable, a signed tx's fate unknown). Its checkpoint and
            # outbox entry stay, so `resume` completes it later without signing anything twice.
            tasks = app.get_state(config).values.get("results", {})
            reason = f"interrupted: {exc}; resume with `swarm resume {run_id}` once the RPC is reachable"
            self.record(run_id, "error", {"reason": reason, "completed_tasks": sorted(tasks)})
            return self._finish(RunResult(run_id=run_id, intent=graph.intent, status="failed", plan=plan, tasks=tasks,
                                          tx_hashes=self.store.sent_hashes(run_id), reasons=[reason]))
        tasks = app.get_state(config).values.get("results", {})
        result = RunResult(run_id=run_id, intent=graph.intent, status=_status(graph, tasks), plan=plan, tasks=tasks,
                           tx_hashes=self.store.sent_hashes(run_id),
                           reasons=[f"{tid}: {r.get('reason')}" for tid, r in tasks.items() if r.get("status") in ("refused", "failed", "skipped")])
        if interrupts:
            result.status, result.pending_approval = "awaiting_approval", interrupts
            self.record(run_id, "approval_request", {"requests": interrupts})
            return result
        return self._finish(result)

    def _run_context(self) -> dict:
        """What a reviewer needs to replay the run's decisions: wallet, policy, model file."""
        model = self.backend.info.model_dump(mode="json", include={"path", "sha256", "size_bytes", "architecture", "name"}) \
            if self.backend is not None else None
        return {"wallet": self.wallet.address, "chain_id": self.manifest.chain_id,
                "policy": self.policy.model_dump(mode="json"), "model": model}

    def _finish(self, result: RunResult) -> RunResult:
        """Record the outcome, then sign and anchor the run's checkpoint."""
        self.record(result.run_id, "run_result", {"status": result.status, "tx_hashes": result.tx_hashes,
                                                  "reasons": result.reasons})
        if self.auditor is not None:
            _, result.anchor = self.auditor.seal(result.run_id)
        return result

    def trace(self, run_id: str) -> list[dict]:
        state = self.runtime.compile(TaskGraph.model_validate_json(self.store.load_run(run_id)[1])).get_state(
            _config(run_id))
        return state.values.get("trace", [])


__all__ = ["Swarm", "RunResult", "RiskPolicy", "SwapTask"]
