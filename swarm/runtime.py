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
import time
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime as GraphRuntime

from swarm.core.faults import fault_point
from swarm.plugins import PluginRegistry, RunDeps, RunView
from swarm.taskgraph import Task, TaskGraph


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


class Runtime:
    def __init__(self, plugins: PluginRegistry, checkpointer):
        self.plugins, self.checkpointer = plugins, checkpointer

    def compile(self, plan: TaskGraph):
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
