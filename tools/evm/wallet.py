"""The agent's signing key. It only signs; it never appears in a repr, log, or error."""
from __future__ import annotations

import os

from eth_account import Account
from eth_account.signers.local import LocalAccount



# anvil's public development mnemonic: its keys are known to everyone, so they are for local devnets only.
DEV_MNEMONIC = "test test test test test test test test test test test junk"


class Wallet:
    def __init__(self, account: LocalAccount):
        self._account = account

    @classmethod
    def from_key(cls, key: str) -> "Wallet":
        try:
            return cls(Account.from_key(key))
        except Exception:
            raise ValueError("invalid private key (value not shown)") from None

    @classmethod
    def from_env(cls, var: str = "SWARM_PRIVATE_KEY") -> "Wallet":
        key = os.environ.get(var)
        if not key:
            raise ValueError(f"no private key: set {var} (hex), or use a devnet wallet")
        return cls.from_key(key)

    @classmethod
    def devnet(cls, index: int = 1) -> "Wallet":
        """anvil's well-known dev account `index` (public test keys, devnet only)."""
        Account.enable_unaudited_hdwallet_features()
        return cls(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}"))

    @property
    def address(self) -> str:
        return self._account.address

    def sign_transaction(self, tx: dict):
        return self._account.sign_transaction(tx)

    def secret_markers(self) -> list[str]:
        """Text forms of the key, for leak scanners and the audit log's secret guard."""
        raw = self._account.key.hex().removeprefix("0x")
        return [raw, "0x" + raw]

    def __repr__(self) -> str:
        return f"Wallet({self.address})"

    __str__ = __repr__
