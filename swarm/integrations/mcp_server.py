"""`swarm mcp`: the swarm's tools for any MCP client (desktop assistants, IDEs, agent frameworks).

Built on the official `mcp` Python SDK (`MCPServer`, FastMCP's successor in mcp 2).  Over stdio by default;
`--transport http` serves streamable HTTP on 127.0.0.1 only, and only with a bearer token
(`$SWARM_MCP_TOKEN`; every request without it is refused with 401).  Read-only by default: `run_intent`
is offered only with `--allow-fund-moving`, and even then every trade waits for the operator
(`--approval-above-usd`, default 0).  Every call is audited like a CLI run (see `toolkit`).

    swarm mcp --manifest ~/.swarm/devnet/manifest.json              # stdio, read-only
    SWARM_MCP_TOKEN=... swarm mcp --transport http --port 8765      # streamable HTTP at /mcp

Over stdio, stdout carries the protocol and nothing else (no progress, spinner or colour; the SDK points fd 1 at
stderr while it serves, and a failure is one line on stderr), and the logs on stderr are the swarm's plain lines
(`--log-level`, `--log-format`): the SDK's own rich log handler is not installed.
"""
from __future__ import annotations

import argparse
import hmac
import inspect
import json
import logging
import os
import sys
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Callable, Iterator

from .toolkit import SwarmToolkit, ToolSpec

log = logging.getLogger(__name__)

TOKEN_ENV = "SWARM_MCP_TOKEN"
HOST = "127.0.0.1"  # never another interface: the tools read a wallet and may start trades


def add_mcp_arguments(parser: argparse.ArgumentParser) -> None:
    """The `swarm mcp` options (the CLI wires them; `python -m defai_swarm.integrations.mcp_server` takes the same)."""
    chain = parser.add_argument_group("chain and model (as for `swarm run`)")
    chain.add_argument("--config", help="chain configuration JSON (default: the running devnet)")
    chain.add_argument("--manifest", help="EVM devnet manifest (default: the running devnet's)")
    from defai_swarm.tools.devnet.local import DEFAULT_FAMILY, names

    chain.add_argument("--chain", choices=names(), default=DEFAULT_FAMILY,
                       help=f"which running devnet (default: {DEFAULT_FAMILY})")
    chain.add_argument("--policy", help="risk policy JSON (default: the chain's default policy)")
    chain.add_argument("--model", help="planner model: a GGUF file or an OpenAI-compatible server URL "
                                       "(default: $SWARM_MODEL; none: parser only)")
    chain.add_argument("--k", type=int, default=3, help="model readings per intent")
    chain.add_argument("--no-anchor", action="store_true", help="do not anchor audit checkpoints on-chain")
    serve = parser.add_argument_group("serving")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio",
                       help=f"stdio (default), or streamable HTTP on {HOST} with a bearer token from ${TOKEN_ENV}")
    serve.add_argument("--port", type=int, default=8765, help="HTTP port (default: 8765)")
    funds = parser.add_argument_group("moving funds (off by default)")
    funds.add_argument("--allow-fund-moving", action="store_true",
                       help="offer run_intent: an intent through planner, risk, executor and audit")
    funds.add_argument("--approval-above-usd", default="0",
                       help="trades above this USD value wait for `swarm resume RUN --approve` (default: 0, every "
                            "trade); only the operator sets it, no tool can")


def build_server(kit: SwarmToolkit) -> Any:
    """An `MCPServer` with one tool per toolkit spec, whose every `tools/call` goes to the toolkit.

    The SDK would otherwise answer some calls itself, before the toolkit (and its audit log) sees them: an unknown
    tool (a fund-moving one on a read-only server) and arguments its own model rejects; and it drops arguments the
    schema does not name. Here the toolkit validates every call (unknown arguments refused), records it, and a
    refusal or failure (`ok: false`) is an MCP tool error (`isError: true`). The published input schemas are the
    toolkit's own (`additionalProperties: false`)."""
    import anyio
    from mcp.server.mcpserver import MCPServer
    from mcp.types import CallToolResult, TextContent, ToolAnnotations

    schemas = {spec.name: spec.args_schema.model_json_schema() for spec in kit.specs()}

    class SwarmMCPServer(MCPServer):
        async def list_tools(self):  # type: ignore[override]
            return [t.model_copy(update={"input_schema": schemas.get(t.name, t.input_schema)})
                    for t in await super().list_tools()]

        async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None):  # type: ignore[override]
            result = await anyio.to_thread.run_sync(kit.call, name, arguments)
            return CallToolResult(content=[TextContent(type="text", text=json.dumps(result, default=str))],
                                  is_error=result.get("ok") is not True)

    server = SwarmMCPServer("defai-swarm", instructions=(
        "DeFi tools of a defai-swarm: plan intents, read prices, show and verify audited runs. "
        + ("run_intent executes an intent; every trade waits for the human operator's approval."
           if kit.allow_fund_moving else "Read-only: this server moves no funds.")))
    for spec in kit.specs():
        server.add_tool(_tool_function(kit, spec), name=spec.name, description=spec.description,
                        structured_output=False, annotations=ToolAnnotations(
                            read_only_hint=not spec.moves_funds, destructive_hint=spec.moves_funds,
                            idempotent_hint=not spec.moves_funds, open_world_hint=spec.moves_funds))
    return server


