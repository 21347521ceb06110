"""Run swarms on a Ray cluster with PostgreSQL as the shared state (extra `ray`; see README "Scale-out").

`SwarmPool` submits intents; `WalletActor` is the only signer of its wallet. Importing this package does not
import Ray: the pool does when it is built.
"""
from __future__ import annotations

from swarm.cluster.pool import SwarmPool
from swarm.cluster.wallet_actor import WalletActor, WalletSpec

__all__ = ["SwarmPool", "WalletActor", "WalletSpec"]
