"""What `swarm devnet status --chain solana` shows: slot, wallet balances, Pyth prices with their age, a Jupiter quote.

Every line is read through the same clients the agents use (JSON-RPC, Hermes,
Jupiter), so a line that reads well means the agents can read it too. A source
that fails gives a line saying why instead of stopping the report.
"""
from __future__ import annotations

import time
from decimal import Decimal

from solders.pubkey import Pubkey
from spl.token.instructions import get_associated_token_address

from defai_swarm.tools.solana.config import SolanaChainConfig
from defai_swarm.tools.solana.jupiter import JupiterClient
from defai_swarm.tools.solana.pyth import HermesClient, parse_price_account
from defai_swarm.tools.solana.rpc import SolanaRpc
from defai_swarm.tools.solana.tokens import SolanaToken
from defai_swarm.tools.solana.wallet import SolanaWallet

USD_STABLES = ("USDC", "USDT")


def _amount(value: Decimal, places: int = 4) -> str:
    text = f"{value:,.{places}f}".rstrip("0").rstrip(".")
    return text or "0"


def _why(exc: Exception) -> str:
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__


def _wallet_line(rpc: SolanaRpc, config: SolanaChainConfig) -> str:
    if not config.wallet_path:
        return "wallet    (none configured)"
    try:
        owner = SolanaWallet.from_file(config.wallet_path).pubkey
    except ValueError as exc:
        return f"wallet    unreadable: {_why(exc)}"
    parts = []
    for token in config.tokens:
        parts.append(f"{_amount(token.from_base(_balance(rpc, owner, token)))} {token.symbol}")
    return f"wallet    {owner}: {', '.join(parts)}"


def _balance(rpc: SolanaRpc, owner: Pubkey, token: SolanaToken) -> int:
    if token.is_native:
        return rpc.balance(owner)
    ata = get_associated_token_address(owner, token.mint_pubkey, token.program_pubkey)
    return rpc.token_balance(ata) or 0


def _pyth_lines(rpc: SolanaRpc, config: SolanaChainConfig, now: float) -> list[str]:
    lines = []
    hermes = HermesClient(config.hermes_url, timeout=5.0)
    try:
        for symbol, feed in config.pyth_feeds.items():
            if feed.account:
                try:
                    acc = rpc.account(Pubkey.from_string(feed.account))
                    if acc is None:
                        raise ValueError(f"account {feed.account} does not exist")
                    p = parse_price_account(acc.owner, acc.data)
                    lines.append(f"pyth      {symbol}/USD {_amount(p.price)} ± {_amount(p.conf)}, "
                                 f"{now - p.publish_time:.0f}s old (slot {p.slot})")
                except Exception as exc:
                    lines.append(f"pyth      {symbol}/USD unavailable: {_why(exc)}")
            if feed.feed_id:
                try:
                    p = hermes.latest(feed.feed_id)
                    lines.append(f"hermes    {symbol}/USD {_amount(p.price)} ± {_amount(p.conf)}, "
                                 f"{now - p.publish_time:.0f}s old")
                except Exception as exc:
                    lines.append(f"hermes    {symbol}/USD unavailable: {_why(exc)}")
    finally:
        hermes.close()
    return lines


def _jupiter_line(config: SolanaChainConfig) -> str | None:
    registry = config.registry()
    stable = next((s for s in USD_STABLES if s in registry), None)
    if "SOL" not in registry or stable is None:
        return None
    sol, usd = registry.resolve("SOL"), registry.resolve(stable)
    client = JupiterClient(config.jupiter_url, timeout=5.0)
    try:
        q = client.quote(sol.mint, usd.mint, 10**sol.decimals, 50)
        return (f"jupiter   1 SOL -> {_amount(usd.from_base(q.out_amount))} {usd.symbol} "
                f"(price impact {_amount(q.price_impact_pct * 100, 4)}%)")
    except Exception as exc:
        return f"jupiter   1 SOL -> {usd.symbol} quote unavailable: {_why(exc)}"
    finally:
        client.close()


def status_lines(config: SolanaChainConfig, now: float | None = None) -> list[str]:
    """A short human report of a Solana chain (the local devnet or any configured cluster)."""
    now = time.time() if now is None else now
    head = f"solana {config.cluster}" + (f" devnet (pid {config.pid})" if config.pid else "")
    lines = [head]
    rpc = SolanaRpc(config.rpc_url, timeout=5.0)
    try:
        try:
            slot = rpc.slot()
            genesis = str(rpc.read(lambda: rpc.client.get_genesis_hash()).value)
            mark = "" if config.genesis_hash in (None, genesis) else f" (config expects {config.genesis_hash}!)"
            lines.append(f"rpc       {config.rpc_url}  slot {slot}  genesis {genesis}{mark}")
        except Exception as exc:
            lines.append(f"rpc       {config.rpc_url} unavailable: {_why(exc)}")
            return lines
        try:
            lines.append(_wallet_line(rpc, config))
        except Exception as exc:
            lines.append(f"wallet    balances unavailable: {_why(exc)}")
        lines += _pyth_lines(rpc, config, now)
        jupiter = _jupiter_line(config)
        if jupiter:
            lines.append(jupiter)
    finally:
        rpc.close()
    return lines
