"""Chain families by name: which adapter class serves a configuration's `family`, and how it spells addresses.

Built-in: the two families under `defai_swarm.tools` (this module is the one place in the core that names them,
as registrations). An installed package adds a family through the entry-point group `defai_swarm.chains`
(name = family, value = "module:AdapterClass"); code adds one with `register_family` (a test, an application
that ships its own adapter). Adapter classes are imported only when a configuration asks for them, so
`swarm --help` stays fast; what the core needs of a family without its adapter (how its addresses compare:
the ledger and the run records have only a `ChainIdentity`) is part of the registration.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from defai_swarm.config import user_path
from defai_swarm.core.chain import CASE_INSENSITIVE, EXACT, AddressForm
from defai_swarm.core.errors import ConfigError

ENTRY_POINT_GROUP = "defai_swarm.chains"


@dataclass(frozen=True)
class ChainFamily:
    """A registered family: its adapter class ("module:Class") and the address form the core compares by.
    `address_form` None: read from the adapter class (`address_form`, else exact) when first asked."""

    name: str
    adapter: str
    address_form: AddressForm | None = None


# The built-in families (their adapters declare the same address forms: tests/test_chain_neutral.py checks).
BUILTIN_FAMILIES = (
    ChainFamily("evm", "defai_swarm.tools.evm.chain:EvmChain", CASE_INSENSITIVE),  # hex, checksum case
    ChainFamily("solana", "defai_swarm.tools.solana.chain:SolanaChain", EXACT),  # base58
)
BUILTIN = {f.name: f.adapter for f in BUILTIN_FAMILIES}
# The family a chain configuration without one belongs to: devnet manifests written before families existed.
LEGACY_FAMILY = BUILTIN_FAMILIES[0].name
_registered: dict[str, ChainFamily] = {}


def register_family(name: str, adapter: str, *, address_form: AddressForm | None = None) -> ChainFamily:
    """Add a chain family in code (no entry point needed): `adapter` is "module:AdapterClass". A built-in family
    cannot be replaced; registering the same name again replaces the earlier registration."""
    if name in BUILTIN:
        raise ConfigError(f"chain family {name!r} is built in and cannot be replaced")
    if ":" not in adapter:
        raise ConfigError(f"a chain family's adapter is 'module:Class', got {adapter!r}")
    family = _registered[name] = ChainFamily(name, adapter, address_form)
    return family


def unregister_family(name: str) -> None:
    """Remove a family `register_family` added (tests clean up with it)."""
    _registered.pop(name, None)


def _all() -> dict[str, ChainFamily]:
    found = {ep.name: ChainFamily(ep.name, ep.value) for ep in entry_points(group=ENTRY_POINT_GROUP)}
    # a package cannot replace a built-in family; one registered in code wins over an entry point
    return {**found, **_registered, **{f.name: f for f in BUILTIN_FAMILIES}}


def families() -> dict[str, str]:
    """Every known family's adapter target ("module:Class"), by name."""
    return {name: f.adapter for name, f in _all().items()}


def family(name: str) -> ChainFamily:
    found = _all().get(name)
    if found is None:
        raise ConfigError(f"unknown chain family {name!r}; known: {', '.join(sorted(_all()))}")
    return found


def adapter_class(name: str) -> Any:
    module, _, attr = family(name).adapter.partition(":")
    return getattr(importlib.import_module(module), attr)


def address_form(name: str) -> AddressForm:
    """How `name`'s addresses compare; from the registration (built-ins: without importing their adapters)."""
    declared = family(name).address_form
    if declared is not None:
        return declared
    form = getattr(adapter_class(name), "address_form", None)
    return form if isinstance(form, AddressForm) else EXACT


def normalise_address(name: str, address: str) -> str:
    """The one spelling of a wallet address of family `name` that ledgers and run records key on."""
    return address_form(name).normalise(address)


def same_address(name: str, a: str, b: str) -> bool:
    """Whether `a` and `b` are one address of family `name` (an unknown family: compared exactly)."""
    try:
        return address_form(name).same(a, b)
    except ConfigError:
        return a == b


def read_config(path: str | Path) -> dict:
    """The raw JSON of a chain configuration (`~` is the home directory), with a one-line error for a missing or
    malformed file."""
    path = user_path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no chain configuration at {path}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not a readable JSON chain configuration: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a chain configuration is a JSON object")
    data.setdefault("family", LEGACY_FAMILY)
    return data


__all__ = ["BUILTIN", "BUILTIN_FAMILIES", "ENTRY_POINT_GROUP", "LEGACY_FAMILY", "ChainFamily", "adapter_class",
           "address_form", "families", "family", "normalise_address", "read_config", "register_family",
           "same_address", "unregister_family"]
