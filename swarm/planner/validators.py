"""Deterministic checks that score a thought: each returns a list of error strings.

None of them asks a model.  Grounding is the one that keeps a model honest: every
number and token in a reading must be written in the intent, and every number in
the intent must be used by the reading (so a condition or a limit cannot be dropped).
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from defai_swarm.intent import MAX_PARTS, IntentSlots, Request, SwapStep, normalize_symbol
from defai_swarm.planner.build import PlanBuildError, build_request_graph, build_task_graph, part_amount
from defai_swarm.planner.language import FALLS_TO, RISES_TO, Refuse, canonical
from defai_swarm.planner.numbers import NUMBER, literals, to_decimal
from defai_swarm.taskgraph import TaskGraph, TokenResolver


class PlanningContext(BaseModel):
    """What the planner knows about the wallet and the policy; never sent to a model.

    `balances=None` means unknown: the amount is then only checked at execution time.
    """

    model_config = ConfigDict(frozen=True)
    balances: dict[str, Decimal] | None = None
    max_slippage_bps: int = Field(default=100, ge=1, le=10_000)
    default_slippage_bps: int = Field(default=50, ge=1, le=10_000)
    gas_reserve: Decimal = Field(default=Decimal("0.01"), ge=0,
                                 description="native coin kept back by 'all' for fees (the policy's gas reserve)")

    @field_validator("balances")
    @classmethod
    def _upper(cls, v: dict[str, Decimal] | None) -> dict[str, Decimal] | None:
        return None if v is None else {k.upper(): Decimal(v[k]) for k in v}


class Assessment(BaseModel):
    errors: list[str] = []
    warnings: list[str] = []
    task_graph: TaskGraph | None = None


def check_recipient(slots: IntentSlots) -> list[str]:
    if slots.recipient is not None:
        return [f"recipient {slots.recipient!r}: money only moves to the wallet itself"]
    return []


def check_tokens(slots: IntentSlots, registry: TokenResolver) -> list[str]:
    errors = []
    symbols = [slots.token_in, slots.token_out] + ([slots.condition.base] if slots.condition else [])
    for symbol in dict.fromkeys(symbols):
        try:
            registry.resolve(symbol)
        except Exception as e:
            errors.append(str(e))
    if slots.token_in.upper() == slots.token_out.upper():
        errors.append(f"token_in and token_out are both {slots.token_in}")
    return errors


def check_amount(slots: IntentSlots, context: PlanningContext, registry: TokenResolver | None = None) -> list[str]:
    """Positive, finite, representable in the token's decimals per part, and within the balance."""
    amount = slots.amount_in
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        return [f"amount {amount} is not a positive number"]
    errors = []
    if registry is not None and 1 <= slots.parts <= MAX_PARTS:
        try:
            token = registry.resolve(slots.token_in)
            token.to_base(part_amount(amount, slots.parts))
        except PlanBuildError:
            pass  # reported by check_parts
        except Exception as e:
            errors.append(str(e))
    if context.balances is not None:
        held = context.balances.get(slots.token_in.upper())
        if held is None:
            errors.append(f"balance of {slots.token_in} is unknown")
        elif amount > held:
            errors.append(f"amount {amount} {slots.token_in} exceeds the wallet's balance of {held} {slots.token_in}")
    return errors


def check_slippage(slots: IntentSlots, context: PlanningContext) -> list[str]:
    bps = slots.max_slippage_bps
    if bps is None:
        return []
    if bps < 1:
        return [f"slippage of {bps} bps is below 1 bps"]
    if bps > context.max_slippage_bps:
        return [f"slippage of {bps} bps exceeds the policy maximum of {context.max_slippage_bps} bps"]
    return []


def check_parts(slots: IntentSlots) -> list[str]:
    if not 1 <= slots.parts <= MAX_PARTS:
        return [f"{slots.parts} parts is outside 1..{MAX_PARTS}"]
    try:
        part_amount(slots.amount_in, slots.parts)
    except PlanBuildError as e:
        return [str(e)]
    return []


_OP_WORDS = {
    ">": r">(?!=)|\babove\b|\bover\b|\bgreater\b|\bmore\s+than\b|\bhigher\b|\bexceeds\b",
    ">=": rf">=|\bat\s+least\b|\bor\s+(?:equal|more|above|higher)\b|\b(?:{RISES_TO})\b",
    "<": r"<(?!=)|\bbelow\b|\bunder\b|\bless\b|\blower\b",
    "<=": rf"<=|\bat\s+most\b|\bor\s+(?:equal|less|below|lower)\b|\b(?:{FALLS_TO})\b",
}
_CONDITION_WORDS = re.compile(r"\b(?:if|when|once|provided|unless|only)\b", re.I | re.A)
_SLIPPAGE_WORDS = re.compile(r"\bslippage\b", re.I | re.A)
_SPLIT_WORDS = re.compile(r"\b(?:split|parts?|pieces|chunks|tranches|dca|swaps|trades|orders|portions|batches)\b",
                          re.I | re.A)


