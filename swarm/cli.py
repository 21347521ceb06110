"""The `swarm` command line: for people (trees, tables, human amounts) and for scripts (`--json`, exit codes).

Heavy modules (web3, langgraph, llama_cpp, defai_swarm.api) are imported inside the handlers: `swarm --help` stays fast.
Every user error is one line saying what is wrong and what to do; `--debug` adds the traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from contextlib import nullcontext
from decimal import Decimal
from pathlib import Path
from typing import Any

from defai_swarm.config import user_path
from defai_swarm.exitcodes import ExitCode, error_document, for_status


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
log = logging.getLogger("defai_swarm.cli")  # not __name__: `python -m defai_swarm.cli` runs as __main__

EXIT_CODES_HELP = """exit codes:
  0 done            the run finished as asked (or the command succeeded)
  1 error           environment, input or unexpected problem: RPC down, model missing, devnet not running,
                    unreadable policy, manifest or chain configuration
  2 usage           bad command line (unknown flag, missing argument, unknown run id)
  3 partial         some trades ran, others did not
  4 skipped         the intent's condition did not hold: nothing traded
  5 refused         the risk policy or a safety check refused: nothing traded
  6 failed          a trade was attempted and failed
  7 awaiting        the run waits for `swarm resume RUN --approve|--decline`
  8 verify failed   an audit verification or replay did not PASS

environment: SWARM_HOME (state directory, default ~/.swarm), SWARM_MODEL (GGUF file or http(s) model server),
SWARM_LEDGER (the spend ledger file), SWARM_PRIVATE_KEY (EVM wallet), SWARM_LOG_LEVEL, SWARM_LOG_FORMAT."""


class NotRunning(RuntimeError):
    """The devnet a command needs is not running: an environment problem, told in one line."""


def _emit_json(data: Any) -> None:
    """One JSON document on stdout (never through rich: no wrapping, no colours)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _command_of(args: argparse.Namespace) -> str | None:
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
        _emit_json(error_document(message, code, _command_of(args)))
    else:
        (out if out is not None else console).print(line)
    return code


def _busy(message: str, show: bool = True):
    """A spinner on a terminal; nothing when output is piped (scripts, CI), or `show` is off (--json, `swarm mcp`)."""
    return err.status(message) if show and err.is_terminal else nullcontext()


# ---- devnet ------------------------------------------------------------------------------------------

def _solana_devnet(args: argparse.Namespace) -> int:
    from defai_swarm.config import swarm_home
    from defai_swarm.tools.devnet.solana import DEFAULT_PORT, SolanaDevnet, running_config, status_lines, stop_devnet

    home = swarm_home()
    if args.action == "install":
        console.print("the Solana devnet needs nothing beyond the Python package (LiteSVM ships in solders)")
    elif args.action == "up":
        if (config := running_config(home)) is not None:
            console.print(f"Solana devnet already running at {config.rpc_url} (pid {config.pid}); "
                          f"config: {config.state_dir}/config.json")
            return ExitCode.DONE
        with _busy("starting the Solana devnet (LiteSVM, Jupiter and Hermes stand-ins)..."):
            devnet = SolanaDevnet.start(home, port=args.port or DEFAULT_PORT)
        console.print(f"Solana devnet up at {devnet.config.rpc_url} (genesis {devnet.config.genesis_hash}, "
                      f"pid {devnet.config.pid})")
        console.print(f"config: {devnet.paths.config}")
    elif args.action == "down":
        console.print("Solana devnet stopped" if stop_devnet(home) else "no Solana devnet was running")
    elif args.action == "status":
        config = running_config(home)
        if config is None:
            raise NotRunning("no Solana devnet running; start one with `swarm devnet up --chain solana`")
        if args.json:
            _emit_json({"chain": "solana", "rpc_url": config.rpc_url, "genesis_hash": config.genesis_hash,
                        "pid": config.pid, "status": status_lines(config)})
        else:
            for line in status_lines(config):
                console.print(line)
    elif args.action in ("set-price", "align", "mine"):
        from defai_swarm.tools.devnet.solana import control
        if args.action == "mine":
            slot = control.mine(args.blocks, home)
            if args.json:
                return _emit_json({"slot": slot, "mined": args.blocks}) or ExitCode.DONE
            console.print(f"advanced {args.blocks} slot(s); slot {slot}")
            return ExitCode.DONE
        moves = control.set_price(args.symbol, args.price, home) if args.action == "set-price" \
            else control.align_pools(home)
        if args.json:
            return _emit_json([m.model_dump(mode="json") for m in moves]) or ExitCode.DONE
        if args.action == "set-price":
            console.print(f"{args.symbol.upper()}/USD set to {args.price} (Pyth account and Hermes); the Jupiter "
                          f"stand-in's pool follows:")
        _moves_table(moves)
    else:
        return fail(args, f"`swarm devnet {args.action}` is not available for the Solana devnet (its VM has no "
                          f"snapshots); for a fresh world: `swarm devnet down --chain solana && swarm devnet up "
                          f"--chain solana`", ExitCode.ERROR)
    return ExitCode.DONE


