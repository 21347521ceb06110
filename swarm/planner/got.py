"""The Graph-of-Thought planner: intent text -> validated TaskGraph, or a refusal with a reason.

The deterministic parser and (optionally) the model each propose readings; only
deterministic validators judge them.  The model can corroborate the parser, or read
a phrasing the parser does not know, but never overrule it: a final parser refusal
ends planning before the model is asked, and a model reading that differs from a
valid parser reading makes the planner refuse.
"""
from __future__ import annotations

from pydantic import BaseModel, Field, ValidationError

from defai_swarm.intent import MAX_INTENT_CHARS, Intent, IntentSlots, Request
from defai_swarm.llm import Accounting, Completion, ModelBackend, SamplingSettings, StructuredOutputError
from defai_swarm.planner.operations import MODEL_SOURCES, GraphOfOperations, OperationRun, Thought, Veto
from defai_swarm.planner.language import ParseFailure, Refuse, canonical, combine, parse_request, parse_step, sub_intents
from defai_swarm.planner.prompts import few_shot_prompt, few_shot_refine_prompt, intent_messages, refine_messages
from defai_swarm.planner.slots import ModelSlotsError, model_slots_schema, to_intent_slots
from defai_swarm.planner.validators import PlanningContext, assess, assess_request
from defai_swarm.taskgraph import TaskGraph, TokenResolver

NO_MODEL_NOTE = "planned with the deterministic parser only; no model configured"
VETO_NOTE = "the model was not consulted: the deterministic parser's refusal is final"


