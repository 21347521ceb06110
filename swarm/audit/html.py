"""`swarm audit html`: one self-contained HTML page that shows a run and verifies its log in the browser.

The page carries the bundle (the JSON `swarm audit export` writes, or the bundle file given, as it is but for "<"
written as its JSON escape) and the viewer (viewer/: page.html, style.css, ed25519.js, and the viewer script made of
verify.js, summaries.js and render.js joined in that order in one function scope: `viewer_script`), all inline: no
CDN, no network. Its Content-Security-Policy allows only those two inline scripts (by hash) and the inline style, and
no connection of any kind.

What the page trusts is explicit and comes from outside the bundle: the checkpoint key (`vkey`) and the operator's
anchor account (`anchor_sender`), written into the page by whoever makes it, or pasted into it by the reviewer.
Without them the page says "self-signed, unpinned". It never shows a full pass on its own: it cannot look the anchor
up on its chain, which `swarm audit verify` does.

`serve` hands the same pages out on 127.0.0.1 only (one per run in the state directory), under a list of the runs
(`render_index`: newest first, each with its intent, chain, start time and its outcome as the signed part of its log
says, with a filter box; run data written as escaped text).
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import resources
from typing import NamedTuple
from urllib.parse import quote, unquote

from defai_swarm.audit.checkpoint import Verifier

__all__ = ["ASSETS", "VIEWER_PARTS", "AuditPageServer", "RunRow", "asset", "render_index", "render_page", "viewer_script"]

VIEWER_PARTS = ("verify.js", "summaries.js", "render.js")  # the viewer script, in order: each sees the names above it
ASSETS = ("page.html", "style.css", "ed25519.js", *VIEWER_PARTS, "index.html", "index.js")
GENERATOR = "swarm audit html (defai-swarm)"
_MARKER = re.compile(r"@(CSP|TITLE|STYLE|CONFIG|BUNDLE|ED25519|VIEWER)@")
_INDEX_MARKER = re.compile(r"@(CSP|STYLE|TRUST|COUNT|ROWS|INDEX)@")


def asset(name: str) -> str:
    """One of the viewer's files (package data of defai_swarm.audit)."""
    if name not in ASSETS:
        raise ValueError(f"unknown viewer asset {name!r}")
    return resources.files("defai_swarm.audit").joinpath("viewer", name).read_text(encoding="utf-8")


def viewer_script() -> str:
    """The page's viewer script: its parts (VIEWER_PARTS) in order inside one strict function scope, so their
    names stay private to the page (only `window.AuditViewer`, for the tests, is exposed)."""
    body = "\n".join(asset(name) for name in VIEWER_PARTS)
    return "(function () {\n  'use strict';\n\n" + body + "})();\n"


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _inline(scripts: dict[str, str], style: str) -> str:
    """The Content-Security-Policy of a page whose only code is these inline scripts and style (checked not to close
    their own element): nothing loaded, nothing connected to."""
    for name, code in {**scripts, "STYLE": style}.items():
        if re.search(r"</(script|style)", code, re.IGNORECASE):
            raise ValueError(f"viewer asset {name} would close its own element")
    return "; ".join([
        "default-src 'none'",
        "script-src " + " ".join(_csp_hash(t) for t in scripts.values()),
        "style-src " + _csp_hash(style),
        "img-src 'none'", "connect-src 'none'", "form-action 'none'", "base-uri 'none'", "frame-src 'none'",
    ])


def _embed(text: str) -> str:
    """JSON text made safe inside a <script type="application/json"> element: every "<" written as \\u003c.

    In valid JSON a "<" can only stand inside a string, where the escape means the same character, so the page
    parses exactly the values Python does (and the text stays readable in the page source, and scannable)."""
    return text.replace("<", "\\u003c")


def render_page(bundle: str | bytes, *, vkey: str | None = None, anchor_sender: str | None = None,
                source: str = "a bundle", bundle_name: str | None = None) -> str:
    """The page for one bundle (its JSON text, kept byte for byte).

    `vkey` (checked here: it must parse) and `anchor_sender` are the pins the page starts with; `source` and
    `bundle_name` only label the page (no local paths are written into it)."""
    if vkey is not None:
        vkey = Verifier.from_vkey(vkey).vkey  # raises NoteError on a malformed key
    text = bundle if isinstance(bundle, str) else bytes(bundle).decode("utf-8")  # raises on bytes that are not UTF-8
    scripts = {"ED25519": asset("ed25519.js"), "VIEWER": viewer_script()}
    style = asset("style.css")
    csp = _inline(scripts, style)
    config = {
        "vkey": vkey, "anchor_sender": anchor_sender or None, "source": source, "bundle_name": bundle_name,
        "generator": GENERATOR, "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
    run_id = ""
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict) and isinstance(parsed.get("run_id"), str):
            run_id = parsed["run_id"]
    except ValueError:
        pass  # the page itself reports an unreadable bundle
    values = {
        "CSP": csp,
        "TITLE": html.escape(f"Audit of run {run_id}" if run_id else "Audit of a run"),
        "STYLE": style,
        "CONFIG": _embed(json.dumps(config)),
        "BUNDLE": _embed(text),
        **scripts,
    }
    return _MARKER.sub(lambda m: values[m.group(1)], asset("page.html"))


