"""Numbers as people write them ("1,500.25", ".5", "$3k", "0.5%", "50 bps"), shared by
the parser and the grounding check so both read a number the same way."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal, Sequence

# Digits with optional thousands groups of exactly three, optional fraction; or ".5".
NUMBER = r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"

Kind = Literal["plain", "money", "percent", "bps"]

_LITERAL = re.compile(
    rf"(?P<dollar>\$\s?)?(?<![\w.,])(?P<num>{NUMBER})(?![\d])"
    r"(?:\s?(?P<k>k)(?!\w))?"
    r"(?:\s?(?P<unit>%|percent(?!\w)|bps(?!\w)|bp(?!\w)|basis\s+points?(?!\w)|usd(?!\w)|dollars?(?!\w)))?",
    re.IGNORECASE | re.ASCII,
)


def to_decimal(text: str) -> Decimal:
    """'1,500.25' -> Decimal('1500.25'); raises ValueError on anything else."""
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return value


@dataclass(frozen=True)
class NumberLiteral:
    """One number in the text, with what it can mean: a plain count/amount, money, percent, bps."""

    value: Decimal
    kind: Kind


def literals(text: str) -> list[NumberLiteral]:
    """Every number written in `text`, already scaled ("3k" -> 3000) and classified."""
    out = []
    for m in _LITERAL.finditer(text):
        value = to_decimal(m["num"])
        unit = (m["unit"] or "").lower()
        if m["k"]:
            value *= 1000
        if unit in ("%", "percent"):
            kind: Kind = "percent"
        elif unit.startswith("bp") or unit.startswith("basis"):
            kind = "bps"
        elif m["dollar"] or m["k"] or unit.startswith(("usd", "dollar")):
            kind = "money"
        else:
            kind = "plain"
        out.append(NumberLiteral(value, kind))
    return out


def percent_to_bps(value: Decimal) -> int:
    """0.5 (%) -> 50 bps; ValueError if it is not a whole number of bps."""
    bps = value * 100
    if bps != bps.to_integral_value():
        raise ValueError(f"{value}% is not a whole number of basis points")
    return int(bps)


# --- number words ----------------------------------------------------------------------------------
# One standard English cardinal is one number: "twenty-five", "a hundred", "three thousand five hundred",
# "one hundred and five", "twelve hundred".  A run of number words that is not one ("one one", "twenty
# twenty-five", "five hundred five hundred", "a thousand million") is several numbers side by side: never
# added up, never multiplied; the language refuses it with its readings.

UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                    "fourteen fifteen sixteen seventeen eighteen nineteen".split())}
TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
NUMBER_WORDS = (*UNITS, *TENS, "hundred", *SCALES)


def _below_100(words: Sequence[str], i: int) -> tuple[int | None, int]:
    """1..99 at `i` ("seven", "forty", "forty two"); (None, i) if none starts there."""
    if i < len(words) and words[i] in UNITS and words[i] != "zero":
        return UNITS[words[i]], i + 1
    if i < len(words) and words[i] in TENS:
        if i + 1 < len(words) and words[i + 1] in UNITS and 1 <= UNITS[words[i + 1]] <= 9:
            return TENS[words[i]] + UNITS[words[i + 1]], i + 2
        return TENS[words[i]], i + 1
    return None, i


def _group(words: Sequence[str], i: int) -> tuple[int | None, int, bool]:
    """A group below a scale word at `i`: "five", "a hundred", "three hundred and two", "twelve hundred".

    Returns (value, next index, colloquial): colloquial hundreds ("twelve hundred") stand alone only."""
    first = i == 0
    if first and words[i] in ("a", "an") and i + 1 < len(words) and words[i + 1] in SCALES:
        return 1, i + 1, False  # "a thousand"
    if first and words[i] in ("a", "an") and i + 1 < len(words) and words[i + 1] == "hundred":
        mult, i = 1, i + 1
    elif first and words[i] in ("hundred", *SCALES):
        if words[i] in SCALES:
            return 1, i, False  # a bare "thousand"
        mult = 1  # a bare "hundred"
    else:
        value, j = _below_100(words, i)
        if value is None:
            return None, i, False
        if j >= len(words) or words[j] != "hundred":
            return value, j, False
        mult, i = value, j
    i += 1  # past "hundred"
    value = mult * 100
    if i < len(words) and words[i] == "and":
        rest, j = _below_100(words, i + 1)
        return (None, i, False) if rest is None else (value + rest, j, mult > 9)
    rest, j = _below_100(words, i)
    return value + (rest or 0), j, mult > 9


def numeral_value(words: Sequence[str]) -> int | None:
    """The value of `words` (lower case, split at spaces and hyphens, 'and' kept) if they are exactly one
    standard English cardinal, else None: scales strictly decrease ("a thousand million" is not one number),
    each group is below the scale before it, 'and' only before the last group below a hundred."""
    if list(words) == ["zero"]:
        return 0
    if not words:
        return None
    total, last_scale, i = 0, None, 0
    while i < len(words):
        if words[i] == "and":  # "one thousand and five"
            if last_scale is None:
                return None
            value, i = _below_100(words, i + 1)
            return total + value if value is not None and i == len(words) else None
        value, i, colloquial = _group(words, i)
        if value is None:
            return None
        if i < len(words) and words[i] in SCALES:
            scale = SCALES[words[i]]
            if colloquial or (last_scale is not None and scale >= last_scale):
                return None
            total, last_scale, i = total + value * scale, scale, i + 1
            continue
        if (last_scale is not None and value >= last_scale) or i != len(words):
            return None
        return total + value
    return total


def split_numerals(words: Sequence[str]) -> list[tuple[int, tuple[str, ...]]]:
    """A run that is not one numeral, read as standard numerals side by side (each with its words): the
    fewest of them, a later one that starts with a bare "hundred"/"thousand" counting extra (so "five
    hundred five hundred" is 500, 500 and not 505, 100).  'and' between them is a conjunction, skipped."""
    n = len(words)
    best: dict[int, tuple[int, list[tuple[int, tuple[str, ...]]]] | None] = {n: (0, [])}
    for i in range(n - 1, -1, -1):
        options = []
        if words[i] == "and" and best[i + 1] is not None:
            options.append(best[i + 1])
        for j in range(n, i, -1):
            value, rest = numeral_value(words[i:j]), best[j]
            if value is not None and rest is not None:
                bare = i > 0 and words[i] in ("hundred", *SCALES)
                options.append((rest[0] + 1 + bare, [(value, tuple(words[i:j])), *rest[1]]))
        best[i] = min(options, key=lambda o: o[0]) if options else None
    found = best[0]
    return found[1] if found is not None else []
