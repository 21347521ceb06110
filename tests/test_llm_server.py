"""The model behind a real OpenAI-compatible server (`python -m llama_cpp.server` with the tiny GGUF).

The backend contract (validation, refusal on malformed output, accounting, determinism) runs against both
backends, in-process and HTTP; timeouts and a server that is down are the HTTP backend's own failure modes.
The end-to-end check is the user's: `swarm run --model http://.../v1 "swap 1 ETH to USDC"` on the devnet,
the model's thoughts in the audit log, and `swarm audit verify` passing.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field, field_validator

from defai_swarm.audit import AuditLog
from defai_swarm.llm import Accounting, LlamaCppBackend, ModelBackend, SamplingSettings, StructuredOutputError, load_backend
from defai_swarm.llm.openai_backend import (
    SWARM_MODEL_NAME_ENV,
    ModelServerError,
    OpenAIServerBackend,
    parse_spec,
)
from defai_swarm.llm.template import sha256_text
from tests.model_server import model_server  # noqa: F401  (module fixture: a running llama_cpp.server)
from tests.model_server import stalling_server
from tests.secret_scan import record_output
from defai_swarm.tools.devnet.node import free_port

FAST = SamplingSettings.deterministic(seed=0, max_reasoning_tokens=24, max_answer_tokens=64)
ASK = [{"role": "user", "content": "Should the swarm rebalance into stablecoins?"}]
SWARM = shutil.which("swarm", path=str(Path(sys.executable).parent)) or str(Path(sys.executable).parent / "swarm")


class Decision(BaseModel):
    action: Literal["buy", "sell", "hold"]
    size: int = Field(ge=1, le=5)
    urgent: bool


class Never(BaseModel):
    """Grammar-valid JSON the validator always rejects: the model cannot talk its way past it."""

    action: Literal["buy", "sell", "hold"]

    @field_validator("action")
    @classmethod
    def refuse(cls, v: str) -> str:
        raise ValueError(f"{v!r} is not allowed today")


@pytest.fixture(scope="module")
def in_process(tiny_model_path):
    with load_backend(tiny_model_path) as b:
        yield b


@pytest.fixture(scope="module")
def http(model_server):  # noqa: F811
    with load_backend(model_server, family="deepseek-r1") as b:  # the library renders R1's prompt
        yield b


@pytest.fixture(params=[pytest.param(p, marks=pytest.mark.model) for p in ("in-process", "http")])
def backend(request) -> ModelBackend:
    return request.getfixturevalue("in_process" if request.param == "in-process" else "http")


# --- identity -------------------------------------------------------------------------------------


def test_http_backend_identity(http, model_server):  # noqa: F811
    assert isinstance(http, OpenAIServerBackend) and isinstance(http, ModelBackend)
    assert http.model == "tiny-r1"  # the first (only) model the server lists
    info = http.info
    assert info.path == f"{model_server}#tiny-r1" and info.name == "tiny-r1"
    assert info.metadata["server_url"] == model_server
    assert info.sha256 == ""  # llama_cpp.server reports no file hash: recorded as unknown, never invented
    assert (info.template_source, info.family, http.api) == ("family", "deepseek-r1", "completions")


def test_unknown_prompt_format_uses_the_servers_template(model_server):  # noqa: F811
    """No declared family and no template reported: the library does not guess one, the server applies its own."""
    with load_backend(model_server) as b:
        assert b.api == "chat" and b.info.template_source == "none" and b.info.metadata["api"] == "chat"
        assert isinstance(b.structured(ASK, Decision, FAST).value, Decision)


def test_model_name_from_fragment_then_env(model_server, monkeypatch):  # noqa: F811
    assert parse_spec(f"{model_server}/#named") == (model_server, "named")
    with load_backend(f"{model_server}#from-fragment") as b:
        assert b.model == "from-fragment" and b.info.path.endswith("#from-fragment")
    monkeypatch.setenv(SWARM_MODEL_NAME_ENV, "from-env")
    with load_backend(model_server) as b:
        assert b.model == "from-env"
    monkeypatch.setenv("SWARM_MODEL", f"{model_server}#via-swarm-model")
    with load_backend() as b:  # $SWARM_MODEL may be a server URL too
        assert isinstance(b, OpenAIServerBackend) and b.model == "via-swarm-model"


# --- the contract, on both backends -----------------------------------------------------------------


def test_structured_answer_is_validated_and_accounted(backend):
    c = backend.structured(ASK, Decision, FAST)
    assert isinstance(c.value, Decision)
    assert Decision.model_validate_json(c.answer) == c.value
    assert c.reasoning_truncated and c.accounting.reasoning_tokens > 0 and c.accounting.answer_tokens > 0
    _within_budget(backend, c.accounting.reasoning_tokens, 24)
    assert c.accounting == Accounting.total([a.completion.accounting for a in c.attempts])
    assert c.model_sha256 == backend.info.sha256


def _within_budget(backend, used: int, budget: int) -> None:
    """In-process counts are the tokens decoded; llama-cpp-python's server reports the length of its returned
    text re-tokenized, which for random-weight bytes can exceed the budget it did decode within."""
    assert used <= (budget if isinstance(backend, LlamaCppBackend) else 2 * budget)


def test_chat_accounting(backend):
    c = backend.chat(ASK, FAST)
    acc = c.accounting
    assert c.prompt_sha256 == sha256_text(backend.render(ASK))  # type: ignore[attr-defined]
    assert c.settings == FAST and c.reasoning and c.answer
    assert acc.reasoning_tokens > 0 and acc.answer_tokens > 0 and acc.prompt_tokens > 10
    _within_budget(backend, acc.reasoning_tokens, 24)
    assert acc.wall_seconds > 0
    assert acc.tokens_per_second == pytest.approx((acc.reasoning_tokens + acc.answer_tokens) / acc.wall_seconds)


def test_same_seed_same_output(backend):
    first, again = backend.chat(ASK, FAST), backend.chat(ASK, FAST)
    assert (first.reasoning, first.answer) == (again.reasoning, again.answer)


def test_validator_rejection_is_a_refusal_with_every_attempt(backend):
    with pytest.raises(StructuredOutputError, match="No valid Never after 3 attempts") as e:
        backend.structured(ASK, Never, FAST, max_retries=2)
    assert len(e.value.attempts) == 3
    assert all("is not allowed today" in (a.error or "") for a in e.value.attempts)


def test_malformed_answer_is_a_refusal_not_a_guess(backend):
    """An answer cut off by its token budget is not JSON: refused, with what the model said kept."""
    cut = FAST.model_copy(update={"max_answer_tokens": 3})
    with pytest.raises(StructuredOutputError, match="Invalid JSON") as e:
        backend.structured(ASK, Decision, cut, max_retries=1)
    assert len(e.value.attempts) == 2 and all(len(a.completion.answer) <= 12 for a in e.value.attempts)


def test_total_accounting_over_retries(backend):
    with pytest.raises(StructuredOutputError) as e:
        backend.structured(ASK, Never, FAST, max_retries=1)
    parts = [a.completion.accounting for a in e.value.attempts]
    assert len(parts) == 2 and parts[1].prompt_tokens > parts[0].prompt_tokens  # the feedback turn is in the prompt


def test_every_call_is_observed(backend):
    """`on_call` sees each attempt as it finishes: the prompt, the raw answer and why it was rejected."""
    events: list = []
    backend.on_call = events.append  # type: ignore[attr-defined]
    try:
        with pytest.raises(StructuredOutputError):
            backend.structured(ASK, Never, FAST, max_retries=1)
        backend.chat(ASK, FAST)
    finally:
        backend.on_call = None  # type: ignore[attr-defined]
    assert [(e.kind, e.attempt) for e in events] == [("structured", 1), ("structured", 2), ("chat", 1)]
    assert all("is not allowed today" in e.error for e in events[:2]) and events[2].error is None
    assert events[0].schema_name == "Never" and events[0].prompt_sha256 == sha256_text(events[0].prompt)
    assert all(e.accounting.prompt_tokens > 0 for e in events)


def test_a_failing_observer_is_logged_and_never_breaks_the_call(backend, caplog):
    """Both backends (one shared `notify`): the model's answer still comes back, the failure is logged."""
    def broken(event) -> None:
        raise RuntimeError("observer is down")

    backend.on_call = broken  # type: ignore[attr-defined]
    try:
        with caplog.at_level("WARNING", logger="defai_swarm.llm.calls"):
            completion = backend.chat(ASK, FAST)
    finally:
        backend.on_call = None  # type: ignore[attr-defined]
    assert completion.accounting.answer_tokens > 0
    assert any("on_call observer failed" in r.getMessage() for r in caplog.records)


