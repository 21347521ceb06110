"""The swarm's tools as LangChain structured tools, for LangGraph agents (`create_react_agent`) and
any framework that takes LangChain tools.

    from swarm import Swarm
    from swarm.integrations.langchain_tools import swarm_tools

    tools = swarm_tools(Swarm.from_devnet())                          # read-only: plan, price, show, verify
    tools = swarm_tools(swarm, allow_fund_moving=True)                # + run_intent; every trade waits for you

The tools, their argument schemas and the audit of every call are `swarm.integrations.toolkit`'s.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from langchain_core.tools import StructuredTool

from .toolkit import SwarmToolkit, ToolSpec

if TYPE_CHECKING:
    from swarm.api import Swarm


def swarm_tools(swarm: "Swarm", *, allow_fund_moving: bool = False,
                approval_above_usd: Decimal | int | str = 0) -> list[StructuredTool]:
    """LangChain tools for `swarm`.  `allow_fund_moving` adds `run_intent`; with it, every trade above
    `approval_above_usd` (default 0: every trade) pauses until the operator runs `swarm resume RUN --approve`."""
    kit = SwarmToolkit(swarm, allow_fund_moving=allow_fund_moving, approval_above_usd=approval_above_usd,
                       caller="langchain")
    return [_tool(kit, spec) for spec in kit.specs()]


def _tool(kit: SwarmToolkit, spec: ToolSpec) -> StructuredTool:
    def run(**arguments: Any) -> str:
        return json.dumps(kit.call(spec.name, arguments), default=str)

    return StructuredTool.from_function(func=run, name=spec.name, description=spec.description,
                                        args_schema=spec.args_schema)
