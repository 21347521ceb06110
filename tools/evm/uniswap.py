"""Uniswap V2 quotes, pool prices and swap transactions (minOut and deadline always set)."""
from __future__ import annotations

import threading
from decimal import Decimal

from eth_abi.abi import encode
from pydantic import BaseModel
from web3 import Web3

from defai_swarm.tools.evm.abi import abi
from defai_swarm.tools.evm.config import EvmChainConfig
from defai_swarm.tools.evm.errors import AmountError, EvmToolError
from defai_swarm.tools.evm.multicall import Multicall, Read, selector
from defai_swarm.tools.evm.rpc import ContractAnswerError, answering_as, read_retry
from defai_swarm.tools.evm.tokens import Token, TokenRegistry
from defai_swarm.tools.evm.tx import TxRequest, next_block_time

ZERO = "0x" + "00" * 20

# Router functions by name -> argument types (encoded with eth_abi directly: web3's contract encoder
# re-resolves the ABI on every call and cost milliseconds per transaction).
ROUTER_FUNCTIONS = {
    "swapExactETHForTokens": ("uint256", "address[]", "address", "uint256"),
    "swapExactETHForTokensSupportingFeeOnTransferTokens": ("uint256", "address[]", "address", "uint256"),
    "swapExactTokensForETH": ("uint256", "uint256", "address[]", "address", "uint256"),
    "swapExactTokensForETHSupportingFeeOnTransferTokens": ("uint256", "uint256", "address[]", "address", "uint256"),
    "swapExactTokensForTokens": ("uint256", "uint256", "address[]", "address", "uint256"),
    "swapExactTokensForTokensSupportingFeeOnTransferTokens": ("uint256", "uint256", "address[]", "address", "uint256"),
    "swapETHForExactTokens": ("uint256", "address[]", "address", "uint256"),
    "swapTokensForExactETH": ("uint256", "uint256", "address[]", "address", "uint256"),
    "swapTokensForExactTokens": ("uint256", "uint256", "address[]", "address", "uint256"),
}


def encode_router_call(name: str, args: list) -> str:
    types = ROUTER_FUNCTIONS[name]
    args = [[Web3.to_checksum_address(a) for a in v] if t == "address[]" else
            Web3.to_checksum_address(v) if t == "address" else v for t, v in zip(types, args, strict=True)]
    return "0x" + (selector(f"{name}({','.join(types)})") + encode(list(types), args)).hex()


class NoRouteError(EvmToolError):
    """No pool (direct or through the wrapped native token) connects the two tokens."""


class NotARouterError(ContractAnswerError):
    """The configured router did not answer like a Uniswap V2 router."""


class NotAFactoryError(ContractAnswerError):
    """The configured factory did not answer like a Uniswap V2 factory."""


class NotAPairError(ContractAnswerError):
    """A pair the factory named did not answer like a Uniswap V2 pair."""


class SwapQuote(BaseModel):
    token_in: str
    token_out: str
    amount_in: int
    amount_out: int
    path: list[str]
    block_number: int
    block_timestamp: int | None = None  # the quoted block's time (swap deadlines: `UniswapV2.deadline`)


class PoolReserves(BaseModel):
    pair: str
    reserve_a: int
    reserve_b: int
    block_number: int


