"""Steering the local EVM devnet: reset to the freshly deployed world, move a price, mine blocks, re-align pools.

Why: trades move the devnet's pools away from its price feeds, and a pool that drifted far enough makes every
later trade fail the `quote_meets_min_out` rule; a feed nobody moves never fires a price trigger. These are the
operator's levers (`swarm devnet reset|set-price|mine`, `--keep-pools-aligned`), from Python as well.

Safety: everything here refuses unless the chain is a local devnet (an RPC on a loopback address, the devnet's
chain id, a manifest written by `swarm devnet up`) and the node answering is that manifest's devnet (its anvil
process alive, block 0's hash the one recorded at deploy: a stale manifest with another anvil on its port is
refused before any write, as every `swarm devnet` command is), and moves funds only from the manifest's deployer account
(anvil's unlocked account 0, which deployed the world), never the agents' wallet. Nothing here touches the spend
ledger (tools never import it): `swarm devnet reset` follows `reset()` with `defai_swarm.ledger.clear_local_devnet`,
which releases the devnet's reservations (the reset reverted the trades they count); from Python, call both.
"""
from __future__ import annotations

import logging
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

from pydantic import BaseModel
from web3 import Web3

from defai_swarm.tools.devnet.contracts import abi
from defai_swarm.tools.devnet.manifest import DevnetManifest
from defai_swarm.tools.devnet.node import CHAIN_ID, DevnetError
from defai_swarm.tools.devnet.running import default_manifest_path, liveness_problem
from defai_swarm.tools.evm.rpc import connect

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")
FEE_NUM, FEE_DEN = 997, 1000  # Uniswap V2's 0.3% fee, as the pair contract applies it


class NotLocalDevnet(DevnetError):
    """Refused: the chain is not a local devnet started by `swarm devnet up`."""


class PoolMove(BaseModel):
    """One pool moved to the feeds' price: what it was, what it is, and what the deployer swapped."""
    pair: str
    price_before: Decimal  # symbols[1] per symbols[0]
    price_after: Decimal
    target: Decimal
    swapped_in: str  # e.g. "12.5 WETH" ("" when the pool was already there)


class ResetResult(BaseModel):
    block_number: int
    snapshot_id: str


def require_local(manifest: DevnetManifest, w3: Web3 | None = None) -> Web3:
    """A client for the devnet, or NotLocalDevnet saying why this chain is not one we may steer."""
    host = urlparse(manifest.rpc_url).hostname or ""
    if host not in LOOPBACK:
        raise NotLocalDevnet(f"refused: {manifest.rpc_url} is not a loopback address; devnet controls only steer a "
                             f"local devnet started by `swarm devnet up`")
    if not manifest.local_devnet or manifest.chain_id != CHAIN_ID:
        raise NotLocalDevnet(f"refused: the configuration is not a local devnet's (chain id {manifest.chain_id}, "
                             f"local_devnet={manifest.local_devnet}; expected chain id {CHAIN_ID} from `swarm devnet up`)")
    from defai_swarm.tools.evm.chain import read_identity  # the identity check every chain adapter makes

    down = liveness_problem(manifest)  # the check `swarm devnet ...` makes (running_manifest)
    if down is not None:
        raise DevnetError(f"refused: {down}; start the devnet with `swarm devnet up` (or point at its manifest)")
    w3 = w3 or connect(manifest.rpc_url)
    try:
        actual = read_identity(w3)
    except Exception as exc:  # the node went down: one line, what to do
        raise DevnetError(f"cannot reach the devnet at {manifest.rpc_url} ({type(exc).__name__}); "
                          f"start it with `swarm devnet up`") from None
    problem = manifest.identity_problem(actual, str(CHAIN_ID))
    if problem is not None:
        raise NotLocalDevnet(f"refused: {problem} (not this manifest's devnet)")
    return w3


def load(manifest: DevnetManifest | Path | str | None = None) -> tuple[DevnetManifest, Path | None]:
    """The manifest given, or the one at a path, or the running devnet's."""
    if isinstance(manifest, DevnetManifest):
        return manifest, None
    path = Path(manifest) if manifest is not None else default_manifest_path()
    return DevnetManifest.load(path), path


