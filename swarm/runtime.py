"""Compile a TaskGraph into a LangGraph StateGraph and run it with the registered task plugins.

One node per task; edges are the task dependencies (a node waits for all of
its dependencies), so independent tasks run in parallel. Each node asks the
plugin registry for its task's plugin; the dependencies (chain, policy, ledger,
recorder, executor) reach the node through LangGraph's run context, not through
closures, so one compiled graph serves any run. State is checkpointed in SQLite
after every step; side effects are made idempotent by the outbox and the spend
ledger, so a killed run resumes without repeating a sent transaction.

Money moves only through the risk check, whoever wrote the task: a graph with an
effectful task that no check_risk task before it gates is never compiled, an
effectful task's handler gets an executor that acts only as that task and only
within its risk check's approval (input at most, minimum output at least, what was
approved), and every other task's executor refuses outright. (A plugin is code you
install: this bounds what the runtime hands it, not what arbitrary Python can do.)
"""
from __future__ import annotations

import logging
import operator
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

from dataclasses import replace

from defai_swarm.core.chain import SwapExecutor, SwapOutcome
from defai_swarm.core.errors import EffectRefused, Refused
from defai_swarm.core.faults import fault_point
from defai_swarm.core.status import TaskStatus
from defai_swarm.plugins import PluginRegistry, ProgressReporter, RunDeps, RunView, TaskResult
from defai_swarm.taskgraph import SwapTask, Task, TaskGraph

if TYPE_CHECKING:
    from langgraph.graph import END, START, StateGraph
    from langgraph.runtime import Runtime as GraphRuntime


log = logging.getLogger(__name__)


def merge_results(left: dict, right: dict) -> dict:
    return {**left, **right}


class RunState(TypedDict, total=False):
    run_id: str
    results: Annotated[dict[str, dict], merge_results]
    trace: Annotated[list[dict], operator.add]


