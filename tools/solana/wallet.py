"""The agent's Solana keypair. It only signs; it never appears in a repr, log, or error."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from defai_swarm.core.errors import ConfigError

if TYPE_CHECKING:
    from defai_swarm.tools.solana.config import SolanaChainConfig

ENV_VAR = "SWARM_SOLANA_KEYPAIR"


class _Secret:
    """Holds the keypair so that vars(), repr() and tracebacks show nothing of it."""

    __slots__ = ("keypair",)

    def __init__(self, keypair: Keypair):
        self.keypair = keypair

    def __repr__(self) -> str:
        return "<secret>"


def _keypair_from_json(text: str, where: str) -> Keypair:
    """A JSON array of 64 bytes, as `solana-keygen` writes it. Errors never echo the input."""
    try:
        values = json.loads(text)
        if not (isinstance(values, list) and len(values) == 64 and all(isinstance(v, int) and 0 <= v < 256 for v in values)):
            raise ValueError
        return Keypair.from_bytes(bytes(values))
    except Exception:
        raise ValueError(f"{where}: not a valid Solana keypair (a JSON array of 64 bytes); value not shown") from None


class SolanaWallet:
    def __init__(self, keypair: Keypair):
        self._secret = _Secret(keypair)
        self._pubkey = keypair.pubkey()

    @classmethod
    def generate(cls) -> "SolanaWallet":
        return cls(Keypair())

    @classmethod
    def from_file(cls, path: str | Path) -> "SolanaWallet":
        path = Path(path).expanduser()
        try:
            text = path.read_text()
        except OSError as exc:
            raise ValueError(f"cannot read keypair file {path}: {exc.strerror}") from None
        return cls(_keypair_from_json(text, f"keypair file {path}"))

    @classmethod
    def from_json(cls, text: str) -> "SolanaWallet":
        return cls(_keypair_from_json(text, "keypair JSON"))

    @classmethod
    def from_env(cls, var: str = ENV_VAR) -> "SolanaWallet":
        """`$SWARM_SOLANA_KEYPAIR` holds a keypair file path, or the JSON array itself."""
        value = (os.environ.get(var) or "").strip()
        if not value:
            raise ValueError(f"no Solana keypair: set {var} to a keypair file path or its JSON array")
        if value.startswith("["):
            return cls(_keypair_from_json(value, f"${var}"))
        return cls.from_file(value)

    @property
    def pubkey(self) -> Pubkey:
        return self._pubkey

    @property
    def address(self) -> str:
        return str(self._pubkey)

    def sign_message(self, message: bytes) -> Signature:
        return self._secret.keypair.sign_message(message)

    def sign_v0(self, instructions: list, blockhash: Hash) -> VersionedTransaction:
        """Compile and sign a v0 transaction with this wallet as fee payer and only signer."""
        message = MessageV0.try_compile(self._pubkey, instructions, [], blockhash)
        return VersionedTransaction(message, [self._secret.keypair])

    def sign_prebuilt(self, tx: VersionedTransaction) -> VersionedTransaction:
        """Sign a transaction someone else built. Call only after its checks passed: we must be its only signer."""
        message = tx.message
        if message.header.num_required_signatures != 1 or message.account_keys[0] != self._pubkey:
            raise ValueError("refusing to sign: this wallet must be the fee payer and the only signer")
        return VersionedTransaction(message, [self._secret.keypair])

    def write_keypair_file(self, path: str | Path) -> Path:
        """Write the Solana CLI format (JSON array), readable by the owner only."""
        path = Path(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(list(bytes(self._secret.keypair)), separators=(",", ":")))
        return path

    def secret_markers(self) -> list[str]:
        """Text forms of the secret, for leak scanners and the audit log's secret guard."""
        raw = bytes(self._secret.keypair)
        values = list(raw)
        return [str(self._secret.keypair), json.dumps(values, separators=(",", ":")), json.dumps(values),
                raw.hex(), raw[:32].hex()]

    def __repr__(self) -> str:
        return f"SolanaWallet({self._pubkey})"

    __str__ = __repr__

    def __reduce__(self):  # no pickling a secret into caches or checkpoints by accident
        raise TypeError("SolanaWallet cannot be pickled")


def load_wallet(config: SolanaChainConfig) -> SolanaWallet | None:
    """The configured keypair file, else `$SWARM_SOLANA_KEYPAIR`, else None (a read-only adapter).

    Errors name the file or variable, never the key."""
    try:
        if config.wallet_path:
            return SolanaWallet.from_file(config.wallet_path)
        if (os.environ.get(ENV_VAR) or "").strip():
            return SolanaWallet.from_env()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return None
