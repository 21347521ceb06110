"""The JSON shape the model fills in, and its conversion to `IntentSlots`.

Token symbols are a Literal of the registry's symbols, so grammar-constrained
decoding cannot even spell an unknown token (or an address).  Numbers are decimal
strings, never JSON floats (0.1 must stay 0.1).
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from defai_swarm.core.errors import SwarmError
from defai_swarm.intent import MAX_PARTS, IntentSlots

DECIMAL_PATTERN = r"^(0|[1-9][0-9]{0,11})([.][0-9]{1,18})?$"  # [.]: the grammar converter mis-escapes \.


class ModelSlotsError(SwarmError, ValueError):
    """The model's JSON does not make valid slots (e.g. an amount of zero)."""


@lru_cache(maxsize=16)
def model_slots_schema(symbols: tuple[str, ...]) -> type[BaseModel]:
    """A pydantic model for the model's answer, with token fields limited to `symbols`.

    Cached per symbol set, so the backend's grammar cache (keyed by class) is reused.
    """
    if not symbols:
        raise ValueError("no token symbols to plan with")
    # Types built at runtime are values, not static type forms: typed Any so pydantic's TypeForm parameters accept them.
    Symbol: Any = Literal[symbols]  # type: ignore[valid-type]
    amount = Field(pattern=DECIMAL_PATTERN, description="decimal number exactly as written in the intent")
    condition = create_model(
        "ModelCondition",
        __config__=ConfigDict(extra="forbid"),
        base=(Symbol, Field(description="token whose USD price is compared")),
        op=(Literal[">", ">=", "<", "<="], ...),
        threshold=(str, Field(pattern=DECIMAL_PATTERN, description="USD price, digits only (3k -> 3000)")),
    )
    optional_condition: Any = Optional[condition]
    return create_model(
        "ModelIntentSlots",
        __config__=ConfigDict(extra="forbid"),
        token_in=(Symbol, Field(description="token paid")),
        token_out=(Symbol, Field(description="token received")),
        amount_in=(str, amount),
        condition=(optional_condition, Field(None, description="price condition, or null if none is stated")),
        max_slippage_bps=(Optional[int], Field(None, ge=1, le=10_000, description="1% = 100 bps; null if not stated")),
        parts=(int, Field(1, ge=1, le=MAX_PARTS, description="equal parts to split into; 1 if not stated")),
        recipient=(Optional[str], Field(None, max_length=64,
                                        description="who receives the output if the intent names anyone; else null")),
    )


def to_intent_slots(value: BaseModel | dict[str, Any]) -> IntentSlots:
    """Model answer -> IntentSlots; `ModelSlotsError` says why when it cannot be one."""
    data = value.model_dump() if isinstance(value, BaseModel) else dict(value)
    try:
        data["amount_in"] = Decimal(str(data["amount_in"]))
        if data.get("condition"):
            data["condition"] = {**data["condition"], "threshold": Decimal(str(data["condition"]["threshold"]))}
        return IntentSlots(action="swap", **data)
    except (ValidationError, ArithmeticError, KeyError, TypeError) as e:
        raise ModelSlotsError(f"the model's answer is not valid slots: {e}") from None
