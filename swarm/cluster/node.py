"""Where cluster code runs: the library's Ray namespace and the id of the node a process is on. Kept apart so the
wallet actor and the model actors share them without importing each other."""
from __future__ import annotations

NAMESPACE = "defai-swarm"  # the Ray namespace of every named actor of the library


def node_id() -> str:
    """The Ray node this actor runs on, or "local" outside Ray (the class used in-process): asked outside Ray,
    `ray.get_runtime_context()` would start a local Ray instance."""
    try:
        import ray
    except ImportError:
        return "local"
    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else "local"


__all__ = ["NAMESPACE", "node_id"]
