"""Canonical JSON for audit leaves: one byte string per value, so hashes are reproducible.

Sorted keys, no whitespace, UTF-8 (non-ASCII kept as is). Floats are refused: their
decimal rendering differs between languages, and amounts must not be rounded;
callers pass int, str or Decimal (Decimal is written as its string).
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

JSONValue = None | bool | int | str | list["JSONValue"] | dict[str, "JSONValue"]


def _where(path: str) -> str:
    return path or "<root>"


def normalize(value: Any, path: str = "") -> JSONValue:
    """Turn `value` into plain JSON types (Decimal -> str, tuple -> list); reject the rest."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # plain str, also for str-based enums
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        raise TypeError(
            f"float at {_where(path)} is not allowed in audit payloads: use int, str or Decimal"
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"non-finite Decimal at {_where(path)} is not allowed")
        return str(value)
    if isinstance(value, dict):
        out: dict[str, JSONValue] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"non-string key at {_where(path)}: JSON object keys must be str")
            out[k] = normalize(v, f"{path}.{k}" if path else k)
        return out
    if isinstance(value, (list, tuple)):
        return [normalize(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise TypeError(
        f"{type(value).__name__} at {_where(path)} is not allowed in audit payloads "
        "(use dict, list, str, int, bool, None or Decimal)"
    )


def dumps(value: Any) -> bytes:
    """Canonical JSON bytes of `value` (normalized first)."""
    return json.dumps(
        normalize(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
