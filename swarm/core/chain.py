"""The seam between the chain-neutral swarm and one chain: `ChainAdapter` and the executor contract.

Adding a chain means one package under `tools/` implementing `ChainAdapter` plus a
config model; nothing in the runtime, the agents or the audit log changes.

The executor contract (the same for every chain, proven by one parameterised test suite):
- `execute` returns a `SwapOutcome` whose status is `confirmed` (landed and the
  received amount checked), `refused` (a check failed before anything was signed)
  or `failed` (the reason says what happened).
- It raises `RpcUnavailable` or `TxFateUnknown` when it cannot know whether a signed
  transaction landed: the step stays open (its spend reservation kept) and a resume
  rebroadcasts the same signed bytes or finds them landed.
- It never signs a second transaction for a step unless non-landing is proven
  (a definitive rejection at send, the nonce taken by another transaction, or the
  Solana blockhash expired with no signature status).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Literal, Protocol, Sequence

from pydantic import BaseModel, ConfigDict

from defai_swarm.core.anchor import AnchorChecker, Anchorer
from defai_swarm.core.dex import Dex, Quote
from defai_swarm.core.outbox import Outbox
from defai_swarm.core.policy import RuleResult, SwapPolicy
from defai_swarm.core.prices import PriceReading
from defai_swarm.core.tokens import TokenBase, TokenRegistryBase

Recorder = Callable[[str, str, dict], None]  # (run_id, kind, payload): the audit log's append


@dataclass(frozen=True)
class AddressForm:
    """How a chain family spells a wallet address, as far as comparing two spellings goes.

    A family declares one (`ChainAdapter.address_form`, and the family's registration in `defai_swarm.chains`,
    which the ledger and the run records read from a `ChainIdentity`'s family without importing the adapter):
    `CASE_INSENSITIVE` for hex addresses whose letter case is only a checksum, `EXACT` for base58 and the like.
    """

    name: str
    case_sensitive: bool

    def normalise(self, address: str) -> str:
        """The one spelling of `address` that ledgers and run records key on."""
        return address if self.case_sensitive else address.lower()

    def same(self, a: str, b: str) -> bool:
        return self.normalise(a) == self.normalise(b)


CASE_INSENSITIVE = AddressForm("case-insensitive", case_sensitive=False)
EXACT = AddressForm("exact", case_sensitive=True)


class ChainIdentity(BaseModel):
    """Which chain a node really is: checked at start against the configuration, recorded in every run."""

    model_config = ConfigDict(frozen=True)
    family: str  # a registered chain family (defai_swarm.chains)
    chain_id: str  # EVM chain id; Solana cluster name
    genesis_hash: str  # EVM: hash of block 0; Solana: genesis hash

    @property
    def label(self) -> str:
        return f"{self.family}:{self.chain_id}"

    @property
    def recorded_chain_id(self) -> int | str:
        """The chain id as a run's context records it: a number where it is one (EVM chain ids), else the name."""
        return int(self.chain_id) if self.chain_id.isdecimal() else self.chain_id


class SwapOutcome(BaseModel):
    status: Literal["confirmed", "refused", "failed"]
    amount_in: int
    min_out: int
    quoted_out: int | None = None
    received: int | None = None
    spent: int | None = None  # input actually taken (exact-output swaps: at most amount_in, the authorised max)
    reason: str = ""

    def tx_ids(self) -> list[str]:
        return []


class SwapExecutor(Protocol):
    def execute(self, run_id: str, step: str, token_in: str, token_out: str, amount_in: int, min_out: int,
                slippage_bps: int, approval_total: int | None = None) -> SwapOutcome:
        """Swap exactly `amount_in` for at least `min_out`. `approval_total` (>= amount_in): where the chain
        needs an approval, approve this much at once (the remaining total of an N-part split) so later parts
        send none; a failed part still resets the approval to zero. Chains without approvals ignore it."""
        ...

    def execute_exact_out(self, run_id: str, step: str, token_in: str, token_out: str, amount_out: int,
                          max_in: int, slippage_bps: int) -> SwapOutcome:
        """Swap at most `max_in` for exactly `amount_out` (received >= amount_out is checked). The outcome's
        amount_in is `max_in` (what was authorised), `spent` what was taken. Same contract as `execute`."""
        ...

    def reset_approval(self, run_id: str, step: str, token: str) -> str | None:
        """An abandoned split (a later part refused or skipped before reaching the executor): reset what an
        earlier part approved for it to zero, once per step (recorded as `{step}:revoke`). Returns the reset
        transaction's id, or None when nothing was left approved (or the chain has no approvals). A reset of
        unknown fate raises as `execute` does, so a resume finishes it."""
        ...


class ChainAdapter(Protocol):
    """One chain, as the agents see it. Symbols are resolved through `registry`; amounts are base units.

    Construction and wallets are part of the contract, so front doors (the cluster's wallet actors, the CLI)
    build any family's adapter without knowing it: `from_config(config, wallet)` (a wallet of None: the family's
    own default, e.g. a key from the environment), `wallet_from_secret(text)` (the family's key text: EVM hex,
    a Solana keypair's JSON), `dev_wallet(n)` (a local devnet's public development account; ConfigError where
    the family has none) and `readonly_wallet()` (what a read-only adapter is built with)."""

    family: ClassVar[str]
    policy_model: ClassVar[type[SwapPolicy]]
    # and `config_model`: the family's `ChainConfig` subclass, with `load(path)` (not declared here: a class
    # attribute of a protocol is invariant, and each family's is its own subclass)
    address_form: ClassVar[AddressForm]

    @classmethod
    def from_config(cls, config: Any, wallet: Any = None) -> ChainAdapter: ...

    @classmethod
    def wallet_from_secret(cls, text: str) -> Any: ...

    @classmethod
    def dev_wallet(cls, index: int) -> Any: ...

    @classmethod
    def readonly_wallet(cls) -> Any: ...

    @property
    def identity(self) -> ChainIdentity: ...  # checked against the configuration when the adapter is made

    @property
    def registry(self) -> TokenRegistryBase[Any]: ...

    @property
    def wallet_address(self) -> str: ...

    @property
    def native_symbol(self) -> str:
        """The chain's native coin (it pays the fees; 'all of it' keeps the policy's gas reserve back)."""
        ...

    def block_height(self) -> int:
        """The chain's current height, the unit a schedule waits in (EVM: block number; Solana: slot)."""
        ...

    def dexes(self) -> Sequence[Dex]:
        """The venues `quote` asks (every one; the best route wins) and the executor swaps through."""
        ...

    def token(self, symbol: str) -> TokenBase: ...

    def balance_of(self, symbol: str) -> int: ...

    def read_price(self, symbol: str) -> PriceReading:
        """USD price from at least two independent sources where the chain has them; raises PriceUnavailable."""
        ...

    def quote(self, token_in: str, token_out: str, amount_in: int) -> Quote: ...

    def quote_exact_out(self, token_in: str, token_out: str, amount_out: int) -> Quote:
        """The input the route needs for exactly `amount_out` (Quote.amount_in), Quote.amount_out == amount_out."""
        ...

    def pre_trade_checks(self, policy: SwapPolicy, token_in: str, token_out: str, amount_in: int, quote: Quote,
                         slippage_bps: int) -> list[RuleResult]:
        """The chain's own rules, evaluated now (EVM: sell-back probe; Solana: mint extensions, route)."""
        ...

    def executor(self, outbox: Outbox, record: Recorder, policy: SwapPolicy) -> SwapExecutor: ...

    def anchorer(self) -> Anchorer: ...

    def anchor_checker(self, expected_sender: str | None) -> AnchorChecker: ...

    def secret_markers(self) -> list[str]: ...

    def close(self) -> None: ...


class ChainConfig(BaseModel):
    """Where a chain is and what is on it; each chain family extends this (EVM: router, feeds; Solana: mints, Pyth).

    Written by hand for a public chain, or by `swarm devnet up` for a local one. `genesis_hash` pins the
    chain's identity: a node that answers with another one is refused.
    """

    family: str
    rpc_url: str
    genesis_hash: str | None = None

    def identity_problem(self, actual: ChainIdentity, expected_chain_id: str) -> str | None:
        """What is wrong if the node at `rpc_url` is not this chain; None when it matches."""
        if actual.chain_id != expected_chain_id:
            return (f"the node at {self.rpc_url} is chain {actual.label}, but the configuration says "
                    f"{self.family}:{expected_chain_id}; point --config at the right file or RPC")
        if self.genesis_hash is None:
            return (f"the configuration has no genesis_hash: add \"genesis_hash\": \"{actual.genesis_hash}\" "
                    f"after checking that it is the chain you mean")
        if actual.genesis_hash.lower() != self.genesis_hash.lower():
            return (f"the node at {self.rpc_url} has genesis {actual.genesis_hash}, the configuration expects "
                    f"{self.genesis_hash}: a different (or reset) chain; refusing to use it")
        return None
