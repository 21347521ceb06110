"""The Graph-of-Thought planner: intent text -> validated TaskGraph, or a refusal with a reason.

The deterministic parser and (optionally) the model each propose readings; only
deterministic validators judge them.  The model can corroborate the parser, or read
a phrasing the parser does not know, but never overrule it: a final parser refusal
ends planning before the model is asked, and a model reading that differs from a
valid parser reading makes the planner refuse.
"""
from __future__ import annotations

from pydantic import BaseModel, ValidationError

from swarm.intent import MAX_INTENT_CHARS, Intent, IntentSlots
from swarm.llm import Accounting, ModelBackend, SamplingSettings, StructuredOutputError
from swarm.planner.operations import MODEL_SOURCES, GraphOfOperations, OperationRun, Thought, Veto
from swarm.planner.parser import ParseFailure, parse_intent
from swarm.planner.prompts import intent_messages, refine_messages
from swarm.planner.slots import ModelSlotsError, model_slots_schema, to_intent_slots
from swarm.planner.validators import PlanningContext, assess
from swarm.taskgraph import TaskGraph, TokenResolver

NO_MODEL_NOTE = "planned with the deterministic parser only; no model configured"
VETO_NOTE = "the model was not consulted: the deterministic parser's refusal is final"


class PlanResult(BaseModel):
    """The plan (or the refusal), every thought that led to it, and the operations that ran."""

    ok: bool
    intent: str
    task_graph: TaskGraph | None = None
    refusal_reason: str | None = None
    slots: IntentSlots | None = None
    thoughts: list[Thought]
    operations: GraphOfOperations
    trace: list[OperationRun]
    model_used: bool
    note: str | None = None


class Planner:
    """Plans one intent at a time; `backend=None` plans with the deterministic parser only.

    `settings` bounds every model call (seed i of the k readings is `settings.seed + i`);
    `graph` replaces the default graph of operations.
    """

    def __init__(self, registry: TokenResolver, backend: ModelBackend | None, context: PlanningContext | None = None,
                 k: int = 3, *, settings: SamplingSettings | None = None, max_retries: int = 1,
                 model_quorum: int = 2, graph: GraphOfOperations | None = None):
        self.registry, self.backend = registry, backend
        self.context = context or PlanningContext()
        self.k, self.max_retries = k, max_retries
        self.settings = settings or SamplingSettings(seed=0)
        if self.settings.seed is None:
            self.settings = self.settings.model_copy(update={"seed": 0})
        self.graph = graph or GraphOfOperations.default(k=k, model_quorum=model_quorum)

    def plan(self, text: str) -> PlanResult:
        run = _Run(self, text)
        best, trace = self.graph.execute(run)
        Veto(id="final_veto").run(run.thoughts, run)  # the parser's veto holds whatever graph ran
        chosen = next((t for t in best if t.valid), None)
        slots = chosen.slots if chosen else None  # a valid thought always has slots
        graph = assess(run.text, slots, self.registry, self.context).task_graph if slots is not None else None
        if run.refusal is None and graph is None:
            run.refuse("no plan came out of the graph of operations")
        ok = run.refusal is None
        for t in run.thoughts:
            if not ok:
                t.kept = False
                t.why = t.why or "plan refused"
        model_used = any(t.source in MODEL_SOURCES for t in run.thoughts)
        note = NO_MODEL_NOTE if self.backend is None else (VETO_NOTE if run.vetoed_before_model else None)
        return PlanResult(ok=ok, intent=run.text, task_graph=graph if ok else None, refusal_reason=run.refusal,
                          slots=slots if ok else None, thoughts=run.thoughts, operations=self.graph,
                          trace=trace, model_used=model_used, note=note)


