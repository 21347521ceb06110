"""The commands whose work lives in another module: `swarm audit` (defai_swarm.cli.audit_commands), `swarm new`
(defai_swarm.starter) and `swarm mcp` (defai_swarm.integrations.mcp_server). Each is imported when its command
runs, never for `swarm --help`."""
from __future__ import annotations

import argparse

from defai_swarm.cli.output import console, fail
from defai_swarm.config import user_path
from defai_swarm.exitcodes import ExitCode


def audit(args: argparse.Namespace) -> int:
    from defai_swarm.cli.audit_commands import audit_command
    return audit_command(args, console)


def new(args: argparse.Namespace) -> int:
    from defai_swarm.starter import StarterError, create
    try:
        path = create(args.name, user_path(args.dir) if args.dir else None)
    except StarterError as exc:
        return fail(args, str(exc), ExitCode.ERROR)
    console.print(f"created {path}: cd {path} && python -m pytest")
    return ExitCode.DONE


def mcp(args: argparse.Namespace) -> int:
    try:
        from defai_swarm.integrations.mcp_server import run_mcp
    except ImportError as exc:
        return fail(args, f"the MCP server is not available in this install ({exc}); install the `mcp` extra: "
                          f"pip install 'defai-swarm[mcp]'", ExitCode.ERROR)
    return int(run_mcp(args))


def add_mcp_arguments(parser: argparse.ArgumentParser) -> None:
    """`swarm mcp`'s options, from the MCP server's module (nothing when the `mcp` extra is not installed)."""
    try:
        from defai_swarm.integrations.mcp_server import add_mcp_arguments as add
    except ImportError:
        return
    add(parser)


__all__ = ["add_mcp_arguments", "audit", "mcp", "new"]