def state_safe(value: Any) -> Any:
    """Checkpoints are msgpack (64-bit ints): token amounts in base units travel as decimal strings."""
    if isinstance(value, dict):
        return {k: state_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [state_safe(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return str(value)
    return value


def _load_langgraph() -> None:
    """Import LangGraph when a graph is first compiled (planning never needs it: a fast `swarm plan`).
    Bound as module globals so the nodes' annotations resolve for LangGraph's `get_type_hints`, as before."""
    global END, START, StateGraph, GraphRuntime
    from langgraph.graph import END, START, StateGraph
    from langgraph.runtime import Runtime as GraphRuntime


def interrupt(value: Any) -> Any:
    """LangGraph's `interrupt` (pause the run for an operator), imported when a node first calls it: plugins
    import this name at module level without loading LangGraph."""
    from langgraph.types import interrupt as graph_interrupt
    return graph_interrupt(value)


class Runtime:
    """`checkpointer_factory`, when given instead of `checkpointer`, makes the checkpointer on first compile:
    a Swarm that only plans never loads the checkpointer's modules."""

    def __init__(self, plugins: PluginRegistry, checkpointer: Any = None, *,
                 checkpointer_factory: Callable[[], Any] | None = None):
        self.plugins, self._checkpointer, self._factory = plugins, checkpointer, checkpointer_factory
        self._lock = threading.Lock()

    @property
    def checkpointer(self) -> Any:
        if self._factory is not None:
            with self._lock:  # runs may compile from several threads: one checkpointer
                if self._factory is not None:
                    self._checkpointer, self._factory = self._factory(), None
        return self._checkpointer

    def compile(self, plan: TaskGraph):
        ungated = self.plugins.ungated(plan)
        if ungated:  # Swarm.execute refuses such a graph first; this holds for a stored graph or any other caller
            raise Refused("refusing to run this task graph: " + "; ".join(ungated))
        _load_langgraph()
        builder = StateGraph(RunState, context_schema=RunDeps)
        tasks = plan.by_id()
        for task in (tasks[tid] for tid in plan.topological_order()):  # a node exists before edges name it
            builder.add_node(task.id, self._node(plan, task))
            if len(task.depends_on) == 1:
                builder.add_edge(task.depends_on[0], task.id)
            elif task.depends_on:  # a join: waits for all of them
                builder.add_edge(list(task.depends_on), task.id)
            else:
                builder.add_edge(START, task.id)
            if not plan.dependents(task.id):
                builder.add_edge(task.id, END)
        return builder.compile(checkpointer=self.checkpointer)

    def _node(self, plan: TaskGraph, task: Task):
        plugin = self.plugins.get(task.kind)
        effectful = plugin.effectful

        def node(state: RunState, runtime: GraphRuntime[RunDeps]) -> dict:
            deps = runtime.context
            run = RunView(run_id=state.get("run_id", ""), graph=plan, results=state.get("results", {}))
            start = time.time()
            gate = GatedExecutor(deps.executor, task, run) if effectful else NoExecutor(task)
            progress = ProgressReporter(deps.on_progress, run.run_id, task.id)
            try:
                result = plugin.result_model.model_validate(
                    plugin.handle(task, run, replace(deps, executor=gate, progress=progress)), from_attributes=True)
            except EffectRefused as exc:  # nothing was signed by the refused call
                log.warning("run %s: task %s (%s) refused: %s", run.run_id, task.id, task.kind, exc)
                if effectful and not deps.outbox.has_signed(run.run_id, f"{task.id}:"):
                    deps.ledger.release_spend(run.run_id, task.id)  # its risk check's reservation, unused
                result = TaskResult(status=TaskStatus.REFUSED, reason=str(exc))
            payload = state_safe(result.model_dump(mode="json", exclude_none=False))
            deps.record(run.run_id, task.kind, {"task": task.id, **payload})
            fault_point(f"after_task:{task.id}")
            log.info("run %s: task %s (%s) %s in %.2fs", run.run_id, task.id, task.kind, payload["status"],
                     time.time() - start)
            return {"results": {task.id: payload},
                    "trace": [{"task": task.id, "start": start, "end": time.time(), "status": payload["status"]}]}
        return node


class NoExecutor:
    """The executor a task that is not effectful is handed: every call is refused (a plugin that moves funds must
    say so, `effectful = True`, and be gated by a risk check)."""

    def __init__(self, task: Task):
        self._task = task

    def _refuse(self, *args: Any, **kwargs: Any) -> SwapOutcome:
        raise EffectRefused(f"{self._task.id}: task kind {self._task.kind!r} is not effectful and may not move funds; "
                            f"nothing was signed")

    execute = execute_exact_out = reset_approval = _refuse


class GatedExecutor:
    """The executor an effectful task is handed: it acts only as that task, in its run, on its tokens, and only
    after every check_risk task gating it approved, within that approval (an input at most, a minimum output at
    least, an exact output equal to what was approved). Resetting an approval (lowering an allowance) passes."""

    def __init__(self, inner: SwapExecutor, task: Task, run: RunView):
        self._inner, self._task, self._run = inner, task, run

    def _approvals(self, run_id: str, step: str, token_in: str, token_out: str) -> list[dict]:
        task, run = self._task, self._run
        if (run_id, step) != (run.run_id, task.id):
            raise EffectRefused(f"{task.id}: may act only as itself in run {run.run_id}, not as {step!r} in {run_id!r}; "
                                f"nothing was signed")
        if isinstance(task, SwapTask) and (token_in.upper(), token_out.upper()) != (task.token_in.upper(),
                                                                                     task.token_out.upper()):
            raise EffectRefused(f"{task.id}: approved for {task.token_in} -> {task.token_out}, not {token_in} -> "
                                f"{token_out}; nothing was signed")
        checks = run.graph.risk_checks_of(task.id)
        missing = [c.id for c in checks if run.status(c.id) != TaskStatus.APPROVED]
        if not checks or missing:
            raise EffectRefused(f"{task.id}: its risk check ({', '.join(missing) or 'none'}) did not approve it; "
                                f"nothing was signed")
        return [run.result(c.id) for c in checks]

    def execute(self, run_id: str, step: str, token_in: str, token_out: str, amount_in: int, min_out: int,
                slippage_bps: int, **extra: Any) -> SwapOutcome:
        for approval in self._approvals(run_id, step, token_in, token_out):
            allowed_in, floor = _base_units(approval, "amount_in"), _base_units(approval, "min_out")
            if allowed_in is None or floor is None or amount_in > allowed_in or min_out < floor:
                raise EffectRefused(f"{step}: {amount_in} in for at least {min_out} out is outside its risk check's "
                                    f"approval ({allowed_in} in, at least {floor} out); nothing was signed")
        return self._inner.execute(run_id, step, token_in, token_out, amount_in, min_out, slippage_bps, **extra)

    def __getattr__(self, name: str) -> Any:
        """The optional executor methods, present only where the chain's executor has them (callers probe them)."""
        if name not in ("execute_exact_out", "reset_approval"):
            raise AttributeError(name)
        method = getattr(self._inner, name)  # AttributeError when the chain has none
        return self._exact_out if name == "execute_exact_out" else method

    def _exact_out(self, run_id: str, step: str, token_in: str, token_out: str, amount_out: int, max_in: int,
                   slippage_bps: int) -> SwapOutcome:
        for approval in self._approvals(run_id, step, token_in, token_out):
            allowed_in, approved_out = _base_units(approval, "amount_in"), _base_units(approval, "amount_out")
            if allowed_in is None or approved_out is None or max_in > allowed_in or amount_out != approved_out:
                raise EffectRefused(f"{step}: {amount_out} out for at most {max_in} in is not its risk check's "
                                    f"approval ({approved_out} out for at most {allowed_in} in); nothing was signed")
        return self._inner.execute_exact_out(run_id, step, token_in, token_out, amount_out, max_in, slippage_bps)


def _base_units(result: dict, key: str) -> int | None:
    """An amount a risk check approved (base units, stored as text), or None when it has none."""
    try:
        return int(result[key])
    except (KeyError, TypeError, ValueError):
        return None