class _Run:
    """One planning run: the thought pool, the refusal, and the effects operations ask for."""

    def __init__(self, planner: Planner, text: str):
        self.p = planner
        self.k = planner.k
        self.raw = text
        try:
            self.text = Intent(text=text).text
        except ValidationError:
            self.text = text[:MAX_INTENT_CHARS]  # the parser thought carries the reason
        self.thoughts: list[Thought] = []
        self.refusal: str | None = None
        self.vetoed_before_model = False
        self._calls = 0
        self._symbols: tuple[str, ...] = tuple(getattr(planner.registry, "symbols", lambda: [])())

    def new_id(self) -> str:
        return f"t{len(self.thoughts) + 1}"

    def _add(self, **fields) -> Thought:
        t = Thought(id=self.new_id(), **fields)
        self.thoughts.append(t)
        return t

    def refuse(self, reason: str) -> None:
        if self.refusal is None:
            self.refusal = reason
            self.vetoed_before_model = not any(t.source in MODEL_SOURCES for t in self.thoughts)

    # -- sources --

    def parse(self) -> Thought:
        result = parse_intent(self.raw)
        if isinstance(result, ParseFailure):
            return self._add(source="parser", parse_failure=result, errors=[result.reason], score=1,
                             why="parser refused" + (" (final)" if result.final else ""))
        return self._add(source="parser", slots=result)

    def generate(self, n: int) -> list[Thought]:
        backend = self.p.backend
        if backend is None or not self._symbols:
            return []
        messages = intent_messages(self.text, self._symbols)
        return [self._ask(backend, messages, "model", []) for _ in range(n)]

    def refine(self, thought: Thought) -> Thought | None:
        backend = self.p.backend
        if backend is None or not self._symbols:
            return None
        messages = refine_messages(self.text, self._symbols, thought.raw or "", thought.errors)
        return self._ask(backend, messages, "refined", [thought.id])

    def _ask(self, backend: ModelBackend, messages, source: str, parents: list[str]) -> Thought:
        base_seed = self.p.settings.seed or 0  # Planner.__init__ replaces a None seed with 0
        settings = self.p.settings.model_copy(update={"seed": (base_seed + self._calls) % 2**32})
        self._calls += 1
        schema = model_slots_schema(self._symbols)
        fields: dict = {"source": source, "parents": parents, "settings": settings}
        try:
            c = backend.structured(messages, schema, settings, max_retries=self.p.max_retries)
        except StructuredOutputError as e:
            if e.attempts:
                fields |= _completion_fields(e.attempts[-1].completion)
                fields["accounting"] = Accounting.total([a.completion.accounting for a in e.attempts])
            return self._add(**fields, errors=[_short(f"no valid JSON from the model: {e}")], score=1)
        except Exception as e:  # a failing model must not stop the parser's plan
            return self._add(**fields, errors=[_short(f"model call failed: {type(e).__name__}: {e}")], score=1)
        fields |= _completion_fields(c)
        try:
            fields["slots"] = to_intent_slots(c.value)
        except ModelSlotsError as e:
            return self._add(**fields, errors=[str(e)], score=1)
        return self._add(**fields)

    # -- judging --

    def score(self, thought: Thought) -> None:
        if thought.slots is None:
            thought.score = max(1, len(thought.errors))
            return
        a = assess(self.text, thought.slots, self.p.registry, self.p.context)
        thought.errors = a.errors
        thought.warnings = a.warnings + (["the model's reasoning was cut off at its token budget"]
                                         if thought.reasoning_truncated else [])
        thought.score = len(a.errors)


def _short(message: str, limit: int = 400) -> str:
    """Errors go into thoughts, logs and refinement prompts: keep them readable."""
    return message if len(message) <= limit else message[:limit] + " ..."


def _completion_fields(c) -> dict:
    return {"raw": c.answer, "reasoning": c.reasoning, "reasoning_truncated": c.reasoning_truncated,
            "prompt_sha256": c.prompt_sha256, "model_sha256": c.model_sha256, "settings": c.settings,
            "accounting": c.accounting}
