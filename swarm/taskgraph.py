"""The typed task graph: a DAG of narrow tasks, with conditions kept as data and evaluated in code.

The planner produces it, the runtime executes it; neither trusts a model to
decide a condition, an address or an amount. Task kinds are open: a plugin
(`defai_swarm.plugins.TaskPlugin`) brings its own `Task` subclass; the built-in kinds
(read_price, read_balance, check_risk, swap) are defined here because the
planner speaks them.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, Mapping, Protocol

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationInfo, field_validator, model_validator

Op = Literal[">", ">=", "<", "<="]


class Condition(BaseModel):
    """`price(base/quote) <op> threshold`, compared against the median of a read_price task."""

    model_config = ConfigDict(frozen=True)
    base: str
    quote: str = "USD"
    op: Op
    threshold: Decimal = Field(gt=0)
    source_task: str = Field(description="id of the read_price task whose median price is compared")
    quote_task: str | None = Field(default=None, description="for a token quote (ETH/DAI): the read_price task of the "
                                                             "quote token; the price compared is base/USD over quote/USD")

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
    """A swap of token_in into token_out, to the wallet itself.

    Exactly one amount: `amount_in` (human units, exact input), `amount_task` (a preceding
    resolve_amount task computes the input at run time: dollars, a share of the balance, a
    previous step's output), or `amount_out` (exact output: the risk check computes the
    maximum input from the independent prices plus slippage).  `conditions` are extra
    conditions joined to `condition` by `combine`.
    """

    kind: Literal["swap"] = "swap"
    token_in: str
    token_out: str
    amount_in: Decimal | None = Field(default=None, gt=0)
    amount_task: str | None = None
    amount_out: Decimal | None = Field(default=None, gt=0)
    max_slippage_bps: int = Field(ge=1, le=10_000)
    condition: Condition | None = None
    conditions: tuple[Condition, ...] = ()
    combine: Literal["and", "or"] | None = Field(default=None, description="how `conditions` join `condition`; "
                                                                         "None (= and) when there is one condition")
    price_tasks: tuple[str, str] = Field(description="read_price task ids for token_in/USD and token_out/USD")
    risk_task: str

    @model_validator(mode="after")
    def _one_amount(self) -> "SwapTask":
        given = [n for n in ("amount_in", "amount_task", "amount_out") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"a swap needs exactly one of amount_in, amount_task, amount_out; got {given or 'none'}")
        if self.conditions and self.condition is None:
            raise ValueError("extra conditions need a first condition")
        if self.combine is not None and not self.conditions:
            raise ValueError("'combine' joins several conditions; this swap has at most one")
        return self

    def all_conditions(self) -> list[Condition]:
        return ([self.condition] if self.condition is not None else []) + list(self.conditions)

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
        for cond in self.all_conditions():
            src = tasks.get(cond.source_task)
            if not isinstance(src, ReadPriceTask) or cond.source_task not in before:
                errors.append(f"{self.id}: condition reads {cond.source_task}, which is not a preceding read_price")
            elif src.base.upper() != cond.base.upper() or (
                    cond.quote_task is None and src.quote.upper() != cond.quote.upper()):
                errors.append(f"{self.id}: condition is on {cond.base}/{cond.quote} but "
                              f"{src.id} reads {src.base}/{src.quote}")
            if cond.quote_task is not None:
                q = tasks.get(cond.quote_task)
                if not isinstance(q, ReadPriceTask) or cond.quote_task not in before or q.base.upper() != cond.quote.upper():
                    errors.append(f"{self.id}: condition quote {cond.quote} is not read by a preceding read_price")
        if self.amount_task is not None:
            src = tasks.get(self.amount_task)
            if not isinstance(src, ResolveAmountTask) or self.amount_task not in before:
                errors.append(f"{self.id}: amount comes from {self.amount_task}, which is not a preceding resolve_amount")
            elif src.token_in.upper() != self.token_in.upper():
                errors.append(f"{self.id}: {src.id} resolves an amount of {src.token_in}, not {self.token_in}")
        return errors


class ResolveAmountTask(Task):
    """A swap input computed in code at run time from recorded inputs, never by a model.

    usd: `value` dollars / the independent price of token_in (`price_task`); percent: `value` %
    of the balance read at run time; all: the balance minus `gas_reserve` when token_in is the
    native coin; previous: what the swaps in `previous_swaps` received (times `value` % when
    set).  The total is divided into `parts` equal parts, rounded down to the token's decimals.
    """

    kind: Literal["resolve_amount"] = "resolve_amount"
    mode: Literal["usd", "percent", "all", "previous"]
    token_in: str
    value: Decimal | None = Field(default=None, gt=0)
    parts: int = Field(default=1, ge=1)
    price_task: str | None = None
    previous_swaps: tuple[str, ...] = ()
    gas_reserve: Decimal = Field(default=Decimal(0), ge=0)

    def symbols(self) -> set[str]:
        return {self.token_in}

    def structure_errors(self, graph: "TaskGraph") -> list[str]:
        tasks, before = graph.by_id(), graph.ancestors(self.id)
        errors = []
        if self.mode == "usd" and (not isinstance(tasks.get(self.price_task or ""), ReadPriceTask)
                                   or self.price_task not in before):
            errors.append(f"{self.id}: a dollar amount needs a preceding read_price of {self.token_in}")
        if self.mode == "previous":
            if not self.previous_swaps:
                errors.append(f"{self.id}: no previous swap to take the amount from")
            for sid in self.previous_swaps:
                prev = tasks.get(sid)
                if not isinstance(prev, SwapTask) or sid not in before:
                    errors.append(f"{self.id}: {sid} is not a preceding swap")
                elif prev.token_out.upper() != self.token_in.upper():
                    errors.append(f"{self.id}: {sid} receives {prev.token_out}, not {self.token_in}")
        if self.mode in ("usd", "percent") and self.value is None:
            errors.append(f"{self.id}: {self.mode} needs a value")
        return errors


class ReadQuoteTask(Task):
    """How much token_out the route gives for amount_in of token_in (read-only)."""

    kind: Literal["read_quote"] = "read_quote"
    token_in: str
    token_out: str
    amount_in: Decimal = Field(gt=0)

    def symbols(self) -> set[str]:
        return {self.token_in, self.token_out}


class AnswerTask(Task):
    """The answer to a read-only question, composed in code from the read tasks it names; printed and logged."""

    kind: Literal["answer"] = "answer"
    question: str
    sources: tuple[str, ...] = Field(min_length=1)

    def structure_errors(self, graph: "TaskGraph") -> list[str]:
        tasks, before = graph.by_id(), graph.ancestors(self.id)
        return [f"{self.id}: source {s} is not a preceding read task" for s in self.sources
                if s not in before or not isinstance(tasks.get(s), (ReadPriceTask, ReadBalanceTask, ReadQuoteTask))]


class WaitBlocksTask(Task):
    """A schedule's pause: wait until `blocks` blocks have passed since the task started (bounded in time)."""

    kind: Literal["wait_blocks"] = "wait_blocks"
    blocks: int = Field(ge=1)
    timeout_s: float = Field(default=600.0, gt=0)


BUILTIN_TASKS: dict[str, type[Task]] = {
    t.model_fields["kind"].default: t for t in (ReadPriceTask, ReadBalanceTask, CheckRiskTask, SwapTask,
                                                ResolveAmountTask, ReadQuoteTask, AnswerTask, WaitBlocksTask)}


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

    def risk_checks_of(self, task_id: str) -> list[CheckRiskTask]:
        """The check_risk tasks `task_id` waits for (directly or through others) that gate it (name it as their
        swap): what approves it and reserves the daily cap for it."""
        tasks = self.by_id()
        return [t for tid in sorted(self.ancestors(task_id))
                if isinstance(t := tasks.get(tid), CheckRiskTask) and t.swap_task == task_id]

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
