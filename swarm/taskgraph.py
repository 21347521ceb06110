"""The typed task graph: a DAG of narrow tasks, with conditions kept as data and evaluated in code.

The planner produces it, the runtime executes it; neither trusts a model to
decide a condition, an address or an amount. Task kinds are open: a plugin
(`swarm.plugins.TaskPlugin`) brings its own `Task` subclass; the built-in kinds
(read_price, read_balance, check_risk, swap) are defined here because the
planner speaks them.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, Mapping, Protocol

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationInfo, field_validator

Op = Literal[">", ">=", "<", "<="]


class Condition(BaseModel):
    """`price(base/quote) <op> threshold`, compared against the median of a read_price task."""

    model_config = ConfigDict(frozen=True)
    base: str
    quote: str = "USD"
    op: Op
    threshold: Decimal = Field(gt=0)
    source_task: str = Field(description="id of the read_price task whose median price is compared")

    def evaluate(self, price: Decimal) -> bool:
        return {">": price > self.threshold, ">=": price >= self.threshold,
                "<": price < self.threshold, "<=": price <= self.threshold}[self.op]

    def describe(self) -> str:
        return f"{self.base}/{self.quote} {self.op} {self.threshold}"


class Task(BaseModel):
    """One node of the graph. Subclasses fix `kind` with a Literal and add their own fields."""

    model_config = ConfigDict(frozen=True)
    kind: str
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    depends_on: tuple[str, ...] = ()

    def symbols(self) -> set[str]:
        """Token symbols the task names; every one must resolve through the chain's registry."""
        return set()

    def structure_errors(self, graph: "TaskGraph") -> list[str]:
        """What makes this task unrunnable inside `graph` (its plugin's `validate` calls this by default)."""
        return []


class ReadPriceTask(Task):
    """Price of `base` in `quote` from several sources, with their deviation."""

    kind: Literal["read_price"] = "read_price"
    base: str
    quote: str = "USD"

    def symbols(self) -> set[str]:
        return {self.base} | ({self.quote} if self.quote != "USD" else set())


class ReadBalanceTask(Task):
    kind: Literal["read_balance"] = "read_balance"
    token: str

    def symbols(self) -> set[str]:
        return {self.token}


class CheckRiskTask(Task):
    """The deterministic policy check that gates exactly one swap."""

    kind: Literal["check_risk"] = "check_risk"
    swap_task: str

    def structure_errors(self, graph: "TaskGraph") -> list[str]:
        if not isinstance(graph.by_id().get(self.swap_task), SwapTask):
            return [f"{self.id}: gates unknown swap {self.swap_task}"]
        return []


class SwapTask(Task):
    """Exact-input swap of `amount_in` (human units) of token_in into token_out, to the wallet itself."""

    kind: Literal["swap"] = "swap"
    token_in: str
    token_out: str
    amount_in: Decimal = Field(gt=0)
    max_slippage_bps: int = Field(ge=1, le=10_000)
    condition: Condition | None = None
    price_tasks: tuple[str, str] = Field(description="read_price task ids for token_in/USD and token_out/USD")
    risk_task: str

    def symbols(self) -> set[str]:
        return {self.token_in, self.token_out}

    def structure_errors(self, graph: "TaskGraph") -> list[str]:
        """Preceded by price reads for both tokens and by the risk check that gates it; a condition reads
        a price task that precedes the swap."""
        errors: list[str] = []
        tasks, before = graph.by_id(), graph.ancestors(self.id)
        if self.token_in.upper() == self.token_out.upper():
            errors.append(f"{self.id}: token_in and token_out are the same")
        for pid, sym in zip(self.price_tasks, (self.token_in, self.token_out), strict=True):
            p = tasks.get(pid)
            if not isinstance(p, ReadPriceTask) or pid not in before:
                errors.append(f"{self.id}: not preceded by read_price task {pid}")
            elif p.base.upper() != sym.upper():
                errors.append(f"{self.id}: price task {pid} reads {p.base}, not {sym}")
        risk = tasks.get(self.risk_task)
        if not isinstance(risk, CheckRiskTask) or self.risk_task not in before or risk.swap_task != self.id:
            errors.append(f"{self.id}: not gated by a check_risk task")
        if self.condition is not None:
            src = tasks.get(self.condition.source_task)
            if not isinstance(src, ReadPriceTask) or self.condition.source_task not in before:
                errors.append(f"{self.id}: condition reads {self.condition.source_task}, which is not a preceding read_price")
            elif src.base.upper() != self.condition.base.upper() or src.quote.upper() != self.condition.quote.upper():
                errors.append(f"{self.id}: condition is on {self.condition.base}/{self.condition.quote} but "
                              f"{src.id} reads {src.base}/{src.quote}")
        return errors


