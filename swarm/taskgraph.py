"""The typed task graph: a DAG of narrow tasks, with conditions kept as data and evaluated in code.

The planner produces it, the runtime executes it; neither trusts a model to
decide a condition, an address or an amount.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Protocol, Union

from pydantic import BaseModel, ConfigDict, Field

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


class _Task(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    depends_on: tuple[str, ...] = ()


class ReadPriceTask(_Task):
    """Price of `base` in `quote` from several sources, with their deviation."""

    kind: Literal["read_price"] = "read_price"
    base: str
    quote: str = "USD"


class ReadBalanceTask(_Task):
    kind: Literal["read_balance"] = "read_balance"
    token: str


class CheckRiskTask(_Task):
    """The deterministic policy check that gates exactly one swap."""

    kind: Literal["check_risk"] = "check_risk"
    swap_task: str


class SwapTask(_Task):
    """Exact-input swap of `amount_in` (human units) of token_in into token_out, to the wallet itself."""

    kind: Literal["swap"] = "swap"
    token_in: str
    token_out: str
    amount_in: Decimal = Field(gt=0)
    max_slippage_bps: int = Field(ge=1, le=10_000)
    condition: Condition | None = None
    price_tasks: tuple[str, str] = Field(description="read_price task ids for token_in/USD and token_out/USD")
    risk_task: str



Task = Annotated[Union[ReadPriceTask, ReadBalanceTask, CheckRiskTask, SwapTask], Field(discriminator="kind")]


class TokenResolver(Protocol):
    def resolve(self, symbol: str): ...


class TaskGraph(BaseModel):
    """A plan: tasks plus dependency edges (`depends_on`)."""

    model_config = ConfigDict(frozen=True)
    intent: str
    tasks: tuple[Task, ...]

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

    def validate_structure(self, tokens: TokenResolver | None = None) -> list[str]:
        """Every rule a runnable plan must meet; an empty list means valid.

        Structural: unique ids, known dependencies, acyclic, every swap preceded by
        price reads for both its tokens and by a risk check gating it, conditions
        reading a price task that precedes the swap. With `tokens`: every symbol
        resolves through the registry (never an address from a model).
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
        tasks = self.by_id()
        for swap in self.swaps():
            before = self.ancestors(swap.id)
            if swap.token_in.upper() == swap.token_out.upper():
                errors.append(f"{swap.id}: token_in and token_out are the same")
            for pid, sym in zip(swap.price_tasks, (swap.token_in, swap.token_out)):
                p = tasks.get(pid)
                if not isinstance(p, ReadPriceTask) or pid not in before:
                    errors.append(f"{swap.id}: not preceded by read_price task {pid}")
                elif p.base.upper() != sym.upper():
                    errors.append(f"{swap.id}: price task {pid} reads {p.base}, not {sym}")
            risk = tasks.get(swap.risk_task)
            if not isinstance(risk, CheckRiskTask) or swap.risk_task not in before or risk.swap_task != swap.id:
                errors.append(f"{swap.id}: not gated by a check_risk task")
            if swap.condition is not None:
                src = tasks.get(swap.condition.source_task)
                if not isinstance(src, ReadPriceTask) or swap.condition.source_task not in before:
                    errors.append(f"{swap.id}: condition reads {swap.condition.source_task}, which is not a preceding read_price")
                elif src.base.upper() != swap.condition.base.upper() or src.quote.upper() != swap.condition.quote.upper():
                    errors.append(f"{swap.id}: condition is on {swap.condition.base}/{swap.condition.quote} but "
                                  f"{src.id} reads {src.base}/{src.quote}")
        for t in self.tasks:
            if isinstance(t, CheckRiskTask) and not isinstance(tasks.get(t.swap_task), SwapTask):
                errors.append(f"{t.id}: gates unknown swap {t.swap_task}")
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
            if isinstance(t, SwapTask):
                out |= {t.token_in, t.token_out}
            elif isinstance(t, ReadPriceTask):
                out.add(t.base)
                if t.quote != "USD":
                    out.add(t.quote)
            elif isinstance(t, ReadBalanceTask):
                out.add(t.token)
        return out
