"""A model behind an OpenAI-compatible server (llama.cpp's server, llama-cpp-python's, Ollama, LM Studio, vLLM).

Many workers can share one server instead of loading a model per process.  The contract is
`LlamaCppBackend`'s: reasoning and answer kept apart, every structured answer validated by the
same pydantic model, a malformed answer a `StructuredOutputError` (a refusal, never a guess).

Two APIs:
  * ``completions`` (the default when the prompt format is known: a declared family, ``family=`` or
    ``$SWARM_MODEL_FAMILY``, or the chat template llama-server reports at ``/props``): the library
    renders the prompt (the template is the library's choice, as in-process) and, for a reasoning
    family (R1), decodes in two phases like `LlamaCppBackend`:
    free reasoning with ``stop=["</think>"]``, then the answer continuing from
    ``prompt + reasoning + "</think>\\n\\n"`` under a GBNF grammar built locally from the schema
    (a grammar over the whole completion would suppress R1's reasoning).  The server only
    sees text and a grammar, so a server that ignores the grammar still cannot slip an
    unvalidated answer through.
  * ``chat`` (the default when the format is unknown: the server knows its model's template, the
    library does not and never guesses one): the server's own template; reasoning comes from ``reasoning_content`` where the
    server separates it (llama-server ``--reasoning-format deepseek``), else from a
    ``<think>`` block in the content; structured answers use ``response_format`` with the schema.

While an `on_progress` observer is set, requests stream (``stream: true``, server-sent events) so that each
token is told as it comes (`CallProgress`); the answer is the same.  Token counts then come from the stream's
last chunk where the server sends usage there (``stream_options.include_usage``: llama-server, vLLM, OpenAI);
llama-cpp-python's server sends none, so a streamed call's completion tokens are the chunks counted (one a
token) and its prompt tokens are not known (0).

Spec: ``http://host:port/v1#model-name``; the model is the fragment, else ``$SWARM_MODEL_NAME``,
else the first one the server lists at ``/v1/models``.  Credentials in the URL (``http://user:pass@host/v1``,
``?api_key=...``) are sent (basic auth, the query on every request) and never shown: the backend's `base_url`,
its `info` (recorded in the audit log) and its error messages carry the URL with them replaced by ***, and
the log redactor knows them (`defai_swarm.core.urls`).
"""
from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Callable, Literal, overload
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from defai_swarm import logs
from defai_swarm.core.urls import redact_text, redact_url, url_secrets

from .calls import (
    CallMeter,
    describe_validation_error,
    effective_settings,
    notify,
    structured_completion,
    validated_once,
    with_schema_instruction,
)
from .errors import ModelError, StructuredOutputError
from .grammar import grammar_for, int_range_as_enum, json_schema_of
from .protocol import SWARM_MODEL_FAMILY_ENV, BackendConfig, Messages, ProgressObserver, T
from .template import THINK_CLOSE, THINK_OPEN, ChatTemplate, as_messages, fold_system, sha256_text, split_reasoning
from .types import (
    Accounting,
    Attempt,
    CallEvent,
    ChatMessage,
    Completion,
    ModelInfo,
    SamplingSettings,
    StructuredCompletion,
)

log = logging.getLogger(__name__)

SWARM_MODEL_NAME_ENV = "SWARM_MODEL_NAME"
SWARM_MODEL_API_ENV = "SWARM_MODEL_API"  # "completions" or "chat" (default: completions if the format is known)
SWARM_MODEL_TIMEOUT_ENV = "SWARM_MODEL_TIMEOUT"  # seconds one request may take
SWARM_MODEL_API_KEY_ENV = "SWARM_MODEL_API_KEY"  # sent as a bearer token, never logged
DEFAULT_TIMEOUT = 300.0  # R1 on a CPU can reason for minutes
RETRY_STATUS = frozenset({502, 503, 504})  # gateway errors and "loading model": worth another try


class ModelServerError(ModelError):
    """The model server is unreachable, timed out or answered something that is not a completion."""