def _watched(backend, call):
    """`call()` with an `on_progress` observer on `backend`: (its result, the progress events it told)."""
    events: list = []
    backend.on_progress = events.append  # type: ignore[attr-defined]
    try:
        return call(), events
    finally:
        backend.on_progress = None  # type: ignore[attr-defined]


def _told_token_by_token(events, completion) -> None:
    """One event per generated token, in order: 1, 2, ... N, the reasoning's before the answer's, N the call's
    own token count, all for the call's prompt."""
    acc = completion.accounting
    assert [e.tokens for e in events] == list(range(1, acc.reasoning_tokens + acc.answer_tokens + 1))
    phases = [e.phase for e in events]
    assert phases == ["reasoning"] * acc.reasoning_tokens + ["answer"] * acc.answer_tokens
    assert {e.prompt_sha256 for e in events} == {completion.prompt_sha256}
    assert all(a.seconds <= b.seconds for a, b in zip(events, events[1:], strict=False))
    assert all(e.tokens_per_second >= 0 for e in events)


def test_progress_is_told_token_by_token_and_changes_nothing(backend):
    """Issue 28: a model call that takes minutes showed nothing. `on_progress` hears every token as it is generated
    (in-process: the decoding loop; a server: its `stream: true` events), and a watched call answers exactly what
    an unwatched one does (same seed)."""
    plain = backend.structured(ASK, Decision, FAST)
    watched, events = _watched(backend, lambda: backend.structured(ASK, Decision, FAST))
    assert (watched.reasoning, watched.answer, watched.value) == (plain.reasoning, plain.answer, plain.value)
    assert watched.accounting.reasoning_tokens > 0 and watched.accounting.answer_tokens > 0
    _told_token_by_token(events, watched)
    raw, events = _watched(backend, lambda: backend.complete_prompt("Q: 2+2?\nA:", FAST))
    assert raw.accounting.reasoning_tokens == 0 and raw.accounting.answer_tokens > 0
    _told_token_by_token(events, raw)


