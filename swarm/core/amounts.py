"""Human amounts <-> integer base units, shared by every chain's token model.

Refuses floats, non-positive or non-finite values, and precision it would have to drop:
an amount is never rounded on the user's behalf.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from defai_swarm.core.errors import AmountError


def to_base_units(amount: Decimal | str | int, decimals: int, symbol: str, error: type[Exception] = AmountError) -> int:
    if isinstance(amount, float):
        raise error("amounts must be Decimal, str or int, never float")
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise error(f"not a number: {amount!r}") from None
    if not value.is_finite() or value <= 0:
        raise error(f"amount must be a positive finite number, got {amount}")
    base = value.scaleb(decimals)
    if base != base.to_integral_value():
        raise error(f"{amount} {symbol} has more than {decimals} decimal places")
    return int(base)


def from_base_units(raw: int, decimals: int) -> Decimal:
    return Decimal(raw).scaleb(-decimals)
