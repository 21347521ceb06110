"""`swarm`'s command line: every command, its options and help, and what argparse cannot check itself.

Building the parser imports no handler's heavy modules (each handler imports its own when it runs), and `swarm mcp`'s
options come from the MCP server's module only when `mcp` is the command: `swarm --help` stays fast.
"""
from __future__ import annotations

import argparse
import sys

from defai_swarm.cli import delegated, devnet_commands, run_commands
from defai_swarm.cli.errors import UsageError
from defai_swarm.cli.output import command_of
from defai_swarm.config import user_path
from defai_swarm.tools.devnet.local import DEFAULT_FAMILY
from defai_swarm.tools.devnet.local import names as devnet_names

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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("defai-swarm")
    except PackageNotFoundError:
        return "unknown"


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
        SUPPRESS keeps one given earlier. Without `help` it is hidden and `check` refuses it (no JSON output)."""
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
        p.add_argument("--chain", choices=devnet_names(), default=DEFAULT_FAMILY,
                       help=f"which devnet (default: {DEFAULT_FAMILY})")
        json_flag(p, "print one JSON document instead of text" if has_json else None)
        p.set_defaults(func=devnet_commands.devnet)
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
        p.add_argument("--chain", choices=devnet_names(), default=DEFAULT_FAMILY,
                       help=f"which local devnet to use when no --config is given (default: {DEFAULT_FAMILY})")
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
    run.set_defaults(func=run_commands.run)
    resume = command("resume", "resume a run (after a crash or an approval request)", result_json)
    resume.add_argument("run_id", help="the run to continue (see `swarm audit runs`)")
    decision = resume.add_mutually_exclusive_group()
    decision.add_argument("--approve", action="store_true", help="approve the pending human-approval request")
    decision.add_argument("--decline", action="store_true", help="decline it (nothing is traded)")
    swarm_options(resume)
    resume.set_defaults(func=run_commands.resume)
    plan = command("plan", "plan an intent without running it: the task graph as a tree (--json: the full plan)",
                   "print one JSON document (the full plan) instead of the tree")
    plan.add_argument("intent", help="what to plan")
    plan.add_argument("--thoughts", action="store_true", help="also print every thought (candidate plan)")
    swarm_options(plan)
    plan.set_defaults(func=run_commands.plan)

    # audit ------------------------------------------------------------------------------------------------
    audit = command("audit", "inspect and verify the audit log")
    audit.set_defaults(func=delegated.audit)
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
    new.set_defaults(func=delegated.new)

    mcp = command("mcp", "serve the swarm's tools to an MCP client (Model Context Protocol)")
    if argv_wants("mcp"):
        delegated.add_mcp_arguments(mcp)  # imported only when `mcp` is the command: keeps `swarm --help` fast
    mcp.set_defaults(func=delegated.mcp)
    return parser


def reached(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The (sub)command parser that argv reaches: `swarm new x --json` is `swarm new`'s mistake, though argparse
    reports leftover arguments from the top level."""
    for token in argv:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if token == "--" or not subparsers:
            break
        parser = subparsers[0].choices.get(token, parser)
    return parser


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What argparse cannot say: --json only where a command has a JSON document (a script must never parse a
    person's text), and a run id or --bundle for `audit verify|html`."""
    if args.json and not args.json_output:
        raise UsageError(parser, f"`swarm {command_of(args)}` has no JSON output; drop --json")
    if args.command == "audit" and args.action in ("verify", "html") and not (args.run_id or args.bundle):
        raise UsageError(parser, f"`swarm audit {args.action}` needs a run id or --bundle FILE "
                                 f"(see `swarm audit runs`)")


def wants_json(argv: list[str]) -> bool:
    """--json anywhere among the options (not after `--`): the script wants its failure as JSON too."""
    return "--json" in (argv[:argv.index("--")] if "--" in argv else argv)


__all__ = ["EXIT_CODES_HELP", "build_parser", "check", "reached", "wants_json"]
