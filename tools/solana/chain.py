"""The Solana chain adapter: solana-py + solders, Jupiter routes, Pyth prices, Memo anchors.

Everything the chain-neutral agents need from a Solana cluster goes through `SolanaChain`
(see `defai_swarm.core.chain.ChainAdapter`); nothing above this layer imports solana or solders.

Identity: a cluster is its genesis hash. The node's getGenesisHash names the cluster
(mainnet, devnet and testnet have well-known ones; any other is a local cluster) and must
equal the configuration's `genesis_hash` (for mainnet and devnet the well-known hash is
expected when the configuration leaves it out).
"""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from defai_swarm.core.anchor import AnchorChecker, Anchorer
from defai_swarm.core.chain import EXACT, AddressForm, ChainIdentity, Quote, Recorder
from defai_swarm.core.errors import ChainMismatch, ConfigError, UnknownToken
from defai_swarm.core.outbox import Outbox
from defai_swarm.core.policy import RuleResult, SwapPolicy
from defai_swarm.core.prices import PriceReading
from defai_swarm.tools.solana.config import SolanaChainConfig
from defai_swarm.tools.solana.errors import LayoutError
from defai_swarm.tools.solana.executor import SolanaSwapExecutor, SolanaSwapOutcome
from defai_swarm.tools.solana.jupiter import JupiterClient, JupiterQuote, JupiterSwap
from defai_swarm.tools.solana.mint_rules import mint_rules
from defai_swarm.tools.solana.policy import SolanaRiskPolicy, route_rules
from defai_swarm.tools.solana.prices import SolanaPriceReader
from defai_swarm.tools.solana.pyth import HermesClient
from defai_swarm.tools.solana.rpc import SolanaRpc
from defai_swarm.tools.solana.spl import ata_address
from defai_swarm.tools.solana.token_layout import parse_mint
from defai_swarm.tools.solana.tokens import SOL, SolanaToken, SolanaTokenRegistry
from defai_swarm.tools.solana.tx import SolanaTxSender
from defai_swarm.tools.solana.wallet import ENV_VAR, SolanaWallet, load_wallet

# getGenesisHash of the public clusters (fixed at their genesis; anything else is a local or private cluster).
KNOWN_GENESIS = {
    "mainnet": "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d",
    "devnet": "EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG",
    "testnet": "4uhcVJyU9pJkvQyS88uRDiswHXSCkY3zQawwpjk2NsNY",
}
QUOTE_SLIPPAGE_BPS = 50  # what `quote` asks Jupiter for when no slippage is given (SolanaRiskPolicy's default)


def cluster_of(genesis_hash: str) -> str:
    """The cluster a genesis hash belongs to: a public one by its well-known hash, else "localnet"."""
    return next((name for name, known in KNOWN_GENESIS.items() if known == genesis_hash), "localnet")


def read_identity(rpc: SolanaRpc) -> ChainIdentity:
    genesis = str(rpc.read(lambda: rpc.client.get_genesis_hash()).value)
    return ChainIdentity(family="solana", chain_id=cluster_of(genesis), genesis_hash=genesis)


class SolanaQuote(Quote):
    """A Jupiter quote (ExactIn, or ExactOut from `quote_exact_out`) in the chain-neutral shape, with what the
    route rules need of it."""

    requested_slippage_bps: int
    slippage_bps: int = Field(description="the slippage Jupiter applied (otherAmountThreshold follows from it)")
    price_impact_bps: int
    other_amount_threshold: int
    jupiter: JupiterQuote = Field(exclude=True)


class JupiterDex:
    """Jupiter (an aggregator: its one best route over the AMMs it knows) as the cluster's `Dex`. The executor
    (`SolanaSwapExecutor`) asks Jupiter itself; this is what `dexes()` lists and what best execution would ask."""

    name = "jupiter"

    def __init__(self, chain: "SolanaChain", max_priority_fee_lamports: int | None = None):
        self.chain, self.max_priority_fee_lamports = chain, max_priority_fee_lamports

    def quote(self, token_in: str, token_out: str, amount: int, exact_out: bool = False) -> list[SolanaQuote]:
        if exact_out:
            return [self.chain.quote_exact_out(token_in, token_out, amount)]
        return [self.chain.quote(token_in, token_out, amount)]

    def swap_call(self, quote: SolanaQuote, limit: int, deadline: int, recipient: str) -> JupiterSwap:
        """Jupiter's swap transaction for the quote (the route's own threshold binds it; `limit` and `deadline` are
        checked by the executor: a Solana transaction's deadline is its blockhash)."""
        fee = self.max_priority_fee_lamports
        if fee is None:
            fee = SolanaRiskPolicy().max_priority_fee_lamports
        return self.chain.jupiter.swap(quote.jupiter, recipient, fee)


