"""The chain's identity is checked at start against its configuration and recorded in every run; a resume on
another chain, or with another wallet, is refused; a resume runs under the stricter of its own and the recorded
policy."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from defai_swarm.api import Swarm
from defai_swarm.audit import AuditLog
from defai_swarm.core.errors import ChainMismatch, ConfigError, Refused
from tests.test_runtime import swap_graph
from defai_swarm.tools.devnet.manifest import DevnetManifest
from defai_swarm.tools.evm.chain import EvmChain
from defai_swarm.tools.evm.policy import RiskPolicy
from defai_swarm.tools.evm.wallet import Wallet

SWARM = Path(sys.executable).parent / "swarm"


def write(tmp_path: Path, manifest: DevnetManifest, **changes) -> Path:
    path = tmp_path / "chain.json"
    path.write_text(manifest.model_copy(update=changes).model_dump_json())
    return path


def test_devnet_manifest_pins_genesis_and_matches(devnet, chain, tmp_path):
    assert devnet.manifest.genesis_hash == "0x" + bytes(chain.eth.get_block(0)["hash"]).hex()
    swarm = Swarm.from_config(write(tmp_path, devnet.manifest), home=tmp_path, anchor=False)
    assert swarm.chain.identity.genesis_hash == devnet.manifest.genesis_hash
    swarm.close()


@pytest.mark.parametrize("changes, says", [
    ({"chain_id": 1}, "the configuration says evm:1"),
    ({"genesis_hash": "0x" + "ab" * 32}, "a different (or reset) chain"),
    ({"genesis_hash": None}, "has no genesis_hash"),
])
def test_wrong_chain_is_refused(devnet, chain, tmp_path, changes, says):
    with pytest.raises(ChainMismatch, match=says.replace("(", r"\(").replace(")", r"\)")):
        Swarm.from_config(write(tmp_path, devnet.manifest, **changes), home=tmp_path, anchor=False)


def test_wrong_chain_is_one_line_from_the_cli(devnet, chain, tmp_path):
    path = write(tmp_path, devnet.manifest, genesis_hash="0x" + "ab" * 32)
    done = subprocess.run([str(SWARM), "run", "--config", str(path), "swap 1 ETH to USDC"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "SWARM_HOME": str(tmp_path)})
    assert done.returncode == 1
    assert "error:" in done.stdout and "different (or reset) chain" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_no_dev_key_outside_a_local_devnet(devnet, chain, tmp_path, monkeypatch):
    monkeypatch.delenv("SWARM_PRIVATE_KEY", raising=False)
    public = DevnetManifest.model_validate(devnet.manifest.model_dump())
    public = public.model_copy(update={"local_devnet": False})
    with pytest.raises(ConfigError, match="SWARM_PRIVATE_KEY"):
        EvmChain.from_config(public)
    key = "0x" + "11" * 32
    monkeypatch.setenv("SWARM_PRIVATE_KEY", key)
    assert EvmChain.from_config(public).wallet.address == Wallet.from_key(key).address


def test_identity_is_recorded_and_resume_keeps_chain_and_policy(devnet, chain, wallet, tmp_path):
    policy = RiskPolicy(human_approval_above_usd=100)
    swarm = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, policy=policy, home=tmp_path, anchor=False)
    waiting = swarm.execute(swap_graph("ETH", "USDC", "0.1"))
    assert waiting.status == "awaiting_approval"
    with AuditLog(tmp_path / "audit" / "audit.db") as log:
        intent = next(e for e in log.entries(waiting.run_id) if e.kind == "intent")
    assert intent.payload["chain"] == "evm:31337"
    assert intent.payload["chain_identity"]["genesis_hash"] == devnet.manifest.genesis_hash
    swarm.close()

    # a looser policy given on resume: the recorded approval threshold still holds (a policy only tightens)
    looser = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, policy=RiskPolicy(), home=tmp_path, anchor=False)
    assert looser.resume(waiting.run_id).status == "awaiting_approval"
    looser.close()

    other = json.loads(devnet.manifest.model_dump_json())
    other_chain = EvmChain(DevnetManifest.model_validate({**other, "genesis_hash": "0x" + "cd" * 32}), wallet,
                           w3=chain, verify=False)
    elsewhere = Swarm(other_chain, home=tmp_path, anchor=False)
    with pytest.raises(ChainMismatch, match="resume it against that chain"):
        elsewhere.resume(waiting.run_id, approve=True)
    elsewhere.close()

    # another wallet's key never executes this wallet's run (a shared store holds every wallet's runs)
    intruder = Wallet.devnet(6)
    nonce = chain.eth.get_transaction_count(intruder.address)
    someone_else = Swarm(w3=chain, manifest=devnet.manifest, wallet=intruder, home=tmp_path, anchor=False)
    with pytest.raises(Refused, match="resumes only with that wallet"):
        someone_else.resume(waiting.run_id, approve=True)
    someone_else.close()
    assert chain.eth.get_transaction_count(intruder.address) == nonce

    same = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path, anchor=False)
    assert same.resume(waiting.run_id, approve=True).status == "done"  # its own policy, recorded at start
    same.close()