def _running_manifest():
    from defai_swarm.tools.devnet import default_manifest_path, running_manifest
    manifest = running_manifest()
    if manifest is None:
        raise NotRunning(f"no devnet running (no live manifest at {default_manifest_path()}); "
                         f"start one with `swarm devnet up`")
    return manifest


def _devnet(args: argparse.Namespace) -> int:
    if args.chain == "solana":
        return _solana_devnet(args)
    from defai_swarm.tools.devnet import Devnet, default_manifest_path, running_manifest, stop_detached
    from defai_swarm.tools.devnet.install import install

    if args.action == "install":
        with _busy("installing anvil and the Uniswap V2 builds from npm (a minute or two the first time)..."):
            prefix = install()
        console.print(f"devnet dependencies installed in {prefix}")
    elif args.action == "up":
        if (manifest := running_manifest()) is not None:
            console.print(f"devnet already running at {manifest.rpc_url} (pid {manifest.anvil_pid}); "
                          f"manifest: {default_manifest_path()}")
            return ExitCode.DONE
        with _busy("starting anvil and deploying Uniswap V2, tokens, pools and feeds..."):
            devnet = Devnet.start(port=args.port or 8545, detach=True, keep_pools_aligned=args.keep_pools_aligned)
        console.print(f"devnet up at {devnet.manifest.rpc_url} (chain {devnet.manifest.chain_id}, pid {devnet.node.pid})")
        console.print(f"manifest: {devnet.manifest_path}")
        if args.keep_pools_aligned:
            console.print("pools are re-aligned to the price feeds before each run (--keep-pools-aligned)")
    elif args.action == "down":
        console.print("devnet stopped" if stop_detached() else "no devnet was running")
    elif args.action == "status":
        return _devnet_status(args)
    else:
        return _devnet_control(args)
    return ExitCode.DONE


def _moves_table(moves) -> None:
    from rich.table import Table

    from defai_swarm.render import amount
    table = Table("pool", "before", "after", "target", "deployer swapped in")
    for m in moves:
        quote = m.pair.split("/")[1]
        table.add_row(m.pair, amount(m.price_before, 6, quote), amount(m.price_after, 6, quote),
                      amount(m.target, 6, quote), m.swapped_in or "-")
    console.print(table)


def _devnet_reset(args: argparse.Namespace, path: Path) -> int:
    """Revert the devnet, then clear its reservations from the spend ledger: the reset reverted the trades they
    count (`defai_swarm.ledger.clear_local_devnet`, which proves the chain is this local devnet; tools may not import
    the ledger, so the two steps meet here)."""
    from datetime import datetime, timezone

    from defai_swarm.ledger import clear_local_devnet, default_ledger_path
    from defai_swarm.tools.devnet import control

    before = datetime.now(timezone.utc)  # reservations made after the revert count trades on the new chain
    result = control.reset(path)
    cleared = clear_local_devnet(path, before=before)
    if args.json:
        return _emit_json({**result.model_dump(mode="json"), "ledger": {
            "path": str(default_ledger_path()), "chain": cleared.chain, "reservations_released": cleared.reservations,
            "usd_today_released": str(cleared.usd_today), "bindings_dropped": cleared.bindings,
            "kept_elsewhere": list(cleared.kept_elsewhere)}}) or ExitCode.DONE
    console.print(f"devnet reset to its freshly deployed state (block {result.block_number}); the trades it "
                  f"reverted no longer count against the daily cap: {cleared.reservations} spend-ledger "
                  f"reservation(s) released (${cleared.usd_today:,.2f} of today's). Audit anchors of earlier runs "
                  f"are gone from this chain: `swarm audit verify` reports them as reset")
    for ledger in cleared.kept_elsewhere:
        console.print(f"note: a day of this devnet's cap is kept in {ledger}, which this reset does not clear; "
                      f"its reservations count until 00:00 UTC")
    return ExitCode.DONE