def _rpc(w3: Web3, method: str, params: list):
    answer: dict = dict(w3.provider.make_request(method, params))  # type: ignore[arg-type]
    if "error" in answer:
        raise DevnetError(f"{method} failed: {answer['error'].get('message', answer['error'])}")
    return answer.get("result")


def _wait(w3: Web3, tx_hash) -> None:
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    if receipt["status"] != 1:
        raise DevnetError(f"devnet control transaction {tx_hash.hex()} reverted")


def _wall_clock(w3: Web3) -> None:
    """Put the chain's clock back on wall time (a revert rewinds it): feeds and swap deadlines read block time."""
    now = int(time.time())
    if w3.eth.get_block("latest")["timestamp"] < now:  # pyright: ignore[reportTypedDictNotRequiredAccess]
        _rpc(w3, "evm_setNextBlockTimestamp", [now])
        _rpc(w3, "evm_mine", [])


# ---- prices ------------------------------------------------------------------------------------------

def _feed_symbol(symbol: str, manifest: DevnetManifest) -> str:
    token = manifest.tokens.get(symbol.upper())
    if token is not None and token.kind == "wrapped_native":
        return next(s for s, t in manifest.tokens.items() if t.kind == "native")
    return symbol.upper()


def _feed(w3: Web3, manifest: DevnetManifest, symbol: str):
    name = f"{_feed_symbol(symbol, manifest)}/USD"
    entry = manifest.feeds.get(name)
    if entry is None:
        raise DevnetError(f"the devnet has no {name} feed; feeds: {', '.join(sorted(manifest.feeds))}")
    return entry, w3.eth.contract(address=Web3.to_checksum_address(entry.address), abi=abi("PriceFeed"))


def feed_price(w3: Web3, manifest: DevnetManifest, symbol: str) -> Decimal:
    entry, contract = _feed(w3, manifest, symbol)
    answer = contract.functions.latestRoundData().call()[1]
    return Decimal(answer).scaleb(-entry.decimals)


def _publish(w3: Web3, manifest: DevnetManifest, symbol: str, usd: Decimal) -> None:
    entry, contract = _feed(w3, manifest, symbol)
    raw = int((usd * 10**entry.decimals).to_integral_value())
    if raw <= 0:
        raise DevnetError(f"a price must be positive (got {usd})")
    _wait(w3, contract.functions.set_answer(raw, 0).transact({"from": manifest.deployer}))


def refresh_feeds(manifest: DevnetManifest, w3: Web3) -> None:
    """Re-publish every feed at its current answer: a devnet older than the staleness limit stays usable."""
    for name in manifest.feeds:
        symbol = name.split("/")[0]
        _publish(w3, manifest, symbol, feed_price(w3, manifest, symbol))


# ---- pools -------------------------------------------------------------------------------------------

def _amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    with_fee = amount_in * FEE_NUM
    return with_fee * reserve_out // (reserve_in * FEE_DEN + with_fee)


def _input_for_price(reserve_in: int, reserve_out: int, target_out_per_in: Decimal) -> int:
    """The input amount after which reserve_out'/reserve_in' is as close to the target as integers allow
    (binary search on Uniswap V2's own output formula: the result is exact, not an approximation)."""
    def price_after(a: int) -> Decimal:
        return Decimal(reserve_out - _amount_out(a, reserve_in, reserve_out)) / Decimal(reserve_in + a)

    if price_after(0) <= target_out_per_in:
        return 0
    k = Decimal(reserve_in) * Decimal(reserve_out)
    hi = int((k / target_out_per_in).sqrt() * 2) - reserve_in + 1
    lo = 0
    while lo < hi:
        mid = (lo + hi) // 2
        if price_after(mid) > target_out_per_in:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _erc20(w3: Web3, address: str, name: str = "TestToken"):
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi(name))


def _fund_deployer(w3: Web3, manifest: DevnetManifest, symbol: str, amount: int) -> None:
    """The deployer's tokens for an arbitrage leg: WETH wrapped from its ETH; others it holds from the deploy."""
    token = manifest.tokens[symbol]
    contract = _erc20(w3, token.address, "HoneypotToken" if token.kind == "honeypot" else "TestToken")
    have = contract.functions.balanceOf(manifest.deployer).call()
    if have >= amount:
        return
    if token.kind == "wrapped_native":
        weth = w3.eth.contract(address=Web3.to_checksum_address(token.address), abi=abi("WETH9"))
        _wait(w3, weth.functions.deposit().transact({"from": manifest.deployer, "value": amount - have}))
        return
    raise DevnetError(f"the deployer holds {have} base units of {symbol}, the arbitrage needs {amount}; "
                      f"`swarm devnet reset` restores the deployed balances")


