"""SolanaWallet: keypair loading the Solana CLI way, and no secret in any text form it shows."""
import json
import logging
import pickle

import pytest
from solders.keypair import Keypair

from defai_swarm.tools.solana.config import SolanaConfig
from defai_swarm.tools.solana.wallet import SolanaWallet


def _cli_file(tmp_path, kp: Keypair):
    path = tmp_path / "id.json"
    path.write_text(json.dumps(list(bytes(kp))))  # what `solana-keygen new` writes
    return path


def test_loads_cli_keypair_file_and_env_forms(tmp_path, monkeypatch):
    kp = Keypair()
    path = _cli_file(tmp_path, kp)
    assert SolanaWallet.from_file(path).pubkey == kp.pubkey()
    monkeypatch.setenv("SWARM_SOLANA_KEYPAIR", str(path))
    assert SolanaWallet.from_env().pubkey == kp.pubkey()
    monkeypatch.setenv("SWARM_SOLANA_KEYPAIR", json.dumps(list(bytes(kp))))
    assert SolanaWallet.from_env().pubkey == kp.pubkey()


def test_write_keypair_file_roundtrip_is_owner_only(tmp_path):
    wallet = SolanaWallet.generate()
    path = wallet.write_keypair_file(tmp_path / "k.json")
    assert path.stat().st_mode & 0o077 == 0
    assert SolanaWallet.from_file(path).pubkey == wallet.pubkey
    assert json.loads(path.read_text()) == json.loads(wallet.secret_markers()[1])


def test_no_secret_in_repr_str_vars_logs(caplog):
    wallet = SolanaWallet.generate()
    markers = wallet.secret_markers()
    assert len(markers) >= 4 and all(len(m) >= 64 for m in markers)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("t").info("wallet %s %r %s", wallet, wallet, vars(wallet))
    shown = " ".join([repr(wallet), str(wallet), repr(vars(wallet)), f"{wallet}", caplog.text])
    assert wallet.address in shown
    for marker in markers:
        assert marker not in shown
    with pytest.raises(TypeError):
        pickle.dumps(wallet)


@pytest.mark.parametrize("text", ["[1,2,3]", "not json", json.dumps([300] * 64), json.dumps(list(range(64)))])
def test_bad_keypair_errors_do_not_echo_input(text, tmp_path, monkeypatch):
    monkeypatch.setenv("SWARM_SOLANA_KEYPAIR", text if text.startswith("[") else str(tmp_path / "missing.json"))
    with pytest.raises(ValueError) as info:
        SolanaWallet.from_env()
    assert text not in str(info.value) and info.value.__cause__ is None and info.value.__suppress_context__


def test_corrupted_keypair_file_refused_without_echo(tmp_path):
    kp = Keypair()
    raw = list(bytes(kp))
    raw[40] ^= 1  # public half no longer matches the secret half
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="value not shown") as info:
        SolanaWallet.from_file(path)
    assert json.dumps(raw) not in str(info.value)


def test_missing_env_var_says_what_to_set(monkeypatch):
    monkeypatch.delenv("SWARM_SOLANA_KEYPAIR", raising=False)
    with pytest.raises(ValueError, match="SWARM_SOLANA_KEYPAIR"):
        SolanaWallet.from_env()


def test_config_from_env(monkeypatch):
    monkeypatch.delenv("SWARM_SOLANA_RPC", raising=False)
    monkeypatch.setenv("SWARM_SOLANA_CLUSTER", "mainnet")
    assert SolanaConfig.from_env().rpc_url == "https://api.mainnet-beta.solana.com"
    monkeypatch.setenv("SWARM_SOLANA_RPC", "http://127.0.0.1:9")
    monkeypatch.setenv("SWARM_JUPITER_URL", "http://127.0.0.1:10/swap/v1")
    cfg = SolanaConfig.from_env()
    assert (cfg.cluster, cfg.rpc_url, cfg.jupiter_url) == ("mainnet", "http://127.0.0.1:9", "http://127.0.0.1:10/swap/v1")
    assert SolanaConfig.from_env("devnet").cluster == "devnet"
    monkeypatch.setenv("SWARM_SOLANA_CLUSTER", "moonnet")
    with pytest.raises(ValueError, match="unknown Solana cluster"):
        SolanaConfig.from_env()