@contextmanager
def _logging_kept() -> Iterator[None]:
    """The root logger as it was: the SDK's server constructor calls `logging.basicConfig` with a rich handler at
    INFO (colours and wrapped lines on stderr, a second copy of every swarm log line, every library's INFO), which
    is taken off again here; the swarm's own handler (`defai_swarm.logs`) stays the only one, plain, at its level."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)


def _tool_function(kit: SwarmToolkit, spec: ToolSpec) -> Callable[..., str]:
    """A function whose signature is the spec's argument model (what the SDK registers a tool from); calls do not
    come here but through `SwarmMCPServer.call_tool`."""
    def tool(**arguments: Any) -> str:
        return json.dumps(kit.call(spec.name, arguments), default=str)

    params = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[field.annotation, field],
                                default=inspect.Parameter.empty if field.is_required() else field.default)
              for name, field in spec.args_schema.model_fields.items()]
    tool.__signature__ = inspect.Signature(params, return_annotation=str)  # type: ignore[attr-defined]
    tool.__name__ = spec.name
    tool.__doc__ = spec.description
    return tool


class BearerAuth:
    """ASGI middleware: every HTTP request needs `Authorization: Bearer <token>` (constant-time compare)."""

    def __init__(self, app: Any, token: str):
        self.app, self._expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = b'{"error": "missing or wrong bearer token"}'
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _serve_http(server: Any, port: int, token: str) -> None:
    import uvicorn

    app = BearerAuth(server.streamable_http_app(host=HOST), token)
    uvicorn.run(app, host=HOST, port=port, log_level="warning")


def _fail(message: str, code: int) -> int:
    from defai_swarm.logs import redact
    print(f"error: {redact(message)}", file=sys.stderr)  # a registered secret (a URL's password) is never shown
    return code


def run_mcp(args: argparse.Namespace) -> int:
    """Serve until the client disconnects (stdio) or the process is stopped (HTTP); an exit code."""
    from defai_swarm.exitcodes import ExitCode

    try:
        threshold = Decimal(str(args.approval_above_usd))
        if not threshold.is_finite() or threshold < 0:
            raise InvalidOperation
    except InvalidOperation:
        return _fail(f"--approval-above-usd {args.approval_above_usd!r} is not a USD amount >= 0", ExitCode.USAGE)
    token = os.environ.get(TOKEN_ENV, "")
    if args.transport == "http" and len(token) < 16:
        return _fail(f"HTTP needs a bearer token of at least 16 characters in ${TOKEN_ENV} "
                     f"(e.g. `export {TOKEN_ENV}=$(openssl rand -hex 24)`); clients send it as "
                     f"`Authorization: Bearer <token>`", ExitCode.USAGE)
    try:
        from defai_swarm.session import SessionOptions, open_swarm  # the same Swarm `swarm run` opens
        swarm = open_swarm(SessionOptions.from_args(args))
    except Exception as exc:  # configuration, RPC or model problems: one line, like the CLI
        return _fail(" ".join(str(exc).split()) or type(exc).__name__, ExitCode.ERROR)
    try:
        kit = SwarmToolkit(swarm, allow_fund_moving=args.allow_fund_moving, approval_above_usd=threshold,
                           caller=f"mcp-{args.transport}")
        with _logging_kept():
            server = build_server(kit)
        log.info("MCP server: %s over %s", ", ".join(s.name for s in kit.specs()), args.transport)
        if args.transport == "http":
            print(f"MCP server (streamable HTTP) on http://{HOST}:{args.port}/mcp", file=sys.stderr)
            _serve_http(server, args.port, token)
        else:
            server.run("stdio")
        return ExitCode.DONE
    except Exception as exc:  # stdout is the protocol's (and the client's): the failure is one line on stderr
        log.debug("MCP server failed", exc_info=True)
        return _fail(f"the MCP server stopped: {type(exc).__name__}: {' '.join(str(exc).split())}", ExitCode.ERROR)
    finally:
        swarm.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m defai_swarm.integrations.mcp_server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_mcp_arguments(parser)
    args = parser.parse_args(argv)
    from defai_swarm import logs
    handler = logs.setup()  # plain lines on stderr, $SWARM_LOG_LEVEL / $SWARM_LOG_FORMAT (as `swarm mcp`)
    try:
        return run_mcp(args)
    finally:
        logs.teardown(handler)


if __name__ == "__main__":
    sys.exit(main())
