"""The `swarm` command line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console(soft_wrap=True)  # messages are not hard-wrapped: they may be grepped or copied


def _solana_devnet(args: argparse.Namespace) -> int:
    from swarm.config import swarm_home
    from tools.devnet.solana import DEFAULT_PORT, SolanaDevnet, SolanaDevnetError, running_config, status_lines, stop_devnet

    home = swarm_home()
    try:
        if args.action == "install":
            console.print("the Solana devnet needs nothing beyond the Python package (LiteSVM ships in solders)")
        elif args.action == "up":
            if (config := running_config(home)) is not None:
                console.print(f"Solana devnet already running at {config.rpc_url} (pid {config.pid}); "
                              f"config: {config.state_dir}/config.json")
                return 0
            with console.status("starting the Solana devnet (LiteSVM, Jupiter and Hermes stand-ins)..."):
                devnet = SolanaDevnet.start(home, port=args.port or DEFAULT_PORT)
            console.print(f"Solana devnet up at {devnet.config.rpc_url} (genesis {devnet.config.genesis_hash}, "
                          f"pid {devnet.config.pid})")
            console.print(f"config: {devnet.paths.config}")
        elif args.action == "down":
            console.print("Solana devnet stopped" if stop_devnet(home) else "no Solana devnet was running")
        elif args.action == "status":
            config = running_config(home)
            if config is None:
                console.print("no Solana devnet running; start one with `swarm devnet up --chain solana`")
                return 1
            for line in status_lines(config):
                console.print(line)
    except SolanaDevnetError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    return 0


def _devnet(args: argparse.Namespace) -> int:
    if args.chain == "solana":
        return _solana_devnet(args)
    from tools.devnet import Devnet, DevnetError, default_manifest_path, running_manifest, stop_detached
    from tools.devnet.install import DevnetInstallError, install

    try:
        if args.action == "install":
            console.print(f"devnet dependencies installed in {install()}")
        elif args.action == "up":
            if (manifest := running_manifest()) is not None:
                console.print(f"devnet already running at {manifest.rpc_url} (pid {manifest.anvil_pid}); "
                              f"manifest: {default_manifest_path()}")
                return 0
            with console.status("starting anvil and deploying Uniswap V2, tokens, pools and feeds..."):
                devnet = Devnet.start(port=args.port or 8545, detach=True)
            console.print(f"devnet up at {devnet.manifest.rpc_url} (chain {devnet.manifest.chain_id}, pid {devnet.node.pid})")
            console.print(f"manifest: {devnet.manifest_path}")
        elif args.action == "down":
            console.print("devnet stopped" if stop_detached() else "no devnet was running")
        elif args.action == "status":
            return _devnet_status()
    except (DevnetError, DevnetInstallError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    return 0


def _devnet_status() -> int:
    from tools.devnet import default_manifest_path, running_manifest
    from tools.devnet.status import devnet_status

    manifest = running_manifest()
    if manifest is None:
        console.print(f"no devnet running (no live manifest at {default_manifest_path()}); start one with `swarm devnet up`")
        return 1
    status = devnet_status(manifest)
    console.print(f"devnet at {status.rpc_url}, chain {status.chain_id}, block {status.block_number}")
    pools = Table("pool", "address", "reserves", "price")
    for p in status.pools:
        base, quote = p.pair.split("/")
        pools.add_row(p.pair, p.address, f"{p.reserves[0]:,.2f} {base} / {p.reserves[1]:,.2f} {quote}",
                      f"{p.price:,.6f} {quote} per {base}")
    console.print(pools)
    feeds = Table("feed", "price")
    for name, price in status.feeds.items():
        feeds.add_row(name, f"{price:,.8f}")
    console.print(feeds)
    return 0


def _chain_config_path(args: argparse.Namespace) -> tuple[Path, str]:
    """Which chain configuration a command uses: --config, else the running devnet of --chain."""
    from swarm.chains import read_config
    from tools.devnet import default_manifest_path, running_manifest

    if getattr(args, "config", None):
        path = Path(args.config)
        return path, read_config(path)["family"]
    if getattr(args, "manifest", None):
        return Path(args.manifest), "evm"
    if getattr(args, "chain", "evm") == "solana":
        from swarm.config import swarm_home
        from tools.devnet.solana import running_config
        config = running_config(swarm_home())
        if config is None or config.state_dir is None:
            raise SystemExit("no Solana devnet running; start one with `swarm devnet up --chain solana`")
        return Path(config.state_dir) / "config.json", "solana"
    path = default_manifest_path()
    if running_manifest() is None:
        raise SystemExit(f"no devnet running (no live manifest at {path}); start one with `swarm devnet up`")
    return path, "evm"


def _swarm(args: argparse.Namespace):
    """A Swarm on the chosen chain, with the model from --model or $SWARM_MODEL if one is given."""
    import os
    from swarm.api import Swarm
    from swarm.chains import adapter_class
    from swarm.core.errors import RpcUnavailable

    path, family = _chain_config_path(args)
    # The policy file first: a mistake in it is reported before any model is loaded or node contacted.
    policy = _load_policy(Path(args.policy), adapter_class(family).policy_model) \
        if getattr(args, "policy", None) else None
    backend = None
    model = getattr(args, "model", None) or os.environ.get("SWARM_MODEL")
    if model:
        from swarm.llm import load_backend
        with console.status(f"loading model {model}..."):
            backend = load_backend(model)

    def progress(task_id: str, result: dict) -> None:
        from rich.markup import escape
        colour = {"ok": "green", "approved": "green", "confirmed": "green", "skipped": "yellow"}.get(
            str(result.get("status")), "red")
        reason = escape(str(result.get("reason", "")))  # reasons quote chain data: never read it as markup
        console.print(f"  [{colour}]{escape(str(result.get('status'))):>9}[/{colour}]  {escape(task_id)}"
                      + (f"  {reason}" if reason else ""))

    try:
        return Swarm.from_config(path, policy=policy, backend=backend, anchor=not getattr(args, "no_anchor", False),
                                 on_task=progress, k=args.k)
    except RpcUnavailable as exc:
        raise RpcUnavailable(_unreachable(path, family, exc)) from None


def _unreachable(path: Path, family: str, exc: Exception) -> str:
    """One line for a node that does not answer: where we looked, and what to do about it."""
    from urllib.parse import urlparse

    from rich.markup import escape
    from swarm.chains import read_config

    url = str(read_config(path).get("rpc_url") or "?")
    host = urlparse(url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        up = "swarm devnet up" + (" --chain solana" if family == "solana" else "")
        return escape(f"cannot reach the RPC at {url}; is the devnet running? `{up}` ({exc}; chain configuration: {path})")
    return escape(f"cannot reach the RPC at {url} ({exc}); check `rpc_url` in {path} and the network")


def _load_policy(path: Path, model):
    """The --policy file as the chain's policy model. Every problem is one line (ConfigError) naming the file,
    the field and what is wrong with it: a missing or unreadable file, malformed JSON, a field the policy does
    not have (a typo such as `max_tradeusd` must never be ignored), or a value of the wrong type."""
    import difflib
    import json

    from pydantic import ValidationError
    from rich.markup import escape
    from swarm.core.errors import ConfigError

    def fail(message: str) -> Exception:
        return ConfigError(escape(f"policy file {path}: {message}"))

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


def _print_result(result) -> int:
    colour = {"done": "green", "skipped": "yellow", "awaiting_approval": "yellow"}.get(result.status, "red")
    console.print(f"run [bold]{result.run_id}[/bold]: [{colour}]{result.status}[/{colour}]")
    for reason in result.reasons:
        console.print(f"  reason: {reason}")
    for tx in result.tx_hashes:
        console.print(f"  tx: {tx}")
    if result.pending_approval:
        for req in result.pending_approval:
            console.print(f"  approval needed: {req['question']}  ->  swarm resume {result.run_id} --approve|--decline")
    if result.anchor:
        console.print(f"  audit checkpoint anchored in tx {result.anchor['tx_id']}; check with: swarm audit verify {result.run_id}")
    return 0 if result.status in ("done", "skipped", "awaiting_approval") else 2


def _run(args: argparse.Namespace) -> int:
    swarm = _swarm(args)
    try:
        if swarm.backend is None:
            console.print("[yellow]no model configured (--model or SWARM_MODEL): planning with the deterministic parser only[/yellow]")
        console.print(f"intent: {args.intent}")
        return _print_result(swarm.run(args.intent, run_id=args.run_id))
    finally:
        swarm.close()


def _resume(args: argparse.Namespace) -> int:
    swarm = _swarm(args)
    try:
        approve = True if args.approve else False if args.decline else None
        return _print_result(swarm.resume(args.run_id, approve=approve))
    finally:
        swarm.close()


def _plan(args: argparse.Namespace) -> int:
    swarm = _swarm(args)
    try:
        plan = swarm.plan(args.intent)
        console.print_json(plan.model_dump_json(exclude={"thoughts"}) if not args.thoughts else plan.model_dump_json())
        return 0 if plan.ok else 2
    finally:
        swarm.close()


def _audit(args: argparse.Namespace) -> int:
    from swarm.audit_cli import audit_command
    return audit_command(args, console)


def _new(args: argparse.Namespace) -> int:
    from swarm.starter import StarterError, create
    try:
        path = create(args.name, Path(args.dir) if args.dir else None)
    except StarterError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    console.print(f"created {path}: cd {path} && python -m pytest")
    return 0


def _mcp(args: argparse.Namespace) -> int:
    try:
        from swarm.integrations.mcp_server import run_mcp
    except ImportError as exc:
        console.print(f"[red]error:[/red] the MCP server is not available in this install ({exc}); "
                      f"update defai-swarm or install its `mcp` extra")
        return 1
    return int(run_mcp(args))


def _add_mcp_arguments(parser: argparse.ArgumentParser) -> None:
    try:
        from swarm.integrations.mcp_server import add_mcp_arguments
    except ImportError:
        return
    add_mcp_arguments(parser)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; `argv` (when given) lets it skip importing optional commands' modules it will not need."""

    def argv_wants(command: str) -> bool:
        return argv is None or command in argv

    parser = argparse.ArgumentParser(prog="swarm", description="DeFAI agent swarm")
    sub = parser.add_subparsers(dest="command", required=True)
    devnet = sub.add_parser("devnet", help="local devnet: EVM (anvil + Uniswap V2) or Solana (LiteSVM)")
    devnet.add_argument("action", choices=["install", "up", "down", "status"])
    devnet.add_argument("--chain", choices=["evm", "solana"], default="evm", help="which devnet (default: evm)")
    devnet.add_argument("--port", type=int, help="RPC port (default: 8545 for EVM, 8899 for Solana)")
    devnet.set_defaults(func=_devnet)

    def swarm_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--chain", choices=["evm", "solana"], default="evm",
                       help="which local devnet to use when no --config is given (default: evm)")
        p.add_argument("--config", help="chain configuration JSON (any chain; its \"family\" picks the adapter)")
        p.add_argument("--manifest", help="EVM devnet manifest (default: the running devnet's)")
        p.add_argument("--model", help="DeepSeek-R1 GGUF file (default: $SWARM_MODEL; none: parser only)")
        p.add_argument("--policy", help="risk policy JSON file (fields: tools/evm/policy.py RiskPolicy, "
                                        "tools/solana/policy.py SolanaRiskPolicy)")
        p.add_argument("--no-anchor", action="store_true", help="do not anchor the audit checkpoint on-chain")
        p.add_argument("--k", type=int, default=3, help="model readings per intent (each is one R1 call; CPU: ~1 min each)")

    run = sub.add_parser("run", help="plan and run an intent on the devnet")
    run.add_argument("intent")
    run.add_argument("--run-id")
    swarm_options(run)
    run.set_defaults(func=_run)
    resume = sub.add_parser("resume", help="resume a run (after a crash or an approval request)")
    resume.add_argument("run_id")
    decision = resume.add_mutually_exclusive_group()
    decision.add_argument("--approve", action="store_true")
    decision.add_argument("--decline", action="store_true")
    swarm_options(resume)
    resume.set_defaults(func=_resume)
    plan = sub.add_parser("plan", help="plan an intent without running it")
    plan.add_argument("intent")
    plan.add_argument("--thoughts", action="store_true", help="include every thought")
    swarm_options(plan)
    plan.set_defaults(func=_plan)

    audit = sub.add_parser("audit", help="inspect and verify the audit log")
    audit.add_argument("action", choices=["runs", "show", "verify", "replay", "export", "html", "serve"],
                       help="html: write one self-contained page that shows the run and verifies its log in the "
                            "browser; serve: those pages for every run, on 127.0.0.1 only")
    audit.add_argument("run_id", nargs="?")
    audit.add_argument("--bundle", help="verify (or, with html, show) an exported bundle file instead of the local log")
    audit.add_argument("--vkey", help="trusted checkpoint key (verify: default this machine's audit key; html/serve: "
                                      "no default, the page then says self-signed, unpinned); a bundle checked "
                                      "only against its own key is SELF-SIGNED, never a PASS")
    audit.add_argument("--rpc", help="EVM RPC to look the anchor up on (default: the running devnet's); with --rpc "
                                     "alone nothing pins the sender: add --anchor-sender")
    audit.add_argument("--config", help="chain configuration to look the anchor up on (default: the running devnet "
                                        "of the anchor's chain family)")
    audit.add_argument("--anchor-sender", help="the operator's account the anchor must come from (default: the wallet "
                       "of the chain configuration in use: SWARM_PRIVATE_KEY or a local devnet's dev account; Solana: "
                       "wallet_path or SWARM_SOLANA_KEYPAIR)")
    audit.add_argument("--anchor-window", type=float, metavar="SECONDS", help="latest the anchor may be mined after "
                       "the newest entry it covers (default: 3600)")
    audit.add_argument("-o", "--output", help="file to write: the bundle (export, default RUN.bundle.json) or the "
                                              "page (html, default RUN.html)")
    audit.add_argument("--port", type=int, help="port for serve on 127.0.0.1 (default: 8765)")
    audit.set_defaults(func=_audit)

    new = sub.add_parser("new", help="create a hackathon starter project")
    new.add_argument("name")
    new.add_argument("--dir", help="where to create it (default: ./NAME)")
    new.set_defaults(func=_new)

    mcp = sub.add_parser("mcp", help="serve the swarm's tools to an MCP client (Model Context Protocol)")
    if argv_wants("mcp"):
        _add_mcp_arguments(mcp)  # imported only when `mcp` is the command: keeps `swarm --help` fast
    mcp.set_defaults(func=_mcp)
    return parser


def main(argv: list[str] | None = None) -> int:
    from swarm.core.errors import SwarmError

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        return args.func(args)
    except (SwarmError, FileNotFoundError) as exc:  # a user-facing problem: one line, no traceback
        console.print(f"[red]error:[/red] {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
