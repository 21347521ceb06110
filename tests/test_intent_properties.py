"""Properties of the intent language over generated wordings (issue 23), for this parser and any that replaces it.

(a) a written amount is planned exactly, or the intent is refused; two numerals side by side are never one
    amount (never added, never multiplied): always refused;
(b) a schedule / DCA / split means the same total in every order of its clauses (or is refused), and the total
    follows the one rule: a split is the total, "each round" multiplies, "in all" is the total, a bare
    repetition ("for 3 rounds") is refused as ambiguous;
(c) a level without a direction ("hits 2000") never becomes a condition that holds at once on one side of the
    level: it is refused with both readings; a level with one ("drops to 2000") is read in that direction.

The numerals come from a small speller of standard English cardinals written here, independent of the parser.
Deterministic (derandomize) and cheap: the whole file runs in a few seconds.
"""
from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from defai_swarm.intent import Request, SwapStep
from defai_swarm.planner.language import ParseFailure, parse_request

SETTINGS = settings(deadline=None, derandomize=True, max_examples=150, database=None)

_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
          "seventeen eighteen nineteen").split()
_TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty", 9: "ninety"}
_SCALES = [(10**9, "billion"), (10**6, "million"), (10**3, "thousand")]
PAIRS = [("ETH", "USDC"), ("DAI", "ETH"), ("USDC", "DAI"), ("WETH", "DAI")]


def _below_100(n: int, hyphen: bool) -> str:
    if n < 20:
        return _UNITS[n]
    tens, unit = divmod(n, 10)
    return _TENS[tens] + (("-" if hyphen else " ") + _UNITS[unit] if unit else "")


def _below_1000(n: int, hyphen: bool, and_: bool, article: bool) -> str:
    hundreds, rest = divmod(n, 100)
    if not hundreds:
        return _below_100(rest, hyphen)
    head = ("a" if article and hundreds == 1 else _UNITS[hundreds]) + " hundred"
    return head + ((" and " if and_ else " ") + _below_100(rest, hyphen) if rest else "")


def spell(n: int, hyphen: bool = True, and_: bool = False, article: bool = False, colloquial: bool = False) -> str:
    """A standard English cardinal for 1 <= n < 10**12 ("a" for a leading one before a scale when `article`;
    "twelve hundred and fifty" for 1100..9999 when `colloquial`)."""
    assert 1 <= n < 10**12
    if colloquial and 1100 <= n <= 9999 and (n // 100) % 10:
        head, rest = divmod(n, 100)
        return _below_100(head, hyphen) + " hundred" + ((" and " if and_ else " ") + _below_100(rest, hyphen)
                                                       if rest else "")
    words, first = [], True
    for scale, name in _SCALES:
        group, n = divmod(n, scale)
        if group:
            words.append(("a" if article and first and group == 1 else _below_1000(group, hyphen, and_, False))
                         + " " + name)
            first = False
    if n:
        words.append(("and " if and_ and words and n < 100 else "")
                     + _below_1000(n, hyphen, and_, article and first))
    return " ".join(words)


@st.composite
def numerals(draw, max_value: int = 999_999_999) -> tuple[str, Decimal]:
    """(words, value): a standard English numeral in one of its usual spellings."""
    n = draw(st.integers(1, 100) | st.integers(1, 10_000) | st.integers(1, max_value))
    text = spell(n, hyphen=draw(st.booleans()), and_=draw(st.booleans()), article=draw(st.booleans()),
                 colloquial=draw(st.booleans()))
    return text, Decimal(n)


@st.composite
def digit_amounts(draw) -> tuple[str, Decimal]:
    """(digits, value): '30', '0.25', '1,500', '1234567.5'."""
    value = draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**9), places=2, allow_nan=False,
                             allow_infinity=False))
    value = value.normalize()
    text = format(value, "f")
    if draw(st.booleans()) and value == value.to_integral_value() and value >= 1000:
        text = f"{int(value):,}"
    return text, value


amounts = numerals() | digit_amounts()


def _swap_texts(amount: str, tin: str, tout: str) -> list[str]:
    return [f"swap {amount} {tin} to {tout}", f"sell {amount} {tin} for {tout}", f"buy {tout} with {amount} {tin}",
            f"convert {amount} {tin} into {tout}", f"please swap {amount} {tin} -> {tout}"]


def _only_swap(result: Request | ParseFailure) -> SwapStep:
    assert isinstance(result, Request), result
    assert len(result.steps) == 1 and isinstance(result.steps[0], SwapStep), result
    return result.steps[0]