BUILTIN_TASKS: dict[str, type[Task]] = {
    t.model_fields["kind"].default: t for t in (ReadPriceTask, ReadBalanceTask, CheckRiskTask, SwapTask)}


class TokenResolver(Protocol):
    def resolve(self, symbol: str, /) -> Any: ...


def task_models(info: ValidationInfo | None) -> Mapping[str, type[Task]]:
    """Task kinds known while validating: the built-ins plus those passed as context {"task_models": ...}."""
    extra = (info.context or {}).get("task_models", {}) if info is not None else {}
    return {**BUILTIN_TASKS, **extra}


class TaskGraph(BaseModel):
    """A plan: tasks plus dependency edges (`depends_on`).

    Parsing JSON with plugin task kinds needs their models:
    `TaskGraph.model_validate_json(text, context={"task_models": registry.task_models()})`.
    """

    model_config = ConfigDict(frozen=True)
    intent: str
    tasks: tuple[SerializeAsAny[Task], ...]

    @field_validator("tasks", mode="before")
    @classmethod
    def _typed_tasks(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, (list, tuple)):
            return value
        models = task_models(info)
        typed = []
        for item in value:
            if isinstance(item, Task):
                typed.append(item)
                continue
            kind = item.get("kind") if isinstance(item, dict) else None
            model = models.get(kind) if isinstance(kind, str) else None
            if model is None:
                raise ValueError(f"unknown task kind {kind!r}: register its plugin with Swarm.use(...)")
            typed.append(model.model_validate(item, context=info.context))
        return tuple(typed)

    def by_id(self) -> dict[str, Task]:
        return {t.id: t for t in self.tasks}

    def swaps(self) -> list[SwapTask]:
        return [t for t in self.tasks if isinstance(t, SwapTask)]

    def ancestors(self, task_id: str) -> set[str]:
        tasks, seen, stack = self.by_id(), set(), list(self.by_id()[task_id].depends_on)
        while stack:
            tid = stack.pop()
            if tid not in seen and tid in tasks:
                seen.add(tid)
                stack.extend(tasks[tid].depends_on)
        return seen

    def with_task(self, task: Task, before: tuple[str, ...] = ()) -> "TaskGraph":
        """A new graph with `task` added, and each task in `before` waiting for it (e.g. a guard before a risk check)."""
        tasks = [t.model_copy(update={"depends_on": t.depends_on + (task.id,)}) if t.id in before else t
                 for t in self.tasks]
        return self.model_copy(update={"tasks": (*tasks, task)})

    def dependents(self, task_id: str) -> list[str]:
        return [t.id for t in self.tasks if task_id in t.depends_on]

    def topological_order(self) -> list[str]:
        """Kahn's algorithm; raises ValueError on a cycle or an unknown dependency."""
        tasks = self.by_id()
        indegree = {tid: 0 for tid in tasks}
        for t in self.tasks:
            for dep in t.depends_on:
                if dep not in tasks:
                    raise ValueError(f"task {t.id} depends on unknown task {dep}")
                indegree[t.id] += 1
        ready = [tid for tid, n in indegree.items() if n == 0]
        order = []
        while ready:
            tid = ready.pop(0)
            order.append(tid)
            for t in self.tasks:
                if tid in t.depends_on:
                    indegree[t.id] -= 1
                    if indegree[t.id] == 0:
                        ready.append(t.id)
        if len(order) != len(tasks):
            raise ValueError("task graph has a cycle")
        return order

    def validate_structure(self, tokens: TokenResolver | None = None, validators: Mapping[str, Any] | None = None
                           ) -> list[str]:
        """Every rule a runnable plan must meet; an empty list means valid.

        Generic: unique ids, known dependencies, acyclic. Per task: its plugin's `validate`
        (from `validators`, kind -> plugin) or else the task's own `structure_errors`.
        With `tokens`: every symbol resolves through the registry (never an address from a model).
        """
        errors: list[str] = []
        ids = [t.id for t in self.tasks]
        if not self.tasks:
            errors.append("plan has no tasks")
        if len(set(ids)) != len(ids):
            errors.append("task ids are not unique")
        try:
            self.topological_order()
        except ValueError as exc:
            return errors + [str(exc)]
        for t in self.tasks:
            plugin = (validators or {}).get(t.kind)
            errors += plugin.validate(t, self) if plugin is not None else t.structure_errors(self)
        if tokens is not None:
            for symbol in sorted(self.symbols()):
                try:
                    tokens.resolve(symbol)
                except Exception as exc:
                    errors.append(str(exc))
        return errors

    def symbols(self) -> set[str]:
        out: set[str] = set()
        for t in self.tasks:
            out |= t.symbols()
        return out
