"""Thoughts and the operations on them, after Besta et al., "Graph of Thoughts" (2023).

A thought is one reading of the intent (from the parser, the model, a refinement of
an earlier thought, or the merge of several).  Operations transform sets of thoughts:
Generate, Score, Improve, Veto, KeepValid, Aggregate, KeepBestN.  Which operations
run, and in what order, is itself data: a `GraphOfOperations` that can be inspected,
serialized and logged with every plan.

Operations decide; the `Env` they are given does the work that needs the outside world
(the parser, the model, the validators).  Any operation may refuse; execution stops there.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Protocol, Union

from pydantic import BaseModel, Field, model_validator

from defai_swarm.intent import IntentSlots, PriceCondition, Request
from defai_swarm.llm import Accounting, SamplingSettings
from defai_swarm.planner.parser import ParseFailure

Source = Literal["decompose", "parser", "model", "refined", "aggregate"]
MODEL_SOURCES = ("model", "refined")
# Slots whose disagreement means the readings are about different trades.
SAFETY_SLOTS = ("token_in", "token_out", "amount_in", "condition", "parts", "recipient")


class Thought(BaseModel):
    """One reading of the intent, how it scored, and whether it made it into the plan."""

    id: str
    source: Source
    parents: list[str] = []
    part: str | None = Field(default=None, description="the sub-intent this thought reads (decomposition), if partial")
    partial: bool = Field(default=False, description="a partial plan: one sub-intent's steps, not the whole intent")
    slots: IntentSlots | None = None
    request: Request | None = Field(default=None, description="the reading as a request (every step, in order)")
    parse_failure: ParseFailure | None = None
    raw: str | None = Field(default=None, description="the model's answer text, as generated")
    errors: list[str] = []
    warnings: list[str] = []
    score: int | None = Field(default=None, description="number of validator errors: 0 is valid, None is not scored yet")
    support: int = Field(default=1, description="how many thoughts this reading stands for (after Aggregate)")
    kept: bool = False
    why: str = ""
    reasoning: str | None = None
    reasoning_truncated: bool | None = None
    prompt_sha256: str | None = None
    model_sha256: str | None = None
    settings: SamplingSettings | None = None
    accounting: Accounting | None = None

    @property
    def valid(self) -> bool:
        return self.score == 0 and self.reading is not None

    @property
    def reading(self) -> Request | None:
        """The thought's plan as a request, whichever form it came in."""
        if self.request is not None:
            return self.request
        return Request.from_slots(self.slots) if self.slots is not None else None


class Env(Protocol):
    """What operations need from the planner run."""

    thoughts: list[Thought]
    k: int

    def parse(self) -> Thought: ...
    def decompose(self) -> list[Thought]: ...
    def parse_part(self, thought: Thought, previous: list[Thought]) -> Thought: ...
    def combine(self, parts: list[Thought]) -> Thought: ...
    def generate(self, n: int) -> list[Thought]: ...
    def refine(self, thought: Thought) -> Thought | None: ...
    def score(self, thought: Thought) -> None: ...
    def refuse(self, reason: str) -> None: ...
    def new_id(self) -> str: ...

    @property
    def refusal(self) -> str | None: ...