def test_the_speller_writes_standard_numerals():
    assert spell(25) == "twenty-five" and spell(3500) == "three thousand five hundred"
    assert spell(105, and_=True) == "one hundred and five" and spell(100, article=True) == "a hundred"
    assert spell(1250, colloquial=True, and_=True) == "twelve hundred and fifty"
    assert spell(1_000_001, article=True, and_=True) == "a million and one"


# --- (a) amounts --------------------------------------------------------------------------------------------

@SETTINGS
@given(amount=amounts, pair=st.sampled_from(PAIRS), form=st.integers(0, 4))
def test_a_written_amount_is_planned_exactly(amount, pair, form):
    text, value = amount
    result = parse_request(_swap_texts(text, *pair)[form])
    step = _only_swap(result)  # a standard numeral is always read (never refused, never another value)
    assert step.amount.kind == "tokens" and step.amount.value == value, (text, step.amount)
    assert (step.token_in, step.token_out) == pair


def _ends_in_a_unit(words: str) -> bool:
    """Nothing standard can follow a numeral ending in a unit or teen ('five', 'twenty-one', 'a thousand and
    twelve'): two such numerals side by side are never one numeral."""
    last = words.replace("-", " ").split()[-1]
    return last in _UNITS


@SETTINGS
@given(a=numerals() | digit_amounts(), b=numerals() | digit_amounts(), pair=st.sampled_from(PAIRS),
       form=st.integers(0, 4))
def test_two_numerals_side_by_side_are_refused_never_summed(a, b, pair, form):
    (a_text, _), (b_text, _) = a, b
    assume(a_text[0].isdigit() or _ends_in_a_unit(a_text))
    result = parse_request(_swap_texts(f"{a_text} {b_text}", *pair)[form])
    assert isinstance(result, ParseFailure), (a_text, b_text, result)
    assert result.refusal_class == "ambiguous" and result.final, result


def _is_spelling(words: str, value: Decimal) -> bool:
    """`words` is one standard spelling of `value` (hyphens, 'and' and 'a' for 'one' as the speller varies them)."""
    def norm(t: str) -> list[str]:
        return ["one" if w in ("a", "an") else w for w in t.replace("-", " ").split() if w != "and"]
    if value != value.to_integral_value() or not 1 <= value < 10**12:
        return False
    return any(norm(spell(int(value), *style)) == norm(words) for style in itertools.product([True, False], repeat=4))


@SETTINGS
@given(a=numerals(max_value=999_999), b=numerals(max_value=999_999), pair=st.sampled_from(PAIRS))
def test_numerals_side_by_side_are_planned_only_when_they_spell_one_number(a, b, pair):
    """'five hundred five hundred', 'twenty twenty-five', 'a thousand million' are refused; 'twenty' 'five' and
    'one thousand' 'five' are one numeral (25, 1005) and are read as that numeral, nothing else."""
    (a_text, _), (b_text, _) = a, b
    result = parse_request(f"swap {a_text} {b_text} {pair[0]} to {pair[1]}")
    if isinstance(result, Request):
        value = _only_swap(result).amount.value
        assert value is not None and _is_spelling(f"{a_text} {b_text}", value), (a_text, b_text, value)
    else:
        assert result.refusal_class == "ambiguous" and result.final, result


# --- (b) schedules, DCA, splits -----------------------------------------------------------------------------

@st.composite
def schedules(draw):
    """Clauses of one schedule/split and the total the rule gives (None: must be refused)."""
    tin, tout = draw(st.sampled_from(PAIRS))
    text, value = draw(numerals(max_value=5000) | digit_amounts())
    k = draw(st.integers(2, 6))
    n = draw(st.integers(1, 50))
    count_kind, count = draw(st.sampled_from([
        ("split", f"over {k} buys"), ("split", f"in {k} parts"), ("split", f"across {k} swaps"),
        ("repeat", f"for {k} rounds"), ("repeat", f"{k} times"), ("repeat", f"for {k} buys")]))
    basis = draw(st.sampled_from(["", "each round", "each time", "per buy", "in all", "in total"]))
    verb = draw(st.sampled_from(["swap {v} {a} to {b}", "DCA {v} {a} into {b}", "sell {v} {a} for {b}"]))
    clauses = [verb.format(v=text, a=tin, b=tout), f"every {n} blocks", count]
    if basis:
        clauses.append(basis)
    if draw(st.booleans()):
        clauses.append(f"if ETH is above {draw(st.integers(100, 5000))}")
    if draw(st.booleans()):
        clauses.append("max 1% slippage")
    if basis.startswith(("each", "per")):
        total = value * k
    elif basis or count_kind == "split":
        total = value
    else:
        total = None  # a bare repetition: 'X every N blocks for K rounds' is X in all or K times X
    return clauses, total, k, n


