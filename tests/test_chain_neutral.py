"""The core knows no chain: a family and a DEX are added from outside, and no core file names a chain.

(a) A stand-in chain family, defined here and registered with `defai_swarm.chains.register_family` (no entry
    point), plans and runs a price question through `Swarm` like a built-in family; nothing under swarm/ or
    agents/ names it.
(b) A second EVM DEX, one class here (the devnet's Uniswap V2 pools quoted with another fee), registered on an
    `EvmChain`: the adapter's quote asks every DEX and takes the best route, and a swap compares both DEXes' fresh
    quotes, records them all (audit kind `dex_quotes`) and trades through the better one.
(c) An AST scan: no string literal naming a built-in family or its coin ("evm", "solana", "ETH", "SOL") in
    swarm/ or agents/ outside the front-door files listed in FRONT_DOORS (and the family registry).
"""
from __future__ import annotations

import ast
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest

from defai_swarm import chains
from defai_swarm.api import Swarm
from defai_swarm.core.chain import (CASE_INSENSITIVE, EXACT, AddressForm, ChainConfig, ChainIdentity, Quote,
                                    SwapOutcome)
from defai_swarm.core.dex import best_quote
from defai_swarm.core.errors import ConfigError, PriceUnavailable
from defai_swarm.core.policy import RuleResult, SwapPolicy
from defai_swarm.core.prices import PriceReading, collect_reading
from defai_swarm.core.tokens import TokenBase, TokenRegistryBase
from defai_swarm.ledger import SpendLedger
from defai_swarm.runrecords import same_address
from defai_swarm.taskgraph import ResolveAmountTask

REPO = Path(__file__).resolve().parents[1]
TOY = "toychain"  # the stand-in family's name: must appear in no core file


# -- (a) a stand-in chain family --------------------------------------------------------------------------------
class ToyToken(TokenBase, frozen=True):
    address: str
    kind: str = "token"

    @property
    def key(self) -> str:
        return self.address

    @property
    def is_native(self) -> bool:
        return self.kind == "native"


class ToyConfig(ChainConfig):
    chain_id: str = "toy-1"
    prices: dict[str, str] = {}  # symbol -> USD price, as two "independent" sources report it

    @classmethod
    def load(cls, path: str | Path) -> "ToyConfig":
        return cls.model_validate_json(Path(path).read_text())


class ToyWallet:
    def __init__(self, name: str):
        self.address = f"Toy{name}"


class ToyExecutor:
    """A read-only stand-in: every swap is refused, nothing is signed."""

    def execute(self, run_id, step, token_in, token_out, amount_in, min_out, slippage_bps, approval_total=None):
        return SwapOutcome(status="refused", amount_in=amount_in, min_out=min_out, reason="read-only stand-in")

    def execute_exact_out(self, run_id, step, token_in, token_out, amount_out, max_in, slippage_bps):
        return SwapOutcome(status="refused", amount_in=max_in, min_out=amount_out, reason="read-only stand-in")

    def reset_approval(self, run_id, step, token):
        return None


class ToyChain:
    """Everything `ChainAdapter` declares, in memory: tokens, balances, a price from two sources, a block height."""

    family: ClassVar[str] = TOY
    policy_model: ClassVar[type[SwapPolicy]] = SwapPolicy
    config_model: ClassVar[type[ToyConfig]] = ToyConfig
    address_form: ClassVar[AddressForm] = EXACT

    def __init__(self, config: ToyConfig, wallet: ToyWallet):
        self.config, self.wallet = config, wallet
        self.identity = ChainIdentity(family=TOY, chain_id=config.chain_id, genesis_hash="toy-genesis")
        self.registry = TokenRegistryBase([ToyToken(symbol="TOY", decimals=6, address="toy0", kind="native"),
                                           ToyToken(symbol="PEB", decimals=6, address="toy1")])
        self.height = 7

    @classmethod
    def from_config(cls, config: ToyConfig, wallet: ToyWallet | None = None) -> "ToyChain":
        return cls(config, wallet or cls.dev_wallet(1))

    @classmethod
    def wallet_from_secret(cls, text: str) -> ToyWallet:
        return ToyWallet(text)

    @classmethod
    def dev_wallet(cls, index: int) -> ToyWallet:
        return ToyWallet(f"dev{index}")

    @classmethod
    def readonly_wallet(cls) -> None:
        return None

    @property
    def wallet_address(self) -> str:
        return self.wallet.address

    @property
    def native_symbol(self) -> str:
        return "TOY"

    def block_height(self) -> int:
        self.height += 1
        return self.height

    def dexes(self) -> tuple:
        return ()

    def token(self, symbol: str) -> ToyToken:
        return self.registry.resolve(symbol)

    def balance_of(self, symbol: str) -> int:
        return self.token(symbol).to_base("100")

    def read_price(self, symbol: str) -> PriceReading:
        price = Decimal(self.config.prices[self.token(symbol).symbol])
        return collect_reading(symbol, "USD", {"toy-oracle": lambda: (price, self.height),
                                               "toy-pool": lambda: (price, self.height)},
                               PriceUnavailable, {"toy-oracle": "oracle:toy", "toy-pool": "dex:toy"})

    def quote(self, token_in: str, token_out: str, amount_in: int) -> Quote:
        raise NotImplementedError

    def quote_exact_out(self, token_in: str, token_out: str, amount_out: int) -> Quote:
        raise NotImplementedError

    def pre_trade_checks(self, policy, token_in, token_out, amount_in, quote, slippage_bps) -> list[RuleResult]:
        return []

    def executor(self, outbox, record, policy) -> Any:
        return ToyExecutor()

    def anchorer(self) -> Any:
        raise NotImplementedError

    def anchor_checker(self, expected_sender: str | None) -> Any:
        raise NotImplementedError

    def secret_markers(self) -> list[str]:
        return ["toy-wallet-secret-0123456789"]

    def close(self) -> None:
        pass


