"""A real OpenAI-compatible model server for tests: llama-cpp-python's own (`python -m llama_cpp.server`,
the `server` extra) serving the suite's tiny GGUF on a free port; started and stopped by a fixture.
And `stalling_server`: a server of the test's own that answers the listing but holds every completion until
released, for timeout tests that must not depend on how fast the machine is.

Test modules import the fixture they need: `from tests.model_server import model_server  # noqa: F401`.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from defai_swarm.tools.devnet.node import free_port


@contextmanager
def serve_model(model: Path, *, n_ctx: int = 4096, alias: str | None = None,
                log: Path | None = None) -> Iterator[str]:
    """Start the server, wait until /v1/models answers, yield its base URL (`http://127.0.0.1:P/v1`), stop it."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", "1"]
    if alias:
        cmd += ["--model_alias", alias]
    out = open(log, "wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180  # start-up on a loaded machine; a server that exited fails at once
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}; log: {log}")
            try:
                if httpx.get(url + "/models", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer on port {port} within 180 s; log: {log}")
            time.sleep(0.2)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if log:
            assert not isinstance(out, int)
            out.close()


@pytest.fixture(scope="module")
def model_server(tiny_model_path, tmp_path_factory) -> Iterator[str]:
    """Base URL of a running `llama_cpp.server` with the tiny model (served as model `tiny-r1`)."""
    log = tmp_path_factory.mktemp("model-server") / "server.log"
    with serve_model(tiny_model_path, alias="tiny-r1", log=log) as url:
        yield url


@dataclass
class Stall:
    """What a `stalling_server` saw: every request line (method and path with query) and its headers."""

    url: str
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    held: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))  # one per POST being held


@contextmanager
def stalling_server(model: str = "stall") -> Iterator[Stall]:
    """`GET /v1/models` answers in the OpenAI wire format (one model); `/props` is 404 (not llama-server); every POST
    is accepted and never answered until `stall.release` is set (then it gets a 503). Yields the stall, base URL
    `http://127.0.0.1:P/v1`; on exit every held request is released and the server stopped."""
    stall = Stall(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _seen(self) -> None:
            stall.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up: what the stall is for
                pass

        def do_GET(self) -> None:  # noqa: N802
            self._seen()
            if self.path.split("?")[0] == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model, "object": "model", "owned_by": "test"}]})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:  # noqa: N802
            self._seen()
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            stall.held.release()
            stall.release.wait()
            self._send(503, {"error": {"message": "released"}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stall.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield stall
    finally:
        stall.release.set()
        server.shutdown()
        server.server_close()