def _devnet_control(args: argparse.Namespace) -> int:
    from defai_swarm.tools.devnet import control, default_manifest_path

    _running_manifest()
    path = default_manifest_path()
    if args.action == "reset":
        return _devnet_reset(args, path)
    elif args.action == "mine":
        block = control.mine(args.blocks, path)
        if args.json:
            return _emit_json({"block_number": block, "mined": args.blocks}) or ExitCode.DONE
        console.print(f"mined {args.blocks} block(s); head is block {block}")
    elif args.action in ("set-price", "align"):
        if args.action == "set-price":
            moves = control.set_price(args.symbol, args.price, path)
        else:
            moves = control.align_pools(path)
        if args.json:
            return _emit_json([m.model_dump(mode="json") for m in moves]) or ExitCode.DONE
        if args.action == "set-price":
            console.print(f"{args.symbol.upper()}/USD feed set to {args.price}; pools of {args.symbol.upper()} "
                          f"arbitraged to it with the deployer's funds:")
        else:
            console.print("pools arbitraged to the feeds' prices with the deployer's funds:")
        _moves_table(moves)
    return ExitCode.DONE


def pool_price(price: Decimal, reserves: tuple[Decimal, Decimal]) -> Decimal:
    """A pool's price (the ratio of its reserves) to the significant digits the reserves themselves carry in base
    units: further digits of the quotient are division noise (3000.000000000000006000168017424), not data. The
    reserves stay exact in --json; a script wanting the exact ratio divides them."""
    digits = min(len(r.as_tuple().digits) for r in reserves)
    if not price or digits >= 28:  # 28: the precision the quotient was computed to
        return price
    return price.quantize(Decimal(1).scaleb(price.adjusted() - digits + 1))


def price_text(price: Decimal) -> str:
    """A price for people: six decimals, and six significant digits below 1 (0.000333333, not 0.000333)."""
    places = max(6, 5 - price.adjusted()) if price else 6
    return f"{price:,.{places}f}"


def _devnet_status(args: argparse.Namespace) -> int:
    from rich.table import Table

    from defai_swarm.render import amount
    from defai_swarm.tools.devnet.status import devnet_status

    status = devnet_status(_running_manifest())
    if args.json:
        data = status.model_dump(mode="json")
        for pool, p in zip(data["pools"], status.pools, strict=True):
            pool["price"] = format(pool_price(p.price, p.reserves), "f")
        _emit_json(data)
        return ExitCode.DONE
    console.print(f"devnet at {status.rpc_url}, chain {status.chain_id}, block {status.block_number}")
    pools = Table("pool", "address", "reserves", "price")
    for p in status.pools:
        base, quote = p.pair.split("/")
        pools.add_row(p.pair, p.address, f"{p.reserves[0]:,.2f} {base} / {p.reserves[1]:,.2f} {quote}",
                      f"{price_text(p.price)} {quote} per {base}")
    console.print(pools)
    feeds = Table("feed", "price")
    for name, price in status.feeds.items():
        feeds.add_row(name, amount(price, 8, "USD"))
    console.print(feeds)
    return ExitCode.DONE


# ---- swarm commands ----------------------------------------------------------------------------------

def _chain_config_path(args: argparse.Namespace) -> tuple[Path, str]:
    """Which chain configuration a command uses: --config, else the running devnet of --chain."""
    from defai_swarm.chains import read_config
    from defai_swarm.tools.devnet import default_manifest_path, running_manifest

    if given := getattr(args, "config", None) or getattr(args, "manifest", None):
        path = user_path(given)  # `~/...` as a shell would have expanded it
        return path, read_config(path)["family"]
    if getattr(args, "chain", "evm") == "solana":
        from defai_swarm.config import swarm_home
        from defai_swarm.tools.devnet.solana import running_config
        config = running_config(swarm_home())
        if config is None or config.state_dir is None:
            raise NotRunning("no Solana devnet running; start one with `swarm devnet up --chain solana`")
        return Path(config.state_dir) / "config.json", "solana"
    path = default_manifest_path()
    if running_manifest() is None:
        raise NotRunning(f"no devnet running (no live manifest at {path}); start one with `swarm devnet up`")
    return path, "evm"


class _Progress:
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