_PARTS_WRITTEN = re.compile(
    r"(?<![\w.,])(?P<n>\d+)\s+(?:equal\s+)?(?:parts|pieces|chunks|swaps|trades|tranches|orders|portions|batches)\b"
    r"|\bdca(?:\s+it)?\s+(?:over|in|across|into)\s+(?P<m>\d+)\b", re.I | re.A)


def _written_parts(text: str) -> set[int]:
    """Counts written as a split ("4 parts", "DCA over 4"), not any number: "2 ETH" is no "2 parts"."""
    return {int(m["n"] or m["m"]) for m in _PARTS_WRITTEN.finditer(text)}


def _written(symbol: str, text: str) -> bool:
    """`symbol` appears in `text` as a whole word, ASCII case-insensitively (a Kelvin sign is no K)."""
    pattern = rf"(?u:(?<!\w)){re.escape(symbol)}(?u:(?!\w))"
    return re.search(pattern, text, re.IGNORECASE | re.ASCII) is not None


_AMOUNT_THEN_SYMBOL = re.compile(rf"(?<![\w.,])(?P<num>{NUMBER})\s*(?u:(?P<sym>[^\W\d_][^\W_]*))", re.I | re.A)


def _amount_written_before(text: str, amount: Decimal, symbol: str) -> bool:
    """'2 ETH' is written: the amount directly followed by the token paid (so in and out cannot swap places)."""
    return any(to_decimal(m["num"]) == amount and normalize_symbol(m["sym"]) == normalize_symbol(symbol)
               for m in _AMOUNT_THEN_SYMBOL.finditer(text))


_DESTINATION = re.compile(r"\b(?P<prep>to|for|into|towards?)\s+(?P<word>[^\s,.;:!?()]+)", re.I)
_ACTION_WORDS = {"swap", "sell", "buy", "trade", "convert", "exchange"}


def _destinations(text: str, known: set[str]) -> list[str]:
    """'to bob', 'for my friend': a reading that drops them would silently ignore a recipient.

    After to/for/into may come a known token, a number ("equal to 3000") or a verb ("want to swap").
    """
    errors = []
    for m in _DESTINATION.finditer(text):
        word = m["word"]
        if normalize_symbol(word) in known or word[0] in "0123456789$." or word.lower() in _ACTION_WORDS:
            continue
        errors.append(f"the intent says '{m['prep']} {word}': only a token may follow it, "
                      "and money only moves to the wallet itself")
    return errors


def check_grounding(text: str, slots: IntentSlots, known_symbols: Iterable[str] = ()) -> list[str]:
    """Every number and symbol of the reading is written in `text`, and every number in `text` is used.

    With `known_symbols` (the registry's), every known token written in `text` must be
    used by the reading too ("swap 1 ETH to USDC and DAI" is not "swap 1 ETH to USDC").
    """
    errors = []
    lits = literals(text)
    plain = {n.value for n in lits if n.kind == "plain"}
    money = plain | {n.value for n in lits if n.kind == "money"}
    bps_written = {n.value * 100 for n in lits if n.kind == "percent"} | {n.value for n in lits if n.kind == "bps"}
    cond = slots.condition
    if slots.amount_in not in plain:
        errors.append(f"amount {slots.amount_in} is not written in the intent")
    elif not _amount_written_before(text, slots.amount_in, slots.token_in):
        errors.append(f"the intent does not write '{slots.amount_in} {slots.token_in}' (the amount paid)")
    if cond is not None and cond.threshold not in money:
        errors.append(f"price threshold {cond.threshold} is not written in the intent")
    if slots.max_slippage_bps is not None and Decimal(slots.max_slippage_bps) not in bps_written:
        errors.append(f"slippage of {slots.max_slippage_bps} bps is not written in the intent")
    if slots.parts != 1 and slots.parts not in _written_parts(text):
        errors.append(f"{slots.parts} parts is not written in the intent")
    for symbol in dict.fromkeys([slots.token_in, slots.token_out] + ([cond.base] if cond else [])):
        if not _written(symbol, text):
            errors.append(f"token {symbol} is not written in the intent")
    used_symbols = {slots.token_in.upper(), slots.token_out.upper()} | ({cond.base.upper()} if cond else set())
    for symbol in known_symbols:
        if symbol.upper() not in used_symbols and _written(symbol, text):
            errors.append(f"the intent mentions {symbol}, which this reading does not use")
    if known_symbols:
        errors += _destinations(text, {normalize_symbol(k) for k in known_symbols})
    if cond is not None and not re.search(_OP_WORDS[cond.op], text, re.I | re.A):
        errors.append(f"the intent does not say '{cond.op}' (e.g. {'above' if '>' in cond.op else 'below'})")
    # the other direction: nothing the intent says may be left out of the reading
    for n in lits:
        used = ((n.kind == "plain" and n.value in {slots.amount_in, Decimal(slots.parts)})
                or (n.kind in ("plain", "money") and cond is not None and n.value == cond.threshold)
                or (n.kind == "percent" and n.value * 100 == slots.max_slippage_bps)
                or (n.kind == "bps" and n.value == slots.max_slippage_bps))
        if not used:
            errors.append(f"the intent mentions {n.value}{'%' if n.kind == 'percent' else ''}"
                          f"{' bps' if n.kind == 'bps' else ''}, which this reading does not use")
    if cond is None and _CONDITION_WORDS.search(text):
        errors.append("the intent states a condition, but this reading has none")
    if slots.max_slippage_bps is None and _SLIPPAGE_WORDS.search(text):
        errors.append("the intent states a slippage, but this reading has none")
    if slots.parts == 1 and Decimal(1) not in plain and _SPLIT_WORDS.search(text):
        errors.append("the intent asks to split the swap, but this reading has one part")
    return errors