@pytest.fixture
def toy_family():
    chains.register_family(TOY, f"{__name__}:ToyChain")
    yield
    chains.unregister_family(TOY)


def test_a_family_registered_in_code_plans_and_answers_through_the_core(toy_family, tmp_path):
    config = tmp_path / "toy.json"
    config.write_text(json.dumps({"family": TOY, "rpc_url": "toy://local", "genesis_hash": "toy-genesis",
                                  "prices": {"TOY": "2.5", "PEB": "1"}}))
    assert chains.families()[TOY] == f"{__name__}:ToyChain"
    assert chains.address_form(TOY) is EXACT  # read from the adapter class: the registration named none
    swarm = Swarm.from_config(config, home=tmp_path / "home", anchor=False)
    try:
        assert isinstance(swarm.chain, ToyChain) and swarm.chain.identity.label == f"{TOY}:toy-1"
        plan = swarm.plan("swap 5 TOY to PEB, max 1% slippage")
        assert plan.ok, plan.refusal_reason
        assert plan.task_graph is not None and {t.kind for t in plan.task_graph.tasks} >= {"check_risk", "swap"}
        # the native coin is the registry's: 'all' of it keeps the gas reserve back, of another token nothing
        everything = swarm.plan("swap all my TOY to PEB")
        assert everything.ok and everything.task_graph is not None, everything.refusal_reason
        resolve = next(t for t in everything.task_graph.tasks if isinstance(t, ResolveAmountTask))
        assert resolve.gas_reserve == swarm.policy.gas_reserve > 0
        other = swarm.plan("swap all my PEB to TOY")
        assert other.task_graph is not None
        assert next(t for t in other.task_graph.tasks if isinstance(t, ResolveAmountTask)).gas_reserve == 0

        result = swarm.run("what is the price of TOY?")
        assert result.status == "done", result.reasons
        answer = next(r for r in result.tasks.values() if r.get("answer"))
        assert "2.5" in answer["answer"], answer
        assert swarm.auditor is not None
        intent = next(e for e in swarm.auditor.log.entries(result.run_id) if e.kind == "intent")
        assert intent.payload["chain"] == f"{TOY}:toy-1" and intent.payload["chain_id"] == "toy-1"
    finally:
        swarm.close()


def test_the_stand_in_family_is_named_in_no_core_file():
    named = [str(p.relative_to(REPO)) for root in ("swarm", "agents") for p in (REPO / root).rglob("*.py")
             if TOY in p.read_text()]
    assert named == []


def test_wait_blocks_reads_the_adapters_block_height(toy_family, tmp_path):
    from defai_swarm.agents.wait_blocks import block_height

    chain = ToyChain(ToyConfig(family=TOY, rpc_url="toy://"), ToyWallet("w"))
    assert block_height(chain) == 8 and block_height(chain) == 9


def test_address_forms_come_from_the_family_registration_without_the_adapter(toy_family, tmp_path):
    """The ledger and the run records have only a ChainIdentity: they compare wallets by the family's form."""
    evm = ChainIdentity(family="evm", chain_id="31337", genesis_hash="0x" + "aa" * 32)
    toy = ChainIdentity(family=TOY, chain_id="toy-1", genesis_hash="g")
    hex_address = "0x" + "Ab" * 20
    assert chains.address_form("evm") is CASE_INSENSITIVE and chains.address_form("solana") is EXACT
    assert SpendLedger.for_wallet(tmp_path / "l.sqlite", evm, hex_address).wallet == hex_address.lower()
    assert SpendLedger.for_wallet(tmp_path / "l.sqlite", toy, "ToyAb").wallet == "ToyAb"
    assert same_address(hex_address, hex_address.lower(), "evm")
    assert not same_address("ToyAb", "toyab", TOY) and not same_address("Ab", "ab", "no-such-family")
    # the built-in registrations agree with what the adapters declare
    for family in chains.BUILTIN_FAMILIES:
        assert chains.adapter_class(family.name).address_form is family.address_form
    with pytest.raises(ConfigError, match="built in"):
        chains.register_family("evm", f"{__name__}:ToyChain")


