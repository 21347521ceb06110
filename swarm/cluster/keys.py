"""Where a wallet actor finds its signing key: a reference resolved on the actor's own node, never the key itself.

A reference travels through Ray (actor options, the object store, logs) as plain text, so it must not be a
secret: `env:VAR` (an environment variable of the node's Ray processes), `file:/path` (a file on the node:
EVM hex key, Solana keypair JSON), or `devnet:N` (anvil's public development account N, local devnets only).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from defai_swarm.core.errors import ConfigError

KEY_SCHEMES = ("env:", "file:", "devnet:")


def check_reference(ref: str) -> str:
    """A one-line error for anything that is not a reference (a pasted key included: it is not echoed)."""
    if not isinstance(ref, str) or not ref.startswith(KEY_SCHEMES):
        raise ConfigError("a wallet key is given by reference, never by value: env:VAR, file:/path or devnet:N")
    return ref


_KEY_LIKE = re.compile(r"(0x)?[0-9a-fA-F]{64}|\[\s*\d+(\s*,\s*\d+){31,}\s*\]|[1-9A-HJ-NP-Za-km-z]{86,90}")


def check_actor_env(env: dict[str, str]) -> dict[str, str]:
    """Environment variables for an actor travel through Ray in the clear: refuse a value that looks like a key
    (a 32-byte hex string, a Solana keypair's JSON or base58 form) and name only the variable."""
    for name, value in env.items():
        if _KEY_LIKE.search(str(value)):
            raise ConfigError(f"actor environment variable {name} looks like a key: Ray stores it in the clear; "
                              f"set it on the node before `ray start` and give the wallet key='env:{name}'")
    return env


def _wallet_loader(family: str, name: str) -> Any:
    """The family adapter's wallet loader `name` (`ChainAdapter.wallet_from_secret`, `dev_wallet`,
    `readonly_wallet`); ConfigError when the adapter declares none."""
    from defai_swarm.chains import adapter_class

    loader = getattr(adapter_class(family), name, None)
    if not callable(loader):
        raise ConfigError(f"no key loader for chain family {family!r} in the cluster (its adapter has no {name})")
    return loader


def load_wallet(family: str, ref: str) -> Any:
    """The family's wallet object for the reference (inside the actor only), made by the family's adapter class:
    `devnet:N` by its `dev_wallet(N)` (a family without development accounts refuses), a key's text (from the
    variable or the file) by its `wallet_from_secret`."""
    scheme, _, rest = check_reference(ref).partition(":")
    if scheme == "devnet":
        return _wallet_loader(family, "dev_wallet")(int(rest))
    if scheme == "env":
        text = os.environ.get(rest)
        if not text:
            raise ConfigError(f"wallet key reference env:{rest}: the variable is not set on this node")
    else:
        try:
            text = Path(rest).expanduser().read_text().strip()
        except OSError as exc:
            raise ConfigError(f"wallet key reference file:{rest}: {exc.strerror or 'unreadable'} on this node") from None
    return _wallet_loader(family, "wallet_from_secret")(text)


def readonly_wallet(family: str) -> Any:
    """What a read-only task builds its chain adapter with: no key of any wallet (the adapter's
    `readonly_wallet()`: EVM a fresh empty account, Solana none)."""
    return _wallet_loader(family, "readonly_wallet")()


def chain_for(chain_config: str | Path, key: str | None) -> Any:
    """The chain adapter for the configuration at `chain_config`: signing with the key the reference `key` names
    (inside its wallet actor only), or with no wallet's key when `key` is None (read-only tasks, schedules)."""
    from defai_swarm.chains import adapter_class, read_config

    family = read_config(Path(chain_config))["family"]
    adapter = adapter_class(family)
    wallet = readonly_wallet(family) if key is None else load_wallet(family, key)
    return adapter.from_config(adapter.config_model.load(Path(chain_config)), wallet)


def readonly_chain(chain_config: str | Path) -> Any:
    """The chain adapter a read-only task or a schedule uses: built from the configuration with no wallet's key."""
    return chain_for(chain_config, None)