def _price(r0: int, r1: int, scale: Decimal) -> Decimal:
    return (Decimal(r1) / Decimal(r0) * scale).quantize(Decimal(1).scaleb(-12))


def _align_pair(w3: Web3, manifest: DevnetManifest, pair_index: int, prices: dict[str, Decimal]) -> PoolMove:
    """Swap the deployer's tokens straight into the pair (Uniswap V2's own swap, no router deadline) until its
    price is the feeds' ratio; a fee-on-transfer token arrives short, so it takes a few rounds."""
    entry = manifest.pairs[pair_index]
    s0, s1 = entry.symbols
    t0, t1 = manifest.tokens[s0], manifest.tokens[s1]
    pair = w3.eth.contract(address=Web3.to_checksum_address(entry.address), abi=abi("UniswapV2Pair"))
    scale = Decimal(10) ** (t0.decimals - t1.decimals)  # base units of 1 per base unit of 0, times this, is human
    target = prices[_feed_symbol(s0, manifest)] / prices[_feed_symbol(s1, manifest)]
    raw_target = target / scale  # base units of token1 per base unit of token0
    r0, r1, _ = pair.functions.getReserves().call()
    before = _price(r0, r1, scale)
    swapped: dict[str, int] = {}
    for _round in range(4):
        if abs(Decimal(r1) / Decimal(r0) / raw_target - 1) < Decimal("1e-7"):
            break
        if Decimal(r1) / Decimal(r0) > raw_target:  # token0 is dear in the pool: sell token0 into it
            sym_in, reserve_in, reserve_out, goal = s0, r0, r1, raw_target
        else:  # token1 is dear: sell token1 (token0 per token1 = 1/target)
            sym_in, reserve_in, reserve_out, goal = s1, r1, r0, 1 / raw_target
        amount = _input_for_price(reserve_in, reserve_out, goal)
        if amount == 0:
            break
        token_in = manifest.tokens[sym_in]
        _fund_deployer(w3, manifest, sym_in, amount)
        # (the honeypot refuses sells into its pool from everyone but its deployer, which is who sends here)
        contract = _erc20(w3, token_in.address, "HoneypotToken" if token_in.kind == "honeypot" else "TestToken")
        _wait(w3, contract.functions.transfer(entry.address, amount).transact({"from": manifest.deployer}))
        received = contract.functions.balanceOf(entry.address).call() - reserve_in  # short for fee-on-transfer
        out = _amount_out(received, reserve_in, reserve_out)
        outs = (0, out) if sym_in == s0 else (out, 0)
        _wait(w3, pair.functions.swap(outs[0], outs[1], manifest.deployer, b"").transact({"from": manifest.deployer}))
        swapped[sym_in] = swapped.get(sym_in, 0) + amount
        r0, r1, _ = pair.functions.getReserves().call()
    after = _price(r0, r1, scale)
    text = ", ".join(f"{Decimal(a).scaleb(-manifest.tokens[s].decimals).normalize():f} {s}" for s, a in swapped.items())
    move = PoolMove(pair=f"{s0}/{s1}", price_before=before, price_after=after, target=target, swapped_in=text)
    log.info("pool %s aligned: %s -> %s %s per %s (target %s)%s", move.pair, before, after, s1, s0, target,
             f", swapped in {text}" if text else "")
    return move


def _pools_of(manifest: DevnetManifest, symbol: str | None) -> list[int]:
    if symbol is None:
        return list(range(len(manifest.pairs)))
    feed = _feed_symbol(symbol, manifest)
    return [i for i, p in enumerate(manifest.pairs) if feed in (_feed_symbol(s, manifest) for s in p.symbols)]


def _all_prices(w3: Web3, manifest: DevnetManifest) -> dict[str, Decimal]:
    return {name.split("/")[0]: feed_price(w3, manifest, name.split("/")[0]) for name in manifest.feeds}


