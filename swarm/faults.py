"""Moved to `swarm.core.faults` (chain code uses it); kept for existing imports."""
from swarm.core.faults import fault_point

__all__ = ["fault_point"]