# ---- serve: the same pages, for every run of the state directory, on 127.0.0.1 only ----------------------------------

class RunRow(NamedTuple):
    """One run in the list `serve` hands out. `status` is the run's outcome from the signed part of its log
    (defai_swarm.audit.outcome.run_outcome: "unsigned", "unverified" when it cannot be told); `outcome` says it for people,
    with what an unsigned tail claims (as `swarm audit runs` does). `attested`: the intent, chain and start time come
    from entries a trusted checkpoint covers."""

    run_id: str
    started_at: str  # the first entry's time (ISO 8601 UTC), "" for a run with no entries
    intent: str
    chain: str
    status: str
    outcome: str
    entries: int
    signed: int
    attested: bool


_STATUS_CLASS = {"done": "ok", "failed": "bad", "refused": "bad", "in progress": "wait", "awaiting_approval": "wait",
                 "unsigned": "unsigned", "unverified": "unsigned"}


def _index_row(row: RunRow) -> str:
    esc = html.escape  # quote=True: every value is text, in an element or an attribute
    when = row.started_at[:19].replace("T", " ")
    unsigned = "" if row.attested else ' class="unsigned" title="not covered by a checkpoint the trusted key signed"'
    signed = f"{row.entries} ({row.signed} signed)" if row.signed else f"{row.entries} (none signed)"
    # the signed outcome in colour; what the unsigned tail claims after it, plain (never styled as the outcome)
    claim = row.outcome[len(row.status):] if row.outcome.startswith(row.status) else f" ({row.outcome})"
    return (f'<tr data-run="{esc(row.run_id)}" data-outcome="{esc(row.status)}">'
            f'<td data-col="time" class="time" title="{esc(row.started_at)}">{esc(when)}</td>'
            f'<td data-col="run"><a href="/run/{esc(quote(row.run_id))}.html">{esc(row.run_id)}</a></td>'
            f'<td data-col="intent"{unsigned}>{esc(row.intent)}</td>'
            f'<td data-col="chain"{unsigned}>{esc(row.chain)}</td>'
            f'<td data-col="outcome"><span class="status {_STATUS_CLASS.get(row.status, "other")}">'
            f'{esc(row.status)}</span>{f"<span class=claim>{esc(claim)}</span>" if claim else ""}</td>'
            f'<td data-col="entries" class="num">{esc(signed)}</td></tr>')


def render_index(rows: Iterable[RunRow], trust: str) -> str:
    """The run list: newest first (by the run's first entry), each run as text, a filter box (index.js, inline and
    hashed in the Content-Security-Policy like the run pages'). `trust` says which key the outcomes come from."""
    ordered = sorted(rows, key=lambda r: (r.started_at, r.run_id), reverse=True)
    scripts, style = {"INDEX": asset("index.js")}, asset("style.css")
    body = "".join(_index_row(r) for r in ordered) or '<tr class="empty"><td colspan="6">no runs yet</td></tr>'
    values = {"CSP": _inline(scripts, style), "STYLE": style, "TRUST": html.escape(trust),
              "COUNT": f"{len(ordered)} run{'' if len(ordered) == 1 else 's'}", "ROWS": body, **scripts}
    return _INDEX_MARKER.sub(lambda m: values[m.group(1)], asset("index.html"))


class AuditPageServer(HTTPServer):
    """`/` lists the runs (`index`: the page, made afresh on each request), `/run/<run id>.html` is a run's page
    (made afresh from the log on each request).

    Bound to 127.0.0.1; requests whose Host is not this address (DNS rebinding) are refused, since the pages carry
    the log's salts and payloads."""

    def __init__(self, port: int, index: Callable[[], str], page: Callable[[str], str | None]):
        self.index, self.page = index, page
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class _Handler(BaseHTTPRequestHandler):
    server: AuditPageServer

    def log_message(self, format: str, *args) -> None:  # noqa: A002  (quiet: the CLI prints the URL once)
        pass

    def _send(self, code: int, body: str, ctype: str = "text/html; charset=utf-8") -> None:
        data = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        port = self.server.server_address[1]
        if self.headers.get("Host", "") not in (f"127.0.0.1:{port}", f"localhost:{port}"):
            self._send(403, "forbidden: use http://127.0.0.1:%d/\n" % port, "text/plain; charset=utf-8")
            return
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(200, self.server.index())
            return
        found = re.fullmatch(r"/run/([^/]+)\.html", path)
        body = self.server.page(unquote(found.group(1))) if found else None
        if body is None:
            self._send(404, "no such run\n", "text/plain; charset=utf-8")
            return
        self._send(200, body)