def parse_spec(spec: str) -> tuple[str, str | None]:
    """``http://h:p/v1#name`` -> (``http://h:p/v1``, ``name``); no fragment -> (url, None)."""
    try:
        parts = urlsplit(spec.strip())
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
    except ValueError:  # a bad port or IPv6 bracket
        valid = False
    if not valid:
        raise ModelServerError(f"not a model server URL: {redact_url(spec)!r} "
                               f"(expected e.g. http://127.0.0.1:8080/v1#model-name)")
    base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), parts.query, ""))
    return base, (parts.fragment or None)


def register_url_secrets(url: str, *extra: str | None) -> list[str]:
    """Hand the credentials in `url` (and `extra` ones, e.g. an API key) to the log redactor; returns them."""
    found = [*url_secrets(url), *(e for e in extra if e)]
    for secret in found:
        logs.register_secret(secret)
    if found:
        logs.redact_logger("httpx")  # it logs every request URL (the query with its key) at INFO
    return found


class _Choice(BaseModel):
    text: str = ""
    message: dict[str, Any] | None = None
    finish_reason: str | None = None


class _Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_details: dict[str, Any] | None = None


class _Response(BaseModel):
    """The part of an OpenAI completion/chat response this backend relies on (validated, not trusted)."""

    choices: list[_Choice]
    usage: _Usage | None = None


class _StreamChoice(BaseModel):
    text: str | None = None
    delta: dict[str, Any] | None = None
    finish_reason: str | None = None


class _Chunk(BaseModel):
    """One server-sent event of a streamed completion or chat response (only what this backend reads)."""

    choices: list[_StreamChoice] = []
    usage: _Usage | None = None


class _Phase(BaseModel):
    text: str
    finish: str | None
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in RETRY_STATUS
    return isinstance(exc, (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ConnectTimeout))


