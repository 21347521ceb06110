"""The EVM chain adapter: web3.py, Uniswap V2, Chainlink-style feeds, self-transaction anchors.

Everything the chain-neutral agents need from an EVM chain goes through `EvmChain`
(see `defai_swarm.core.chain.ChainAdapter`); nothing above this layer imports web3.
"""
from __future__ import annotations

import threading
import time
from typing import ClassVar

from web3 import Web3

from defai_swarm.core.anchor import AnchorChecker, Anchorer
from defai_swarm.core.chain import ChainIdentity, Quote, Recorder
from defai_swarm.core.errors import ChainMismatch, ConfigError
from defai_swarm.core.outbox import Outbox
from defai_swarm.core.policy import RuleResult, SwapPolicy
from defai_swarm.core.prices import PriceReading
from defai_swarm.tools.evm import erc20
from defai_swarm.tools.evm.config import EvmChainConfig
from defai_swarm.tools.evm.executor import SwapExecutor, SwapOutcome
from defai_swarm.tools.evm.multicall import Read
from defai_swarm.tools.evm.policy import RiskPolicy
from defai_swarm.tools.evm.prices import PriceReader
from defai_swarm.tools.evm.probe import sell_back_probe
from defai_swarm.tools.evm.rpc import connect, read_retry
from defai_swarm.tools.evm.tokens import Token, TokenRegistry
from defai_swarm.tools.evm.tx import TxSender
from defai_swarm.tools.evm.uniswap import UniswapV2
from defai_swarm.tools.evm.wallet import Wallet


def read_identity(w3: Web3) -> ChainIdentity:
    """Chain id and the hash of block 0, as the node reports them."""
    chain_id = read_retry(lambda: w3.eth.chain_id)()
    genesis = read_retry(lambda: w3.eth.get_block(0))()
    return ChainIdentity(family="evm", chain_id=str(chain_id), genesis_hash="0x" + bytes(genesis.get("hash", b"")).hex())


class EvmSwapExecutor:
    """The chain-neutral executor face (symbols in, `SwapOutcome` out) over the Uniswap V2 executor."""

    def __init__(self, chain: "EvmChain", executor: SwapExecutor):
        self.chain, self.inner = chain, executor

    def execute(self, run_id: str, step: str, token_in: str, token_out: str, amount_in: int, min_out: int,
                slippage_bps: int, approval_total: int | None = None) -> SwapOutcome:
        return self.inner.execute(run_id, step, self.chain.token(token_in), self.chain.token(token_out),
                                  amount_in, min_out, approval_total=approval_total)

    def execute_exact_out(self, run_id: str, step: str, token_in: str, token_out: str, amount_out: int,
                          max_in: int, slippage_bps: int) -> SwapOutcome:
        """`max_in` is the cap (the router reverts above it); slippage is already inside it."""
        return self.inner.execute_exact_out(run_id, step, self.chain.token(token_in), self.chain.token(token_out),
                                            amount_out, max_in)

    def reset_approval(self, run_id: str, step: str, token: str) -> str | None:
        return self.inner.reset_approval(run_id, step, self.chain.token(token))


class EvmChain:
    family: ClassVar[str] = "evm"
    policy_model: ClassVar[type[SwapPolicy]] = RiskPolicy
    config_model: ClassVar[type[EvmChainConfig]] = EvmChainConfig

    def __init__(self, config: EvmChainConfig, wallet: Wallet, w3: Web3 | None = None, verify: bool = True):
        self.config, self.wallet = config, wallet
        self.w3 = w3 or connect(config.rpc_url)
        self.registry = TokenRegistry.from_config(config)
        self.uniswap = UniswapV2.from_manifest(self.w3, config, self.registry)
        self.sender = TxSender(self.w3, wallet)
        self.prices = PriceReader(self.registry, self.uniswap, config.feeds)
        self._executors: dict[tuple[int, int], SwapExecutor] = {}
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

    def quote(self, token_in: str, token_out: str, amount_in: int) -> Quote:
        q = self.uniswap.quote(self.token(token_in), self.token(token_out), amount_in)
        return Quote(token_in=q.token_in, token_out=q.token_out, amount_in=q.amount_in, amount_out=q.amount_out,
                     route="uniswap-v2:" + ">".join(q.path))

    def quote_exact_out(self, token_in: str, token_out: str, amount_out: int) -> Quote:
        q = self.uniswap.quote_exact_out(self.token(token_in), self.token(token_out), amount_out)
        return Quote(token_in=q.token_in, token_out=q.token_out, amount_in=q.amount_in, amount_out=q.amount_out,
                     route="uniswap-v2:" + ">".join(q.path))

    def pre_trade_checks(self, policy: SwapPolicy, token_in: str, token_out: str, amount_in: int, quote: Quote,
                         slippage_bps: int) -> list[RuleResult]:
        """The sell-back probe of the output token (a honeypot can be bought but not sold)."""
        if not getattr(policy, "require_honeypot_check", True):
            return []
        ok, detail = sell_back_probe(self.uniswap, self.wallet.address, self.token(token_out))
        return [RuleResult(rule="sell_back_simulation", passed=ok, detail=detail or "not checked")]

    def executor(self, outbox: Outbox, record: Recorder, policy: SwapPolicy) -> EvmSwapExecutor:
        return EvmSwapExecutor(self, self._executor(outbox, record))

    def _executor(self, outbox: Outbox, record: Recorder) -> SwapExecutor:
        # one per (outbox, recorder): it owns the per-token approval locks, so it is kept, not rebuilt per swap
        key = (id(outbox), id(record))
        if key not in self._executors:
            self._executors[key] = SwapExecutor(self.uniswap, self.sender, outbox, record)
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

    def secret_markers(self) -> list[str]:
        return self.wallet.secret_markers()

    def close(self) -> None:
        """Nothing to release: web3's HTTP provider holds no open connection between requests."""
