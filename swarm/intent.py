"""What the user asked for: the raw intent text and its meaning as typed slots.

`Intent` cleans the text once, so the parser, the model prompt, the grounding check
and the task graph all see the same string.  `IntentSlots` is what both the
deterministic parser and the model produce; it is small on purpose: one exact-input
swap, optionally conditional on a USD price, optionally split into equal parts.
"""
from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from defai_swarm.taskgraph import Op

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
    """`price(base) in quote <op> threshold`; the runtime evaluates it, never a model.

    quote "USD" is the independent USD price; any other quote is a token: the price of base
    in that token is the ratio of the two independent USD prices, computed in code.
    """

    model_config = ConfigDict(frozen=True)
    base: str
    quote: str = "USD"
    op: Op
    threshold: Decimal = Field(gt=0)

    @field_validator("base", "quote")
    @classmethod
    def _symbol(cls, v: str) -> str:
        return normalize_symbol(v)

    def describe(self) -> str:
        pair = self.base if self.quote == "USD" else f"{self.base}/{self.quote}"
        return f"{pair} {self.op} {format(self.threshold.normalize(), 'f')}"



class IntentSlots(BaseModel):
    """The meaning of an intent: an exact-input swap of `amount_in` (human units) of token_in.

    `max_slippage_bps=None` means the policy default; `parts` splits the amount into
    equal swaps run one after another.  It is the model's slot form; the full language is
`Request` (several steps, derived amounts, compound conditions, schedules, questions).  `recipient` exists so a reading that found one
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



AmountKind = Literal["tokens", "usd", "percent", "all", "exact_out", "previous"]
MAX_STEPS = 5
MAX_ROUNDS = MAX_PARTS
MAX_EVERY_BLOCKS = 100_000


class Amount(BaseModel):
    """How much a swap spends (or, for exact_out, receives), as the user said it.

    tokens: `value` of token_in.  usd: token_in worth `value` US dollars at the independent
    price (converted at run time).  percent: `value` % of the wallet's token_in balance
    (read at run time; 100 is "all").  all: the whole balance, minus the policy gas reserve
    for the native coin.  exact_out: exactly `value` of token_out; the maximum input comes
    from the independent prices plus slippage.  previous: what the previous step received
    (times `value` % when given, e.g. "half of it").
    """

    model_config = ConfigDict(frozen=True)
    kind: AmountKind
    value: Decimal | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _value(self) -> "Amount":
        needs = self.kind in ("tokens", "usd", "percent", "exact_out")
        if needs and self.value is None:
            raise ValueError(f"a {self.kind} amount needs a value")
        if self.kind == "all" and self.value is not None:
            raise ValueError("'all' has no value")
        if self.kind in ("percent", "previous") and self.value is not None and self.value > 100:
            raise ValueError(f"{self.value}% is more than the whole balance")
        return self

    def describe(self, token_in: str, token_out: str) -> str:
        v = format(self.value.normalize(), "f") if self.value is not None else ""
        return {"tokens": f"{v} {token_in}", "usd": f"${v} of {token_in}", "percent": f"{v}% of the {token_in} balance",
                "all": f"all {token_in}", "exact_out": f"exactly {v} {token_out}",
                "previous": (f"{v}% of " if v else "") + "what the previous step received"}[self.kind]


class SwapStep(BaseModel):
    """One swap of a request: amount, optional conditions (all "and" or all "or"), parts, schedule."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["swap"] = "swap"
    token_in: str = Field(min_length=1, max_length=32)
    token_out: str = Field(min_length=1, max_length=32)
    amount: Amount
    conditions: tuple[PriceCondition, ...] = ()
    combine: Literal["and", "or"] = "and"
    max_slippage_bps: int | None = Field(default=None, ge=1, le=10_000)
    parts: int = Field(default=1, ge=1, le=MAX_PARTS)
    every_blocks: int | None = Field(default=None, ge=1, le=MAX_EVERY_BLOCKS)
    recipient: str | None = None

    @field_validator("token_in", "token_out")
    @classmethod
    def _symbol(cls, v: str) -> str:
        return normalize_symbol(v)

    def describe(self) -> str:
        text = (f"buy {self.amount.describe(self.token_in, self.token_out)} with {self.token_in}"
                if self.amount.kind == "exact_out" else
                f"swap {self.amount.describe(self.token_in, self.token_out)} -> {self.token_out}")
        if self.conditions:
            text += " if " + f" {self.combine} ".join(c.describe() for c in self.conditions)
        if self.parts > 1:
            text += f" in {self.parts} parts"
        if self.every_blocks:
            text += f", one every {self.every_blocks} blocks"
        if self.max_slippage_bps is not None:
            text += f", max {self.max_slippage_bps} bps slippage"
        return text


