"""`swarm`'s entry point: parse, run the command's handler, and end every failure the same way (one line, or a
JSON error document with --json; the exit code by the error's class, `defai_swarm.cli.errors.classify`)."""
from __future__ import annotations

import sys

from defai_swarm.cli.errors import UsageError, classify
from defai_swarm.cli.output import emit_json, err, fail, log
from defai_swarm.cli.parser import build_parser, check, reached, wants_json
from defai_swarm.exitcodes import ExitCode, error_document


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
        check(reached(parser, argv), args)
    except UsageError as exc:  # argparse's usage and message on stderr, as it prints them, and exit 2
        where = reached(parser, argv) if exc.parser is parser else exc.parser
        where.print_usage(sys.stderr)
        sys.stderr.write(f"{where.prog}: error: {exc.message}\n")
        if wants_json(argv):
            command = where.prog.removeprefix(parser.prog).strip() or None
            emit_json(error_document(exc.message, ExitCode.USAGE, command))
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


__all__ = ["main"]