def _swarm(args: argparse.Namespace, progress: bool = True, display: _Progress | None = None):
    """A Swarm on the chosen chain, with the model from --model or $SWARM_MODEL if one is given. `progress`: a
    person may be watching (task lines, spinners; off for --json and `swarm mcp`); `display` shows the model's
    and the tasks' progress."""
    import os

    from defai_swarm.chains import adapter_class, read_config
    from defai_swarm.core.errors import RpcUnavailable

    path, family = _chain_config_path(args)
    # The policy file first: a mistake in it is reported before any model is loaded or node contacted.
    policy = load_policy(Path(args.policy), adapter_class(family).policy_model) \
        if getattr(args, "policy", None) else None
    backend = None
    human = progress and not getattr(args, "json", False)
    model = getattr(args, "model", None) or os.environ.get("SWARM_MODEL")
    if model:
        from defai_swarm.core.urls import redact_url
        from defai_swarm.llm import load_backend
        shown = redact_url(model) if "://" in model else model  # a server URL's credentials are never shown
        with _busy(f"loading model {shown}...", show=human):
            backend = load_backend(model)
        log.info("model loaded: %s", shown)
    from defai_swarm.api import Swarm

    def on_task(task_id: str, result: dict) -> None:
        from rich.markup import escape

        from defai_swarm.render import humanize
        status = str(result.get("status"))
        log.info("task %s: %s", task_id, status)
        if not human:
            return
        if display is not None:
            display.finished(task_id, status)
        colour = {"ok": "green", "approved": "green", "confirmed": "green", "skipped": "yellow"}.get(status, "red")
        reason = escape(humanize(str(result.get("reason", ""))))  # reasons quote chain data: never markup
        if status in ("refused", "skipped") and reason:
            reason = "(reason below)"
        console.print(f"  [{colour}]{escape(status):>9}[/{colour}]  {escape(task_id)}" + (f"  {reason}" if reason else ""))

    try:
        swarm = Swarm.from_config(path, policy=policy, backend=backend, anchor=not getattr(args, "no_anchor", False),
                                  on_task=on_task, k=args.k, on_progress=display.task if display else None)
    except RpcUnavailable as exc:
        raise RpcUnavailable(_unreachable(path, family, exc)) from None
    if family == "evm" and read_config(path).get("keep_pools_aligned") and not swarm.before_run:
        from defai_swarm.tools.devnet.control import align_pools  # `swarm devnet up --keep-pools-aligned`: before each run

        def align() -> None:
            align_pools(path)
        swarm.before_run.append(align)
    return swarm


