"""EVM anchors live with the EVM tools (`defai_swarm.tools.evm.anchor`); kept here for existing imports."""
from defai_swarm.tools.evm.anchor import EvmAnchorChecker, anchor_on_evm, evm_chain

__all__ = ["EvmAnchorChecker", "anchor_on_evm", "evm_chain"]