def test_progress_over_the_servers_chat_api(model_server):  # noqa: F811
    """The chat API streams too (the server's template; delta chunks), with the same answer as unstreamed."""
    with OpenAIServerBackend(model_server, api="chat") as b:
        plain = b.structured(ASK, Decision, FAST)
        watched, events = _watched(b, lambda: b.structured(ASK, Decision, FAST))
    assert watched.answer == plain.answer and isinstance(watched.value, Decision)
    assert [e.tokens for e in events] == list(range(1, watched.accounting.answer_tokens + 1)) and events
    assert {e.phase for e in events} == {"answer"} and {e.prompt_sha256 for e in events} == {watched.prompt_sha256}


def test_a_failing_progress_observer_is_logged_once_and_never_breaks_the_call(backend, caplog):
    calls: list = []

    def broken(event) -> None:
        calls.append(event)
        raise RuntimeError("terminal is gone")

    with caplog.at_level("WARNING", logger="defai_swarm.llm.calls"):
        backend.on_progress = broken  # type: ignore[attr-defined]
        try:
            completion = backend.chat(ASK, FAST)
        finally:
            backend.on_progress = None  # type: ignore[attr-defined]
    assert completion.accounting.answer_tokens > 1 and len(calls) == 1  # not called again for this call
    assert [r.getMessage() for r in caplog.records if "on_progress observer failed" in r.getMessage()]