def test_the_audit_reviewers_anchor_sender_comes_from_the_adapter(monkeypatch):
    """`swarm audit verify` asks the adapter class for the operator's account (`anchor_sender_for`), not a family
    branch; the built-in adapters answer it as their own anchor modules do."""
    from defai_swarm.tools.evm.chain import EvmChain
    from defai_swarm.tools.evm.wallet import Wallet
    from defai_swarm.tools.solana.chain import SolanaChain

    key = "0x" + "5a" * 32
    monkeypatch.setenv("SWARM_PRIVATE_KEY", key)
    monkeypatch.delenv("SWARM_SOLANA_KEYPAIR", raising=False)
    assert EvmChain.anchor_sender_for(None) == Wallet.from_key(key).address
    assert SolanaChain.anchor_sender_for(None) is None


def test_wallets_load_through_the_family_adapter(toy_family, tmp_path):
    from defai_swarm.cluster.keys import load_wallet, readonly_wallet

    (tmp_path / "key").write_text("alice")
    assert load_wallet(TOY, f"file:{tmp_path / 'key'}").address == "Toyalice"
    assert load_wallet(TOY, "devnet:2").address == "Toydev2"
    assert readonly_wallet(TOY) is None


# -- (b) a second EVM DEX ---------------------------------------------------------------------------------------
class RefeeDex:
    """The devnet's Uniswap V2 pools with another fee on top: `fee_bps` > 0 quotes worse than Uniswap V2 itself,
    < 0 better. Its swap is the router's own call (the same spender), floored by the executor's minOut."""

    def __init__(self, uniswap, fee_bps: int, name: str = "refee"):
        from defai_swarm.tools.evm.dex import UniswapV2Dex

        self.inner, self.fee_bps, self.name = UniswapV2Dex(uniswap), fee_bps, name

    @property
    def spender(self) -> str:
        return self.inner.spender

    def quote(self, token_in: str, token_out: str, amount: int, exact_out: bool = False):
        out = []
        for q in self.inner.quote(token_in, token_out, amount, exact_out):
            change = ({"amount_in": q.amount_in * (10_000 + self.fee_bps) // 10_000} if exact_out
                      else {"amount_out": q.amount_out * (10_000 - self.fee_bps) // 10_000})
            out.append(q.model_copy(update={**change, "dex": self.name, "route": f"{self.name}:{q.route}"}))
        return out

    def swap_call(self, quote, limit: int, deadline: int, recipient: str):
        return self.inner.swap_call(quote, limit, deadline, recipient)


def _evm_chain(chain, devnet, wallet):
    from defai_swarm.tools.evm.chain import EvmChain

    return EvmChain(devnet.manifest, wallet, w3=chain)


def test_the_adapter_asks_every_dex_and_takes_the_best(chain, devnet, wallet):
    eth = 10**18
    worse = _evm_chain(chain, devnet, wallet)
    only_uniswap = worse.quote("ETH", "USDC", eth)
    assert [d.name for d in worse.dexes()] == ["uniswap-v2"] and only_uniswap.dex == "uniswap-v2"
    assert only_uniswap.route.startswith("uniswap-v2:")
    worse.add_dex(RefeeDex(worse.uniswap, fee_bps=30))
    quotes, errors = worse.all_quotes("ETH", "USDC", eth)
    assert [q.dex for q in quotes] == ["uniswap-v2", "refee"] and errors == {}
    assert quotes[1].amount_out < quotes[0].amount_out
    assert worse.quote("ETH", "USDC", eth) == quotes[0] == best_quote(quotes)
    assert worse.quote_exact_out("USDC", "ETH", eth).dex == "uniswap-v2"  # exact output: least input

    better = _evm_chain(chain, devnet, wallet)
    better.add_dex(RefeeDex(better.uniswap, fee_bps=-10))
    chosen = better.quote("ETH", "USDC", eth)
    assert chosen.dex == "refee" and chosen.amount_out > only_uniswap.amount_out
    assert better.quote_exact_out("USDC", "ETH", eth).dex == "refee"
    with pytest.raises(ConfigError, match="already registered"):
        better.add_dex(RefeeDex(better.uniswap, fee_bps=5))


@pytest.mark.parametrize("fee_bps, chosen", [(30, "uniswap-v2"), (-10, "refee")])
def test_a_swap_compares_every_dex_logs_all_quotes_and_trades_on_the_best(chain, devnet, wallet, tmp_path, fee_bps,
                                                                           chosen):
    from defai_swarm.tools.evm.policy import RiskPolicy

    adapter = _evm_chain(chain, devnet, wallet)
    adapter.add_dex(RefeeDex(adapter.uniswap, fee_bps=fee_bps))
    swarm = Swarm(adapter, policy=RiskPolicy(), home=tmp_path, anchor=False)
    try:
        result = swarm.run("swap 0.1 ETH to USDC, max 1% slippage")
        assert result.status == "done", result.reasons
        assert swarm.auditor is not None
        compared = [e.payload for e in swarm.auditor.log.entries(result.run_id) if e.kind == "dex_quotes"]
        assert len(compared) == 1 and compared[0]["chosen"] == chosen and compared[0]["step"] == "swap_1"
        logged = compared[0]["quotes"]
        assert [q["dex"] for q in logged] == ["uniswap-v2", "refee"]
        # replayable: the rule applied to the logged quotes gives the recorded choice
        assert max(logged, key=lambda q: int(q["amount_out"]))["dex"] == chosen
        assert result.tasks["swap_1"]["status"] == "confirmed"
    finally:
        swarm.close()


# -- (c) no chain names in the core ---------------------------------------------------------------------------
CHAIN_NAMES = {"evm", "solana", "ETH", "SOL"}
# Front doors other helpers own, which still name the built-in families (their flags, devnet commands, help);
# each should ask `defai_swarm.chains` (families(), adapter_class(name), a family's devnet) instead.
FRONT_DOORS = {
    "swarm/cli/audit_commands.py",  # --rpc/--config per family: adapter_class(family).anchor_checker_for(config, sender)
    "swarm/cli/",  # --chain choices and the devnet commands: chains.families() and a per-family devnet registry
    "swarm/session.py",  # the devnet config a --chain name maps to
    "swarm/integrations/mcp_server.py",  # --chain choices: chains.families()
    "swarm/starter.py",  # `swarm new`'s example project (an EVM pool-depth agent)
    "swarm/starter_template/",  # the project `swarm new` writes (a user's code, shipped as data)
}
REGISTRY = "swarm/chains.py"  # registers the built-in families: the one place the core names them


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def chain_names_in(root: Path, relative_to: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(relative_to).as_posix()
        if rel == REGISTRY or any(rel == f or (f.endswith("/") and rel.startswith(f)) for f in FRONT_DOORS):
            continue
        tree = ast.parse(path.read_text(), filename=rel)
        skip = _docstrings(tree)
        found += [f"{rel}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and node.value in CHAIN_NAMES and id(node) not in skip]
    return found


def test_no_core_file_names_a_chain_family_or_its_coin():
    assert chain_names_in(REPO / "swarm", REPO) + chain_names_in(REPO / "agents", REPO) == []


def test_the_scan_finds_a_family_check(tmp_path):
    (tmp_path / "swarm").mkdir()
    (tmp_path / "swarm" / "x.py").write_text('"""evm"""\ndef f(i):\n    return i.family == "evm"\n')
    assert chain_names_in(tmp_path / "swarm", tmp_path) == ["swarm/x.py:3: 'evm'"]


# -- the Solana adapter's side of the seams ----------------------------------------------------------------------
def test_a_solana_schedule_has_a_height_and_jupiter_is_its_dex(solana_devnet):
    """wait_blocks asked a Solana adapter for `rpc.get_slot()`, which SolanaRpc does not have: a Solana schedule
    failed with "has no block height". The adapter's block_height is the slot, and it moves as blocks are made."""
    import httpx

    from defai_swarm.agents.wait_blocks import block_height
    from defai_swarm.tools.solana.chain import SolanaChain

    adapter = SolanaChain.from_config(solana_devnet.config)
    try:
        start = block_height(adapter)
        answer = httpx.post(solana_devnet.config.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "devnet_mine",
                                                                "params": [3]}, timeout=30).json()
        assert "error" not in answer, answer
        assert block_height(adapter) >= start + 3
        assert adapter.native_symbol == "SOL" and adapter.address_form.normalise("AbC") == "AbC"
        (jupiter,) = adapter.dexes()
        direct = adapter.quote("SOL", "USDC", 10**9)
        via_dex = jupiter.quote("SOL", "USDC", 10**9)
        assert [q.amount_out for q in via_dex] == [direct.amount_out] and via_dex[0].route.startswith("jupiter:")
    finally:
        adapter.close()