class SolanaChainExecutor:
    """The chain-neutral executor face (symbols in, `SolanaSwapOutcome` out) over the Jupiter executor."""

    def __init__(self, chain: "SolanaChain", inner: SolanaSwapExecutor):
        self.chain, self.inner = chain, inner

    def execute(self, run_id: str, step: str, token_in: str, token_out: str, amount_in: int, min_out: int,
                slippage_bps: int, approval_total: int | None = None) -> SolanaSwapOutcome:
        """`approval_total` is ignored: a Jupiter swap needs no approval (the wallet signs each transfer)."""
        try:
            t_in, t_out = self.chain.token(token_in), self.chain.token(token_out)
        except UnknownToken as exc:
            return SolanaSwapOutcome(status="refused", amount_in=amount_in, min_out=min_out, reason=str(exc))
        return self.inner.execute(run_id, step, t_in, t_out, amount_in, min_out, slippage_bps)

    def execute_exact_out(self, run_id: str, step: str, token_in: str, token_out: str, amount_out: int,
                          max_in: int, slippage_bps: int) -> SolanaSwapOutcome:
        try:
            t_in, t_out = self.chain.token(token_in), self.chain.token(token_out)
        except UnknownToken as exc:
            return SolanaSwapOutcome(status="refused", amount_in=max_in, min_out=amount_out, reason=str(exc))
        return self.inner.execute_exact_out(run_id, step, t_in, t_out, amount_out, max_in, slippage_bps)

    def reset_approval(self, run_id: str, step: str, token: str) -> str | None:
        """Nothing to reset: a Jupiter swap needs no standing approval."""
        return None


def _registry(config: SolanaChainConfig) -> SolanaTokenRegistry:
    """The configured tokens; native SOL is always there (every cluster has it)."""
    tokens = list(config.tokens)
    if not any(t.is_native for t in tokens) and "SOL" not in {t.symbol.upper() for t in tokens}:
        tokens.insert(0, SOL)
    return SolanaTokenRegistry(tokens)


