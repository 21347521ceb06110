"""Moved to `swarm.core.amounts` (chain-neutral); kept so existing imports work."""
from swarm.core.amounts import from_base_units, to_base_units

__all__ = ["from_base_units", "to_base_units"]
