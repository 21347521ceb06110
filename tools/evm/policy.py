"""The EVM swap policy: the shared limits plus what an EVM token can hide (a sell-back probe)."""
from __future__ import annotations

from pydantic import ConfigDict

from defai_swarm.core.policy import SwapPolicy


class RiskPolicy(SwapPolicy):
    model_config = ConfigDict(extra="forbid")  # a misspelt limit (`max_tradeusd`) is an error, never ignored
    token_allowlist: frozenset[str] = frozenset({"ETH", "WETH", "USDC", "DAI"})
    require_honeypot_check: bool = True
