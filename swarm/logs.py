"""Logging for the `swarm` command and bots: one handler on stderr, text or JSON lines, secrets kept out.

Modules log through `logging.getLogger(__name__)`; this only decides where it goes and how it looks
(`--log-level`, `--log-format json`, or $SWARM_LOG_LEVEL / $SWARM_LOG_FORMAT). Every record passes a filter that
replaces registered secrets exactly, and a 32-byte hex string that follows a word such as "private key" or "seed"
(the library never logs keys; this is the belt to that brace).
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import time

LEVELS = ("debug", "info", "warning", "error")
_KEYISH = re.compile(r"(?i)(private[_ ]?key|secret|seed|mnemonic)(\W{1,3})(0x)?[0-9a-f]{64}")
_secrets: set[str] = set()
MIN_SECRET_LEN = 4  # shorter values are not registered: replacing them everywhere would garble every line


def register_secret(value: str) -> None:
    """A value that must never appear in a log line (a key, a seed phrase, a URL's password): replaced by
    [redacted]. Whoever prints the value's context redacts it there too (e.g. `defai_swarm.core.urls.redact_url`)."""
    if value and len(value) >= MIN_SECRET_LEN:
        _secrets.add(value)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):  # a secret inside a longer one: the longer one first
        text = text.replace(secret, "[redacted]")
    return _KEYISH.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        record.msg, record.args = message, None
        return True


def redact_logger(name: str) -> None:
    """Redact the records of a library's own logger wherever they go (e.g. `httpx`, which logs each request's
    URL at INFO, query string included, to whatever handler a host application set up). Idempotent."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, _Redact) for f in logger.filters):
        logger.addFilter(_Redact())


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`; a traceback (--debug) is redacted like the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return redact(super().formatException(ei))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message (and the exception's text)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            data["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


def setup(level: str | None = None, fmt: str | None = None, stream=None) -> logging.Handler:
    """Configure the `swarm`, `agents` and `tools` loggers (idempotent: a second call replaces the handler)."""
    level = (level or os.environ.get("SWARM_LOG_LEVEL") or "error").lower()
    fmt = (fmt or os.environ.get("SWARM_LOG_FORMAT") or "text").lower()
    if level not in LEVELS:
        raise ValueError(f"log level {level!r}: use one of {', '.join(LEVELS)}")
    numeric = getattr(logging, level.upper())
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setLevel(numeric)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_Redact())
    handler.set_name("swarm-cli")
    for name in ("defai_swarm",):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == "swarm-cli"]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        # lower the logger's level when asked for more, never raise it: other handlers (a host application's,
        # a test's collector) keep getting what they got before
        logger.setLevel(min(numeric, logger.getEffectiveLevel()))
    return handler


def teardown(handler: logging.Handler) -> None:
    """Remove what `setup` added (a command run in-process must not leave a handler on a closed stream)."""
    for name in ("defai_swarm",):
        logging.getLogger(name).removeHandler(handler)


__all__ = ["JsonFormatter", "LEVELS", "MIN_SECRET_LEN", "TextFormatter", "redact", "redact_logger", "register_secret",
           "setup", "teardown"]