class PlanResult(BaseModel):
    """The plan (or the refusal), every thought that led to it, and the operations that ran."""

    ok: bool
    intent: str
    task_graph: TaskGraph | None = None
    refusal_reason: str | None = None
    refusal_class: str | None = None
    readings: list[str] = []
    slots: IntentSlots | None = None
    request: Request | None = None
    thoughts: list[Thought]
    operations: GraphOfOperations
    trace: list[OperationRun]
    model_used: bool
    note: str | None = None
    model_summary: str = Field(default="", description="What the model contributed, in words: '3 readings, 2 kept', "
                               "'2 readings, none kept: <why>', 'not consulted: <why>', 'no model configured'")


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
        request = chosen.reading if chosen else None  # a valid thought always has a reading
        slots = request.as_slots() if request is not None else None
        graph = assess_request(run.text, request, self.registry, self.context).task_graph if request else None
        if run.refusal is None and graph is None:
            run.refuse("no plan came out of the graph of operations")
        ok = run.refusal is None
        for t in run.thoughts:
            if not ok:
                t.kept = False
                t.why = t.why or "plan refused"
        model_used = any(t.source in MODEL_SOURCES for t in run.thoughts)
        note = NO_MODEL_NOTE if self.backend is None else (VETO_NOTE if run.vetoed_before_model else None)
        failure = next((t.parse_failure for t in run.thoughts if t.parse_failure is not None
                        and t.source in ("parser", "decompose")), None)
        refusal_class = None if ok else (failure.refusal_class if failure is not None else run.refusal_class)
        return PlanResult(ok=ok, intent=run.text, task_graph=graph if ok else None, refusal_reason=run.refusal,
                          refusal_class=refusal_class, readings=[] if ok else run.readings or
                          (failure.readings if failure is not None else []),
                          slots=slots if ok else None, request=request if ok else None, thoughts=run.thoughts,
                          operations=self.graph, trace=trace, model_used=model_used, note=note,
                          model_summary=_model_summary(self.backend is not None, run))


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
        self.refusal_class: str | None = None
        self.readings: list[str] = []
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
            self.refusal_class = _class_of(reason)
            self.vetoed_before_model = not any(t.source in MODEL_SOURCES for t in self.thoughts)

    # -- sources --

    def parse(self) -> Thought:
        result = parse_request(self.raw, self._symbols)
        if isinstance(result, ParseFailure):
            return self._failed("parser", result)
        return self._add(source="parser", request=result, slots=result.as_slots())

    def _failed(self, source: str, failure: ParseFailure, **fields) -> Thought:
        return self._add(source=source, parse_failure=failure, errors=[failure.reason], score=1,
                         why="parser refused" + (" (final)" if failure.final else ""), **fields)

    def decompose(self) -> list[Thought]:
        """One thought per sub-intent (the branches), or the parser's refusal of the whole text."""
        try:
            parts = sub_intents(self.raw)
        except Refuse as r:
            return [self._failed("parser", r.failure)]
        except ValidationError:
            return [self.parse()]  # the parse carries the reason (empty, too long)
        return [self._add(source="decompose", part=p, why=f"sub-intent {i} of {len(parts)}")
                for i, p in enumerate(parts, 1)]

    def parse_part(self, thought: Thought, previous: list[Thought]) -> Thought:
        """A partial plan for one sub-intent; earlier parts give it context ('then swap it to DAI')."""
        steps = [s for t in previous if t.request is not None for s in t.request.steps]
        try:
            new = parse_step(thought.part or "", steps, self._symbols)
        except Refuse as r:
            return self._failed("parser", r.failure, parents=[thought.id], part=thought.part, partial=True)
        return self._add(source="parser", parents=[thought.id], part=thought.part, partial=True,
                         request=Request(steps=tuple(new)))

    def combine(self, parts: list[Thought]) -> Thought:
        """The partial plans aggregated into one plan (steps in order), or the first part's failure."""
        ids = [t.id for t in parts]
        failed = [t for t in parts if t.request is None or not t.valid]
        for t in parts:
            t.kept = not failed
            t.why = (t.why + "; " if t.why else "") + ("aggregated" if not failed else "a part failed")
        if failed:
            first = failed[0]
            if first.parse_failure is not None:
                return self._failed("parser", first.parse_failure, parents=ids)
            return self._add(source="parser", parents=ids, request=first.request,
                             errors=[f"part {first.id} ({first.part!r}): {e}" for e in first.errors], score=1,
                             why="a part fails checks")
        try:
            request = combine([s for t in parts for s in (t.request.steps if t.request else ())])
        except Refuse as r:
            return self._failed("parser", r.failure, parents=ids)
        return self._add(source="parser", parents=ids, request=request, slots=request.as_slots(),
                         why=f"aggregated from {', '.join(ids)}")

    def generate(self, n: int) -> list[Thought]:
        """k independent model readings. A backend that serves calls side by side (`parallel_calls` > 1, e.g. a
        cluster's model actors) gets them at once; the thoughts are recorded in call order either way."""
        backend = self.p.backend
        if backend is None or not self._symbols:
            return []
        prompt = few_shot_prompt(self.text, self._symbols) if _base_model(backend) else \
            intent_messages(self.text, self._symbols)
        settings = [self._next_settings() for _ in range(n)]
        width = min(n, int(getattr(backend, "parallel_calls", 1) or 1))
        if width > 1:
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(width, thread_name_prefix="model-reading") as pool:
                outcomes = list(pool.map(lambda st: self._call(backend, prompt, st), settings))
        else:
            outcomes = [self._call(backend, prompt, st) for st in settings]
        return [self._thought(outcome, st, "model", []) for outcome, st in zip(outcomes, settings, strict=True)]

    def refine(self, thought: Thought) -> Thought | None:
        backend = self.p.backend
        if backend is None or not self._symbols:
            return None
        if _base_model(backend):
            prompt = few_shot_refine_prompt(self.text, self._symbols, thought.raw or "", thought.errors)
            return self._ask(backend, prompt, "refined", [thought.id])
        messages = refine_messages(self.text, self._symbols, thought.raw or "", thought.errors)
        return self._ask(backend, messages, "refined", [thought.id])

    def _ask(self, backend: ModelBackend, messages, source: str, parents: list[str]) -> Thought:
        settings = self._next_settings()
        return self._thought(self._call(backend, messages, settings), settings, source, parents)

    def _next_settings(self) -> SamplingSettings:
        """Each call its own seed, in call order (a reading is reproducible whatever order calls finish in)."""
        base_seed = self.p.settings.seed or 0  # Planner.__init__ replaces a None seed with 0
        settings = self.p.settings.model_copy(update={"seed": (base_seed + self._calls) % 2**32})
        self._calls += 1
        return settings

    def _call(self, backend: ModelBackend, messages, settings: SamplingSettings) -> Completion | Exception:
        """One model call; its failure is returned (a failing model must not stop the parser's plan)."""
        schema = model_slots_schema(self._symbols)
        try:
            if isinstance(messages, str):  # a base model: the few-shot completion prompt, grammar-constrained
                return backend.complete_prompt(messages, settings, schema)
            return backend.structured(messages, schema, settings, max_retries=self.p.max_retries)
        except Exception as e:
            return e

    def _thought(self, outcome: Completion | Exception, settings: SamplingSettings, source: str,
                 parents: list[str]) -> Thought:
        fields: dict = {"source": source, "parents": parents, "settings": settings}
        if isinstance(outcome, StructuredOutputError):
            if outcome.attempts:
                fields |= _completion_fields(outcome.attempts[-1].completion)
                fields["accounting"] = Accounting.total([a.completion.accounting for a in outcome.attempts])
            return self._add(**fields, errors=[_short(f"no valid JSON from the model: {outcome}")], score=1)
        if isinstance(outcome, Exception):
            return self._add(**fields, errors=[_short(f"model call failed: {type(outcome).__name__}: {outcome}")],
                             score=1)
        fields |= _completion_fields(outcome)
        try:
            fields["slots"] = to_intent_slots(outcome.value)  # type: ignore[attr-defined]
        except ModelSlotsError as e:
            return self._add(**fields, errors=[str(e)], score=1)
        return self._add(**fields)

    # -- judging --

    def score(self, thought: Thought) -> None:
        if thought.reading is None:
            thought.score = max(1, len(thought.errors))
            return
        if thought.source in MODEL_SOURCES and thought.slots is not None:
            # a model's reading: grounded in the canonical text (numbers and aliases as the language reads them),
            # every number and token the text states must be used, and the request checks on top
            a = assess(canonical(self.text), thought.slots, self.p.registry, self.p.context)
            b = assess_request(self.text, Request.from_slots(thought.slots), self.p.registry, self.p.context)
            a = a.model_copy(update={"errors": list(dict.fromkeys(a.errors + b.errors + _pair_errors(self.text,
                                                                                                thought.slots)))})
        elif thought.partial:
            a = _assess_part(self.text, thought.reading, self.p.registry, self.p.context)
        else:
            a = assess_request(self.text, thought.reading, self.p.registry, self.p.context)
        thought.errors = a.errors
        thought.warnings = a.warnings + (["the model's reasoning was cut off at its token budget"]
                                         if thought.reasoning_truncated else [])
        thought.score = len(a.errors)


