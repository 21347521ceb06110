"""The EVM chain adapter: web3.py, Uniswap V2, Chainlink-style feeds, self-transaction anchors.

Everything the chain-neutral agents need from an EVM chain goes through `EvmChain`
(see `defai_swarm.core.chain.ChainAdapter`); nothing above this layer imports web3.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import ClassVar, cast

from web3 import Web3

from defai_swarm.core.anchor import AnchorChecker, Anchorer
from defai_swarm.core.chain import CASE_INSENSITIVE, AddressForm, ChainIdentity, Quote, Recorder
from defai_swarm.core.dex import best_quote
from defai_swarm.core.errors import ChainMismatch, ConfigError
from defai_swarm.core.outbox import Outbox
from defai_swarm.core.policy import RuleResult, SwapPolicy
from defai_swarm.core.prices import PriceReading
from defai_swarm.tools.evm import erc20
from defai_swarm.tools.evm.config import EvmChainConfig
from defai_swarm.tools.evm.dex import DexVenue, EvmDex, EvmQuote, UniswapV2Dex, call_target, dex_quotes
from defai_swarm.tools.evm.errors import EvmToolError
from defai_swarm.tools.evm.executor import APPROVE_SELECTOR, SwapExecutor, SwapOutcome
from defai_swarm.tools.evm.multicall import Read
from defai_swarm.tools.evm.policy import RiskPolicy
from defai_swarm.tools.evm.prices import PriceReader
from defai_swarm.tools.evm.probe import sell_back_probe
from defai_swarm.tools.evm.rpc import connect, read_retry
from defai_swarm.tools.evm.tokens import Token, TokenRegistry
from defai_swarm.tools.evm.tx import SignedTx, TxSender
from defai_swarm.tools.evm.uniswap import NoRouteError, UniswapV2
from defai_swarm.tools.evm.wallet import Wallet

log = logging.getLogger(__name__)
NATIVE_SYMBOL = "ETH"  # an EVM chain's coin when its configuration lists no native token


def read_identity(w3: Web3) -> ChainIdentity:
    """Chain id and the hash of block 0, as the node reports them."""
    chain_id = read_retry(lambda: w3.eth.chain_id)()
    genesis = read_retry(lambda: w3.eth.get_block(0))()
    return ChainIdentity(family="evm", chain_id=str(chain_id), genesis_hash="0x" + bytes(genesis.get("hash", b"")).hex())


class EvmSwapExecutor:
    """The chain-neutral executor face (symbols in, `SwapOutcome` out) over the swap executor of the chain's DEXes.

    One DEX (the default, Uniswap V2): its executor, as it always was. Several: a step already begun (a signed
    approval, swap or revoke in the outbox) continues on the DEX its transactions call; a split whose earlier part
    left an approval continues on that DEX; otherwise every DEX is asked for a fresh quote, all of them are
    recorded (audit kind `dex_quotes`) and the best route's DEX swaps (its own fresh quote, minOut and checks)."""

    def __init__(self, chain: "EvmChain", outbox: Outbox, record: Recorder):
        self.chain, self.outbox, self.record = chain, outbox, record

    @property
    def inner(self) -> SwapExecutor:
        """The first DEX's executor (the only one on a chain with one DEX)."""
        return self.chain._executor(self.outbox, self.record, self.chain.dexes()[0])

    def _for(self, dex: EvmDex) -> SwapExecutor:
        return self.chain._executor(self.outbox, self.record, dex)

    def _recorded_dex(self, run_id: str, step: str) -> EvmDex | None:
        """The DEX this step's recorded transactions call (swap: its `to`; approve/revoke: the spender argument)."""
        spenders = {dex.spender.lower(): dex for dex in self.chain.dexes()}
        for suffix in ("swap", "approve", "revoke"):
            signed = self.outbox.signed_for(run_id, f"{step}:{suffix}", SignedTx)
            if signed is None:
                continue
            to, data = call_target(signed.raw)
            spender = to if suffix == "swap" else ("0x" + data[16:36].hex() if data[:4] == APPROVE_SELECTOR else "")
            if spender.lower() in spenders:
                return spenders[spender.lower()]
        return None

    def _approved_dex(self, token: str) -> EvmDex | None:
        """The DEX an earlier part of a split left an allowance of `token` with."""
        t = self.chain.token(token)
        if t.is_native:
            return None
        for dex in self.chain.dexes():
            if erc20.allowance(self.chain.w3, t, self.chain.wallet.address, dex.spender) > 0:
                return dex
        return None

    def _choose(self, run_id: str, step: str, token_in: str, token_out: str, amount: int, exact_out: bool,
                split: bool) -> SwapExecutor:
        dexes = self.chain.dexes()
        if len(dexes) == 1:
            return self._for(dexes[0])
        chosen = self._recorded_dex(run_id, step) or (self._approved_dex(token_in) if split else None)
        if chosen is not None:
            return self._for(chosen)
        quotes, errors = self.chain.all_quotes(token_in, token_out, amount, exact_out)
        if not quotes:  # the first DEX's own fresh quote says why, as with one DEX
            return self._for(dexes[0])
        best = best_quote(quotes, exact_out)
        self.record(run_id, "dex_quotes", {"step": step, "exact_out": exact_out, "chosen": best.dex,
                                           "rule": "least input" if exact_out else "most output",
                                           "quotes": [q.model_dump(mode="json") for q in quotes], "errors": errors})
        return self._for(next(d for d in dexes if d.name == best.dex))

    def execute(self, run_id: str, step: str, token_in: str, token_out: str, amount_in: int, min_out: int,
                slippage_bps: int, approval_total: int | None = None) -> SwapOutcome:
        inner = self._choose(run_id, step, token_in, token_out, amount_in, False, approval_total is not None)
        return inner.execute(run_id, step, self.chain.token(token_in), self.chain.token(token_out),
                             amount_in, min_out, approval_total=approval_total)

    def execute_exact_out(self, run_id: str, step: str, token_in: str, token_out: str, amount_out: int,
                          max_in: int, slippage_bps: int) -> SwapOutcome:
        """`max_in` is the cap (the router reverts above it); slippage is already inside it."""
        inner = self._choose(run_id, step, token_in, token_out, amount_out, True, False)
        return inner.execute_exact_out(run_id, step, self.chain.token(token_in), self.chain.token(token_out),
                                       amount_out, max_in)

    def reset_approval(self, run_id: str, step: str, token: str) -> str | None:
        dexes = self.chain.dexes()
        dex = dexes[0] if len(dexes) == 1 else (self._recorded_dex(run_id, step) or self._approved_dex(token)
                                                 or dexes[0])
        return self._for(dex).reset_approval(run_id, step, self.chain.token(token))