class SolanaChain:
    family: ClassVar[str] = "solana"
    policy_model: ClassVar[type[SwapPolicy]] = SolanaRiskPolicy
    config_model: ClassVar[type[SolanaChainConfig]] = SolanaChainConfig
    address_form: ClassVar[AddressForm] = EXACT  # base58: every letter counts

    def __init__(self, config: SolanaChainConfig, wallet: SolanaWallet | None, rpc: SolanaRpc | None = None,
                 jupiter: JupiterClient | None = None, hermes: HermesClient | None = None, verify: bool = True):
        self.config, self.wallet = config, wallet
        self.rpc = rpc or SolanaRpc.from_config(config.solana_config())
        self.jupiter = jupiter or JupiterClient(config.jupiter_url)
        self.hermes = hermes or HermesClient(config.hermes_url)
        # clients made here are closed by `close`; clients passed in belong to the caller
        self._owned = [c for c, given in ((self.jupiter, jupiter), (self.hermes, hermes), (self.rpc, rpc)) if given is None]
        self.registry = _registry(config)
        self.prices = SolanaPriceReader(self.rpc, self.registry, config.pyth_feeds, jupiter=self.jupiter,
                                        hermes=self.hermes)
        self.sender = SolanaTxSender(self.rpc, wallet) if wallet is not None else None
        try:
            self.identity = self.verify_identity() if verify else ChainIdentity(
                family="solana", chain_id=config.cluster, genesis_hash=config.genesis_hash or "")
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_config(cls, config: SolanaChainConfig, wallet: SolanaWallet | None = None) -> "SolanaChain":
        """Connect and check the node is the configured cluster (ChainMismatch if not).

        The wallet: the one given, else the configuration's `wallet_path`, else `$SWARM_SOLANA_KEYPAIR`;
        without any, the adapter reads (prices, quotes, checks, anchors) but cannot sign."""
        return cls(config, wallet if wallet is not None else load_wallet(config))

    # -- wallets (ChainAdapter's wallet loading: the cluster's actors build any family's wallet through these)
    @classmethod
    def wallet_from_secret(cls, text: str) -> SolanaWallet:
        """A wallet from a keypair's JSON (the 64-byte array `solana-keygen` writes)."""
        return SolanaWallet.from_json(text)

    @classmethod
    def dev_wallet(cls, index: int) -> SolanaWallet:
        raise ConfigError("devnet:N names anvil's development accounts (EVM devnets); a Solana wallet is given "
                          "by env:VAR or file:/path (a keypair's JSON)")

    @classmethod
    def readonly_wallet(cls) -> None:
        """No wallet: the adapter reads (prices, quotes, checks) and signs nothing."""
        return None

    @property
    def native_symbol(self) -> str:
        """The native coin's symbol (SOL: `_registry` always lists it)."""
        return next((t.symbol for t in self.registry.tokens() if t.is_native), SOL.symbol)

    def block_height(self) -> int:
        """The current slot: a schedule's "every N blocks" counts slots on Solana."""
        return int(self.rpc.slot())

    def dexes(self) -> tuple[JupiterDex]:
        return (JupiterDex(self),)

    def verify_identity(self) -> ChainIdentity:
        """Refuse a node that is not the configured cluster (cluster and genesis hash must both match)."""
        actual = read_identity(self.rpc)
        expected = self.config
        if expected.genesis_hash is None and expected.cluster in KNOWN_GENESIS:
            expected = expected.model_copy(update={"genesis_hash": KNOWN_GENESIS[expected.cluster]})
        problem = expected.identity_problem(actual, self.config.cluster)
        if problem:
            raise ChainMismatch(problem)
        return actual

    # -- who and what
    def _signer(self) -> SolanaTxSender:
        if self.sender is None:
            raise ConfigError(f"no Solana wallet: set wallet_path in the chain configuration or {ENV_VAR} "
                              f"to a keypair file")
        return self.sender

    @property
    def wallet_address(self) -> str:
        return self._signer().wallet.address

    def token(self, symbol: str) -> SolanaToken:
        return self.registry.resolve(symbol)

    def balance_of(self, symbol: str) -> int:
        """Base units: lamports for SOL, the wallet's associated token account for SPL tokens (0 if none)."""
        token, owner = self.token(symbol), self._signer().wallet.pubkey
        if token.is_native:
            return self.rpc.balance(owner)
        return self.rpc.token_balance(ata_address(owner, token)) or 0

    # -- prices and routes
    def read_price(self, symbol: str) -> PriceReading:
        """Pyth price account, Pyth Hermes and Jupiter against USD stablecoins, where configured."""
        return self.prices.read(symbol)

    def quote(self, token_in: str, token_out: str, amount_in: int, slippage_bps: int | None = None) -> SolanaQuote:
        t_in, t_out = self.token(token_in), self.token(token_out)
        requested = slippage_bps if slippage_bps is not None else QUOTE_SLIPPAGE_BPS
        q = self.jupiter.quote(t_in.mint, t_out.mint, amount_in, requested)
        labels = [step.swap_info.label or step.swap_info.amm_key for step in q.route_plan]
        return SolanaQuote(token_in=t_in.symbol, token_out=t_out.symbol, amount_in=q.in_amount, amount_out=q.out_amount,
                           route="jupiter:" + ">".join(labels), requested_slippage_bps=requested,
                           slippage_bps=q.slippage_bps, price_impact_bps=q.price_impact_bps,
                           other_amount_threshold=q.other_amount_threshold, jupiter=q)

    def quote_exact_out(self, token_in: str, token_out: str, amount_out: int,
                        slippage_bps: int | None = None) -> SolanaQuote:
        """Jupiter's swapMode=ExactOut: amount_in is what the route needs for exactly `amount_out`."""
        t_in, t_out = self.token(token_in), self.token(token_out)
        requested = slippage_bps if slippage_bps is not None else QUOTE_SLIPPAGE_BPS
        q = self.jupiter.quote(t_in.mint, t_out.mint, amount_out, requested, swap_mode="ExactOut")
        labels = [step.swap_info.label or step.swap_info.amm_key for step in q.route_plan]
        return SolanaQuote(token_in=t_in.symbol, token_out=t_out.symbol, amount_in=q.in_amount, amount_out=q.out_amount,
                           route="jupiter:" + ">".join(labels), requested_slippage_bps=requested,
                           slippage_bps=q.slippage_bps, price_impact_bps=q.price_impact_bps,
                           other_amount_threshold=q.other_amount_threshold, jupiter=q)

    def _mint_rules(self, token: SolanaToken, policy: SolanaRiskPolicy) -> list[RuleResult]:
        """`mint_rules` over the mint as it is on chain now (RPC errors propagate: not looked is not bad)."""
        if token.is_native:
            return mint_rules(token, None, policy)
        account = self.rpc.account(token.mint_pubkey)
        if account is None:
            return [RuleResult(rule=f"mint_read:{token.symbol}", passed=False,
                               detail=f"mint account {token.mint} does not exist on this chain")]
        try:
            mint = parse_mint(token.mint_pubkey, account.owner, account.data)
        except LayoutError as exc:
            return [RuleResult(rule=f"mint_read:{token.symbol}", passed=False, detail=f"mint account refused: {exc}")]
        return mint_rules(token, mint, policy)

    def pre_trade_checks(self, policy: SwapPolicy, token_in: str, token_out: str, amount_in: int, quote: Quote,
                         slippage_bps: int) -> list[RuleResult]:
        """The route (slippage Jupiter applied, price impact, mints and amount) and both mints, read now.

        The shared rules (allowlist, recipient, limits, price agreement, requested slippage, quote against
        the independent minimum) are `defai_swarm.core.policy.decide`'s. A quote that is not a `SolanaQuote` from
        this adapter at no more than `slippage_bps` is fetched again at `slippage_bps`."""
        p = SolanaRiskPolicy.of(policy)
        p = p.model_copy(update={"authority_allowlist": p.authority_allowlist | frozenset(self.config.authority_allowlist)})
        t_in, t_out = self.token(token_in), self.token(token_out)
        if isinstance(quote, SolanaQuote) and quote.requested_slippage_bps <= slippage_bps:
            jq = quote.jupiter
        else:
            jq = self.jupiter.quote(t_in.mint, t_out.mint, amount_in, slippage_bps)
        return route_rules(p, jq, t_in, t_out, amount_in, slippage_bps) + self._mint_rules(t_in, p) + \
            self._mint_rules(t_out, p)

    # -- effects
    def executor(self, outbox: Outbox, record: Recorder, policy: SwapPolicy) -> SolanaChainExecutor:
        inner = SolanaSwapExecutor(self.rpc, self._signer(), self.jupiter, SolanaRiskPolicy.of(policy), outbox=outbox,
                                   record=record)
        return SolanaChainExecutor(self, inner)

    def anchorer(self) -> Anchorer:
        from defai_swarm.tools.solana.anchor import anchor_with_memo
        sender, label = self._signer(), self.identity.label
        return lambda checkpoint_hash: anchor_with_memo(sender, checkpoint_hash, label)

    def anchor_checker(self, expected_sender: str | None) -> AnchorChecker:
        from defai_swarm.tools.solana.anchor import SolanaRpcAnchorChecker
        return SolanaRpcAnchorChecker(self.rpc, self.identity.label, expected_sender)

    @classmethod
    def anchor_checker_for(cls, config: SolanaChainConfig, expected_sender: str | None) -> AnchorChecker:
        """A checker for a reviewer, who has the cluster's configuration but no wallet."""
        from defai_swarm.tools.solana.anchor import SolanaRpcAnchorChecker, solana_chain
        return SolanaRpcAnchorChecker(SolanaRpc.from_config(config.solana_config()), solana_chain(config.cluster),
                                      expected_sender)

    @classmethod
    def anchor_sender_for(cls, config: SolanaChainConfig | None) -> str | None:
        """The operator's account for `config`, from the configuration in use (no node contacted)."""
        from defai_swarm.tools.solana.anchor import configured_anchor_sender
        return configured_anchor_sender(config)

    def secret_markers(self) -> list[str]:
        return self.wallet.secret_markers() if self.wallet is not None else []

    def close(self) -> None:
        for client in self._owned:
            try:
                client.close()
            except Exception:  # closing is best effort; nothing is in flight when the adapter is closed
                pass

    def __repr__(self) -> str:
        return f"SolanaChain({self.config.cluster}, {self.config.rpc_url}, wallet={self.wallet})"


__all__ = ["KNOWN_GENESIS", "JupiterDex", "SolanaChain", "SolanaChainExecutor", "SolanaQuote", "cluster_of", "load_wallet",
           "read_identity"]