def check_structure(text: str, slots: IntentSlots, registry: TokenResolver,
                    context: PlanningContext) -> tuple[TaskGraph | None, list[str]]:
    """Build the task graph and run `TaskGraph.validate_structure` with the registry."""
    try:
        graph = build_task_graph(text, slots, default_slippage_bps=context.default_slippage_bps)
    except PlanBuildError as e:
        return None, [str(e)]
    except ValidationError as e:
        return None, [f"cannot build a task graph: {err['msg']}" for err in e.errors(include_url=False)]
    return graph, graph.validate_structure(registry)


def slot_warnings(slots: IntentSlots, context: PlanningContext) -> list[str]:
    warnings = []
    if slots.max_slippage_bps is None:
        warnings.append(f"no slippage stated: the policy default of {context.default_slippage_bps} bps applies")
    if context.balances is None:
        warnings.append("balances unknown: the amount is only checked at execution")
    return warnings


def assess(text: str, slots: IntentSlots, registry: TokenResolver, context: PlanningContext) -> Assessment:
    """Every check on one reading; no errors means the reading is a valid plan."""
    known = getattr(registry, "symbols", lambda: [])()
    errors = (check_recipient(slots) + check_tokens(slots, registry) + check_grounding(text, slots, known)
              + check_amount(slots, context, registry) + check_slippage(slots, context) + check_parts(slots))
    graph = None
    if not errors:  # the final gate; on a reading already invalid it would only repeat the errors
        graph, errors = check_structure(text, slots, registry, context)
    return Assessment(errors=list(dict.fromkeys(errors)), warnings=slot_warnings(slots, context),
                      task_graph=graph if not errors else None)


# --- whole requests (the intent language) ----------------------------------------------------------

def _request_symbols(request: Request) -> list[str]:
    out: list[str] = []
    for s in request.steps:
        if isinstance(s, SwapStep):
            out += [s.token_in, s.token_out] + [c.base for c in s.conditions]
            out += [c.quote for c in s.conditions if c.quote != "USD"]
        else:
            out += [t for t in (s.token, s.token_out, s.quote) if t not in (None, "USD", "*", "?")]  # type: ignore[misc]
    return list(dict.fromkeys(out))


def check_request_tokens(request: Request, registry: TokenResolver) -> list[str]:
    errors = []
    for symbol in _request_symbols(request):
        try:
            registry.resolve(symbol)
        except Exception as e:
            errors.append(str(e))
    return errors


_CANON_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


