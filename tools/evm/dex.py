"""EVM DEXes behind `defai_swarm.core.dex.Dex`: the EVM part of the protocol, Uniswap V2 as one implementation,
and the view through which the swap executor trades on any one of them.

Adding a DEX to an EVM chain is one class with `name`, `spender` (the contract the exact approval is given to and
the swap calls), `quote(token_in, token_out, amount, exact_out=False) -> list[EvmQuote]` (every route it has, each
pinned to the block it was read at) and `swap_call(quote, limit, deadline, recipient) -> TxRequest`, registered
with `EvmChain.add_dex`. The adapter's `quote` then asks every DEX and takes the best route; its executor swaps
through the DEX whose fresh quote is best, and records every quote it compared (audit kind `dex_quotes`).
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from web3 import Web3

from defai_swarm.core.dex import Quote, best_quote
from defai_swarm.tools.evm.tokens import Token, TokenRegistry
from defai_swarm.tools.evm.tx import TxRequest, next_block_time
from defai_swarm.tools.evm.uniswap import NoRouteError, SwapQuote, UniswapV2


class EvmQuote(Quote):
    """A route of one EVM DEX: the chain-neutral quote plus what its swap call needs."""

    path: list[str] = []
    block_number: int = 0
    block_timestamp: int | None = None  # the quoted block's time
    exact_out: bool = False


@runtime_checkable
class EvmDex(Protocol):
    """`defai_swarm.core.dex.Dex` on an EVM chain: swap calls are `TxRequest`s to `spender`, which an ERC-20 input
    is exactly approved to first."""

    @property
    def name(self) -> str: ...

    @property
    def spender(self) -> str: ...

    def quote(self, token_in: str, token_out: str, amount: int, exact_out: bool = False) -> Sequence[EvmQuote]: ...

    def swap_call(self, quote: EvmQuote, limit: int, deadline: int, recipient: str) -> TxRequest: ...


class UniswapV2Dex:
    """Uniswap V2 (and its forks: another router and factory) as a `Dex`: one route per pair, the direct pool or
    through the wrapped native token (`UniswapV2.path`)."""

    def __init__(self, uniswap: UniswapV2, name: str = "uniswap-v2"):
        self.uniswap, self._name = uniswap, name

    @property
    def name(self) -> str:
        return self._name

    @property
    def spender(self) -> str:
        return self.uniswap.router_address

    def quote(self, token_in: str, token_out: str, amount: int, exact_out: bool = False) -> list[EvmQuote]:
        registry = self.uniswap.registry
        t_in, t_out = registry.resolve(token_in), registry.resolve(token_out)
        q = (self.uniswap.quote_exact_out(t_in, t_out, amount) if exact_out
             else self.uniswap.quote(t_in, t_out, amount))
        return [EvmQuote(token_in=q.token_in, token_out=q.token_out, amount_in=q.amount_in, amount_out=q.amount_out,
                         route=f"{self.name}:" + ">".join(q.path), dex=self.name, path=q.path,
                         block_number=q.block_number, block_timestamp=q.block_timestamp, exact_out=exact_out)]

    def swap_call(self, quote: EvmQuote, limit: int, deadline: int, recipient: str) -> TxRequest:
        """The router call: exact input with `limit` as minOut, or exact output with `limit` as the maximum input."""
        q = SwapQuote(token_in=quote.token_in, token_out=quote.token_out, amount_in=quote.amount_in,
                      amount_out=quote.amount_out, path=quote.path, block_number=quote.block_number,
                      block_timestamp=quote.block_timestamp)
        if quote.exact_out:
            return self.uniswap.swap_exact_out_tx(q, limit, recipient, deadline)
        return self.uniswap.swap_tx(q, limit, recipient, deadline)


def dex_quotes(dex: EvmDex, token_in: Token, token_out: Token, amount: int, exact_out: bool) -> list[EvmQuote]:
    """Every route `dex` has; NoRouteError for none."""
    found = list(dex.quote(token_in.symbol, token_out.symbol, amount, exact_out))
    if not found:
        raise NoRouteError(f"{dex.name} has no route between {token_in.symbol} and {token_out.symbol}")
    return found


class DexVenue:
    """One DEX as the swap executor (`defai_swarm.tools.evm.executor.SwapExecutor`) trades on it: its best fresh
    quote, its swap calls, its spender as the router approvals go to; the chain's clock, node and registry."""

    def __init__(self, dex: EvmDex, w3: Web3, registry: TokenRegistry):
        self.dex, self.w3, self.registry = dex, w3, registry

    @property
    def router_address(self) -> str:
        return self.dex.spender

    def deadline(self, seconds: int = 300) -> int:
        """`seconds` after the time the next block will carry (`UniswapV2.deadline`, the same rule)."""
        return next_block_time(self.w3) + seconds

    def quote(self, token_in: Token, token_out: Token, amount_in: int) -> EvmQuote:
        return _best(dex_quotes(self.dex, token_in, token_out, amount_in, False), False)

    def quote_exact_out(self, token_in: Token, token_out: Token, amount_out: int) -> EvmQuote:
        return _best(dex_quotes(self.dex, token_in, token_out, amount_out, True), True)

    def swap_tx(self, quote: EvmQuote, min_out: int, recipient: str, deadline: int) -> TxRequest:
        return self.dex.swap_call(quote, min_out, deadline, recipient)

    def swap_exact_out_tx(self, quote: EvmQuote, max_in: int, recipient: str, deadline: int) -> TxRequest:
        return self.dex.swap_call(quote, max_in, deadline, recipient)


def _best(quotes: list[EvmQuote], exact_out: bool) -> EvmQuote:
    best = best_quote(quotes, exact_out)
    assert isinstance(best, EvmQuote)
    return best


def call_target(raw: str) -> tuple[str, bytes]:
    """The `to` address and the calldata of a signed EVM transaction (its raw hex, as the outbox keeps it)."""
    from eth_account.typed_transactions.typed_transaction import TypedTransaction
    from hexbytes import HexBytes

    fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    return Web3.to_checksum_address(fields["to"]), bytes(HexBytes(fields.get("data") or b""))


__all__ = ["DexVenue", "EvmDex", "EvmQuote", "UniswapV2Dex", "call_target", "dex_quotes"]
