"""Helpers for writing bots: the usual flags (which devnet, where state lives, which policy), opening a Swarm,
reporting a run, and the exit code of a run (the same numbers as the `swarm` command, see defai_swarm.exitcodes)."""
from __future__ import annotations

import argparse

from defai_swarm.api import RunResult, Swarm
from defai_swarm.exitcodes import ExitCode, for_status


def parser(description: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, epilog="exit codes: 0 done, 1 error, 3 partial, 4 skipped, "
                                "5 refused, 6 failed, 7 awaiting approval (as `swarm run`)")
    p.add_argument("--manifest", help="devnet manifest (default: the running devnet's, see `swarm devnet up`)")
    p.add_argument("--home", help="state directory (audit log, run store); default $SWARM_HOME")
    p.add_argument("--policy", help="risk policy JSON file (default: the built-in policy)")
    return p


def open_swarm(args: argparse.Namespace, **kwargs) -> Swarm:
    """The bot's swarm (`defai_swarm.session`, as `swarm run` opens it): --manifest or the running devnet, --home,
    --policy read strictly. A model only when the bot passes one (`backend=`): $SWARM_MODEL is not read here.
    Other `kwargs` go to `Swarm` as they are."""
    from defai_swarm.session import SessionOptions
    from defai_swarm.session import open_swarm as open_session

    return open_session(SessionOptions.from_args(args, model_from_env=False), **kwargs)


def report(swarm: Swarm, result: RunResult) -> None:
    print(f"run {result.run_id}: {result.status}")
    for reason in result.reasons:
        print(f"  {reason}")
    for tx in result.tx_hashes:
        print(f"  tx {tx}")
    print(f"  audit log: {swarm.home / 'audit' / 'audit.db'}  (swarm audit verify {result.run_id})")


def exit_code(result: RunResult) -> int:
    """The run's exit code: 0 done, 3 partial, 4 skipped, 5 refused, 6 failed, 7 awaiting approval."""
    return int(for_status(result.status))


__all__ = ["ExitCode", "exit_code", "open_swarm", "parser", "report"]
