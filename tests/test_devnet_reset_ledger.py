"""`swarm devnet reset` clears the local devnet's daily cap with its trades (issue 28 #1), and nothing else's.

The daily cap is a wallet's, per chain identity (chain id + block 0's hash): a devnet reset keeps its identity, so
its reservations used to outlive the very trades they counted, and a tutorial followed twice ran into the cap
with no way forward in the message. Now the reset releases that devnet's reservations and drops its cap bindings,
only after proving the chain is the manifest's own anvil; a cap refusal says when the cap resets, how to raise it
and that a devnet reset clears it. A real anvil devnet of this module (a reset reverts it: not the session's),
the real CLI and the real SQLite ledger.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from defai_swarm.cli import main as swarm_main
from defai_swarm.core.chain import ChainIdentity
from defai_swarm.core.policy import daily_cap_way_forward
from defai_swarm.exitcodes import ExitCode
from defai_swarm.ledger import SpendLedger, chain_key, claim_cap_day, clear_local_devnet, utc_day
from defai_swarm.tools.devnet import Devnet
from defai_swarm.tools.devnet.control import NotLocalDevnet
from defai_swarm.tools.devnet.install import install
from defai_swarm.tools.devnet.manifest import DevnetManifest
from defai_swarm.tools.devnet.node import DevnetError, free_port
from defai_swarm.tools.evm.wallet import Wallet

pytestmark = pytest.mark.devnet  # an anvil of the module's own (a reset reverts it)

CAP = '{"daily_cap_usd": 4000}'  # one 1 ETH swap (~$3,000) fits, a second does not


@pytest.fixture(scope="module")
def own_devnet(tmp_path_factory):
    install()
    with Devnet.start(port=free_port(), manifest_path=tmp_path_factory.mktemp("reset-devnet") / "manifest.json") as dn:
        yield dn


@pytest.fixture
def env(own_devnet, tmp_path, monkeypatch):
    """The CLI on this module's devnet, with a state directory and a spend ledger of the test's own."""
    for name in ("SWARM_MODEL", "SWARM_PRIVATE_KEY", "SWARM_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SWARM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SWARM_MANIFEST", str(own_devnet.manifest_path))
    ledger = tmp_path / "ledger.sqlite"
    monkeypatch.setenv("SWARM_LEDGER", str(ledger))
    policy = tmp_path / "policy.json"
    policy.write_text(CAP)
    return ledger, policy


def swarm(argv: list[str], capsys) -> tuple[int, str]:
    code = swarm_main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


def identity(devnet: Devnet) -> ChainIdentity:
    return ChainIdentity(family="evm", chain_id=str(devnet.manifest.chain_id),
                         genesis_hash=str(devnet.manifest.genesis_hash))


WALLET = Wallet.devnet(1).address
OTHERS = [ChainIdentity(family="evm", chain_id="1", genesis_hash="0x" + "d4" * 32),  # a public chain
          ChainIdentity(family="evm", chain_id="31337", genesis_hash="0x" + "ab" * 32)]  # another devnet's chain


def seed_others(ledger: Path) -> list[SpendLedger]:
    """$2,000 reserved today on chains that are not this devnet (each binds its day to this ledger file)."""
    made = [SpendLedger.for_wallet(ledger, other, WALLET, scope="elsewhere") for other in OTHERS]
    for other in made:
        assert other.reserve_spend("r1", "swap_1", Decimal(2000), Decimal(25_000)) == (True, Decimal(0))
    return made


def bindings(ledger: Path) -> set[str]:
    with sqlite3.connect(ledger) as db:
        return {row[0] for row in db.execute("SELECT chain FROM cap_binding WHERE day=?", (utc_day(),))}


def test_reset_clears_the_devnet_cap_and_the_refusal_says_what_to_do(env, own_devnet, capsys):
    ledger, policy = env
    others = seed_others(ledger)
    intent = "swap 1 ETH to USDC"
    code, out = swarm(["run", intent, "--policy", str(policy)], capsys)
    assert code == ExitCode.DONE, out
    code, out = swarm(["run", intent, "--policy", str(policy)], capsys)
    assert code == ExitCode.REFUSED and "daily_cap_usd" in out, out
    refusal = next(line for line in out.splitlines() if "daily_cap_usd" in line)  # one line, with the way forward
    assert "00:00 UTC, in " in refusal and "--policy" in refusal and "swarm devnet reset" in refusal, refusal
    mine = SpendLedger.for_wallet(ledger, identity(own_devnet), WALLET)
    assert Decimal(2900) < mine.spent_today() < Decimal(3100)
    assert chain_key(identity(own_devnet)) in bindings(ledger)

    code, out = swarm(["devnet", "reset", "--json"], capsys)
    assert code == ExitCode.DONE, out
    cleared = json.loads(out[out.index("{"):])["ledger"]
    assert cleared["chain"] == chain_key(identity(own_devnet)) and cleared["reservations_released"] == 1
    assert Decimal(2900) < Decimal(cleared["usd_today_released"]) < Decimal(3100)
    assert cleared["bindings_dropped"] == 1 and cleared["kept_elsewhere"] == []
    assert mine.spent_today() == 0  # the devnet's day is clear ...
    [row] = mine.reservations(include_released=True)
    assert row["released_at"] is not None  # ... and its history kept
    assert chain_key(identity(own_devnet)) not in bindings(ledger)
    assert all(o.spent_today() == Decimal(2000) for o in others)  # other chains' days are untouched
    assert {chain_key(o) for o in OTHERS} <= bindings(ledger)

    code, out = swarm(["run", intent, "--policy", str(policy)], capsys)  # the cap allows the trade again
    assert code == ExitCode.DONE, out
    code, out = swarm(["devnet", "reset"], capsys)
    assert code == ExitCode.DONE and "no longer count against the daily cap" in out and "1 spend-ledger reservation(s) released" in out, out


def stale(manifest: DevnetManifest, tmp_path: Path, **changes) -> Path:
    path = tmp_path / f"manifest-{len(list(tmp_path.glob('manifest-*')))}.json"
    manifest.model_copy(update=changes).save(path)
    return path


def test_clearing_refuses_any_chain_but_the_manifest_s_own_anvil(env, own_devnet, tmp_path):
    ledger, _ = env
    others = seed_others(ledger)
    mine = SpendLedger.for_wallet(ledger, identity(own_devnet), WALLET)
    assert mine.reserve_spend("r1", "swap_1", Decimal(3000), Decimal(25_000))[0]
    manifest = own_devnet.manifest
    rpc = manifest.rpc_url.replace("127.0.0.1", "10.0.0.1")
    refused = {  # each is refused before the ledger is opened for writing
        "not loopback": (stale(manifest, tmp_path, rpc_url=rpc), NotLocalDevnet),
        "not a devnet": (stale(manifest, tmp_path, local_devnet=False), NotLocalDevnet),
        "another chain id": (stale(manifest, tmp_path, chain_id=1), NotLocalDevnet),
        "another devnet's genesis": (stale(manifest, tmp_path, genesis_hash="0x" + "ab" * 32), NotLocalDevnet),
        "no live anvil": (stale(manifest, tmp_path, anvil_pid=max_pid_plus_one()), DevnetError),
    }
    for case, (path, error) in refused.items():
        with pytest.raises(error):
            clear_local_devnet(path, ledger)
        assert mine.spent_today() == Decimal(3000), case
    assert all(o.spent_today() == Decimal(2000) for o in others)
    # another wallet's day on this devnet is kept by a PostgreSQL ledger: its binding stays, and is reported
    pg = "the PostgreSQL ledger swarm on db.example"
    claim_cap_day(ledger, chain_key(identity(own_devnet)), Wallet.devnet(2).address.lower(), utc_day(), "pg-ledger-id",
                  pg)
    done = clear_local_devnet(own_devnet.manifest_path, ledger)  # the real one, from Python, without a reset
    assert done.reservations == 1 and done.usd_today == Decimal(3000) and done.bindings == 1
    assert done.kept_elsewhere == (pg,)
    assert mine.spent_today() == 0 and all(o.spent_today() == Decimal(2000) for o in others)
    assert chain_key(identity(own_devnet)) in bindings(ledger)  # the PostgreSQL-kept day's binding


def test_the_cap_refusal_says_when_it_resets_and_what_to_do():
    text = daily_cap_way_forward(datetime(2025, 3, 1, 22, 18, 30, tzinfo=timezone.utc))
    assert text.startswith("the cap resets at 00:00 UTC, in 1h42m; ") and "\n" not in text
    assert "daily_cap_usd with `--policy FILE`" in text and "`swarm devnet reset`" in text
    assert "in 0h01m" in daily_cap_way_forward(datetime(2025, 3, 1, 23, 59, 59, tzinfo=timezone.utc))


def max_pid_plus_one() -> int:
    """A process id no process has: above the kernel's limit."""
    limit = Path("/proc/sys/kernel/pid_max")
    return int(limit.read_text()) + 1 if limit.exists() else 2**22 + 1
