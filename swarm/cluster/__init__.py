"""Run swarms on a Ray cluster with PostgreSQL as the shared state (extra `ray`; see README "Scale-out").

`SwarmPool` submits intents and bot schedules; `WalletActor` is the only signer of its wallet; `ModelActor`s
serve the plans' model calls; a `ScheduleActor` hands a schedule's rounds to its wallet actor. Importing this package does not
import Ray: the pool does when it is built.
"""
from __future__ import annotations

from defai_swarm.cluster.model_pool import ModelActor, RemoteModelBackend
from defai_swarm.cluster.pool import SwarmPool
from defai_swarm.cluster.schedule import ScheduleActor, ScheduleSpec
from defai_swarm.cluster.wallet_actor import WalletActor, WalletSpec

__all__ = ["ModelActor", "RemoteModelBackend", "ScheduleActor", "ScheduleSpec", "SwarmPool", "WalletActor",
           "WalletSpec"]