def test_a_server_that_does_not_stream_still_answers_a_watched_call():
    """A server that ignores `stream: true` and answers one JSON document: the answer is taken as is and its
    tokens told at once (a watched call never fails for want of streaming)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    bodies: list[dict] = []

    class Plain(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            found = self.path.split("?")[0] == "/v1/models"
            self._send(200 if found else 404, {"data": [{"id": "plain"}]} if found else {})

        def do_POST(self) -> None:  # noqa: N802
            bodies.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))))
            self._send(200, {"choices": [{"text": "four", "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 5, "completion_tokens": 2}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Plain)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with OpenAIServerBackend(f"http://127.0.0.1:{server.server_address[1]}/v1", family="base") as b:
            completion, events = _watched(b, lambda: b.complete_prompt("Q: 2+2?\nA:", FAST))
    finally:
        server.shutdown()
        server.server_close()
    assert bodies[0]["stream"] is True and completion.answer == "four"
    assert (completion.accounting.prompt_tokens, completion.accounting.answer_tokens) == (5, 2)
    assert [(e.tokens, e.phase) for e in events] == [(2, "answer")]


# --- HTTP only: other API, raw prompts, failures -------------------------------------------------------


def test_chat_api_with_response_format(model_server):  # noqa: F811
    with OpenAIServerBackend(model_server, api="chat") as b:
        c = b.structured(ASK, Decision, FAST)
        assert isinstance(c.value, Decision) and c.reasoning == ""  # llama_cpp.server does not separate reasoning
        assert b._schema_form == "json_object"  # it only takes llama-cpp-python's own response_format form


def test_complete_prompt_raw_reasoning_and_constrained(backend):
    """A library-rendered prompt is continued as given: one phase, or two when it ends in <think>."""
    prompt = "Q: 2+2?\nA:"
    raw = backend.complete_prompt(prompt, FAST)
    assert raw.reasoning == "" and raw.accounting.reasoning_tokens == 0 and raw.prompt_sha256 == sha256_text(prompt)
    reasoned = backend.complete_prompt(backend.render(ASK), FAST)  # type: ignore[attr-defined]
    assert reasoned.reasoning and reasoned.accounting.reasoning_tokens > 0 and reasoned.reasoning_truncated
    constrained = backend.complete_prompt(prompt, FAST, schema=Decision)
    assert isinstance(constrained.value, Decision) and len(constrained.attempts) == 1
    with pytest.raises(StructuredOutputError, match="No valid Never from the prompt"):
        backend.complete_prompt(prompt, FAST, schema=Never)


def test_server_down_is_one_line(tiny_model_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ModelServerError) as e:
        load_backend(url)
    message = str(e.value)
    assert "\n" not in message and "not reachable" in message and url in message
    assert "python -m llama_cpp.server" in message  # (bounded retries: it returned at all, however slow the machine)


def test_cli_reports_a_down_server_in_one_line(devnet, tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    done = _swarm(tmp_path, "plan", "--manifest", str(devnet.manifest_path), "--model", url, "swap 1 ETH to USDC")
    assert done.returncode != 0
    assert "not reachable" in done.stdout + done.stderr and "Traceback" not in done.stdout + done.stderr


def test_hung_server_times_out(tmp_path):
    """A server that accepts the connection and never answers: a timeout error, not a hang."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(listener.accept()[0]) for _ in range(8)], daemon=True).start()
    try:  # the server never answers: the timeout fires however fast or slow the machine is
        with pytest.raises(ModelServerError, match=r"did not answer /models within 0\.5s") as e:
            OpenAIServerBackend(f"http://127.0.0.1:{listener.getsockname()[1]}/v1", timeout=0.5)
        assert "\n" not in str(e.value)
    finally:
        for s in held:
            s.close()
        listener.close()


def test_generation_timeout():
    """A completion the server accepts and never answers (a server of the test's own that stalls on purpose, not a
    model hoped to be slower than the timeout): one request, then a one-line timeout error; only that request has
    the short timeout (the listing before it is answered whatever the machine's load)."""
    with stalling_server() as stall, OpenAIServerBackend(stall.url, family="deepseek-r1") as b:
        b.timeout = 0.3  # read at each request
        with pytest.raises(ModelServerError, match=r"did not answer /completions within 0\.3s") as e:
            b.complete_prompt("Write:", FAST)
        assert "\n" not in str(e.value)
        assert [(m, p) for m, p, _ in stall.requests if m == "POST"] == [("POST", "/v1/completions")]  # no retry


# --- the user's command: swarm run --model http://... -----------------------------------------------------


