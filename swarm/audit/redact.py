"""Refuse to write registered secrets (private keys, API tokens) into the audit log.

An audit log is meant to be exported and shown to third parties, and an append-only
log can never forget: the only safe policy is to refuse the write. Matching is
case-insensitive and covers both the raw and the 0x-less form of a hex secret.
Error messages name the field, never the secret.
"""
from __future__ import annotations

import re
import threading
from typing import Any

from defai_swarm.core.errors import SwarmError

MIN_SECRET_LEN = 8


class SecretLeakError(SwarmError, ValueError):
    """A payload contains a registered secret; nothing was written."""


def _forms(secret: str) -> set[str]:
    s = secret.strip().lower()
    forms = {s}
    if s.startswith("0x"):
        forms.add(s[2:])
    return {f for f in forms if f}


class SecretGuard:
    """A set of secret strings that must never appear in stored text."""

    __slots__ = ("_forms", "_pattern", "_lock")

    def __init__(self) -> None:
        self._forms: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def register(self, secret: str | bytes) -> None:
        """Add a secret (bytes are registered as their hex)."""
        if isinstance(secret, (bytes, bytearray)):
            secret = bytes(secret).hex()
        if not isinstance(secret, str):
            raise TypeError("secret must be str or bytes")
        forms = _forms(secret)
        if not forms or min(len(f) for f in forms) < MIN_SECRET_LEN:
            raise ValueError(f"secret too short to guard (need at least {MIN_SECRET_LEN} characters)")
        with self._lock:
            self._forms = self._forms | forms
            alts = sorted(self._forms, key=len, reverse=True)  # longest match first
            self._pattern = re.compile("|".join(map(re.escape, alts)), re.IGNORECASE)

    def __len__(self) -> int:
        return len(self._forms)

    def __repr__(self) -> str:
        return f"SecretGuard({len(self._forms)} forms registered)"

    def contains_secret(self, text: str) -> bool:
        p = self._pattern
        return p is not None and p.search(text) is not None

    def check(self, value: Any, what: str = "payload") -> None:
        """Raise SecretLeakError if any string (key or value) in `value` holds a secret."""
        if not self._forms:
            return
        self._walk(value, what)

    def _walk(self, value: Any, path: str) -> None:
        if isinstance(value, str):
            if self.contains_secret(value):
                raise SecretLeakError(f"refusing to log: {path} contains a registered secret")
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(k, str) and self.contains_secret(k):
                    raise SecretLeakError(f"refusing to log: a key in {path} contains a registered secret")
                self._walk(v, f"{path}.{k}")
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                self._walk(v, f"{path}[{i}]")

    def redact(self, text: str, mask: str = "[REDACTED]") -> str:
        """Replace every registered secret in `text` (for logs and error messages)."""
        p = self._pattern
        return text if p is None else p.sub(mask, text)
