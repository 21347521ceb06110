"""`swarm plan`, `swarm run`, `swarm resume`: an intent through the swarm that `defai_swarm.session` opens from
the flags (--config/--manifest/--chain, --policy, --model, --k, --no-anchor), with a person's progress display or
one JSON document (`--json`). The swarm's modules are imported when a command runs: `swarm --help` stays fast."""
from __future__ import annotations

import argparse
from typing import Any

from defai_swarm.cli.output import Progress, busy, console, emit_json, err, log, print_result, task_line
from defai_swarm.exitcodes import ExitCode


def open_for(args: argparse.Namespace, display: Progress) -> Any:
    """The swarm a command's flags name; a person watching (no --json) sees the model load and each task."""
    from defai_swarm.session import SessionOptions, open_swarm

    human = not getattr(args, "json", False)
    return open_swarm(SessionOptions.from_args(args), on_task=task_line(display) if human else None,
                      on_progress=display.task, loading=busy if human else None)


def observe(swarm: Any, progress: Progress) -> None:
    """The model's observers drive the planning progress, where the backend has them: `on_call` (a call
    finished), `on_progress` (a token generated)."""
    backend = getattr(swarm, "backend", None)
    if backend is not None and hasattr(backend, "on_call") and backend.on_call is None:
        backend.on_call = progress
    if progress.shown and backend is not None and hasattr(backend, "on_progress") and backend.on_progress is None:
        backend.on_progress = progress.token  # only when shown: a watched server call streams


def run(args: argparse.Namespace) -> int:
    display = Progress(args.k, show=not args.json)
    swarm = open_for(args, display)
    try:
        if not args.json:
            if swarm.backend is None:
                err.print("[yellow]no model configured (--model or SWARM_MODEL): planning with the deterministic "
                          "parser only[/yellow]")
            console.print(f"intent: {args.intent}")
        with display:
            observe(swarm, display)
            result = swarm.run(args.intent, run_id=args.run_id)
        return print_result(result, swarm, args.json)
    finally:
        swarm.close()


def resume(args: argparse.Namespace) -> int:
    display = Progress(args.k, show=not args.json)
    swarm = open_for(args, display)
    try:
        approve = True if args.approve else False if args.decline else None
        with display:  # a resumed schedule still waits for its blocks
            result = swarm.resume(args.run_id, approve=approve)
        return print_result(result, swarm, args.json)
    finally:
        swarm.close()


def plan(args: argparse.Namespace) -> int:
    display = Progress(args.k, show=not args.json)
    swarm = open_for(args, display)
    try:
        with display:
            observe(swarm, display)
            planned = swarm.plan(args.intent)
        log.info("plan %s: %s", "ok" if planned.ok else "refused", planned.refusal_reason or
                 f"{len(planned.task_graph.tasks) if planned.task_graph else 0} tasks; model: {planned.model_summary}")
        code = ExitCode.DONE if planned.ok else ExitCode.REFUSED
        if args.json:
            data = planned.model_dump(mode="json")
            data["exit_code"] = int(code)
            emit_json(data)
            return code
        from defai_swarm.render import plan_tree
        console.print(plan_tree(planned, swarm.plugins))
        if args.thoughts:
            for thought in planned.thoughts:
                console.print_json(thought.model_dump_json())
        return code
    finally:
        swarm.close()


__all__ = ["observe", "open_for", "plan", "resume", "run"]
