"""A real OpenAI-compatible model server for tests: llama-cpp-python's own (`python -m llama_cpp.server`,
the `server` extra) serving the suite's tiny GGUF on a free port; started and stopped by a fixture.

Test modules import the fixture they need: `from tests.model_server import model_server  # noqa: F401`.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tools.devnet.node import free_port


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
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}; log: {log}")
            try:
                if httpx.get(url + "/models", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer on port {port} within 60 s; log: {log}")
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
