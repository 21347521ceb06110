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

from typing import Any, Callable, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from defai_swarm.core.anchor import AnchorChecker, Anchorer
from defai_swarm.core.outbox import Outbox
from defai_swarm.core.policy import RuleResult, SwapPolicy
from defai_swarm.core.prices import PriceReading
from defai_swarm.core.tokens import TokenBase, TokenRegistryBase

Recorder = Callable[[str, str, dict], None]  # (run_id, kind, payload): the audit log's append


class ChainIdentity(BaseModel):
    """Which chain a node really is: checked at start against the configuration, recorded in every run."""

    model_config = ConfigDict(frozen=True)
    family: str  # "evm", "solana", ...
    chain_id: str  # EVM chain id; Solana cluster name
    genesis_hash: str  # EVM: hash of block 0; Solana: genesis hash

    @property
    def label(self) -> str:
        return f"{self.family}:{self.chain_id}"


class Quote(BaseModel):
    """What the route being traded offers for an exact input (`quote`), or needs for an exact output
    (`quote_exact_out`: amount_in is the input the route needs for exactly amount_out), in base units."""

    token_in: str
    token_out: str
    amount_in: int
    amount_out: int
    route: str = ""


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
    """One chain, as the agents see it. Symbols are resolved through `registry`; amounts are base units."""

    family: ClassVar[str]
    policy_model: ClassVar[type[SwapPolicy]]

    @property
    def identity(self) -> ChainIdentity: ...  # checked against the configuration when the adapter is made

    @property
    def registry(self) -> TokenRegistryBase[Any]: ...

    @property
    def wallet_address(self) -> str: ...

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