def _unreachable(path: Path, family: str, exc: Exception) -> str:
    """One line for a node that does not answer: where we looked, and what to do about it."""
    from urllib.parse import urlparse

    from defai_swarm.chains import read_config

    url = str(read_config(path).get("rpc_url") or "?")
    host = urlparse(url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        up = "swarm devnet up" + (" --chain solana" if family == "solana" else "")
        return f"cannot reach the RPC at {url}; is the devnet running? `{up}` ({exc}; chain configuration: {path})"
    return f"cannot reach the RPC at {url} ({exc}); check `rpc_url` in {path} and the network"


def load_policy(path: str | Path, model):
    """The --policy file (`~` is the home directory) as the chain's policy model. Every problem is one line
    (ConfigError) naming the file, the field and what is wrong with it: a missing or unreadable file, malformed
    JSON, a field the policy does not have (a typo such as `max_tradeusd` must never be ignored), or a value of
    the wrong type."""
    import difflib

    from pydantic import ValidationError

    from defai_swarm.core.errors import ConfigError

    path = user_path(path)

    def fail(message: str) -> Exception:
        return ConfigError(f"policy file {path}: {message}")

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail("no such file; check the --policy path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot be read ({getattr(exc, 'strerror', None) or exc}); give a readable JSON file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); fix the syntax: "
                   f"a policy is one JSON object of fields") from None
    if not isinstance(data, dict):
        raise fail(f"a policy is a JSON object of fields, not a {type(data).__name__}; "
                   f"write it as {{\"field\": value, ...}}")
    known = sorted(model.model_fields)
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "(the whole policy)"
            if error["type"] == "extra_forbidden":
                close = difflib.get_close_matches(str(error["loc"][0]), known, n=1)
                hint = f"did you mean '{close[0]}'?" if close else "known fields: " + ", ".join(known)
                problems.append(f"unknown field '{field}' ({hint}); remove or rename it")
            else:
                got = json.dumps(error.get("input"), default=str)
                got = got if len(got) <= 60 else got[:57] + "..."
                problems.append(f"field '{field}': {error['msg']} (got {got}); fix its value")
        raise fail("; ".join(problems)) from None


def _decimals_of(swarm):
    def lookup(symbol: str) -> int | None:
        try:
            return int(swarm.chain.token(symbol).decimals)
        except Exception:
            return None
    return lookup


def _result_json(result) -> dict:
    data = result.model_dump(mode="json", exclude={"plan"})
    data["plan"] = result.plan.model_dump(mode="json", exclude={"thoughts", "trace", "operations"}) \
        if result.plan is not None else None
    data["exit_code"] = int(for_status(result.status))
    return data


def _print_result(result, swarm, as_json: bool = False) -> int:
    from rich.markup import escape

    from defai_swarm.render import answers, humanize, labelled_txs, refusals, token_out_of

    code = for_status(result.status)
    if as_json:
        _emit_json(_result_json(result))
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


def _run(args: argparse.Namespace) -> int:
    display = _Progress(args.k, show=not args.json)
    swarm = _swarm(args, display=display)
    try:
        if not args.json:
            if swarm.backend is None:
                err.print("[yellow]no model configured (--model or SWARM_MODEL): planning with the deterministic "
                          "parser only[/yellow]")
            console.print(f"intent: {args.intent}")
        with display:
            _observe(swarm, display)
            result = swarm.run(args.intent, run_id=args.run_id)
        return _print_result(result, swarm, args.json)
    finally:
        swarm.close()


def _observe(swarm, progress: _Progress) -> None:
    """The model's observers drive the planning progress, where the backend has them: `on_call` (a call
    finished), `on_progress` (a token generated)."""
    backend = getattr(swarm, "backend", None)
    if backend is not None and hasattr(backend, "on_call") and backend.on_call is None:
        backend.on_call = progress
    if progress.shown and backend is not None and hasattr(backend, "on_progress") and backend.on_progress is None:
        backend.on_progress = progress.token  # only when shown: a watched server call streams


def _resume(args: argparse.Namespace) -> int:
    display = _Progress(args.k, show=not args.json)
    swarm = _swarm(args, display=display)
    try:
        approve = True if args.approve else False if args.decline else None
        with display:  # a resumed schedule still waits for its blocks
            result = swarm.resume(args.run_id, approve=approve)
        return _print_result(result, swarm, args.json)
    finally:
        swarm.close()


def _plan(args: argparse.Namespace) -> int:
    display = _Progress(args.k, show=not args.json)
    swarm = _swarm(args, display=display)
    try:
        with display:
            _observe(swarm, display)
            plan = swarm.plan(args.intent)
        log.info("plan %s: %s", "ok" if plan.ok else "refused", plan.refusal_reason or
                 f"{len(plan.task_graph.tasks) if plan.task_graph else 0} tasks; model: {plan.model_summary}")
        code = ExitCode.DONE if plan.ok else ExitCode.REFUSED
        if args.json:
            data = plan.model_dump(mode="json")
            data["exit_code"] = int(code)
            _emit_json(data)
            return code
        from defai_swarm.render import plan_tree
        console.print(plan_tree(plan))
        if args.thoughts:
            for thought in plan.thoughts:
                console.print_json(thought.model_dump_json())
        return code
    finally:
        swarm.close()


def _audit(args: argparse.Namespace) -> int:
    from defai_swarm.audit_cli import audit_command
    return audit_command(args, console)


def _new(args: argparse.Namespace) -> int:
    from defai_swarm.starter import StarterError, create
    try:
        path = create(args.name, user_path(args.dir) if args.dir else None)
    except StarterError as exc:
        return fail(args, str(exc), ExitCode.ERROR)
    console.print(f"created {path}: cd {path} && python -m pytest")
    return ExitCode.DONE


def _mcp(args: argparse.Namespace) -> int:
    try:
        from defai_swarm.integrations.mcp_server import run_mcp
    except ImportError as exc:
        return fail(args, f"the MCP server is not available in this install ({exc}); install the `mcp` extra: "
                          f"pip install 'defai-swarm[mcp]'", ExitCode.ERROR)
    return int(run_mcp(args))


def _add_mcp_arguments(parser: argparse.ArgumentParser) -> None:
    try:
        from defai_swarm.integrations.mcp_server import add_mcp_arguments
    except ImportError:
        return
    add_mcp_arguments(parser)


# ---- the parser --------------------------------------------------------------------------------------

def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("defai-swarm")
    except PackageNotFoundError:
        return "unknown"


class UsageError(Exception):
    """argparse's complaint about the command line, raised rather than exiting so that `main` tells it once, in the
    same way as any failure (and, when the script asked for --json, as a JSON error document too)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str):
        super().__init__(message)
        self.parser, self.message = parser, message


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors raise UsageError (its subcommands' parsers are of this class too)."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(self, message)


class _VersionAction(argparse.Action):
    """--version, reading the installed version only when asked (importlib.metadata is slow to import)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(f"swarm (defai-swarm) {_version()}\n")
        parser.exit()


def _global_options(suppress: bool) -> _Parser:
    """--debug, --log-level, --log-format: accepted before or after the command (`swarm run ... --debug`)."""
    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    p = _Parser(add_help=False)
    p.add_argument("--debug", action="store_true", default=default(False),
                   help="show the full traceback of an error (and log at debug level)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default=default(None),
                   help="log level of the library's loggers, on stderr (default: error, or $SWARM_LOG_LEVEL; "
                        "warning also shows RPC retries)")
    p.add_argument("--log-format", choices=["text", "json"], default=default(None),
                   help="log lines as text or one JSON object per line (default: text, or $SWARM_LOG_FORMAT)")
    return p


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; `argv` (when given) lets it skip importing optional commands' modules it will not need."""

    def argv_wants(command: str) -> bool:
        return argv is None or command in argv

    formatter = argparse.RawDescriptionHelpFormatter
    common = _global_options(suppress=True)
    parser = _Parser(prog="swarm", description="DeFAI agent swarm: plan an intent, check it against a risk policy, run "
                     "it on chain, audit every step.", epilog=EXIT_CODES_HELP, formatter_class=formatter,
                     parents=[_global_options(suppress=False)])
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    parser.add_argument("--json", action="store_true", default=False,
                        help="print one JSON document on stdout (plan, run, resume, audit runs|show|verify|replay, "
                             "devnet status|reset|set-price|mine|align; also accepted after the command); a failure "
                             "prints {\"error\": ..., \"exit_code\": N} there")
    parser.set_defaults(json_output=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def json_flag(p: argparse.ArgumentParser, help: str | None) -> argparse.ArgumentParser:
        """--json at every level (`swarm --json audit verify RUN`, `swarm audit verify --json RUN`, ... RUN --json);
        SUPPRESS keeps one given earlier. Without `help` it is hidden and `_check` refuses it (no JSON output)."""
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=help or argparse.SUPPRESS)
        if help:
            p.set_defaults(json_output=True)
        return p

    def command(name: str, help: str, json_help: str | None = None) -> argparse.ArgumentParser:
        return json_flag(sub.add_parser(name, help=help, description=help, parents=[common], formatter_class=formatter,
                                        epilog=EXIT_CODES_HELP), json_help)

    # devnet -----------------------------------------------------------------------------------------------
    devnet = command("devnet", "local devnet: EVM (anvil + Uniswap V2) or Solana (LiteSVM): start, inspect, steer")
    actions = devnet.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help: str, has_json: bool = False) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=help, description=help, parents=[common], formatter_class=formatter)
        p.add_argument("--chain", choices=["evm", "solana"], default="evm", help="which devnet (default: evm)")
        json_flag(p, "print one JSON document instead of text" if has_json else None)
        p.set_defaults(func=_devnet)
        return p

    action("install", "fetch the devnet's parts (anvil, Uniswap V2 builds, the test browser) from npm, once")
    up = action("up", "start the devnet in the background and write its manifest under $SWARM_HOME")
    up.add_argument("--port", type=int, help="RPC port on 127.0.0.1 (default: 8545 for EVM, 8899 for Solana)")
    up.add_argument("--keep-pools-aligned", action="store_true",
                    help="re-align every pool to the price feeds before each run (never between a quote and a send); "
                         "off by default: trades then move pool prices as on a real chain")
    action("down", "stop the devnet and remove its manifest")
    action("status", "pools (reserves, prices), feeds, block number", has_json=True)
    action("reset", "back to the freshly deployed state (a snapshot taken after deploy); the devnet's reservations "
           "in the spend ledger are released with the trades they counted (its daily cap is clear again)",
           has_json=True)
    setp = action("set-price", "move a token's price feed and arbitrage every pool of that token to the new price "
                  "(with the deployer's funds; local devnet only)", has_json=True)
    setp.add_argument("symbol", help="token whose USD feed moves, e.g. ETH")
    setp.add_argument("price", help="new USD price, e.g. 3500")
    mine = action("mine", "mine empty blocks (e.g. for the DCA bot's every-N-blocks schedule)", has_json=True)
    mine.add_argument("blocks", type=int, nargs="?", default=1, help="how many blocks (default: 1)")
    action("align", "arbitrage every pool back to the feeds' prices once (what --keep-pools-aligned does per run)",
           has_json=True)

    # run / resume / plan -----------------------------------------------------------------------------------
    def swarm_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--chain", choices=["evm", "solana"], default="evm",
                       help="which local devnet to use when no --config is given (default: evm)")
        p.add_argument("--config", help="chain configuration JSON (any chain; its \"family\" picks the adapter)")
        p.add_argument("--manifest", help="EVM devnet manifest (default: the running devnet's)")
        p.add_argument("--model", help="DeepSeek-R1 GGUF file or http(s):// model server "
                                       "(default: $SWARM_MODEL; none: deterministic parser only)")
        p.add_argument("--policy", help="risk policy JSON file (fields: tools/evm/policy.py RiskPolicy, "
                                        "tools/solana/policy.py SolanaRiskPolicy)")
        p.add_argument("--no-anchor", action="store_true", help="do not anchor the audit checkpoint on-chain")
        p.add_argument("--k", type=int, default=3, help="model readings per intent (each is one R1 call; CPU: ~1 min each)")

    result_json = "print one JSON document (the result) instead of text"
    run = command("run", "plan and run an intent (exit code: its outcome, see below)", result_json)
    run.add_argument("intent", help="what to do, e.g. \"swap 1 ETH to USDC if ETH is above 2500, max 0.5%% slippage\"")
    run.add_argument("--run-id", help="id for the new run (default: a fresh random id); an existing id is refused")
    swarm_options(run)
    run.set_defaults(func=_run)
    resume = command("resume", "resume a run (after a crash or an approval request)", result_json)
    resume.add_argument("run_id", help="the run to continue (see `swarm audit runs`)")
    decision = resume.add_mutually_exclusive_group()
    decision.add_argument("--approve", action="store_true", help="approve the pending human-approval request")
    decision.add_argument("--decline", action="store_true", help="decline it (nothing is traded)")
    swarm_options(resume)
    resume.set_defaults(func=_resume)
    plan = command("plan", "plan an intent without running it: the task graph as a tree (--json: the full plan)",
                   "print one JSON document (the full plan) instead of the tree")
    plan.add_argument("intent", help="what to plan")
    plan.add_argument("--thoughts", action="store_true", help="also print every thought (candidate plan)")
    swarm_options(plan)
    plan.set_defaults(func=_plan)

    # audit ------------------------------------------------------------------------------------------------
    audit = command("audit", "inspect and verify the audit log")
    audit.set_defaults(func=_audit)
    audit_actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    # every action accepts the same options (each says which actions it is for), before or after the run id
    shared = _Parser(add_help=False)
    shared.add_argument("--bundle", type=user_path,
                        help="verify (or, with html, show) an exported bundle file instead of the local log")
    shared.add_argument("--vkey", help="trusted checkpoint key (verify: default this machine's audit key; html/serve: "
                                       "no default, the page then says self-signed, unpinned); a bundle checked "
                                       "only against its own key is SELF-SIGNED, never a PASS")
    shared.add_argument("--rpc", help="EVM RPC to look the anchor up on (default: the running devnet's); with --rpc "
                                      "alone nothing pins the sender: add --anchor-sender")
    shared.add_argument("--config", help="chain configuration to look the anchor up on (default: the running devnet "
                                         "of the anchor's chain family)")
    shared.add_argument("--anchor-sender", help="the operator's account the anchor must come from (default: the "
                        "wallet of the chain configuration in use: SWARM_PRIVATE_KEY or a local devnet's dev account; "
                        "Solana: wallet_path or SWARM_SOLANA_KEYPAIR)")
    shared.add_argument("--anchor-window", type=float, metavar="SECONDS", help="latest the anchor may be mined after "
                        "the newest entry it covers (default: 3600)")
    shared.add_argument("-o", "--output", type=user_path,
                        help="file to write: the bundle (export, default RUN.bundle.json) or the page (html, default "
                             "RUN.html)")
    shared.add_argument("--port", type=int, help="port for serve on 127.0.0.1 (default: 8765)")

    def audit_action(name: str, help: str, run_id: str | None, has_json: bool = False) -> argparse.ArgumentParser:
        """`run_id`: None (no run id), "required" or "optional" (the action also takes --bundle instead)."""
        p = audit_actions.add_parser(name, help=help, description=help, parents=[common, shared],
                                     formatter_class=formatter, epilog=EXIT_CODES_HELP)
        if run_id is not None:
            p.add_argument("run_id", metavar="RUN", nargs="?" if run_id == "optional" else None,
                           help="the run (see `swarm audit runs`)" + (" or --bundle FILE" if run_id == "optional"
                                                                        else ""))
        else:
            p.set_defaults(run_id=None)
        return json_flag(p, "print one JSON document instead of text" if has_json else None)

    audit_action("runs", "every run, newest last", None, has_json=True)
    audit_action("show", "a run's entries, one line each", "required", has_json=True)
    audit_action("verify", "signatures, Merkle proofs and the on-chain anchor of a run (or of a bundle file)",
                 "optional", has_json=True)
    audit_action("replay", "re-run a run's recorded decisions from its log", "required", has_json=True)
    audit_action("export", "write a run's bundle file (its entries, signed checkpoint and anchor)", "required")
    audit_action("html", "one self-contained page that shows a run (or a bundle) and verifies it in the browser",
                 "optional")
    audit_action("serve", "serve those pages on 127.0.0.1", None)

    new = command("new", "create a hackathon starter project")
    new.add_argument("name", help="project (and Python package) name")
    new.add_argument("--dir", help="where to create it (default: ./NAME)")
    new.set_defaults(func=_new)

    mcp = command("mcp", "serve the swarm's tools to an MCP client (Model Context Protocol)")
    if argv_wants("mcp"):
        _add_mcp_arguments(mcp)  # imported only when `mcp` is the command: keeps `swarm --help` fast
    mcp.set_defaults(func=_mcp)
    return parser