class _Op(BaseModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")

    def run(self, inputs: list[Thought], env: Env) -> list[Thought]:
        raise NotImplementedError


class Decompose(_Op):
    """Split the intent into sub-intents (one thought each: the branches), or one final refusal thought."""

    kind: Literal["decompose"] = "decompose"

    def run(self, inputs, env):
        return env.decompose()


class Generate(_Op):
    """New thoughts from a source: the deterministic parser, or `k` model readings (k seeds).

    Given sub-intent thoughts (from Decompose), the parser reads each one into a partial plan,
    in order (a step may spend what the previous one received); given none, the whole text.
    """

    kind: Literal["generate"] = "generate"
    source: Literal["parser", "model"]
    k: int = Field(default=1, ge=0, le=16)

    def run(self, inputs, env):
        if self.source == "model":
            return env.generate(self.k)
        parts = [t for t in inputs if t.source == "decompose" and t.part is not None]
        if not parts:
            return [t for t in inputs if t.source == "parser"] or [env.parse()]
        out: list[Thought] = []
        for t in parts:
            out.append(env.parse_part(t, out))
        return out + [t for t in inputs if t.source == "parser"]  # a refusal from Decompose passes through


class AggregateParts(_Op):
    """Aggregate partial plans (one per sub-intent) into one plan with the steps in order and their dependencies.

    Only when every part is valid: an invalid part makes the whole reading invalid (its errors carried)."""

    kind: Literal["aggregate_parts"] = "aggregate_parts"

    def run(self, inputs, env):
        parts = [t for t in inputs if t.partial]
        whole = [t for t in inputs if not t.partial]
        if not parts:
            return whole
        return whole + [env.combine(parts)]


class Score(_Op):
    """Run the deterministic validators on every thought not scored yet."""

    kind: Literal["score"] = "score"

    def run(self, inputs, env):
        for t in inputs:
            if t.score is None:
                env.score(t)
        return inputs


class Veto(_Op):
    """The parser's word is final when it refuses for safety, or when its reading is clear but invalid.

    Runs before any model call: nothing a model says could change the outcome, and
    the model never sees a text that was refused (it may hold an address).
    """

    kind: Literal["veto"] = "veto"

    def run(self, inputs, env):
        for t in inputs:
            if t.source != "parser":
                continue
            if t.parse_failure is not None and t.parse_failure.final:
                t.why = "final parser refusal"
                env.refuse(f"refused by the deterministic parser: {t.parse_failure.reason}")
            elif t.reading is not None and not t.valid:
                t.why = "parsed, but fails checks"
                env.refuse("the intent is clear but cannot be planned: " + "; ".join(t.errors))
        return inputs


class Improve(_Op):
    """Feed each invalid model thought's errors back to the model for one corrected thought."""

    kind: Literal["improve"] = "improve"

    def run(self, inputs, env):
        if any(t.source == "parser" and t.valid and not t.partial for t in inputs):
            return inputs  # the parser's reading is valid: a refined model reading could only agree or refuse
        refined = []
        for t in inputs:
            if t.source in MODEL_SOURCES and not t.valid:
                if (new := env.refine(t)) is not None:
                    refined.append(new)
        return inputs + refined


class KeepValid(_Op):
    """Drop every thought with a validator error."""

    kind: Literal["keep_valid"] = "keep_valid"

    def run(self, inputs, env):
        for t in inputs:
            if not t.valid:
                t.kept = False
                t.why = t.why or "dropped: " + "; ".join(t.errors[:3] or ["not scored"])
        return [t for t in inputs if t.valid]


class Aggregate(_Op):
    """Merge valid thoughts into one, only if they all agree; disagreement is a refusal.

    A reading that the parser does not back needs `model_quorum` agreeing model
    thoughts (at most k), so one lucky sample cannot make a plan.
    """

    kind: Literal["aggregate"] = "aggregate"
    model_quorum: int = Field(default=2, ge=1)

    def run(self, inputs, env):
        valid = [t for t in inputs if t.valid and not t.partial]
        if not valid:
            env.refuse(_no_valid_reason(env.thoughts))
            return []
        if len({request_key(t.reading) for t in valid if t.reading is not None}) > 1:  # valid thoughts all have one
            reason = disagreement(valid)
            for t in valid:
                t.why = f"valid, but {reason}"
            env.refuse(f"valid readings disagree, so nothing is guessed: {reason}")
            return []
        parser_backed = any(t.source == "parser" for t in valid)
        needed = max(self.model_quorum, 2)  # one lucky sample never plans, whatever k is
        if not parser_backed and len(valid) < needed:
            for t in valid:
                t.why = f"valid, but only {len(valid)} of the {needed} agreeing model readings needed"
            env.refuse(f"the parser could not read the intent and only {len(valid)} model reading(s) "
                       f"support a plan; {needed} must agree")
            return []
        base = next((t for t in valid if t.source == "parser"), valid[0])
        merged = Thought(id=env.new_id(), source="aggregate", parents=[t.id for t in valid], slots=base.slots,
                         request=base.request, support=len(valid))
        env.thoughts.append(merged)
        env.score(merged)
        for t in valid:
            t.kept, t.why = True, f"valid; agrees with the plan, merged into {merged.id}"
        return [merged]


class KeepBestN(_Op):
    """Keep the n best thoughts: fewest errors, then fewest warnings, then most support."""

    kind: Literal["keep_best"] = "keep_best"
    n: int = Field(default=1, ge=1)

    def run(self, inputs, env):
        ranked = sorted(inputs, key=lambda t: (t.score if t.score is not None else 1 << 30, len(t.warnings),
                                               -t.support))
        for i, t in enumerate(ranked):
            t.kept = i < self.n and t.valid
            t.why = (f"chosen: best of {len(ranked)}, supported by {t.support} reading(s)" if t.kept
                     else t.why or f"ranked below the best {self.n}")
        return ranked[: self.n]


Operation = Annotated[Union[Decompose, Generate, AggregateParts, Score, Veto, Improve, KeepValid, Aggregate, KeepBestN],
                      Field(discriminator="kind")]


class OperationRun(BaseModel):
    """One executed operation: which thoughts went in and came out."""

    op: str
    inputs: list[str]
    outputs: list[str]


class GraphOfOperations(BaseModel):
    """The planner's own plan: operations (nodes) and the thought flow between them (edges).

    An operation's inputs are the outputs of its predecessors, in edge order.
    """

    nodes: list[Operation]
    edges: list[tuple[str, str]]

    @model_validator(mode="after")
    def _check(self) -> "GraphOfOperations":
        ids = [n.id for n in self.nodes]
        if len(set(ids)) != len(ids):
            raise ValueError("operation ids are not unique")
        for a, b in self.edges:
            if a not in ids or b not in ids:
                raise ValueError(f"edge {a}->{b} names an unknown operation")
        self.order()
        return self

    def order(self) -> list[str]:
        """Topological order, stable in node order; ValueError on a cycle."""
        indegree = {n.id: 0 for n in self.nodes}
        for _, b in self.edges:
            indegree[b] += 1
        ready, order = [n.id for n in self.nodes if indegree[n.id] == 0], []
        while ready:
            nid = ready.pop(0)
            order.append(nid)
            for a, b in self.edges:
                if a == nid:
                    indegree[b] -= 1
                    if indegree[b] == 0:
                        ready.append(b)
        if len(order) != len(self.nodes):
            raise ValueError("graph of operations has a cycle")
        return order

    def execute(self, env: Env) -> tuple[list[Thought], list[OperationRun]]:
        """Run every operation in order until one refuses; returns the sink's thoughts and the trace."""
        nodes = {n.id: n for n in self.nodes}
        outputs: dict[str, list[Thought]] = {}
        trace: list[OperationRun] = []
        last: list[Thought] = []
        for nid in self.order():
            inputs: dict[str, Thought] = {}
            for a, b in self.edges:
                if b == nid:
                    inputs.update((t.id, t) for t in outputs[a])
            last = outputs[nid] = nodes[nid].run(list(inputs.values()), env)
            trace.append(OperationRun(op=nid, inputs=list(inputs), outputs=[t.id for t in last]))
            if env.refusal is not None:
                return [], trace
        return last, trace

    @classmethod
    def default(cls, k: int = 3, model_quorum: int = 2) -> "GraphOfOperations":
        """decompose -> parse each sub-intent -> score the parts -> aggregate the parts -> score -> veto
        -> k model readings -> score -> improve -> score -> keep valid -> aggregate readings -> best."""
        nodes = [
            Decompose(id="decompose"), Generate(id="generate_parser", source="parser"), Score(id="score_parts"),
            AggregateParts(id="aggregate_parts"), Score(id="score_parser"), Veto(id="veto"),
            Generate(id="generate_model", source="model", k=k), Score(id="score"), Improve(id="improve"),
            Score(id="rescore"), KeepValid(id="keep_valid"), Aggregate(id="aggregate", model_quorum=model_quorum),
            KeepBestN(id="keep_best", n=1),
        ]
        edges = [("decompose", "generate_parser"), ("generate_parser", "score_parts"),
                 ("score_parts", "aggregate_parts"), ("aggregate_parts", "score_parser"),
                 ("score_parser", "veto"), ("veto", "generate_model"),
                 ("veto", "score"), ("generate_model", "score"), ("score", "improve"), ("improve", "rescore"),
                 ("rescore", "keep_valid"), ("keep_valid", "aggregate"), ("aggregate", "keep_best")]
        return cls(nodes=nodes, edges=edges)


def request_key(request: Request | None) -> tuple:
    """A reading compared by value on every fund-moving field (token, amount, recipient, condition, slippage,
    schedule), step by step."""
    if request is None:
        return ()
    key = []
    for s in request.steps:
        d = s.model_dump()
        key.append(tuple(sorted((k, _freeze(v)) for k, v in d.items())))
    return tuple(key)


def _freeze(v):
    if isinstance(v, Decimal):
        return _num(v)
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    return v


def slots_key(slots: IntentSlots) -> tuple:
    """Slots compared by value (2 == 2.0), every field."""
    c = slots.condition
    return (slots.token_in.upper(), slots.token_out.upper(), _num(slots.amount_in),
            None if c is None else (c.base.upper(), c.quote, c.op, _num(c.threshold)),
            slots.parts, slots.recipient, slots.max_slippage_bps)


def _num(d: Decimal) -> Decimal:
    return d.normalize()


def disagreement(thoughts: list[Thought]) -> str:
    """Which slots differ between thoughts, safety-relevant ones first ('amount_in: t1=2, t3=3'), then every
    reading in full, so the user can say which one was meant."""
    fields = [*SAFETY_SLOTS, "max_slippage_bps"]
    parts = []
    if all(t.slots is not None for t in thoughts):
        for name in fields:
            values = {t.id: _show(getattr(t.slots, name)) for t in thoughts}
            if len(set(values.values())) > 1:
                parts.append(f"{name}: " + ", ".join(f"{tid}={v}" for tid, v in values.items()))
    readings = {}
    for t in thoughts:
        if t.reading is not None:
            readings.setdefault(t.reading.describe(), []).append(t.id)
    listed = " | ".join(f"{'/'.join(ids)}: {text}" for text, ids in readings.items())
    return "they differ on " + ("; ".join(parts) + "; " if parts else "") + f"the readings are: {listed}"


def _show(value) -> str:
    if isinstance(value, Decimal):
        return format(_num(value), "f")
    if isinstance(value, PriceCondition):
        return f"{value.base}/{value.quote} {value.op} {format(_num(value.threshold), 'f')}"
    return str(value.upper() if isinstance(value, str) else value)


def _no_valid_reason(thoughts: list[Thought]) -> str:
    lines: list[str] = []
    for t in thoughts:
        if t.parse_failure is not None:
            line = f"parser: {t.parse_failure.reason}"
        elif t.errors:
            line = f"{t.id} ({t.source}): {t.errors[0]}"
        else:
            continue
        if line not in lines:  # the parser's one failure is carried by several thoughts (a part, then the whole)
            lines.append(line)
    return "no valid reading of the intent" + (" (" + "; ".join(lines[:4]) + ")" if lines else "")