def check_request_grounding(text: str, request: Request) -> list[str]:
    """Every number and token of the reading is in the intent's canonical form (numbers and aliases as the
    language computes them from the user's words); a derived total (rounds x amount) must come from written numbers."""
    try:
        canon = canonical(text)
    except Refuse as r:
        return [r.failure.reason]
    numbers = {Decimal(n) for n in _CANON_NUMBER.findall(canon)}
    if re.search(r"\b(?:an?|one|single)\b", canon):  # "swap an ETH", "a single WETH"
        numbers.add(Decimal(1))
    words = set(re.findall(r"[a-z][a-z0-9]*", canon))
    errors = []

    def number(value: Decimal | None, what: str, times: int = 1) -> None:
        if value is not None and value not in numbers and (times == 1 or value / times not in numbers):
            errors.append(f"{what} {value} is not written in the intent")

    for s in request.steps:
        if isinstance(s, SwapStep):
            rounds = s.parts  # "100 USDC each round for 3 rounds", "300 DAI per buy over 3 buys": 3 x the amount
            if s.amount.kind != "previous" or s.amount.value is not None:
                number(s.amount.value, "amount", rounds)
            for c in s.conditions:
                number(c.threshold, "price threshold")
            if s.max_slippage_bps is not None and not ({Decimal(s.max_slippage_bps), Decimal(s.max_slippage_bps) / 100}
                                                       & numbers):
                errors.append(f"slippage of {s.max_slippage_bps} bps is not written in the intent")
            if s.parts != 1:
                number(Decimal(s.parts), "parts")
            if s.every_blocks is not None:
                number(Decimal(s.every_blocks), "block interval")
        elif s.amount is not None:
            number(s.amount, "amount")
    for symbol in _request_symbols(request):
        if symbol.lower() not in words:
            errors.append(f"token {symbol} is not written in the intent")
    return errors


def check_request_amounts(request: Request, registry: TokenResolver, context: PlanningContext) -> list[str]:
    """Fixed amounts fit the token's decimals per part and the known balance; slippage within policy."""
    errors = []
    for s in request.steps:
        if not isinstance(s, SwapStep):
            continue
        if s.recipient is not None:
            errors.append(f"recipient {s.recipient!r}: money only moves to the wallet itself")
        if s.max_slippage_bps is not None and s.max_slippage_bps > context.max_slippage_bps:
            errors.append(f"slippage of {s.max_slippage_bps} bps exceeds the policy maximum of "
                          f"{context.max_slippage_bps} bps")
        if s.amount.kind in ("tokens", "exact_out") and s.amount.value is not None:
            symbol = s.token_in if s.amount.kind == "tokens" else s.token_out
            try:
                registry.resolve(symbol).to_base(part_amount(s.amount.value, s.parts))
            except PlanBuildError as e:
                errors.append(str(e))
            except Exception as e:
                errors.append(str(e))
        if s.amount.kind == "tokens" and context.balances is not None and s.amount.value is not None:
            held = context.balances.get(s.token_in.upper())
            if held is None:
                errors.append(f"balance of {s.token_in} is unknown")
            elif s.amount.value > held and not _refilled_earlier(request, s):
                errors.append(f"amount {s.amount.value} {s.token_in} exceeds the wallet's balance of "
                              f"{format(held.normalize(), 'f')} {s.token_in}")
    return errors


def _refilled_earlier(request: Request, step: SwapStep) -> bool:
    """A later step may spend what an earlier step buys: its balance is then checked at run time."""
    for s in request.steps:
        if s is step:
            return False
        if isinstance(s, SwapStep) and s.token_out == step.token_in:
            return True
    return False


def native_symbols(registry: TokenResolver, symbols: list[str]) -> list[str]:
    """The registry's native coin(s) (`TokenBase.is_native`): the planner names no chain's coin itself."""
    return [s for s in symbols if getattr(registry.resolve(s), "is_native", False)]


def assess_request(text: str, request: Request, registry: TokenResolver, context: PlanningContext) -> Assessment:
    """Every check on one whole reading; no errors means the reading is a valid plan (with its task graph)."""
    errors = (check_request_tokens(request, registry) + check_request_grounding(text, request)
              + check_request_amounts(request, registry, context))
    graph = None
    if not errors:
        try:
            symbols = getattr(registry, "symbols", lambda: [])()
            graph = build_request_graph(text, request, default_slippage_bps=context.default_slippage_bps,
                                        symbols=symbols, gas_reserve=context.gas_reserve,
                                        native=native_symbols(registry, symbols))
            errors = graph.validate_structure(registry)
        except PlanBuildError as e:
            errors = [str(e)]
        except ValidationError as e:
            errors = [f"cannot build a task graph: {err['msg']}" for err in e.errors(include_url=False)]
    warnings = []
    if any(isinstance(s, SwapStep) and s.max_slippage_bps is None for s in request.steps):
        warnings.append(f"no slippage stated: the policy default of {context.default_slippage_bps} bps applies")
    if context.balances is None:
        warnings.append("balances unknown: the amount is only checked at execution")
    return Assessment(errors=list(dict.fromkeys(errors)), warnings=warnings, task_graph=graph if not errors else None)
