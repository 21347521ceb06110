"""Every example bot against the devnet, loops shortened, effects checked on chain and in the audit log."""
from __future__ import annotations

from decimal import Decimal

import pytest

from examples import dca_bot, one_shot_swap, price_trigger, rebalancer
from defai_swarm.audit import AuditLog
from defai_swarm.exitcodes import ExitCode
from defai_swarm.tools.devnet.contracts import abi
from defai_swarm.tools.evm import erc20


@pytest.fixture
def flags(chain, devnet, tmp_path):
    return ["--manifest", str(devnet.manifest_path), "--home", str(tmp_path)]


def audit_runs(tmp_path) -> list[str]:
    with AuditLog(tmp_path / "audit" / "audit.db") as log:
        return log.runs()


def test_one_shot_swap(flags, chain, registry, wallet, tmp_path, capsys):
    usdc = registry.resolve("USDC")
    before = erc20.balance_of(chain, usdc, wallet.address)
    assert one_shot_swap.main([*flags, "swap 1 ETH to USDC if ETH is above 2500"]) == 0
    assert erc20.balance_of(chain, usdc, wallet.address) > before
    out = capsys.readouterr().out
    assert ": done" in out and "swarm audit verify" in out
    assert len(audit_runs(tmp_path)) == 1


def test_dca_bot_buys_each_round_every_n_blocks(flags, chain, registry, wallet, tmp_path, capsys):
    start_block = chain.eth.block_number
    assert dca_bot.main([*flags, "--amount", "50", "--every", "3", "--rounds", "2", "--mine"]) == 0
    out = capsys.readouterr().out
    assert "DCA: 2/2 rounds bought ETH" in out
    assert len(audit_runs(tmp_path)) == 2
    assert chain.eth.block_number >= start_block + 3
    assert erc20.balance_of(chain, registry.resolve("USDC"), wallet.address) < 100_000 * 10**6


def test_price_trigger_waits_then_acts(flags, chain, devnet, registry, wallet, tmp_path, capsys):
    feed = chain.eth.contract(address=devnet.manifest.feeds["ETH/USD"].address, abi=abi("PriceFeed"))
    usdc = registry.resolve("USDC")
    before = erc20.balance_of(chain, usdc, wallet.address)
    # the condition does not hold: every poll is skipped, nothing moves
    assert price_trigger.main([*flags, "--intent", "swap 1 ETH to USDC if ETH is above 3100", "--polls", "2",
                               "--interval", "0"]) == ExitCode.SKIPPED
    assert erc20.balance_of(chain, usdc, wallet.address) == before
    assert "condition never held" in capsys.readouterr().out
    # below works straight away
    chain.eth.wait_for_transaction_receipt(
        feed.functions.set_answer(3000 * 10**8, 0).transact({"from": devnet.manifest.deployer}))
    assert price_trigger.main([*flags, "--intent", "swap 1 ETH to USDC if ETH is below 3100", "--polls", "2",
                               "--interval", "0"]) == 0
    assert erc20.balance_of(chain, usdc, wallet.address) > before


def test_rebalancer_moves_toward_target(flags, chain, registry, wallet):
    usdc = registry.resolve("USDC")
    before = erc20.balance_of(chain, usdc, wallet.address)  # the dev wallet is ~99% ETH by value
    assert rebalancer.main([*flags, "--target", "0.5", "--max-step-usd", "3000"]) == 0
    gained = usdc.from_base(erc20.balance_of(chain, usdc, wallet.address) - before)
    assert Decimal(2900) < gained < Decimal(3000)


def test_rebalance_intent_math():
    assert rebalancer.rebalance_intent(Decimal(1), Decimal(3000), Decimal(3000), Decimal("0.5"), Decimal("0.05"),
                                       Decimal(5000)) is None
    assert rebalancer.rebalance_intent(Decimal(2), Decimal(0), Decimal(3000), Decimal("0.5"), Decimal("0.05"),
                                       Decimal(5000)) == "swap 1.0000 ETH to USDC, max 1% slippage"
    assert rebalancer.rebalance_intent(Decimal(0), Decimal(6000), Decimal(3000), Decimal("0.5"), Decimal("0.05"),
                                       Decimal(1000)) == "swap 1000.00 USDC to ETH, max 1% slippage"