# ---- errors ------------------------------------------------------------------------------------------

def classify(exc: BaseException) -> tuple[ExitCode, str]:
    """The exit code and one line for an error that ended a command."""
    from defai_swarm.core.errors import Refused, SwarmError

    message = str(exc).strip() or type(exc).__name__
    if isinstance(exc, Refused):
        return ExitCode.REFUSED, message
    if isinstance(exc, (SwarmError, NotRunning, FileNotFoundError)):
        return ExitCode.ERROR, message
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"DevnetError", "DevnetInstallError", "SolanaDevnetError", "ModelError"}:
        return ExitCode.ERROR, message
    if isinstance(exc, KeyError):  # e.g. resume of a run id this machine does not have
        return ExitCode.USAGE, message.strip("'\"")
    return ExitCode.ERROR, f"unexpected {type(exc).__name__}: {message} (run again with --debug for the traceback)"


def _reached(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The (sub)command parser that argv reaches: `swarm new x --json` is `swarm new`'s mistake, though argparse
    reports leftover arguments from the top level."""
    for token in argv:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if token == "--" or not subparsers:
            break
        parser = subparsers[0].choices.get(token, parser)
    return parser


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What argparse cannot say: --json only where a command has a JSON document (a script must never parse a
    person's text), and a run id or --bundle for `audit verify|html`."""
    if args.json and not args.json_output:
        raise UsageError(parser, f"`swarm {_command_of(args)}` has no JSON output; drop --json")
    if args.command == "audit" and args.action in ("verify", "html") and not (args.run_id or args.bundle):
        raise UsageError(parser, f"`swarm audit {args.action}` needs a run id or --bundle FILE "
                                 f"(see `swarm audit runs`)")


def _wants_json(argv: list[str]) -> bool:
    """--json anywhere among the options (not after `--`): the script wants its failure as JSON too."""
    return "--json" in (argv[:argv.index("--")] if "--" in argv else argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
        _check(_reached(parser, argv), args)
    except UsageError as exc:  # argparse's usage and message on stderr, as it prints them, and exit 2
        where = _reached(parser, argv) if exc.parser is parser else exc.parser
        where.print_usage(sys.stderr)
        sys.stderr.write(f"{where.prog}: error: {exc.message}\n")
        if _wants_json(argv):
            command = where.prog.removeprefix(parser.prog).strip() or None
            _emit_json(error_document(exc.message, ExitCode.USAGE, command))
        return ExitCode.USAGE
    from defai_swarm import logs
    handler = logs.setup("debug" if args.debug and not args.log_level else args.log_level, args.log_format)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # every error: one line; the traceback only with --debug
        code, message = classify(exc)
        message = logs.redact(message)  # the last guard: a registered secret (a key, a URL's password) never shown
        log.debug("command failed", exc_info=True)
        if args.debug:
            import traceback
            traceback.print_exc()
        return fail(args, message, code)
    finally:
        logs.teardown(handler)


if __name__ == "__main__":
    sys.exit(main())