class QueryStep(BaseModel):
    """A read-only question: a price, a balance ("*" = every token) or a quote; answered, never traded."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["price", "balance", "quote"]
    token: str = Field(min_length=1, max_length=32)
    quote: str = "USD"
    token_out: str | None = None
    amount: Decimal | None = Field(default=None, gt=0)

    @field_validator("token", "quote", "token_out")
    @classmethod
    def _symbol(cls, v: str | None) -> str | None:
        return None if v is None else normalize_symbol(v)

    def describe(self) -> str:
        if self.kind == "price":
            return f"price of {self.token}" + ("" if self.quote == "USD" else f" in {self.quote}")
        if self.kind == "balance":
            return "every balance" if self.token == "*" else f"balance of {self.token}"
        return f"quote {format((self.amount or Decimal(0)).normalize(), 'f')} {self.token} -> {self.token_out}"


Step = Annotated[Union[SwapStep, QueryStep], Field(discriminator="kind")]


class Request(BaseModel):
    """Everything an intent asks, in order: swaps and read-only questions (steps run one after another)."""

    model_config = ConfigDict(frozen=True)
    steps: tuple[Step, ...] = Field(min_length=1, max_length=MAX_STEPS)

    def describe(self) -> str:
        return "; then ".join(s.describe() for s in self.steps)

    def swaps(self) -> list[SwapStep]:
        return [s for s in self.steps if isinstance(s, SwapStep)]

    def as_slots(self) -> "IntentSlots | None":
        """The single exact-input swap this request is, in the model's slot form; None if it is more."""
        if len(self.steps) != 1 or not isinstance(s := self.steps[0], SwapStep) or s.amount.kind != "tokens":
            return None
        if len(s.conditions) > 1 or s.every_blocks is not None or any(c.quote != "USD" for c in s.conditions):
            return None
        assert s.amount.value is not None
        return IntentSlots(token_in=s.token_in, token_out=s.token_out, amount_in=s.amount.value,
                           condition=s.conditions[0] if s.conditions else None, max_slippage_bps=s.max_slippage_bps,
                           parts=s.parts, recipient=s.recipient)

    @classmethod
    def from_slots(cls, slots: "IntentSlots") -> "Request":
        return cls(steps=(SwapStep(token_in=slots.token_in, token_out=slots.token_out,
                                   amount=Amount(kind="tokens", value=slots.amount_in),
                                   conditions=(slots.condition,) if slots.condition else (),
                                   max_slippage_bps=slots.max_slippage_bps, parts=slots.parts,
                                   recipient=slots.recipient),))


def normalize_symbol(symbol: str) -> str:
    """Upper-case ASCII symbols only: 'ß'.upper() == 'SS' would turn a look-alike into ASCII."""
    s = symbol.strip()
    return s.upper() if s.isascii() else s


__all__ = ["Amount", "Intent", "IntentSlots", "PriceCondition", "QueryStep", "Request", "Step", "SwapStep",
           "MAX_INTENT_CHARS", "MAX_PARTS", "MAX_STEPS", "clean_text", "normalize_symbol"]
