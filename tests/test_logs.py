"""defai_swarm.logs: JSON log lines that parse, registered secrets and key-shaped values redacted, levels honoured."""
from __future__ import annotations

import io
import json
import logging

from defai_swarm import logs
from defai_swarm.render import amount, humanize, refusals


def test_json_lines_redacted_and_levelled():
    stream = io.StringIO()
    handler = logs.setup("info", "json", stream=stream)
    try:
        logs.register_secret("s3cr3t-seed-words")
        key = "ab" * 32
        logging.getLogger("defai_swarm.test").info("loaded s3cr3t-seed-words and private key 0x%s", key)
        logging.getLogger("defai_swarm.tools.test").debug("not shown at info")
        logging.getLogger("defai_swarm.agents.test").warning("shown %d", 1)
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        for name in ("defai_swarm",):
            logging.getLogger(name).removeHandler(handler)
            logging.getLogger(name).setLevel(logging.NOTSET)
    assert [r["level"] for r in lines] == ["info", "warning"] and lines[1]["logger"] == "defai_swarm.agents.test"
    assert "s3cr3t" not in lines[0]["message"] and key not in lines[0]["message"]
    assert lines[0]["message"] == "loaded [redacted] and private key 0x[redacted]" or \
        lines[0]["message"] == "loaded [redacted] and private key [redacted]"
    assert lines[0]["time"].endswith("Z")


def test_human_amounts_and_refusals_once():
    assert amount("996.006981039903216493", 18, "DAI") == "996.007 DAI"
    assert amount("3000", 6, "USDC") == "3,000 USDC"
    assert humanize("quote 142448921274, independent minimum 149250000000 (50 bps)", token_out=("USDC", 6)) == \
        "quote 142,448.9213 USDC, independent minimum 149,250 USDC (50 bps)"

    class Result:
        reasons = ["risk_1: max_trade_usd: trade $150,000.00, limit $10,000.00; daily_cap_usd: cap",
                   "swap_1: max_trade_usd: trade $150,000.00, limit $10,000.00; daily_cap_usd: cap"]
    assert refusals(Result()) == ["max_trade_usd: trade $150,000.00, limit $10,000.00", "daily_cap_usd: cap"]


def test_text_traceback_and_library_loggers_are_redacted():
    """A --debug traceback in the text format, and a library's own logger (httpx logs request URLs), are redacted
    like messages; a value too short to be a credential is not registered (it would garble every line)."""
    stream = io.StringIO()
    handler = logs.setup("debug", "text", stream=stream)
    collected: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            collected.append(record.getMessage())
    root_handler = Collect()
    logging.getLogger().addHandler(root_handler)
    try:
        logs.register_secret("tb-s3cr3t-value")
        logs.register_secret("ab")
        try:
            raise RuntimeError("failed with tb-s3cr3t-value")
        except RuntimeError:
            logging.getLogger("defai_swarm.test").debug("command failed", exc_info=True)
        logs.redact_logger("httpx.test")
        logs.redact_logger("httpx.test")  # idempotent
        logging.getLogger("httpx.test").warning("GET http://h/v1?api_key=tb-s3cr3t-value")
    finally:
        logs.teardown(handler)
        logging.getLogger().removeHandler(root_handler)
        for name in ("defai_swarm",):
            logging.getLogger(name).setLevel(logging.NOTSET)
    text = stream.getvalue()
    assert "RuntimeError: failed with [redacted]" in text and "tb-s3cr3t" not in text
    assert collected[-1] == "GET http://h/v1?api_key=[redacted]"
    assert len(logging.getLogger("httpx.test").filters) == 1
    assert logs.redact("a cab") == "a cab"
