"""The deterministic parser's slot view: one exact-input swap, read exactly, or a refusal.

The language itself lives in `defai_swarm.planner.language` (`parse_request`: several steps,
derived amounts, compound conditions, schedules, questions).  `parse_intent` is the slot
form the model also produces: it answers with `IntentSlots` when the whole intent is one
exact-input swap with at most one USD condition, and otherwise refuses (finally, for a
safety reason; not finally when the intent is simply more than one swap in slot form).

Keywords and digits are ASCII only: a Kelvin sign is not a "k", a full-width "２" is not a
2, and a look-alike symbol such as Cyrillic "ЕТН" is refused.
"""
from __future__ import annotations

from defai_swarm.intent import IntentSlots
from defai_swarm.planner.language import MAX_AMOUNT, USD_STABLES, ParseFailure, parse_request


def parse_intent(text: str) -> IntentSlots | ParseFailure:
    """Slots for an intent that is exactly one exact-input swap, else a `ParseFailure` with the reason."""
    result = parse_request(text)
    if isinstance(result, ParseFailure):
        return result
    slots = result.as_slots()
    if slots is None:
        return ParseFailure(reason=f"the intent is more than one exact-input swap in slot form ({result.describe()}); "
                                   "the planner plans it as a request", final=False, refusal_class="out_of_scope")
    return slots


__all__ = ["ParseFailure", "parse_intent", "MAX_AMOUNT", "USD_STABLES"]
