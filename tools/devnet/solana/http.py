"""A small JSON-over-HTTP server bound to 127.0.0.1, the base of the local Solana stand-ins.

Tests give it a lifetime so a forgotten server stops by itself; the devnet runs
it until stopped (`max_lifetime=None`). Subclasses answer `handle_get` and
`handle_post` with (status, JSON payload); `handle_post` may return None to drop
the connection without answering (fault injection for the RPC sender tests).
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HOST = "127.0.0.1"  # never any other interface: these servers hold no authentication
MAX_LIFETIME_SECONDS = 300.0
MAX_BODY_BYTES = 2_000_000


class LocalHttpServer:
    """ThreadingHTTPServer on 127.0.0.1:`port` (0 = a free port); stops after `max_lifetime` seconds unless None."""

    def __init__(self, port: int = 0, max_lifetime: float | None = MAX_LIFETIME_SECONDS):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):  # request lines carry nothing worth a log line
                pass

            def _reply(self, status: int, payload) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urlparse(self.path)
                status, payload = owner.handle_get(url.path, parse_qs(url.query))
                self._reply(status, payload)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self._reply(413, {"error": "body too large"})
                    return
                try:
                    body = json.loads(self.rfile.read(length) or b"null")
                except json.JSONDecodeError:
                    self._reply(400, {"error": "invalid JSON"})
                    return
                result = owner.handle_post(urlparse(self.path).path, body)
                if result is None:  # fault injection: drop the connection without answering
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self._reply(*result)

        self.server = ThreadingHTTPServer((HOST, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{HOST}:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{type(self).__name__}:{self.port}", daemon=True)
        self._timer = None
        if max_lifetime is not None:
            self._timer = threading.Timer(max_lifetime, self.close)
            self._timer.daemon = True
        self._closed = False

    def start(self):
        self._thread.start()
        if self._timer is not None:
            self._timer.start()
        return self

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            if self._thread.is_alive():
                self.server.shutdown()
            self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def handle_get(self, path: str, query: dict) -> tuple[int, object]:
        return 404, {"error": f"no route {path}"}

    def handle_post(self, path: str, body) -> tuple[int, object] | None:
        return 404, {"error": f"no route {path}"}
