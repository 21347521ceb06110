"""A JSON-RPC proxy in front of anvil that injects faults: dropped connections, lost responses,
delays, JSON-RPC errors and HTTP 429s. Loopback only; used by the reliability suite.

A "lost response" forwards the request (the node acts on it) and then hangs up: the
client cannot tell whether a transaction was accepted, which is what a send must survive.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

import requests

FaultMode = Literal["drop", "lose_response", "delay", "rpc_error", "rate_limit"]


@dataclass
class Fault:
    mode: FaultMode
    methods: frozenset[str] | None = None  # None: every method
    remaining: int = 1  # -1: forever
    delay_seconds: float = 0.0

    def matches(self, method: str) -> bool:
        return self.remaining != 0 and (self.methods is None or method in self.methods)


@dataclass
class ProxyStats:
    forwarded: dict[str, int] = field(default_factory=dict)
    injected: dict[str, int] = field(default_factory=dict)


class FaultProxy:
    def __init__(self, upstream: str, port: int = 0):
        self.upstream = upstream
        self.faults: list[Fault] = []
        self.stats = ProxyStats()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    msg = json.loads(body)
                    method = msg[0]["method"] if isinstance(msg, list) else msg["method"]
                    rpc_id = None if isinstance(msg, list) else msg.get("id")
                except (ValueError, KeyError, IndexError):
                    method, rpc_id = "?", None
                fault = proxy._take(method)
                if fault and fault.mode == "drop":
                    self.close_connection = True
                    return
                if fault and fault.mode == "rate_limit":
                    return self._reply(429, b'{"error":"rate limited"}')
                if fault and fault.mode == "rpc_error":
                    return self._reply(200, json.dumps({"jsonrpc": "2.0", "id": rpc_id, "error": {
                        "code": -32603, "message": "injected internal error"}}).encode())
                if fault and fault.mode == "delay":
                    time.sleep(fault.delay_seconds)
                try:
                    upstream = requests.post(proxy.upstream, data=body, headers={"Content-Type": "application/json"}, timeout=30)
                except requests.RequestException:
                    self.close_connection = True  # upstream down: the client sees a dropped connection
                    return
                with proxy._lock:
                    proxy.stats.forwarded[method] = proxy.stats.forwarded.get(method, 0) + 1
                if fault and fault.mode == "lose_response":
                    self.close_connection = True
                    return
                self._reply(upstream.status_code, upstream.content)

            def _reply(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _take(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method):
                    if fault.remaining > 0:
                        fault.remaining -= 1
                    self.stats.injected[fault.mode] = self.stats.injected.get(fault.mode, 0) + 1
                    return fault
        return None

    def inject(self, mode: FaultMode, methods: set[str] | None = None, times: int = 1, delay_seconds: float = 0.0) -> Fault:
        fault = Fault(mode, frozenset(methods) if methods else None, times, delay_seconds)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def start(self) -> "FaultProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
