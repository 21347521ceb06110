"""What the user asked for: the raw intent text and its meaning as typed slots.

`Intent` cleans the text once, so the parser, the model prompt, the grounding check
and the task graph all see the same string.  `IntentSlots` is what both the
deterministic parser and the model produce; it is small on purpose: one exact-input
swap, optionally conditional on a USD price, optionally split into equal parts.
"""
from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from swarm.taskgraph import Op

MAX_INTENT_CHARS = 500
MAX_PARTS = 20

# Control, format (zero-width, bidi overrides) and line/paragraph separators.  They are
# replaced by a space, never deleted: deleting "1\x000" would silently make "10".
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp"}


def clean_text(text: str) -> str:
    """Invisible characters -> space, whitespace runs -> one space, trimmed."""
    spaced = "".join(" " if unicodedata.category(c) in _INVISIBLE else c for c in text)
    return " ".join(spaced.split())


class Intent(BaseModel):
    """A user's instruction in plain language, cleaned and bounded in length."""

    model_config = ConfigDict(frozen=True)
    text: str

    @field_validator("text", mode="before")
    @classmethod
    def _clean(cls, v: object) -> str:
        if not isinstance(v, str):
            raise ValueError("intent must be text")
        if len(v) > MAX_INTENT_CHARS:
            raise ValueError(f"intent is {len(v)} characters long; the limit is {MAX_INTENT_CHARS}")
        cleaned = clean_text(v)
        if not cleaned:
            raise ValueError("intent is empty")
        return cleaned


class PriceCondition(BaseModel):
    """`price(base) in USD <op> threshold`; the runtime evaluates it, never a model."""

    model_config = ConfigDict(frozen=True)
    base: str
    quote: Literal["USD"] = "USD"
    op: Op
    threshold: Decimal = Field(gt=0)

    @field_validator("base")
    @classmethod
    def _symbol(cls, v: str) -> str:
        return normalize_symbol(v)



class IntentSlots(BaseModel):
    """The meaning of an intent: an exact-input swap of `amount_in` (human units) of token_in.

    `max_slippage_bps=None` means the policy default; `parts` splits the amount into
    equal swaps run one after another.  `recipient` exists so a reading that found one
    can say so; any value other than None is refused (money only moves to the wallet).
    """

    model_config = ConfigDict(frozen=True)
    action: Literal["swap"] = "swap"
    token_in: str = Field(min_length=1, max_length=32)
    token_out: str = Field(min_length=1, max_length=32)
    amount_in: Decimal = Field(gt=0)
    condition: PriceCondition | None = None
    max_slippage_bps: int | None = Field(default=None, ge=1, le=10_000)
    parts: int = Field(default=1, ge=1, le=MAX_PARTS)
    recipient: str | None = None

    @field_validator("token_in", "token_out")
    @classmethod
    def _symbol(cls, v: str) -> str:
        return normalize_symbol(v)



def normalize_symbol(symbol: str) -> str:
    """Upper-case ASCII symbols only: 'ß'.upper() == 'SS' would turn a look-alike into ASCII."""
    s = symbol.strip()
    return s.upper() if s.isascii() else s


__all__ = ["Intent", "IntentSlots", "PriceCondition", "MAX_INTENT_CHARS", "MAX_PARTS", "clean_text",
           "normalize_symbol"]