def _model_summary(configured: bool, run: "_Run") -> str:
    """What the model contributed, honestly: a model that was asked but whose every reading was dropped did not
    help plan, and the summary says so and why (never just 'model used')."""
    if not configured:
        return "no model configured"
    readings = [t for t in run.thoughts if t.source in MODEL_SOURCES]
    if not readings:
        why = VETO_NOTE.removeprefix("the model was not consulted: ") if run.vetoed_before_model else \
            "the token registry is empty" if not run._symbols else "no reading was asked for"
        return f"not consulted: {why}"
    count = f"{len(readings)} reading{'s' if len(readings) != 1 else ''}"
    kept = sum(1 for t in readings if t.kept)
    if kept:
        return f"{count}, {kept} kept"
    reasons = list(dict.fromkeys(t.errors[0] if t.errors else (t.why or "not kept") for t in readings))
    return f"{count}, none kept: " + _short("; ".join(reasons[:3]), 300)


def _pair_errors(text: str, slots: IntentSlots) -> list[str]:
    """The slot form only compares in USD: a reading of 'if ETH/DAI > 2400' as 'ETH > 2400 USD' is another condition."""
    c = slots.condition
    if c is None:
        return []
    import re
    pairs = re.findall(r"\b([a-z][a-z0-9]*)/([a-z][a-z0-9]*)\b", canonical(text))
    return [f"the intent compares {b.upper()} in {q.upper()} ({b.upper()}/{q.upper()}); this reading compares it in USD"
            for b, q in pairs if b.upper() == c.base.upper() and q.upper() != "USD"]


def _base_model(backend: ModelBackend) -> bool:
    """A model without a chat template (a base model such as gemma-3-270m) gets few-shot completion prompts."""
    info = getattr(backend, "info", None)
    return getattr(info, "template_source", None) == "none" and hasattr(backend, "complete_prompt")


def _assess_part(text: str, request: Request, registry, context: PlanningContext):
    """A partial plan's checks: tokens, grounding, amounts and policy (its graph is built once aggregated)."""
    from defai_swarm.planner.validators import (Assessment, check_request_amounts, check_request_grounding,
                                          check_request_tokens)
    errors = (check_request_tokens(request, registry) + check_request_grounding(text, request)
              + check_request_amounts(request, registry, context))
    return Assessment(errors=list(dict.fromkeys(errors)))


def _class_of(reason: str) -> str:
    """The refusal class of a refusal the planner (not the parser) made."""
    if "disagree" in reason or "could mean" in reason:
        return "ambiguous"
    if "unknown token" in reason or "not a registered token" in reason or "non-ASCII" in reason:
        return "unknown_token"
    if "policy maximum" in reason or "exceeds the wallet" in reason:
        return "policy"
    return "out_of_scope"


def _short(message: str, limit: int = 400) -> str:
    """Errors go into thoughts, logs and refinement prompts: keep them readable."""
    return message if len(message) <= limit else message[:limit] + " ..."


def _completion_fields(c) -> dict:
    return {"raw": c.answer, "reasoning": c.reasoning, "reasoning_truncated": c.reasoning_truncated,
            "prompt_sha256": c.prompt_sha256, "model_sha256": c.model_sha256, "settings": c.settings,
            "accounting": c.accounting}
