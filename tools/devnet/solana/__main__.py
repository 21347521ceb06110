"""`python -m defai_swarm.tools.devnet.solana serve|up|down|status --home H`: the devnet process and a small standalone CLI.

`serve` runs in the foreground until SIGTERM/SIGINT (what `up` launches detached).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from defai_swarm.tools.devnet.solana.devnet import DEFAULT_PORT, SolanaDevnet, SolanaDevnetError, running_config, stop_devnet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m defai_swarm.tools.devnet.solana", description="local Solana devnet")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("serve", "run the devnet in the foreground"), ("up", "start the devnet detached"),
                       ("down", "stop the devnet"), ("status", "show the running devnet")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--home", type=Path, required=True, help="state goes under HOME/solana-devnet/")
        if name in ("serve", "up"):
            p.add_argument("--port", type=int, default=DEFAULT_PORT, help="JSON-RPC port on 127.0.0.1")
        if name == "serve":
            p.add_argument("--jupiter-port", type=int, default=0, help="0: a free port")
            p.add_argument("--hermes-port", type=int, default=0, help="0: a free port")
    args = parser.parse_args(argv)
    if args.command == "serve":
        from defai_swarm.tools.devnet.solana.server import serve

        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(message)s")
        try:
            return serve(args.home, args.port, args.jupiter_port, args.hermes_port)
        except OSError as exc:
            print(f"solana devnet: cannot start: {exc}", file=sys.stderr)
            return 1
    if args.command == "up":
        try:
            devnet = SolanaDevnet.start(args.home, args.port)
        except SolanaDevnetError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print("\n".join(devnet.status()))
        print(f"config: {devnet.paths.config}")
        return 0
    if args.command == "down":
        print("stopped" if stop_devnet(args.home) else "no Solana devnet was running")
        return 0
    config = running_config(args.home)
    if config is None:
        print("no Solana devnet is running")
        return 1
    from defai_swarm.tools.devnet.solana.status import status_lines

    print("\n".join(status_lines(config)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