class OpenAIServerBackend:
    """`ModelBackend` over HTTP.  Thread-safe: the HTTP client is, and the server queues requests."""

    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        api: Literal["completions", "chat"] | None = None,
        timeout: float | None = None,
        connect_timeout: float = 5.0,
        retries: int = 2,
        api_key: str | None = None,
        chat_template: str | None = None,
        family: str | None = None,
        on_call: Callable[[CallEvent], None] | None = None,
        on_progress: ProgressObserver | None = None,
        config: BackendConfig | None = None,
    ):
        """`config` (a `BackendConfig`) contributes `family`, `on_call` and `on_progress`; its file options do not
        apply."""
        base, fragment = parse_spec(url)
        key = api_key if api_key is not None else os.environ.get(SWARM_MODEL_API_KEY_ENV)
        self._secrets = register_url_secrets(url, key)
        self.base_url = redact_url(base)  # what is shown and recorded; requests go to _endpoint
        parts = urlsplit(base)
        user, has_user, hostport = parts.netloc.rpartition("@")
        self._endpoint = urlunsplit((parts.scheme, hostport, parts.path, "", ""))
        auth = None
        if has_user:  # httpx would take them from the URL too; explicit, so no request URL carries them
            name, _, password = user.partition(":")
            auth = httpx.BasicAuth(unquote(name), unquote(password))
        params = httpx.QueryParams(tuple(parse_qsl(parts.query, keep_blank_values=True)))
        if config is not None:
            family, on_call = family or config.family, on_call or config.on_call
            on_progress = on_progress or config.on_progress
        chosen_api = api or os.environ.get(SWARM_MODEL_API_ENV) or None
        if chosen_api not in (None, "completions", "chat"):
            raise ModelServerError(f"{SWARM_MODEL_API_ENV}={chosen_api!r}: use 'completions' or 'chat'")
        if timeout is None:
            env = os.environ.get(SWARM_MODEL_TIMEOUT_ENV)
            try:
                timeout = float(env) if env else DEFAULT_TIMEOUT
            except ValueError:
                raise ModelServerError(f"{SWARM_MODEL_TIMEOUT_ENV}={env!r} is not a number of seconds") from None
        self.timeout = timeout  # seconds one request may take; read at each request, so it may be changed later
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.on_call: Callable[[CallEvent], None] | None = on_call
        self.on_progress: ProgressObserver | None = on_progress  # set: requests stream, each token is told
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=connect_timeout), headers=headers,
                                  auth=auth, params=params)
        self._grammars: dict[type, str] = {}
        self._schema_form: Literal["json_schema", "json_object"] = "json_schema"  # chat API: how to send a schema
        try:
            listed = self._get("/models")
            self.model = model or fragment or os.environ.get(SWARM_MODEL_NAME_ENV) or _first_model(listed, self.base_url)
            entry = next((m for m in listed.get("data", []) if isinstance(m, dict) and m.get("id") == self.model), {})
            props = self._props()
        except BaseException:
            self._http.close()
            raise
        reported = chat_template or props.get("chat_template") or None
        self._template = ChatTemplate.select(gguf_template=reported if isinstance(reported, str) else None,
                                             family=family or os.environ.get(SWARM_MODEL_FAMILY_ENV) or None,
                                             model=f"{self.base_url}#{self.model}")
        known = self._template.source != "none"
        self.api: Literal["completions", "chat"] = chosen_api or ("completions" if known else "chat")  # type: ignore[assignment]
        self.info = _model_info(self.base_url, self.model, entry, props, self._template, self.api)

    # -- public API (the ModelBackend protocol) --

    def render(self, messages: Messages) -> str:
        """The exact prompt string a completions-API call with these messages sends."""
        return self._template.render(messages)

    def chat(self, messages: Messages, settings: SamplingSettings | None = None) -> Completion:
        settings = effective_settings(settings)
        if self.api == "chat":
            prompt, completion = self._chat_call(as_messages(messages), settings, schema=None)
        else:
            prompt = self.render(messages)
            completion = self._complete(prompt, settings, grammar=None)
        self._notify("chat", prompt, completion)
        return completion

    def structured(
        self,
        messages: Messages,
        schema: type[T],
        settings: SamplingSettings | None = None,
        max_retries: int = 2,
        *,
        instruct: bool = True,
    ) -> StructuredCompletion[T]:
        """As `LlamaCppBackend.structured`: validation errors go back to the model as a new user turn,
        up to `max_retries` times; then `StructuredOutputError` with every attempt."""
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        settings = effective_settings(settings)
        convo = as_messages(messages)
        if instruct:
            convo = with_schema_instruction(convo, schema)
        grammar = self._grammar(schema) if self.api == "completions" else None
        attempts: list[Attempt] = []
        for number in range(1, max_retries + 2):
            if self.api == "chat":
                prompt, completion = self._chat_call(convo, settings, schema=schema)
            else:
                prompt = self.render(convo)
                completion = self._complete(prompt, settings, grammar=grammar)
            try:
                value = schema.model_validate_json(completion.answer)
            except ValidationError as e:
                error = describe_validation_error(e)
                self._notify("structured", prompt, completion, schema, number, error)
                attempts.append(Attempt(completion=completion, error=error))
                convo = [*convo, ChatMessage(role="assistant", content=completion.answer),
                         ChatMessage(role="user", content=f"That JSON is invalid: {error}\n"
                                     "Reply with a corrected JSON object.")]
                continue
            self._notify("structured", prompt, completion, schema, number)
            attempts.append(Attempt(completion=completion))
            return structured_completion(schema, completion, value, attempts)
        raise StructuredOutputError(
            f"No valid {schema.__name__} after {len(attempts)} attempts; last error: {attempts[-1].error}", attempts)

    @overload
    def complete_prompt(self, prompt: str, settings: SamplingSettings | None = None,
                        schema: None = None) -> Completion: ...

    @overload
    def complete_prompt(self, prompt: str, settings: SamplingSettings | None,
                        schema: type[T]) -> StructuredCompletion[T]: ...

    def complete_prompt(self, prompt: str, settings: SamplingSettings | None = None,
                        schema: type[T] | None = None) -> Completion | StructuredCompletion[T]:
        """Continue `prompt` exactly as given (e.g. a few-shot prompt for a base model), as in-process: a prompt
        ending in `<think>` decodes in two phases, any other only the answer; with `schema` the answer is
        grammar-constrained JSON validated once (an invalid one is a `StructuredOutputError`)."""
        settings = effective_settings(settings)
        grammar = self._grammar(schema) if schema is not None else None
        completion = self._complete(prompt, settings, grammar, two_phase=prompt.rstrip().endswith(THINK_OPEN))
        if schema is None:
            self._notify("complete", prompt, completion)
            return completion
        return validated_once(schema, prompt, completion, self._notify)

    def secret_markers(self) -> list[str]:
        """The credentials this backend sends (the URL's password and secret query values, the API key), for an
        audit log's secret guard, as a chain adapter's `secret_markers` (values too short to guard are left out:
        they are shown nowhere anyway, every URL is redacted where it is recorded)."""
        from defai_swarm.audit.redact import MIN_SECRET_LEN
        return [s for s in self._secrets if len(s) >= MIN_SECRET_LEN]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "OpenAIServerBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --

    def _grammar(self, schema: type[BaseModel]) -> str:
        if schema not in self._grammars:
            text = getattr(grammar_for(schema), "_grammar", None)
            if not isinstance(text, str):
                raise ModelError(f"no GBNF text for {schema.__name__}")
            self._grammars[schema] = text
        return self._grammars[schema]

    def _complete(self, prompt: str, s: SamplingSettings, grammar: str | None,
                  two_phase: bool | None = None) -> Completion:
        """A reasoning family: two phases, like the in-process backend (reason until </think> or the budget,
        then answer after the reasoning and "</think>" plus a blank line).  Other families: the answer only."""
        log.debug("model prompt sha256=%s:\n%s", sha256_text(prompt), prompt)
        start = time.perf_counter()
        meter = CallMeter(self.on_progress, prompt, start)
        think: _Phase | None = None
        answer_prompt, reasoning, truncated = prompt, "", False
        if self._template.reasoning if two_phase is None else two_phase:
            think = self._completion_phase(
                {"prompt": prompt, "max_tokens": max(s.max_reasoning_tokens, 1), "stop": [THINK_CLOSE]}, s, meter,
                "reasoning")
            # "stop" is </think> or the end of the turn (OpenAI's finish_reason does not tell them apart): either
            # way the answer phase follows, as in-process for structured calls; "length" is a cut-off reasoning
            truncated = think.finish == "length"
            reasoning = split_reasoning(think.text + THINK_CLOSE).reasoning
            answer_prompt = f"{prompt}{think.text}{THINK_CLOSE}\n\n"
        body: dict[str, Any] = {"prompt": answer_prompt, "max_tokens": s.max_answer_tokens}
        if grammar is not None:
            body["grammar"] = grammar
        elif s.stop:
            body["stop"] = list(s.stop)
        out = self._completion_phase(body, s, meter, "answer")
        first = think or out
        return Completion(
            reasoning=reasoning, answer=out.text.strip(), reasoning_truncated=truncated,
            prompt_sha256=sha256_text(prompt), settings=s, model_sha256=self.info.sha256,
            accounting=Accounting.of(prompt_tokens=first.prompt_tokens, cached_prompt_tokens=first.cached_tokens,
                                     reasoning_tokens=think.completion_tokens if think else 0,
                                     answer_tokens=out.completion_tokens, wall_seconds=time.perf_counter() - start))

    def _completion_phase(self, body: dict[str, Any], s: SamplingSettings, meter: CallMeter,
                          phase: Literal["reasoning", "answer"]) -> _Phase:
        body = {"model": self.model, **_sampling(s), **body}
        resp = self._post_streamed("/completions", body, meter, phase) if meter.observer is not None \
            else self._post("/completions", body)
        choice = resp.choices[0]
        usage = resp.usage or _Usage()
        return _Phase(text=choice.text, finish=choice.finish_reason, prompt_tokens=usage.prompt_tokens,
                      cached_tokens=_cached(usage), completion_tokens=usage.completion_tokens)

    def _chat_call(self, convo: list[ChatMessage], s: SamplingSettings,
                   schema: type[BaseModel] | None) -> tuple[str, Completion]:
        """One chat call; the server's template.  Reasoning from `reasoning_content`, else a <think> block."""
        msgs = [m.model_dump() for m in fold_system(convo)]
        prompt_text = json.dumps(msgs, ensure_ascii=False, separators=(",", ":"))
        log.debug("model chat messages sha256=%s:\n%s", sha256_text(prompt_text), prompt_text)
        start = time.perf_counter()
        meter = CallMeter(self.on_progress, prompt_text, start)

        def post(body: dict[str, Any]) -> _Response:
            return self._post_streamed("/chat/completions", body, meter, "answer") if meter.observer is not None \
                else self._post("/chat/completions", body)
        body: dict[str, Any] = {"model": self.model, "messages": msgs, **_sampling(s),
                                "max_tokens": s.max_reasoning_tokens + s.max_answer_tokens}
        if schema is not None:
            body["response_format"] = self._response_format(schema)
        elif s.stop:
            body["stop"] = list(s.stop)
        try:
            resp = post(body)
        except ModelServerError as e:
            if schema is None or self._schema_form != "json_schema" or "response_format" not in str(e):
                raise
            # llama-cpp-python's server takes only {"type": "json_object", "schema": ...}: the other common form
            self._schema_form = "json_object"
            resp = post({**body, "response_format": self._response_format(schema)})
        choice = resp.choices[0]
        message = choice.message or {}
        content = message.get("content") or ""
        separated = message.get("reasoning_content")
        if isinstance(separated, str):
            reasoning, answer, truncated = separated.strip(), content.strip(), False
        elif THINK_CLOSE in content:
            split = split_reasoning(content)
            reasoning, answer, truncated = split.reasoning, split.answer, split.truncated
        else:
            reasoning, answer, truncated = "", content.strip(), choice.finish_reason == "length"
        usage = resp.usage or _Usage()
        completion = Completion(
            reasoning=reasoning, answer=answer, reasoning_truncated=truncated,
            prompt_sha256=sha256_text(prompt_text), settings=s, model_sha256=self.info.sha256,
            accounting=Accounting.of(prompt_tokens=usage.prompt_tokens, cached_prompt_tokens=_cached(usage),
                                     reasoning_tokens=0, answer_tokens=usage.completion_tokens,
                                     wall_seconds=time.perf_counter() - start))
        return prompt_text, completion

    def _response_format(self, schema: type[BaseModel]) -> dict[str, Any]:
        js = int_range_as_enum(json_schema_of(schema))  # as for the local grammar: small int ranges enforced
        if self._schema_form == "json_object":
            return {"type": "json_object", "schema": js}
        return {"type": "json_schema", "json_schema": {"name": schema.__name__, "schema": js, "strict": True}}

    def _notify(self, kind: Literal["chat", "structured", "complete"], prompt: str, completion: Completion,
                schema: type[BaseModel] | None = None, attempt: int = 1, error: str | None = None) -> None:
        """The per-call observer (`on_call`), if set: fired after every model call; a failing one is only logged."""
        notify(self.on_call, CallEvent.of(kind, prompt, completion, schema, attempt, error))

    # -- HTTP with retries and one-line errors --

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                 stream: bool = False) -> httpx.Response:
        """The response (retried on gateway errors and refused connections); `stream`: an open response whose
        body is read as it comes (a failed status's body is read, and the response closed, here)."""
        url = self._endpoint + path

        def once() -> httpx.Response:
            request = self._http.build_request(method, url, json=body,
                                               timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout))
            r = self._http.send(request, stream=stream)
            if stream and r.status_code != 200:
                r.read()  # the error text, for the message; closes the response
            if r.status_code in RETRY_STATUS:
                r.raise_for_status()
            return r

        try:
            for attempt in Retrying(stop=stop_after_attempt(self.retries + 1), reraise=True,
                                    wait=wait_exponential(multiplier=0.2, max=2.0),
                                    retry=retry_if_exception(_retryable)):
                with attempt:
                    return once()
        except httpx.TimeoutException:
            raise ModelServerError(
                f"model server at {self.base_url} did not answer {path} within {self.timeout:g}s; "
                f"raise {SWARM_MODEL_TIMEOUT_ENV} or the token budgets, or check the server") from None
        except httpx.HTTPStatusError as e:
            raise ModelServerError(f"model server at {self.base_url} answered {path} with HTTP "
                                   f"{e.response.status_code} after {self.retries + 1} tries: {self._brief(e.response)}") from None
        except httpx.HTTPError as e:
            raise ModelServerError(
                f"model server at {self.base_url} is not reachable ({type(e).__name__}: {self._scrub(str(e))}); "
                f"start it, e.g. "
                f"`python -m llama_cpp.server --model FILE.gguf --port 8080`, or fix --model / SWARM_MODEL") from None
        raise AssertionError("unreachable")  # Retrying either returned or raised

    def _get(self, path: str) -> dict[str, Any]:
        r = self._request("GET", path)
        if r.status_code != 200:
            raise ModelServerError(f"model server at {self.base_url} answered GET {path} with HTTP {r.status_code}: "
                                   f"{self._brief(r)}; is this an OpenAI-compatible /v1 URL?")
        return self._json(r, path)

    def _props(self) -> dict[str, Any]:
        """llama.cpp's `llama-server` reports its chat template and model at /props; others have no such route."""
        root = self._endpoint.removesuffix("/v1")
        try:
            r = self._http.get(root + "/props")
            data = r.json() if r.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _scrub(self, text: str) -> str:
        """What a server or httpx said, without this URL's credentials (a server may echo a rejected key)."""
        return redact_text(text, self._secrets)

    def _brief(self, r: httpx.Response) -> str:
        return self._scrub(_brief(r))

    def _json(self, r: httpx.Response, path: str) -> dict[str, Any]:
        try:
            data = r.json()
        except ValueError:
            raise ModelServerError(f"{self._endpoint}{path} did not answer JSON: {self._brief(r)}") from None
        if not isinstance(data, dict):
            raise ModelServerError(f"{self._endpoint}{path} answered {type(data).__name__}, not a JSON object")
        return data

    def _post(self, path: str, body: dict[str, Any]) -> _Response:
        r = self._request("POST", path, body)
        if r.status_code != 200:
            raise ModelServerError(f"model server at {self.base_url} refused POST {path} (HTTP {r.status_code}): "
                                   f"{self._brief(r)}")
        return self._validated(r, path)

    def _validated(self, r: httpx.Response, path: str) -> _Response:
        try:
            resp = _Response.model_validate(self._json(r, path))
        except ValidationError as e:
            raise ModelServerError(f"model server at {self.base_url} sent a malformed {path} response: "
                                   f"{describe_validation_error(e)}") from None
        if not resp.choices:
            raise ModelServerError(f"model server at {self.base_url} sent a {path} response without choices")
        return resp

    def _post_streamed(self, path: str, body: dict[str, Any], meter: CallMeter,
                       phase: Literal["reasoning", "answer"]) -> _Response:
        """`_post` with ``stream: true``: the same response, assembled from the server-sent events, each chunk's
        token told to `meter` as it arrives (a chat chunk's `reasoning_content` as reasoning).  Usage from the
        chunk that carries it, else the completion tokens are the chunks counted and the prompt tokens 0."""
        r = self._request("POST", path, {**body, "stream": True, "stream_options": {"include_usage": True}},
                          stream=True)
        if r.status_code != 200:
            raise ModelServerError(f"model server at {self.base_url} refused POST {path} (HTTP {r.status_code}): "
                                   f"{self._brief(r)}")
        if "text/event-stream" not in r.headers.get("content-type", ""):  # a server that does not stream
            try:
                r.read()
            except httpx.HTTPError as e:
                raise ModelServerError(f"model server at {self.base_url} broke off its {path} answer "
                                       f"({type(e).__name__}: {self._scrub(str(e))})") from None
            resp = self._validated(r, path)
            meter.token(phase, resp.usage.completion_tokens if resp.usage else 0)
            return resp
        text: list[str] = []
        content: list[str] = []
        reasoning: list[str] = []
        finish: str | None = None
        usage: _Usage | None = None
        counted, chat = 0, False
        try:
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators, comments (": ping"), event names
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    chunk = _Chunk.model_validate_json(data)
                except ValidationError as e:
                    raise ModelServerError(f"model server at {self.base_url} sent a malformed {path} stream "
                                           f"chunk: {describe_validation_error(e)}") from None
                usage = chunk.usage or usage
                for choice in chunk.choices[:1]:
                    finish = choice.finish_reason or finish
                    delta = choice.delta or {}
                    chat = chat or choice.delta is not None
                    pieces = [(text, choice.text, phase), (content, delta.get("content"), phase),
                              (reasoning, delta.get("reasoning_content"), "reasoning")]
                    for into, piece, kind in pieces:
                        if isinstance(piece, str) and piece:
                            into.append(piece)
                            counted += 1
                            meter.token(kind)
        except httpx.TimeoutException:
            raise ModelServerError(
                f"model server at {self.base_url} went silent in the middle of {path} for {self.timeout:g}s; "
                f"raise {SWARM_MODEL_TIMEOUT_ENV} or the token budgets, or check the server") from None
        except httpx.HTTPError as e:
            raise ModelServerError(f"model server at {self.base_url} broke off its {path} stream "
                                   f"({type(e).__name__}: {self._scrub(str(e))})") from None
        finally:
            r.close()
        if finish is None and not counted:
            raise ModelServerError(f"model server at {self.base_url} streamed a {path} response without choices")
        message: dict[str, Any] | None = None
        if chat:
            message = {"content": "".join(content)}
            if reasoning:
                message["reasoning_content"] = "".join(reasoning)
        return _Response(choices=[_Choice(text="".join(text), message=message, finish_reason=finish)],
                         usage=usage or _Usage(completion_tokens=counted))


