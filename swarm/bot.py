"""Helpers for writing bots: the usual flags (which devnet, where state lives), opening a Swarm, reporting a run."""
from __future__ import annotations

import argparse
from pathlib import Path

from swarm.api import RunResult, Swarm


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--manifest", help="devnet manifest (default: the running devnet's, see `swarm devnet up`)")
    p.add_argument("--home", help="state directory (audit log, run store); default $SWARM_HOME")
    return p


def open_swarm(args: argparse.Namespace, **kwargs) -> Swarm:
    return Swarm.from_devnet(Path(args.manifest) if args.manifest else None,
                             home=Path(args.home) if args.home else None, **kwargs)


def report(swarm: Swarm, result: RunResult) -> None:
    print(f"run {result.run_id}: {result.status}")
    for reason in result.reasons:
        print(f"  {reason}")
    for tx in result.tx_hashes:
        print(f"  tx {tx}")
    print(f"  audit log: {swarm.home / 'audit' / 'audit.db'}  (swarm audit verify {result.run_id})")
