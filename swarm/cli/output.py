"""What `swarm` shows: a person's lines (rich, on stdout; notes and errors on stderr), one JSON document for a
script (`--json`), a failure told once, and the progress of a long command on a terminal.

rich is imported on first use (`console`, `err` are made lazily): `swarm --help` does not pay for it.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from contextlib import nullcontext
from typing import Any

from defai_swarm.exitcodes import ExitCode, error_document, for_status

log = logging.getLogger("defai_swarm.cli")  # not __name__: one logger for the whole command line


class _Lazy:
    """A rich Console made on first use: `swarm --help` does not pay for importing rich."""

    def __init__(self, **options):
        self._options, self._console = options, None

    def __getattr__(self, name: str):
        return getattr(self.unwrap(), name)

    def unwrap(self):
        """The Console itself (rich's Live needs the real object)."""
        if self._console is None:
            from rich.console import Console
            self._console = Console(**self._options)
            if not self._console.is_terminal and "COLUMNS" not in os.environ:
                self._console.width = 240  # a pipe gets 80 columns, and a plan tree's deep lines would be cropped
        return self._console


console: Any = _Lazy(soft_wrap=True)  # messages are not hard-wrapped: they may be grepped or copied
err: Any = _Lazy(stderr=True, soft_wrap=True)  # notes and errors: stdout stays clean for --json


def emit_json(data: Any) -> None:
    """One JSON document on stdout (never through rich: no wrapping, no colours)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def command_of(args: argparse.Namespace) -> str | None:
    """`audit verify`, `devnet status`, `run`: the command a failure belongs to, for the JSON error document."""
    parts = [getattr(args, "command", None), getattr(args, "action", None)]
    return " ".join(str(p) for p in parts if p) or None


def fail(args: argparse.Namespace, message: str, code: ExitCode, out: Any = None) -> ExitCode:
    """A failed command, told once: one line on stdout with a person's output (`out`, default the console); with
    --json the line goes to stderr and stdout carries one JSON error document ({"error", "exit_code", ...})."""
    from rich.text import Text

    line = Text("error: ", style="red") + Text(message)
    if getattr(args, "json", False):
        err.print(line)
        emit_json(error_document(message, code, command_of(args)))
    else:
        (out if out is not None else console).print(line)
    return code


def busy(message: str, show: bool = True):
    """A spinner on a terminal; nothing when output is piped (scripts, CI), or `show` is off (--json, `swarm mcp`)."""
    return err.status(message) if show and err.is_terminal else nullcontext()


class Progress:
    """That a long command is alive, for a person at a terminal: one status line on stderr while the model plans
    ("planning: model call 2 of ~3: 57 tokens, 12.3 tokens/s (40s)", a line per finished call) and while a task
    waits ("wait_3: 7 of 10 blocks"). Nothing on stderr when it is not a terminal, with --json or under
    `swarm mcp` (`show` off); finished calls go to the log at INFO whatever the terminal (task progress is logged
    by the runtime, defai_swarm.plugins.ProgressReporter). A standing watch (a task reporting with no total) shows the
    same way. Observers run on the decoding or task thread: each update is quick, the lock keeps lines whole."""

    def __init__(self, k: int, show: bool = True):
        import threading
        import time
        self.k, self.calls, self.time = k, 0, time.monotonic
        self.start = self.time()
        self.show = show
        self._live: Any = None
        self._spinner: Any = None
        self._stdout: Any = False  # stdout's console while its lines go through the status line's (False: not)
        self._lock = threading.Lock()

    def __enter__(self):
        if self.show and err.is_terminal:
            from rich.live import Live
            from rich.spinner import Spinner
            self._spinner = Spinner("dots", text="working...")
            self._live = Live(self._spinner, console=err.unwrap(), transient=True, refresh_per_second=8,
                              redirect_stdout=False, redirect_stderr=False)
            if _same_terminal():  # stdout's lines (task results) go above the status line, not through it
                self._stdout, console._console = console._console, err.unwrap()
            self._live.__enter__()
        return self

    @property
    def shown(self) -> bool:
        """A status line is on the terminal (inside `with`, on a terminal, not --json)."""
        return self._live is not None

    def _status(self, text: str, now: bool) -> None:
        """Show `text`; `now` draws it at once (else the next periodic refresh does: tokens come fast)."""
        if self._live is None:
            return
        from rich.text import Text
        self._spinner.update(text=Text(text))
        if now:
            self._live.refresh()

    def token(self, event: Any) -> None:
        """A model call's progress (defai_swarm.llm.CallProgress): the call's number of ~k, tokens so far, rate."""
        with self._lock:  # a call's first token is drawn at once, later ones by the periodic refresh
            self._status(f"planning: model call {self.calls + 1} of ~{self.k}: {event.tokens} token"
                         f"{'s' if event.tokens != 1 else ''} ({event.phase}), {event.tokens_per_second:.1f} "
                         f"tokens/s ({self.time() - self.start:.0f}s)", now=event.tokens == 1)

    def __call__(self, event: Any) -> None:
        """A finished model call (defai_swarm.llm.CallEvent): one line, in the log and on the terminal."""
        with self._lock:
            self.calls += 1
            accounting = getattr(event, "accounting", None)
            tokens = (accounting.reasoning_tokens + accounting.answer_tokens) if accounting is not None else None
            rate = f", {accounting.tokens_per_second:.1f} tokens/s" if accounting is not None else ""
            elapsed = self.time() - self.start
            retry = f" (attempt {event.attempt}: {event.error})" if getattr(event, "error", None) else ""
            line = f"model call {self.calls}: {tokens if tokens is not None else '?'} tokens{rate}, " \
                   f"{elapsed:.0f}s elapsed{retry}"
            log.info("model call done: %s", line)
            if self._live is not None:
                from rich.markup import escape
                err.print(f"  [dim]{escape(line)}[/dim]")
                self._status(f"planning: {self.calls} model call{'s' if self.calls != 1 else ''} done "
                             f"({elapsed:.0f}s)", now=True)

    def task(self, event: Any) -> None:
        """A task's progress (defai_swarm.plugins.TaskProgress): `wait_3: 7 of 10 blocks`, drawn at once."""
        with self._lock:
            self._status(event.describe(), now=True)

    def finished(self, task_id: str, status: str) -> None:
        """A task finished: the status line says the run goes on."""
        with self._lock:
            self._status(f"running: {task_id} {status} ({self.time() - self.start:.0f}s)", now=True)

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None
        if self._stdout is not False:
            console._console, self._stdout = self._stdout, False


def _same_terminal() -> bool:
    """stdout and stderr are one terminal (a person's shell, nothing redirected)."""
    try:
        return os.isatty(1) and os.isatty(2) and os.fstat(1).st_rdev == os.fstat(2).st_rdev
    except OSError:
        return False


def task_line(display: Progress | None):
    """The `on_task` hook of a watched run: each finished task as one coloured line (and the status line's
    update)."""
    def on_task(task_id: str, result: dict) -> None:
        from rich.markup import escape

        from defai_swarm.render import humanize
        status = str(result.get("status"))
        if display is not None:
            display.finished(task_id, status)
        colour = {"ok": "green", "approved": "green", "confirmed": "green", "skipped": "yellow"}.get(status, "red")
        reason = escape(humanize(str(result.get("reason", ""))))  # reasons quote chain data: never markup
        if status in ("refused", "skipped") and reason:
            reason = "(reason below)"
        console.print(f"  [{colour}]{escape(status):>9}[/{colour}]  {escape(task_id)}" + (f"  {reason}" if reason else ""))
    return on_task


def _decimals_of(swarm):
    def lookup(symbol: str) -> int | None:
        try:
            return int(swarm.chain.token(symbol).decimals)
        except Exception:
            return None
    return lookup


def result_json(result) -> dict:
    """A run's result as the JSON document `swarm run|resume --json` prints (the plan without its thoughts)."""
    data = result.model_dump(mode="json", exclude={"plan"})
    data["plan"] = result.plan.model_dump(mode="json", exclude={"thoughts", "trace", "operations"}) \
        if result.plan is not None else None
    data["exit_code"] = int(for_status(result.status))
    return data


def print_result(result, swarm, as_json: bool = False) -> int:
    """A run's result for a person (or as JSON); its exit code."""
    from rich.markup import escape

    from defai_swarm.render import answers, humanize, labelled_txs, refusals, token_out_of

    code = for_status(result.status)
    if as_json:
        emit_json(result_json(result))
        return code
    colour = {"done": "green", "skipped": "yellow", "awaiting_approval": "yellow"}.get(result.status, "red")
    console.print(f"run [bold]{result.run_id}[/bold]: [{colour}]{result.status}[/{colour}]")
    tokens, out = _decimals_of(swarm), token_out_of(result)
    label = {"skipped": "not done", "refused": "refused", "failed": "failed"}
    for reason in refusals(result):
        console.print(f"  {label.get(result.status, 'reason')}: {escape(humanize(reason, tokens, out))}")
    for text in answers(result):
        console.print(f"  answer: {escape(text)}")
    for task_id, kind, tx in labelled_txs(result):
        console.print(f"  {kind + ' tx' if kind != 'tx' else 'tx'}: {tx}" + (f"  ({task_id})" if task_id else ""))
    for req in result.pending_approval or []:
        question = req.get("question") if isinstance(req, dict) else req
        console.print(f"  approval needed: {escape(str(question))}  ->  swarm resume {result.run_id} --approve|--decline")
    if result.anchor:
        console.print(f"  anchor tx: {result.anchor['tx_id']}  (audit checkpoint; check with: "
                      f"swarm audit verify {result.run_id})")
    return code
