"""Canonical JSON for audit leaves: one byte string per value, so hashes are reproducible.

Sorted keys, no whitespace, UTF-8 (non-ASCII kept as is). Floats are refused: their
decimal rendering differs between languages, and amounts must not be rounded;
callers pass int, str or Decimal (Decimal is written as its string).
"""
from __future__ import annotations

import json
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

try:
    from _json import make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover - CPython always has it
    _c_make_encoder = None

JSONValue = None | bool | int | str | list["JSONValue"] | dict[str, "JSONValue"]


def _where(path: str) -> str:
    return path or "<root>"


class _NotPlain(Exception):
    """`_plain` met something other than exact plain JSON types: `normalize` takes the exact path."""


def _plain(value: Any) -> JSONValue:
    """`normalize` for exact plain types and Decimal (nearly every payload), without building a path string per
    key; anything else (subclasses, floats, bad keys, other types) raises _NotPlain."""
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is dict:
        out: dict[str, JSONValue] = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _NotPlain
            out[k] = _plain(v)
        return out
    if t is list or t is tuple:
        return [_plain(v) for v in value]
    if t is Decimal and value.is_finite():
        return str(value)
    raise _NotPlain


def normalize(value: Any, path: str = "") -> JSONValue:
    """Turn `value` into plain JSON types (Decimal -> str, tuple -> list); reject the rest."""
    try:
        return _plain(value)
    except _NotPlain:  # the walk below converts subclasses and names the offending path
        return _normalize(value, path)


def _normalize(value: Any, path: str = "") -> JSONValue:
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
            out[k] = _normalize(v, f"{path}.{k}" if path else k)
        return out
    if isinstance(value, (list, tuple)):
        return [_normalize(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise TypeError(
        f"{type(value).__name__} at {_where(path)} is not allowed in audit payloads "
        "(use dict, list, str, int, bool, None or Decimal)"
    )


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


if _c_make_encoder is not None:
    # One C encoder built once: `json.dumps` builds a new one (and a closure) on every call, which was the
    # largest single cost of hashing an entry. No circular-reference markers: plain JSON values have no cycles
    # (a cyclic value fails in `normalize` first, and parsed JSON cannot have one).
    _encoder = _c_make_encoder(None, _refuse, encode_basestring, None, ":", ",", True, False, False)

    def encode_plain(value: Any) -> str:
        """Canonical JSON text of a value that holds only plain JSON types (what `normalize` returns, or what
        `json.loads` gives without floats); another type raises TypeError. It does not refuse a float itself:
        callers never pass one (`normalize` refuses them, the streamed verifier decodes them as another type)."""
        return "".join(_encoder(value, 0))
else:  # pragma: no cover
    _slow = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                             default=_refuse)

    def encode_plain(value: Any) -> str:
        """Canonical JSON text of plain JSON types (see above)."""
        return _slow.encode(value)


def dumps(value: Any) -> bytes:
    """Canonical JSON bytes of `value` (normalized first)."""
    return encode_plain(normalize(value)).encode("utf-8")