# ---- the levers --------------------------------------------------------------------------------------

def align_pools(manifest: DevnetManifest | Path | str | None = None, symbol: str | None = None) -> list[PoolMove]:
    """Arbitrage every pool (or every pool of `symbol`) back to the feeds' prices with the deployer's funds, and
    re-publish the feeds so they are fresh. Call it between runs only, never between a quote and a send."""
    manifest, _ = load(manifest)
    w3 = require_local(manifest)
    _wall_clock(w3)
    refresh_feeds(manifest, w3)
    prices = _all_prices(w3, manifest)
    return [_align_pair(w3, manifest, i, prices) for i in _pools_of(manifest, symbol)]


def set_price(symbol: str, usd: Decimal | float | str | int,
              manifest: DevnetManifest | Path | str | None = None) -> list[PoolMove]:
    """Move `symbol`'s feed to `usd` and arbitrage every pool of that token to the new price."""
    manifest, _ = load(manifest)
    w3 = require_local(manifest)
    try:
        price = Decimal(str(usd))
    except ArithmeticError:
        raise DevnetError(f"not a price: {usd!r}; give a number such as 3500") from None
    if not price.is_finite() or price <= 0:
        raise DevnetError(f"a price must be a positive number (got {usd})")
    _wall_clock(w3)
    _publish(w3, manifest, symbol, price)
    log.info("feed %s/USD set to %s", _feed_symbol(symbol, manifest), price)
    refresh_feeds(manifest, w3)
    prices = _all_prices(w3, manifest)
    return [_align_pair(w3, manifest, i, prices) for i in _pools_of(manifest, symbol)]


def mine(blocks: int = 1, manifest: DevnetManifest | Path | str | None = None) -> int:
    """Mine `blocks` empty blocks; the new block number."""
    if blocks < 1:
        raise DevnetError(f"mine at least one block (got {blocks})")
    manifest, _ = load(manifest)
    w3 = require_local(manifest)
    _rpc(w3, "anvil_mine", [hex(blocks)])
    return w3.eth.block_number


def snapshot(manifest: DevnetManifest, w3: Web3) -> str:
    return str(_rpc(w3, "evm_snapshot", []))


def reset(manifest: DevnetManifest | Path | str | None = None) -> ResetResult:
    """Back to the freshly deployed world (the snapshot `swarm devnet up` took after deploying), then a new
    snapshot for the next reset (a revert consumes one). The spend ledger is not touched here; to clear the
    devnet's daily cap as `swarm devnet reset` does, follow it with `defai_swarm.ledger.clear_local_devnet(manifest)`."""
    manifest, path = load(manifest)
    w3 = require_local(manifest)
    if manifest.snapshot_id is None:
        raise DevnetError("this devnet has no deploy snapshot (started by an older version); "
                          "`swarm devnet down && swarm devnet up` once")
    head_before = w3.eth.block_number
    if not _rpc(w3, "evm_revert", [manifest.snapshot_id]):
        raise DevnetError("the node no longer has the deploy snapshot (was it reverted by someone else?); "
                          "`swarm devnet down && swarm devnet up`")
    manifest.snapshot_id = snapshot(manifest, w3)
    _wall_clock(w3)
    refresh_feeds(manifest, w3)
    # kept so `swarm audit verify` can tell "this chain was reset since the run" from "the anchor is missing"
    manifest.resets = [*manifest.resets, {"time": int(time.time()), "head_before": head_before,
                                          "block_after": w3.eth.block_number}]
    if path is not None:
        manifest.save(path)
    log.info("devnet reset to its deployed state; new snapshot %s", manifest.snapshot_id)
    return ResetResult(block_number=w3.eth.block_number, snapshot_id=manifest.snapshot_id)


def keep_aligned_hook(manifest: DevnetManifest):
    """For `Swarm`: re-align before each run when the devnet was started with --keep-pools-aligned, else None."""
    if not getattr(manifest, "keep_pools_aligned", False):
        return None

    def hook() -> None:
        align_pools(manifest)
    return hook


__all__ = ["NotLocalDevnet", "PoolMove", "ResetResult", "align_pools", "feed_price", "keep_aligned_hook", "mine",
           "require_local", "reset", "set_price"]
