"""A DEX behind one small interface: `Dex`, and the chain-neutral `Quote` every DEX answers with.

A chain adapter lists its DEXes (`ChainAdapter.dexes()`); its `quote` asks every one of them and takes the best
route (`best_quote`), and its executor swaps through the DEX whose route that is. Adding a DEX to a chain is one
class implementing `Dex` (and the chain's own part of it: an EVM DEX names the contract approvals go to, see
`defai_swarm.tools.evm.dex.EvmDex`), registered on the adapter.
"""
from __future__ import annotations

from typing import Any, Iterable, Protocol, Sequence

from pydantic import BaseModel


class Quote(BaseModel):
    """What the route being traded offers for an exact input (`quote`), or needs for an exact output
    (`quote_exact_out`: amount_in is the input the route needs for exactly amount_out), in base units.
    `dex` names the DEX that quoted it ("" where the chain has one route source and never said)."""

    token_in: str
    token_out: str
    amount_in: int
    amount_out: int
    route: str = ""
    dex: str = ""


class Dex(Protocol):
    """One venue of a chain: its routes between two tokens and the call that trades one of them.

    `quote` returns every route it has for the pair (none: an empty list or the chain's NoRoute error); amounts
    are base units, tokens are the registry's symbols. `swap_call` builds (never sends) the chain's call for one
    of its own quotes: `limit` is the minimum output of an exact-input quote, the maximum input of an exact-output
    one; `recipient` is always the wallet itself."""

    @property
    def name(self) -> str: ...

    def quote(self, token_in: str, token_out: str, amount: int, exact_out: bool = False) -> Sequence[Quote]: ...

    def swap_call(self, quote: Any, limit: int, deadline: int, recipient: str) -> Any: ...


def better(a: Quote, b: Quote, exact_out: bool = False) -> bool:
    """Whether `a` is strictly better than `b` for the trader: more out for the same input, or (exact output) less
    in for the same output."""
    return a.amount_in < b.amount_in if exact_out else a.amount_out > b.amount_out


def best_quote(quotes: Iterable[Quote], exact_out: bool = False) -> Quote:
    """The best of `quotes` (the first of equals, so the choice is the same when replayed from the logged list);
    ValueError for none."""
    best: Quote | None = None
    for q in quotes:
        if best is None or better(q, best, exact_out):
            best = q
    if best is None:
        raise ValueError("no quotes to choose from")
    return best


__all__ = ["Dex", "Quote", "best_quote", "better"]
