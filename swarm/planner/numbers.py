"""Numbers as people write them ("1,500.25", ".5", "$3k", "0.5%", "50 bps"), shared by
the parser and the grounding check so both read a number the same way."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

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
