"""The `swarm` command line: for people (trees, tables, human amounts) and for scripts (`--json`, exit codes).

One idea per module:
    parser           the commands, their options and help (`build_parser`), and the checks argparse cannot make
    entry            `main`: parse, run the handler, end every failure the same way
    errors           `classify`: an error's exit code by its class; `UsageError`
    output           console and JSON output, a failure told once, the progress display
    run_commands     plan, run, resume (the swarm comes from `defai_swarm.session`)
    devnet_commands  devnet install|up|down|status|reset|set-price|mine|align
    delegated        audit (defai_swarm.cli.audit_commands), new (defai_swarm.starter), mcp (defai_swarm.integrations)

Heavy modules (web3, langgraph, llama_cpp, pydantic, rich, defai_swarm.api) are imported inside the handlers:
`swarm --help` stays fast. Every user error is one line saying what is wrong and what to do; `--debug` adds the
traceback.
"""
from __future__ import annotations

from defai_swarm.cli.entry import main
from defai_swarm.cli.errors import NotRunning, UsageError, classify
from defai_swarm.cli.output import console, err, fail
from defai_swarm.cli.parser import EXIT_CODES_HELP, build_parser

__all__ = ["EXIT_CODES_HELP", "NotRunning", "UsageError", "build_parser", "classify", "console", "err", "fail",
           "main"]