class EvmChain:
    family: ClassVar[str] = "evm"
    policy_model: ClassVar[type[SwapPolicy]] = RiskPolicy
    config_model: ClassVar[type[EvmChainConfig]] = EvmChainConfig
    address_form: ClassVar[AddressForm] = CASE_INSENSITIVE  # hex; the letter case is only a checksum

    def __init__(self, config: EvmChainConfig, wallet: Wallet, w3: Web3 | None = None, verify: bool = True):
        self.config, self.wallet = config, wallet
        self.w3 = w3 or connect(config.rpc_url)
        self.registry = TokenRegistry.from_config(config)
        self.uniswap = UniswapV2.from_manifest(self.w3, config, self.registry)
        self._dexes: list[EvmDex] = [UniswapV2Dex(self.uniswap)]
        self.sender = TxSender(self.w3, wallet)
        self.prices = PriceReader(self.registry, self.uniswap, config.feeds)
        self._executors: dict[tuple[int, int, str], SwapExecutor] = {}
        self._balances: tuple[float, int, dict[str, int]] | None = None  # (monotonic time, sends seen, balances)
        self._balances_lock = threading.Lock()
        self.identity = self.verify_identity() if verify else ChainIdentity(
            family="evm", chain_id=str(config.chain_id), genesis_hash=config.genesis_hash or "")

    @classmethod
    def from_config(cls, config: EvmChainConfig, wallet: Wallet | None = None) -> "EvmChain":
        """The wallet: the one given, else `SWARM_PRIVATE_KEY`; a local devnet falls back to dev account 1."""
        if wallet is None:
            try:
                wallet = Wallet.from_env()
            except ValueError:
                if not config.local_devnet:
                    raise ConfigError("no wallet: set SWARM_PRIVATE_KEY (hex) for this chain; development keys "
                                      "are used only on a local devnet") from None
                wallet = Wallet.devnet(1)
        return cls(config, wallet)

    # -- wallets (ChainAdapter's wallet loading: the cluster's actors build any family's wallet through these)
    @classmethod
    def wallet_from_secret(cls, text: str) -> Wallet:
        """A wallet from its private key's hex text (ValueError, the key not shown, for anything else)."""
        return Wallet.from_key(text)

    @classmethod
    def dev_wallet(cls, index: int) -> Wallet:
        """anvil's public development account `index` (local devnets only)."""
        return Wallet.devnet(index)

    @classmethod
    def readonly_wallet(cls) -> Wallet:
        """A fresh empty account: reads need an address, and this one holds nothing and signs nothing of value."""
        from eth_account import Account
        return Wallet(Account.create())

    @property
    def native_symbol(self) -> str:
        """The configured native coin's symbol (ETH unless the configuration names another)."""
        return next((t.symbol for t in self.registry.tokens() if t.is_native), NATIVE_SYMBOL)

    def block_height(self) -> int:
        """The latest block's number."""
        return int(self.w3.eth.block_number)

    def verify_identity(self) -> ChainIdentity:
        """Refuse a node that is not the configured chain (chain id and block 0 must both match)."""
        actual = read_identity(self.w3)
        problem = self.config.identity_problem(actual, str(self.config.chain_id))
        if problem:
            raise ChainMismatch(problem)
        return actual

    @property
    def wallet_address(self) -> str:
        return self.wallet.address

    def token(self, symbol: str) -> Token:
        return self.registry.resolve(symbol)

    def balance_of(self, symbol: str) -> int:
        """One token's balance. The wallet's balances of every configured token are read together in one batched
        call, and that read answers the calls that follow it within `BALANCES_FRESH_SECONDS` unless this adapter
        sent a transaction meanwhile (planning asks for each token in turn). A balance is a pre-check only: the
        simulation before signing is what refuses a swap the wallet cannot pay for."""
        token = self.token(symbol)
        with self._balances_lock:
            cached = self._balances
            if cached is None or time.monotonic() - cached[0] > self.BALANCES_FRESH_SECONDS \
                    or cached[1] != self.sender.sent_count or token.symbol not in cached[2]:
                cached = self._balances = (time.monotonic(), self.sender.sent_count, self.balances())
            return cached[2][token.symbol]

    BALANCES_FRESH_SECONDS = 0.5

    def balances(self) -> dict[str, int]:
        """The wallet's balance of every configured token, in base units, read at one block in one call."""
        tokens = [self.registry.resolve(symbol) for symbol in self.registry.symbols()]
        me = self.wallet.address
        multicall = self.uniswap.multicall
        reads = [multicall.eth_balance(me) if t.is_native else
                 Read(t.address, "balanceOf(address)", (me,)) for t in tokens]
        batch = multicall.read(reads)
        out: dict[str, int] = {}
        for t, answer in zip(tokens, batch.answers, strict=True):
            if not answer.ok or answer.value is None:
                raise erc20.NotATokenError(f"token {t.symbol} at {t.address} did not answer like an ERC-20 token "
                                           f"(balanceOf): {answer.error}; check the {t.symbol} address in the "
                                           f"chain configuration")
            out[t.symbol] = int(answer.value[0])
        return out

    def read_price(self, symbol: str) -> PriceReading:
        return self.prices.read(symbol)

    # -- DEXes: every one is asked, the best route wins
    def dexes(self) -> tuple[EvmDex, ...]:
        return tuple(self._dexes)

    def add_dex(self, dex: EvmDex) -> None:
        """Trade on `dex` too (`defai_swarm.tools.evm.dex.EvmDex`): quotes ask it, the executor may swap through it."""
        if not isinstance(dex, EvmDex):
            raise ConfigError(f"{type(dex).__name__} is not an EVM DEX (name, spender, quote, swap_call)")
        if any(d.name == dex.name for d in self._dexes):
            raise ConfigError(f"a DEX named {dex.name!r} is already registered on this chain")
        self._dexes.append(dex)

    def all_quotes(self, token_in: str, token_out: str, amount: int,
                   exact_out: bool = False) -> tuple[list[EvmQuote], dict[str, str]]:
        """Every route of every DEX, and why each DEX that gave none did not (with one DEX its error is raised)."""
        t_in, t_out = self.token(token_in), self.token(token_out)
        quotes: list[EvmQuote] = []
        errors: dict[str, str] = {}
        for dex in self._dexes:
            try:
                quotes += dex_quotes(dex, t_in, t_out, amount, exact_out)
            except EvmToolError as exc:
                if len(self._dexes) == 1:
                    raise
                errors[dex.name] = f"{type(exc).__name__}: {exc}"
        return quotes, errors

    def _best(self, token_in: str, token_out: str, amount: int, exact_out: bool) -> EvmQuote:
        quotes, errors = self.all_quotes(token_in, token_out, amount, exact_out)
        if not quotes:
            raise NoRouteError(f"no DEX has a route between {token_in} and {token_out}: " + "; ".join(
                f"{name}: {why}" for name, why in errors.items()))
        best = cast(EvmQuote, best_quote(quotes, exact_out))
        if len(self._dexes) > 1:
            log.info("quotes %s -> %s (%s): %s; best %s", token_in, token_out, "exact out" if exact_out else "exact in",
                     ", ".join(f"{q.route} in {q.amount_in} out {q.amount_out}" for q in quotes), best.route)
        return best

    def quote(self, token_in: str, token_out: str, amount_in: int) -> EvmQuote:
        """The best route of every DEX for exactly `amount_in` (most output; the first DEX's of equals)."""
        return self._best(token_in, token_out, amount_in, False)

    def quote_exact_out(self, token_in: str, token_out: str, amount_out: int) -> EvmQuote:
        """The best route of every DEX for exactly `amount_out` (least input)."""
        return self._best(token_in, token_out, amount_out, True)

    def pre_trade_checks(self, policy: SwapPolicy, token_in: str, token_out: str, amount_in: int, quote: Quote,
                         slippage_bps: int) -> list[RuleResult]:
        """The sell-back probe of the output token (a honeypot can be bought but not sold)."""
        if not getattr(policy, "require_honeypot_check", True):
            return []
        ok, detail = sell_back_probe(self.uniswap, self.wallet.address, self.token(token_out))
        return [RuleResult(rule="sell_back_simulation", passed=ok, detail=detail or "not checked")]

    def executor(self, outbox: Outbox, record: Recorder, policy: SwapPolicy) -> EvmSwapExecutor:
        return EvmSwapExecutor(self, outbox, record)

    def _executor(self, outbox: Outbox, record: Recorder, dex: EvmDex | None = None) -> SwapExecutor:
        # one per (outbox, recorder, DEX): it owns the per-token approval locks, so it is kept, not rebuilt per swap
        dex = dex or self._dexes[0]
        key = (id(outbox), id(record), dex.name)
        if key not in self._executors:
            # the executor drives a DEX through the venue protocol it always used with UniswapV2 (DexVenue provides it)
            self._executors[key] = SwapExecutor(DexVenue(dex, self.w3, self.registry), self.sender, outbox, record)
        return self._executors[key]

    def anchorer(self) -> Anchorer:
        from defai_swarm.tools.evm.anchor import anchor_on_evm
        return lambda digest: anchor_on_evm(self.sender, digest)

    def anchor_checker(self, expected_sender: str | None) -> AnchorChecker:
        from defai_swarm.tools.evm.anchor import EvmAnchorChecker
        return EvmAnchorChecker(self.w3, expected_sender=expected_sender)

    @classmethod
    def anchor_checker_for(cls, config: EvmChainConfig, expected_sender: str | None) -> AnchorChecker:
        """A checker for a reviewer, who has the chain's configuration but no wallet."""
        from defai_swarm.tools.evm.anchor import EvmAnchorChecker
        return EvmAnchorChecker(connect(config.rpc_url), expected_sender=expected_sender)

    @classmethod
    def anchor_checker_at(cls, rpc_url: str, expected_sender: str | None) -> AnchorChecker:
        """A checker for a reviewer with only a node's URL (`swarm audit verify --rpc`)."""
        from defai_swarm.tools.evm.anchor import EvmAnchorChecker
        return EvmAnchorChecker(connect(rpc_url), expected_sender=expected_sender)

    @classmethod
    def anchor_sender_for(cls, config: EvmChainConfig | None) -> str | None:
        """The operator's account for `config`, from the configuration in use (no node contacted)."""
        from defai_swarm.tools.evm.anchor import configured_anchor_sender
        return configured_anchor_sender(config)

    def secret_markers(self) -> list[str]:
        return self.wallet.secret_markers()

    def close(self) -> None:
        """Nothing to release: web3's HTTP provider holds no open connection between requests."""
