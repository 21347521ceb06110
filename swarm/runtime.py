"""Compile a TaskGraph into a LangGraph StateGraph and run it with the registered task plugins.

One node per task; edges are the task dependencies (a node waits for all of
its dependencies), so independent tasks run in parallel. Each node asks the
plugin registry for its task's plugin; the dependencies (chain, policy, ledger,
recorder, executor) reach the node through LangGraph's run context, not through
closures, so one compiled graph serves any run. State is checkpointed in SQLite
after every step; side effects are made idempotent by the outbox and the spend
ledger, so a killed run resumes without repeating a sent transaction.
"""
from __future__ import annotations

import logging
import operator
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

from swarm.core.faults import fault_point
from swarm.plugins import PluginRegistry, RunDeps, RunView
from swarm.taskgraph import Task, TaskGraph

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

        def node(state: RunState, runtime: GraphRuntime[RunDeps]) -> dict:
            deps = runtime.context
            run = RunView(run_id=state.get("run_id", ""), graph=plan, results=state.get("results", {}))
            start = time.time()
            result = plugin.result_model.model_validate(plugin.handle(task, run, deps), from_attributes=True)
            payload = state_safe(result.model_dump(mode="json", exclude_none=False))
            deps.record(run.run_id, task.kind, {"task": task.id, **payload})
            fault_point(f"after_task:{task.id}")
            log.info("run %s: task %s (%s) %s in %.2fs", run.run_id, task.id, task.kind, payload["status"],
                     time.time() - start)
            return {"results": {task.id: payload},
                    "trace": [{"task": task.id, "start": start, "end": time.time(), "status": payload["status"]}]}
        return node
