"""The anchor formats live in `defai_swarm.core.anchor` (chain adapters use them); kept here for existing imports."""
from defai_swarm.core.anchor import (MEMO_PREFIX, AnchorError, AnchorRef, anchor_problem, evm_calldata, memo_text,
                               parse_memo, require_hash)

__all__ = ["MEMO_PREFIX", "AnchorError", "AnchorRef", "anchor_problem", "evm_calldata", "memo_text", "parse_memo",
           "require_hash"]