def _sampling(s: SamplingSettings) -> dict[str, Any]:
    # top_k/min_p/repeat_penalty as in-process (llama.cpp extensions; OpenAI-compatible servers ignore unknown keys)
    return {"temperature": s.temperature, "top_p": s.top_p, "seed": s.seed, "top_k": s.top_k, "min_p": s.min_p,
            "repeat_penalty": 1.0}


def _cached(usage: _Usage) -> int:
    details = usage.prompt_tokens_details or {}
    cached = details.get("cached_tokens")
    return cached if isinstance(cached, int) else 0


def _brief(r: httpx.Response) -> str:
    text = " ".join(r.text.split())
    return text[:200] + ("..." if len(text) > 200 else "")


def _first_model(listed: dict[str, Any], base_url: str) -> str:
    for m in listed.get("data") or []:
        if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"]:
            return m["id"]
    raise ModelServerError(f"model server at {base_url} lists no model at /models; name one with "
                           f"{base_url}#MODEL or {SWARM_MODEL_NAME_ENV}")


def _model_info(base_url: str, model: str, entry: dict[str, Any], props: dict[str, Any], template: ChatTemplate,
                api: str) -> ModelInfo:
    """Identity for the audit log: server URL and model name (`path`), and what the server reports about
    the file (llama-server: `meta` size/params/context; a `sha256` where a server gives one, else empty)."""
    meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
    assert isinstance(meta, dict)
    settings = props.get("default_generation_settings") if isinstance(props.get("default_generation_settings"), dict) \
        else {}
    assert isinstance(settings, dict)
    digest = entry.get("sha256") or meta.get("sha256") or ""

    def num(*values: Any) -> int:
        return next((int(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)), 0)

    return ModelInfo(
        path=f"{base_url}#{model}", sha256=digest if isinstance(digest, str) else "",
        size_bytes=num(meta.get("size")), architecture=None, name=model,
        chat_template=template.template if template.source == "gguf" else None,
        template_source=template.source, family=template.family, n_params=num(meta.get("n_params")),
        n_ctx=num(settings.get("n_ctx"), props.get("n_ctx"), meta.get("n_ctx_train")),
        metadata={"server_url": base_url, "served_model": model, "api": api,
                  **{f"server.{k}": str(v) for k, v in meta.items() if isinstance(v, (str, int, float))}},
    )
