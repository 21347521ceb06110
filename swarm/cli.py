"""The `swarm` command line."""
from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

console = Console(soft_wrap=True)  # messages are not hard-wrapped: they may be grepped or copied


def _devnet(args: argparse.Namespace) -> int:
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
                devnet = Devnet.start(port=args.port, detach=True)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="swarm", description="DeFAI agent swarm")
    sub = parser.add_subparsers(dest="command", required=True)
    devnet = sub.add_parser("devnet", help="local EVM devnet (anvil + Uniswap V2)")
    devnet.add_argument("action", choices=["install", "up", "down", "status"])
    devnet.add_argument("--port", type=int, default=8545)
    devnet.set_defaults(func=_devnet)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