class UniswapV2:
    def __init__(self, w3: Web3, registry: TokenRegistry, router: str, factory: str):
        self.w3, self.registry = w3, registry
        self.router = w3.eth.contract(address=Web3.to_checksum_address(router), abi=abi("UniswapV2Router02"))
        self.factory = w3.eth.contract(address=Web3.to_checksum_address(factory), abi=abi("UniswapV2Factory"))
        self.multicall = Multicall(w3)
        # A pair's address never changes once the factory created it (CREATE2 of the two tokens); a missing pair
        # can appear later, so only found pairs are kept.
        self._pairs: dict[tuple[str, str], str] = {}
        self._pairs_lock = threading.Lock()

    @classmethod
    def from_manifest(cls, w3: Web3, manifest: EvmChainConfig, registry: TokenRegistry | None = None) -> "UniswapV2":
        return cls(w3, registry or TokenRegistry.from_manifest(manifest), manifest.router, manifest.factory)

    @property
    def router_address(self) -> str:
        return self.router.address

    def deadline(self, seconds: int = 300) -> int:
        """A swap deadline `seconds` after the time the next block will carry (`tx.next_block_time`: this machine's
        clock, the latest block's time and the node's pending block, bounded; `ChainClockError` when the chain's
        clock and this machine's are too far apart). Not the latest block's time: after minutes without a block
        the transaction would be mined past it."""
        return next_block_time(self.w3) + seconds

    def pair_address(self, a: Token, b: Token) -> str | None:
        ra, rb = self.registry.route_address(a), self.registry.route_address(b)
        key = (min(ra.lower(), rb.lower()), max(ra.lower(), rb.lower()))
        with self._pairs_lock:
            known = self._pairs.get(key)
        if known is not None:
            return known
        pair = self._get_pair(ra, rb)
        if pair is not None:
            with self._pairs_lock:
                self._pairs[key] = pair
        return pair

    @read_retry
    def _get_pair(self, ra: str, rb: str) -> str | None:
        with answering_as(f"factory {self.factory.address} did not answer like a Uniswap V2 factory (getPair)",
                          NotAFactoryError, "check `factory` in the chain configuration"):
            pair = self.factory.functions.getPair(ra, rb).call()
        return None if pair == ZERO else pair

    def path(self, token_in: Token, token_out: Token) -> list[str]:
        """Direct pool if there is one, else through the wrapped native token."""
        a, b = self.registry.route_address(token_in), self.registry.route_address(token_out)
        if a == b:
            raise NoRouteError(f"{token_in.symbol} and {token_out.symbol} are the same asset")
        if self.pair_address(token_in, token_out):
            return [a, b]
        if self.registry.wrapped_native is not None:
            weth = self.registry.resolve(self.registry.wrapped_native)
            if self.pair_address(token_in, weth) and self.pair_address(weth, token_out):
                return [a, weth.address, b]
        raise NoRouteError(f"no Uniswap V2 pool connects {token_in.symbol} and {token_out.symbol}")

    def _amounts(self, function: str, amount: int, path: list[str]) -> tuple[list[int], int, int]:
        """getAmountsOut / getAmountsIn in one batched read with its block's number and timestamp."""
        what = f"router {self.router.address} did not answer like a Uniswap V2 router ({function})"
        with answering_as(what, NotARouterError, "check `router` in the chain configuration"):
            batch = self.multicall.read([Read(self.router.address, f"{function}(uint256,address[])",
                                              (amount, path), ("uint256[]",))])
            answer = batch.answers[0]
            if not answer.ok or answer.value is None:
                raise NotARouterError(f"{what}: {answer.error}; check `router` in the chain configuration")
        return list(answer.value[0]), batch.block_number, batch.timestamp

    @read_retry
    def quote(self, token_in: Token, token_out: Token, amount_in: int) -> SwapQuote:
        """getAmountsOut pinned to one block (read in the same call), so the quote is reproducible from the log."""
        if amount_in <= 0:
            raise AmountError(f"amount_in must be positive, got {amount_in}")
        path = self.path(token_in, token_out)
        amounts, block, timestamp = self._amounts("getAmountsOut", amount_in, path)
        if len(amounts) != len(path) or amounts[0] != amount_in or any(a < 0 for a in amounts):
            raise NotARouterError(f"router {self.router.address} did not answer like a Uniswap V2 router "
                                  f"(getAmountsOut): answered {len(amounts)} amounts starting {amounts[:1]} for a "
                                  f"{len(path)}-token path and input {amount_in}; "
                                  f"check `router` in the chain configuration")
        return SwapQuote(token_in=token_in.symbol, token_out=token_out.symbol, amount_in=amount_in,
                         amount_out=amounts[-1], path=path, block_number=block, block_timestamp=timestamp)

    @read_retry
    def quote_exact_out(self, token_in: Token, token_out: Token, amount_out: int) -> SwapQuote:
        """getAmountsIn pinned to one block: the input the route needs for exactly `amount_out`."""
        if amount_out <= 0:
            raise AmountError(f"amount_out must be positive, got {amount_out}")
        if "fee_on_transfer" in (token_in.kind, token_out.kind):
            raise AmountError(f"an exact-output swap cannot involve the fee-on-transfer token "
                              f"{token_in.symbol if token_in.kind == 'fee_on_transfer' else token_out.symbol}: "
                              f"the router has no such variant; swap an exact input instead")
        path = self.path(token_in, token_out)
        amounts, block, timestamp = self._amounts("getAmountsIn", amount_out, path)
        what = f"router {self.router.address} did not answer like a Uniswap V2 router (getAmountsIn)"
        if len(amounts) != len(path) or amounts[-1] != amount_out or any(a <= 0 for a in amounts):
            raise NotARouterError(f"{what}: answered {len(amounts)} amounts ending {amounts[-1:]} for a "
                                  f"{len(path)}-token path and output {amount_out}; "
                                  f"check `router` in the chain configuration")
        return SwapQuote(token_in=token_in.symbol, token_out=token_out.symbol, amount_in=amounts[0],
                         amount_out=amount_out, path=path, block_number=block, block_timestamp=timestamp)

    def reserves_read(self, a: Token, b: Token) -> tuple[str, Read]:
        """The pair of a and b, and the getReserves read of it (for a batch); NoRouteError without a pool."""
        pair = self.pair_address(a, b)
        if pair is None:
            raise NoRouteError(f"no {a.symbol}/{b.symbol} pool")
        return pair, Read(pair, "getReserves()", (), ("uint112", "uint112", "uint32"))

    def reserves_of(self, a: Token, b: Token, pair: str, answer, block_number: int) -> PoolReserves:
        """Reserves ordered as (a, b) from a getReserves answer of a batch."""
        if not answer.ok or answer.value is None:
            raise NotAPairError(f"pair {pair} (named by factory {self.factory.address}) did not answer like a "
                                f"Uniswap V2 pair (getReserves): {answer.error}")
        r0, r1, _ = answer.value
        a_is_0 = int(self.registry.route_address(a), 16) < int(self.registry.route_address(b), 16)
        ra, rb = (r0, r1) if a_is_0 else (r1, r0)
        return PoolReserves(pair=pair, reserve_a=ra, reserve_b=rb, block_number=block_number)

    @read_retry
    def reserves(self, a: Token, b: Token, block: int | str = "latest") -> PoolReserves:
        pair, read = self.reserves_read(a, b)
        batch = self.multicall.read([read], block if isinstance(block, int) else "latest" if block == "latest" else int(block))
        return self.reserves_of(a, b, pair, batch.answers[0], batch.block_number)

    def spot_price(self, base: Token, quote: Token, block: int | str = "latest") -> tuple[Decimal, int]:
        """Price of one `base` in `quote` from the pool's reserves, and the block it was read at."""
        r = self.reserves(base, quote, block)
        if r.reserve_a == 0:
            raise NoRouteError(f"{base.symbol}/{quote.symbol} pool is empty")
        return quote.from_base(r.reserve_b) / base.from_base(r.reserve_a), r.block_number

    def swap_tx(self, quote: SwapQuote, min_out: int, recipient: str, deadline: int) -> TxRequest:
        """The router call for an exact-input swap; fee-on-transfer tokens use the supporting variants."""
        token_in, token_out = self.registry.resolve(quote.token_in), self.registry.resolve(quote.token_out)
        if min_out <= 0:
            raise AmountError("min_out must be positive: a swap without a floor is refused")
        to = Web3.to_checksum_address(recipient)
        fot = "SupportingFeeOnTransferTokens" if "fee_on_transfer" in (token_in.kind, token_out.kind) else ""
        f = encode_router_call
        if token_in.is_native:
            data, value = f(f"swapExactETHForTokens{fot}", [min_out, quote.path, to, deadline]), quote.amount_in
        elif token_out.is_native:
            data, value = f(f"swapExactTokensForETH{fot}", [quote.amount_in, min_out, quote.path, to, deadline]), 0
        else:
            data, value = f(f"swapExactTokensForTokens{fot}", [quote.amount_in, min_out, quote.path, to, deadline]), 0
        return TxRequest(to=self.router.address, data=data, value=value,
                         label=f"swap {quote.amount_in} {token_in.symbol} -> {token_out.symbol} (min {min_out})")

    def swap_exact_out_tx(self, quote: SwapQuote, max_in: int, recipient: str, deadline: int) -> TxRequest:
        """The router call for an exact-output swap: exactly quote.amount_out for at most `max_in`.

        Native input sends `max_in` as value; the router refunds what it did not use."""
        token_in, token_out = self.registry.resolve(quote.token_in), self.registry.resolve(quote.token_out)
        if max_in <= 0 or quote.amount_out <= 0:
            raise AmountError("max_in and amount_out must be positive: a swap without a cap is refused")
        to = Web3.to_checksum_address(recipient)
        f = encode_router_call
        if token_in.is_native:
            data, value = f("swapETHForExactTokens", [quote.amount_out, quote.path, to, deadline]), max_in
        elif token_out.is_native:
            data, value = f("swapTokensForExactETH", [quote.amount_out, max_in, quote.path, to, deadline]), 0
        else:
            data, value = f("swapTokensForExactTokens", [quote.amount_out, max_in, quote.path, to, deadline]), 0
        return TxRequest(to=self.router.address, data=data, value=value,
                         label=f"swap at most {max_in} {token_in.symbol} -> exactly {quote.amount_out} "
                               f"{token_out.symbol}")