def _swarm(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SWARM_MODEL", "SWARM_MODEL_NAME", "SWARM_PRIVATE_KEY")}
    env.update(SWARM_HOME=str(home), NO_COLOR="1", COLUMNS="200", TERM="dumb", SWARM_MODEL_FAMILY="deepseek-r1")
    done = subprocess.run([SWARM, *args], env=env, capture_output=True, text=True, timeout=110, cwd=home)
    record_output(done.stdout + done.stderr)  # for the suite's final secret scan
    return done


def test_swarm_run_with_a_model_server_records_thoughts_and_verifies(devnet, chain, model_server, tmp_path):  # noqa: F811
    run = _swarm(tmp_path, "run", "--manifest", str(devnet.manifest_path), "--model", model_server, "--k", "2",
                 "swap 1 ETH to USDC")
    out = run.stdout + run.stderr
    found = re.search(r"^run (\S+): (\S+)$", run.stdout, re.MULTILINE)
    assert found, out
    run_id, status = found.groups()
    # random weights: the parser's plan (done) or a refusal because the readings disagree; never anything else
    assert status in ("done", "refused"), out

    with AuditLog(tmp_path / "audit" / "audit.db") as log:
        entries = log.entries(run_id)
    intent = next(e for e in entries if e.kind == "intent")
    assert intent.payload["model"]["path"] == f"{model_server}#tiny-r1"
    assert intent.payload["model"]["name"] == "tiny-r1"
    thoughts = [e.payload for e in entries if e.kind == "thought" and e.payload["source"] in ("model", "refined")]
    assert len(thoughts) >= 2
    for t in thoughts:
        assert t["reasoning"] and len(t["prompt_sha256"]) == 64 and t["accounting"]["reasoning_tokens"] > 0

    verify = _swarm(tmp_path, "audit", "verify", run_id, "--config", str(devnet.manifest_path))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"PASS run {run_id}" in verify.stdout


# --- credentials in the server URL: sent, never shown (issue 23, finding 6) -------------------------------

PASSWORD, API_KEY = "hunter2-Pa55word-x9", "sk-test-4f9c2b7e1d3a8c6b"


def _with_credentials(url: str) -> str:
    """`http://127.0.0.1:P/v1` -> `http://alice:PASSWORD@127.0.0.1:P/v1?api_key=API_KEY`."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://alice:{PASSWORD}@{rest}?api_key={API_KEY}"


def _leaks(text: str) -> list[str]:
    return [s for s in (PASSWORD, API_KEY) if s in text]


def test_url_credentials_are_sent_but_never_shown(caplog):
    """Basic auth and the query parameter reach the server on every request; the backend's URL, its identity (what
    the audit log records), its errors and the HTTP library's own request log lines carry *** instead."""
    import base64

    with caplog.at_level("DEBUG"), stalling_server() as stall:
        spec = _with_credentials(stall.url) + "#stall"
        with OpenAIServerBackend(spec) as b:
            b.timeout = 0.3
            with pytest.raises(ModelServerError) as e:
                b.chat(ASK, FAST)
            shown = [b.base_url, b.info.path, b.info.model_dump_json(), str(e.value)]
            assert set(b.secret_markers()) == {PASSWORD, API_KEY}  # for the audit log's secret guard
        method, path, headers = stall.requests[0]
        assert (method, path) == ("GET", f"/v1/models?api_key={API_KEY}")
        assert headers["authorization"] == "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert b.info.path == f"{stall.url.replace('://', '://alice:***@')}?api_key=***#stall"
    assert not _leaks(" ".join(shown)), shown
    assert "api_key=[redacted]" in caplog.text and not _leaks(caplog.text)  # httpx logs each request URL at INFO


def test_url_credentials_never_reach_logs_audit_or_errors(devnet, model_server, tmp_path):  # noqa: F811
    """`swarm run --model http://alice:PASSWORD@host/v1?api_key=KEY` against a real llama_cpp.server: the password
    and the key are in no log line (debug, JSON), no audit entry, bundle or the database file, and in no error
    message, also for a server that is down."""
    from defai_swarm.cli.audit_commands import run_bundle

    run = _swarm(tmp_path, "run", "--manifest", str(devnet.manifest_path), "--model", _with_credentials(model_server),
                 "--k", "1", "--log-level", "debug", "--log-format", "json", "what does ETH cost?")
    out = run.stdout + run.stderr
    found = re.search(r"^run (\S+): (\S+)$", run.stdout, re.MULTILINE)
    assert found, out
    assert "model loaded: " in out and "alice:***@" in out and "api_key=***" in out, out  # it was logged, redacted
    assert not _leaks(out), out
    run_id = found.group(1)
    db = tmp_path / "audit" / "audit.db"
    with AuditLog(db) as log:
        entries = log.entries(run_id)
        bundle = run_bundle(log, run_id)
    intent = next(e for e in entries if e.kind == "intent")
    assert intent.payload["model"]["path"].startswith("http://alice:***@")
    stored = " ".join(json.dumps(e.payload) for e in entries) + json.dumps(bundle)
    assert not _leaks(stored)
    assert not _leaks(b"".join(p.read_bytes() for p in db.parent.iterdir() if p.is_file()).decode("latin-1"))

    down = _with_credentials(f"http://127.0.0.1:{free_port()}/v1")
    failed = _swarm(tmp_path, "plan", "--manifest", str(devnet.manifest_path), "--model", down, "--log-level", "debug",
                    "what does ETH cost?")
    out = failed.stdout + failed.stderr
    assert failed.returncode != 0 and "not reachable" in out and "alice:***@" in out, out
    assert not _leaks(out), out
    with pytest.raises(ModelServerError) as e:
        load_backend(down)
    assert "not reachable" in str(e.value) and not _leaks(str(e.value))
    with pytest.raises(ModelServerError) as e:
        load_backend(f"http://alice:{PASSWORD}@127.0.0.1:notaport/v1?api_key={API_KEY}")
    assert "not a model server URL" in str(e.value) and not _leaks(str(e.value))