@settings(deadline=None, derandomize=True, max_examples=60, database=None)
@given(schedule=schedules(), sep=st.sampled_from([", ", " "]), data=st.data())
def test_every_order_of_a_schedules_clauses_means_the_same_total(schedule, sep, data):
    clauses, total, k, n = schedule
    orders = list(itertools.permutations(clauses))
    if len(orders) > 24:
        orders = [orders[0]] + [tuple(data.draw(st.permutations(clauses))) for _ in range(23)]
    planned = set()
    for order in orders:
        result = parse_request(sep.join(order))
        if isinstance(result, ParseFailure):
            continue
        step = _only_swap(result)
        planned.add((step.amount.value, step.parts, step.every_blocks))
        assert total is not None, f"a bare repetition was planned: {sep.join(order)!r} -> {step.describe()}"
        assert (step.amount.value, step.parts, step.every_blocks) == (total, k, n), (sep.join(order), step.describe())
    assert len(planned) <= 1, planned
    if total is not None and sep == ", ":  # the plain order (action first) is always read
        assert planned, f"refused: {sep.join(clauses)!r}: {parse_request(sep.join(clauses))}"
    if total is None:  # refused with both totals as the readings
        failure = parse_request(sep.join(clauses))
        assert isinstance(failure, ParseFailure) and failure.refusal_class == "ambiguous" and failure.final
        assert len(failure.readings) == 2 and "in all" in failure.readings[0] and "per round" in failure.readings[1]


# --- (c) price levels ---------------------------------------------------------------------------------------

LEVEL_VERBS = ["hits", "reaches", "gets to", "goes to", "touches", "gets back to", "comes back to", "returns to",
               "moves to", "equals", "is equal to", "=", "trades to"]
FALLS = ["drops to", "falls to", "dips to", "sinks to", "goes down to", "falls back to", "drops back to",
         "declines to", "slides to"]
RISES = ["rises to", "climbs to", "goes up to", "jumps to", "climbs back to", "rallies to", "moves up to"]
SUBJECTS = ["ETH", "the price of ETH", "ETH's price", "the ETH price", "ETH/USD", "price"]
LEADS = ["if", "when", "once", "as soon as", "only if"]


@st.composite
def level_conditions(draw, verbs):
    verb = draw(st.sampled_from(verbs))
    subject, lead = draw(st.sampled_from(SUBJECTS)), draw(st.sampled_from(LEADS))
    level_text, level = draw(numerals(max_value=9000) | digit_amounts())
    action = draw(st.sampled_from(["buy ETH with 100 USDC", "sell 1 ETH for USDC", "swap 50 DAI to ETH"]))
    cond = f"{lead} {subject} {verb} {level_text}"
    text = draw(st.sampled_from([f"{cond}, {action}", f"{action} {cond}", f"{cond} then {action}"]))
    return text, level


@SETTINGS
@given(case=level_conditions(LEVEL_VERBS))
def test_a_level_without_a_direction_is_refused_never_a_condition_that_already_holds(case):
    text, level = case
    result = parse_request(text)
    assert isinstance(result, ParseFailure), f"{text!r} -> {result.describe()}"  # type: ignore[union-attr]
    assert result.refusal_class == "ambiguous" and result.final, result
    ops = [r.split("(")[-1].rstrip(")").split() for r in result.readings]  # "ETH rises to 2000 (>= 2000)"
    assert [(op, Decimal(v)) for op, v in ops] == [(">=", level), ("<=", level)], result.readings


@SETTINGS
@given(case=level_conditions(FALLS + RISES), data=st.data())
def test_a_level_with_a_direction_is_read_in_that_direction(case, data):
    text, level = case
    step = _only_swap(parse_request(text))
    (cond,) = step.conditions
    expected = "<=" if any(f" {v} " in text for v in FALLS) else ">="
    assert (cond.base, cond.op, cond.threshold) == ("ETH", expected, level), (text, cond.describe())
    # either side of the level: the condition holds on the side the words say, not because of where the price is
    below, above = level * Decimal("0.9"), level * Decimal("1.1")
    holds = {">=": lambda p: p >= level, "<=": lambda p: p <= level}[cond.op]
    assert holds(below) != holds(above)
