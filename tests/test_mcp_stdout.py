"""Issue 28 #5: `swarm mcp` over stdio sends nothing but the protocol on stdout, and its logs are plain.

The server is driven by hand (JSON-RPC lines written to its stdin) so that every byte of its stdout is read, not
only what the SDK client would parse; its stderr is a pseudo-terminal, as when a person starts it to try it: even
then no spinner, progress line or colour reaches it, only plain log lines. A model is configured and the log is
at INFO, so the model's loading and calls are there to leak if anything would.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from typing import Any

from tests.secret_scan import record_output
from tests.test_progress import ANSI, SWARM, cli_env  # noqa: F401  (fixture: the CLI's environment)

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+[\w.]+: ")


def test_swarm_mcp_writes_only_protocol_to_stdout_and_plain_logs_to_stderr(cli_env, tiny_model_path, devnet):  # noqa: F811
    master, slave = os.openpty()
    err_chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            err_chunks.append(data)

    proc = subprocess.Popen([SWARM, "mcp", "--manifest", str(devnet.manifest_path), "--model", str(tiny_model_path),
                             "--k", "1", "--log-level", "info"], env=cli_env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    watchdog = threading.Timer(300, proc.kill)  # a hung server fails the test instead of hanging the suite
    watchdog.start()
    assert proc.stdin is not None and proc.stdout is not None
    out_lines: list[bytes] = []

    def send(message: dict[str, Any]) -> None:
        proc.stdin.write(json.dumps(message).encode() + b"\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    def answer(request_id: int) -> dict[str, Any]:
        while True:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line, f"the server closed stdout; stderr: {b''.join(err_chunks)!r}"
            out_lines.append(line)
            message = json.loads(line)
            if message.get("id") == request_id:
                return message

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})
        assert "result" in answer(1)
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert {t["name"] for t in answer(2)["result"]["tools"]} >= {"plan_intent", "read_price"}
        send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
              "params": {"name": "plan_intent", "arguments": {"intent": "swap 1 ETH to USDC"}}})
        planned = json.loads(answer(3)["result"]["content"][0]["text"])
        assert planned["ok"] and planned["planned"], planned
        proc.stdin.close()
        rest = proc.stdout.read()  # whatever the server writes on its way out
        out_lines += rest.splitlines(keepends=True)
        assert proc.wait(timeout=120) == 0
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=60)
        os.close(master)
    stdout = b"".join(out_lines).decode()
    stderr = b"".join(err_chunks).decode("utf-8", "replace")
    record_output(stdout + stderr)
    for line in stdout.splitlines():  # every line a JSON-RPC message, nothing else
        assert json.loads(line)["jsonrpc"] == "2.0", line
    assert not ANSI.search(stdout) and not ANSI.search(stderr), stderr  # no colour, spinner or status line anywhere
    lines = [line for line in stderr.replace("\r\n", "\n").split("\n") if line.strip()]
    assert any("model loaded" in line for line in lines), stderr  # the log is there, and at INFO
    assert all(LOG_LINE.match(line) for line in lines), stderr  # and nothing but plain log lines
