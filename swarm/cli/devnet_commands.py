"""`swarm devnet ...`: start, inspect and steer the local devnets (EVM: anvil + Uniswap V2; Solana: LiteSVM with
Jupiter and Hermes stand-ins). Their modules are imported inside the handlers: `swarm --help` stays fast."""
from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path

from defai_swarm.cli.output import busy, console, emit_json, fail
from defai_swarm.core.errors import NotRunning
from defai_swarm.exitcodes import ExitCode


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
        with busy("starting the Solana devnet (LiteSVM, Jupiter and Hermes stand-ins)..."):
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
            emit_json({"chain": "solana", "rpc_url": config.rpc_url, "genesis_hash": config.genesis_hash,
                        "pid": config.pid, "status": status_lines(config)})
        else:
            for line in status_lines(config):
                console.print(line)
    elif args.action in ("set-price", "align", "mine"):
        from defai_swarm.tools.devnet.solana import control
        if args.action == "mine":
            slot = control.mine(args.blocks, home)
            if args.json:
                return emit_json({"slot": slot, "mined": args.blocks}) or ExitCode.DONE
            console.print(f"advanced {args.blocks} slot(s); slot {slot}")
            return ExitCode.DONE
        moves = control.set_price(args.symbol, args.price, home) if args.action == "set-price" \
            else control.align_pools(home)
        if args.json:
            return emit_json([m.model_dump(mode="json") for m in moves]) or ExitCode.DONE
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


def devnet(args: argparse.Namespace) -> int:
    if args.chain == "solana":
        return _solana_devnet(args)
    from defai_swarm.tools.devnet import Devnet, default_manifest_path, running_manifest, stop_detached
    from defai_swarm.tools.devnet.install import install

    if args.action == "install":
        with busy("installing anvil and the Uniswap V2 builds from npm (a minute or two the first time)..."):
            prefix = install()
        console.print(f"devnet dependencies installed in {prefix}")
    elif args.action == "up":
        if (manifest := running_manifest()) is not None:
            console.print(f"devnet already running at {manifest.rpc_url} (pid {manifest.anvil_pid}); "
                          f"manifest: {default_manifest_path()}")
            return ExitCode.DONE
        with busy("starting anvil and deploying Uniswap V2, tokens, pools and feeds..."):
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
        return emit_json({**result.model_dump(mode="json"), "ledger": {
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
            return emit_json({"block_number": block, "mined": args.blocks}) or ExitCode.DONE
        console.print(f"mined {args.blocks} block(s); head is block {block}")
    elif args.action in ("set-price", "align"):
        if args.action == "set-price":
            moves = control.set_price(args.symbol, args.price, path)
        else:
            moves = control.align_pools(path)
        if args.json:
            return emit_json([m.model_dump(mode="json") for m in moves]) or ExitCode.DONE
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
        emit_json(data)
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

__all__ = ["devnet", "pool_price", "price_text"]
