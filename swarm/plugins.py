"""Task plugins: one object per task kind, and the registry the runtime compiles every graph from.

A plugin brings its task model, its typed result model, its handler, its structure
validation, its audit replay rule and the chain families it supports. The built-ins
(read price, read balance, check risk, swap) are plugins like any other
(`agents.builtin_plugins()`); `Swarm.use(plugin)` adds one, and an installed package adds
plugins through the entry-point group `defai_swarm.tasks` (value: a plugin class or a
zero-argument factory). The runtime has no task-type switch of its own.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib.metadata import entry_points
from typing import Any, Callable, ClassVar, Generic, Iterable, Mapping, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from defai_swarm.core.chain import ChainAdapter, Recorder, SwapExecutor
from defai_swarm.core.errors import PluginError
from defai_swarm.core.outbox import Outbox, SpendLedger
from defai_swarm.core.policy import SwapPolicy
from defai_swarm.core.status import TaskStatus
from defai_swarm.taskgraph import Task, TaskGraph

ENTRY_POINT_GROUP = "defai_swarm.tasks"
log = logging.getLogger(__name__)


class TaskResult(BaseModel):
    """What a task ended with. Plugins subclass it with their own fields; it is stored as JSON in the graph
    state and in the audit log, so amounts in base units travel as strings."""

    model_config = ConfigDict(use_enum_values=True)
    status: TaskStatus
    reason: str = ""


class RunOutbox(Outbox, Protocol):
    """The durable store a run writes signed transactions to before broadcasting (`defai_swarm.store.RunStore`)."""

    def has_signed(self, run_id: str, step_prefix: str) -> bool: ...


class TaskProgress(BaseModel):
    """How far a long task has come, for whoever watches the run: `wait_3: 7 of 10 blocks`.

    Chain-neutral: a count of some `unit` (blocks, slots, checks, rounds) out of `total`, or of no known total
    (a standing watch: `watch_1: 12 checks`)."""

    model_config = ConfigDict(frozen=True)
    run_id: str
    task: str
    done: int = Field(ge=0)
    total: int | None = Field(default=None, ge=0)
    unit: str = ""

    def describe(self) -> str:
        of = f" of {self.total}" if self.total is not None else ""
        return f"{self.task}: {self.done}{of} {self.unit}".rstrip()


ProgressObserver = Callable[[TaskProgress], None]


class ProgressReporter:
    """What a handler tells its progress through: `deps.progress(7, 10, "blocks")`.

    The runtime binds one to each task as it runs (run id and task id filled in); the run's observer
    (`Swarm(on_progress=...)`: the CLI's status line, a Python callback) hears every report, and the log gets it at
    INFO at a low rate (the first, the last of a known total, then at most every `LOG_EVERY_S`). An observer that
    fails is logged and dropped; the task goes on."""

    LOG_EVERY_S = 15.0

    def __init__(self, observer: ProgressObserver | None = None, run_id: str = "", task: str = ""):
        self.observer, self.run_id, self.task = observer, run_id, task
        self._logged_at: float | None = None

    def __call__(self, done: int, total: int | None = None, unit: str = "") -> None:
        event = TaskProgress(run_id=self.run_id, task=self.task, done=max(done, 0), total=total, unit=unit)
        now = time.monotonic()
        if self._logged_at is None or now - self._logged_at >= self.LOG_EVERY_S or \
                (total is not None and event.done >= total):
            self._logged_at = now
            log.info("run %s: %s", self.run_id, event.describe())
        if self.observer is None:
            return
        try:
            self.observer(event)
        except Exception:
            log.warning("run %s: progress observer failed on %s; not called again for this task", self.run_id,
                        event.describe(), exc_info=True)
            self.observer = None


@dataclass
class RunDeps:
    """Everything a task handler may use, handed to every node through LangGraph's run context."""

    chain: ChainAdapter
    policy: SwapPolicy
    outbox: RunOutbox  # this state directory's signed transactions
    ledger: SpendLedger  # the wallet's daily cap, shared by every process and state directory
    record: Recorder
    executor: SwapExecutor
    plugins: "PluginRegistry"
    on_progress: ProgressObserver | None = None  # the run's watcher; tasks report through `progress`
    # bound by the runtime to the running task (its run id and task id): a long handler's "7 of 10 blocks"
    progress: ProgressReporter = field(default_factory=ProgressReporter)


@dataclass
class RunView:
    """What a handler sees of the run it is part of: the graph and the results so far (JSON, as stored)."""

    run_id: str
    graph: TaskGraph
    results: dict[str, dict]

    def result(self, task_id: str) -> dict:
        return self.results.get(task_id, {})

    def status(self, task_id: str) -> str | None:
        return self.results.get(task_id, {}).get("status")


TaskT = TypeVar("TaskT", bound=Task)


class TaskPlugin(Generic[TaskT]):
    """Subclass, set the class attributes, implement `handle`; register with `Swarm.use(MyPlugin())`."""

    kind: ClassVar[str]
    task_model: ClassVar[type[Task]]
    result_model: ClassVar[type[TaskResult]] = TaskResult
    # moves funds or writes on chain: its result decides the run's status, the graph must gate it by a check_risk
    # task (PluginRegistry.ungated), and its handler's executor acts only within that check's approval; a task
    # that is not effectful gets an executor that refuses everything (defai_swarm.runtime)
    effectful: ClassVar[bool] = False
    chains: ClassVar[frozenset[str] | None] = None  # chain families it supports; None: every chain

    def handle(self, task: TaskT, run: RunView, deps: RunDeps) -> TaskResult:
        raise NotImplementedError

    def validate(self, task: TaskT, graph: TaskGraph) -> list[str]:
        """Structure rules for this task inside `graph`; by default the task model's own."""
        return task.structure_errors(graph)

    def extend_plan(self, graph: TaskGraph) -> TaskGraph:
        """Add this plugin's tasks to a planned graph (e.g. a guard in front of every risk check); the result
        is validated again before it runs. By default the graph is unchanged."""
        return graph

    def replay(self, payload: dict, run_context: dict) -> tuple[bool, str] | None:
        """Recompute this task's logged decision from its audit entry: (matches, detail), or None when
        the task has nothing deterministic to replay."""
        return None

    def supports(self, family: str) -> bool:
        return self.chains is None or family in self.chains

    # the task fields the line `describe(task)` already says (`swarm plan` lists the task's other fields under it)
    described: ClassVar[frozenset[str]] = frozenset()

    def describe(self, data: Mapping[str, Any]) -> str:
        """One line for people about a task of this kind; the one place its wording lives (`swarm plan`'s tree,
        `swarm audit show`, and the audit page, whose summaries.js `describe` is checked against it by
        tests/test_describe.py).

        `data` is either the task (its fields as the plan holds them: it has an `id`) or the audit payload of the
        task's result (`status`, `reason`, the result model's fields; no `id`). By default: the kind in words for a
        task, `status: reason` for a result."""
        return generic_description(self.kind, data)


DISPLAY_PLACES = 4  # amounts in descriptions: at most this many decimals (never more than the token has)


def amount_text(value: Any, decimals: int | None = None, symbol: str = "") -> str:
    """`value` (human units) at display precision: 996.0070 DAI, 1 ETH, 3,000 USDC."""
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return f"{value} {symbol}".strip()
    places = DISPLAY_PLACES if decimals is None else min(decimals, DISPLAY_PLACES)
    text = f"{d:,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {symbol}".strip()


def is_result(data: Mapping[str, Any]) -> bool:
    """Whether `describe` was given a task's result (an audit payload: a `status`, no task `id`)."""
    return "status" in data and "id" not in data


def generic_description(kind: str, data: Mapping[str, Any]) -> str:
    """`TaskPlugin.describe`'s default: a task as its kind in words ("read_price" -> "read price"), a result as
    `status: reason` (what of the two it has)."""
    if is_result(data):
        return ": ".join(str(x) for x in (data.get("status"), data.get("reason")) if x) or kind.replace("_", " ")
    return kind.replace("_", " ")


class PluginRegistry:
    """Task kind -> plugin. Registering a kind twice is an error, never a silent replacement."""

    def __init__(self, plugins: Iterable[TaskPlugin] = ()):
        self._plugins: dict[str, TaskPlugin] = {}
        for plugin in plugins:
            self.register(plugin)

    def register(self, plugin: TaskPlugin) -> None:
        kind = getattr(plugin, "kind", None)
        if not isinstance(kind, str) or not kind:
            raise PluginError(f"{type(plugin).__name__} has no task kind")
        model = getattr(plugin, "task_model", None)
        if not (isinstance(model, type) and issubclass(model, Task)) or model.model_fields["kind"].default != kind:
            raise PluginError(f"plugin {kind!r}: task_model must be a Task subclass whose kind defaults to {kind!r}")
        if kind in self._plugins:
            raise PluginError(f"task kind {kind!r} is already registered (by {type(self._plugins[kind]).__name__})")
        self._plugins[kind] = plugin

    def get(self, kind: str) -> TaskPlugin:
        plugin = self._plugins.get(kind)
        if plugin is None:
            raise PluginError(f"no plugin for task kind {kind!r}; known: {', '.join(sorted(self._plugins))}")
        return plugin

    def __contains__(self, kind: str) -> bool:
        return kind in self._plugins

    def describe(self, kind: str, data: Mapping[str, Any]) -> str:
        """`describe(data)` of the plugin for `kind`; a kind no plugin registers gets the generic line."""
        plugin = self._plugins.get(kind)
        return plugin.describe(data) if plugin is not None else generic_description(kind, data)

    def described(self, kind: str) -> frozenset[str]:
        """The task fields `describe(task)` of `kind` already says (none for an unknown kind)."""
        plugin = self._plugins.get(kind)
        return plugin.described if plugin is not None else frozenset()

    def kinds(self) -> list[str]:
        return sorted(self._plugins)

    def plugins(self) -> list[TaskPlugin]:
        return list(self._plugins.values())

    def task_models(self) -> dict[str, type[Task]]:
        return {kind: p.task_model for kind, p in self._plugins.items()}

    def parse_graph(self, text: str) -> TaskGraph:
        """A stored task graph, with this registry's task kinds."""
        return TaskGraph.model_validate_json(text, context={"task_models": self.task_models()})

    def validate(self, graph: TaskGraph, tokens: Any, family: str) -> list[str]:
        """Every task has a plugin that supports the chain, the graph passes every plugin's rules, and every
        effectful task is gated by a risk check (`ungated`)."""
        errors = [f"{t.id}: no plugin for task kind {t.kind!r}" for t in graph.tasks if t.kind not in self._plugins]
        errors += [f"{t.id}: task kind {t.kind!r} does not support {family} chains" for t in graph.tasks
                   if t.kind in self._plugins and not self._plugins[t.kind].supports(family)]
        return errors or graph.validate_structure(tokens, self._plugins) + self.ungated(graph)

    def ungated(self, graph: TaskGraph) -> list[str]:
        """Every effectful task (a swap, or any plugin's task that moves funds) waits, directly or through other
        tasks, for a check_risk task that gates it: the deterministic check that approves it and reserves the
        daily cap for it. Whoever added the task (the planner, a plugin's `extend_plan`, a graph built in code);
        the runtime refuses to compile a graph that breaks this. A check_risk gates only a swap task, so an
        effectful task is a `SwapTask` (or a subclass) the risk check can evaluate."""
        return [f"{t.id}: task kind {t.kind!r} moves funds but no check_risk task before it gates it (every "
                f"effectful task needs the risk check and the daily cap)" for t in graph.tasks
                if t.kind in self._plugins and self._plugins[t.kind].effectful and not graph.risk_checks_of(t.id)]

    def copy(self) -> "PluginRegistry":
        return PluginRegistry(self._plugins.values())

    def load_entry_points(self) -> list[str]:
        """Register the plugins installed packages declare; returns the kinds added."""
        added = []
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            target = ep.load()
            plugin = target() if callable(target) else target  # a plugin class or factory, or an instance
            if not isinstance(plugin, TaskPlugin):
                raise PluginError(f"entry point {ep.name} = {ep.value} is not a TaskPlugin")
            self.register(plugin)
            added.append(plugin.kind)
        return added
