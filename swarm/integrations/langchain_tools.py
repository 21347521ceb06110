"""The swarm's tools as LangChain structured tools, for agents built with `langchain.agents.create_agent` and
any framework that takes LangChain tools.

    from defai_swarm.integrations.langchain_tools import swarm_tools
    from defai_swarm.session import SessionOptions, open_swarm

    swarm = open_swarm(SessionOptions(policy="policy.json"))         # as `swarm run` opens it (defai_swarm.session)
    tools = swarm_tools(swarm)                                        # read-only: plan, price, show, verify
    tools = swarm_tools(swarm, allow_fund_moving=True)                # + run_intent; every trade waits for you

The tools, their argument schemas and the audit of every call are `defai_swarm.integrations.toolkit`'s.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from langchain_core.tools import StructuredTool, ToolException

from .toolkit import SwarmToolkit, ToolSpec

if TYPE_CHECKING:
    from defai_swarm.api import Swarm


def swarm_tools(swarm: "Swarm", *, allow_fund_moving: bool = False,
                approval_above_usd: Decimal | int | str = 0) -> list[StructuredTool]:
    """LangChain tools for `swarm`.  `allow_fund_moving` adds `run_intent`; with it, every trade above
    `approval_above_usd` (default 0: every trade) pauses until the operator runs `swarm resume RUN --approve`."""
    kit = SwarmToolkit(swarm, allow_fund_moving=allow_fund_moving, approval_above_usd=approval_above_usd,
                       caller="langchain")
    return [_tool(kit, spec) for spec in kit.specs()]


def _tool(kit: SwarmToolkit, spec: ToolSpec) -> StructuredTool:
    """The toolkit's JSON schema is published as it is (`additionalProperties: false`), and LangChain does not
    validate a JSON-schema tool's arguments itself: every call reaches the toolkit, which refuses unknown or malformed
    arguments on the record. A refusal or failure is a tool error (`ToolException`: a ToolMessage with status
    "error" carrying the toolkit's answer)."""
    def run(**arguments: Any) -> str:
        result = kit.call(spec.name, arguments)
        text = json.dumps(result, default=str)
        if result.get("ok") is not True:
            raise ToolException(text)
        return text

    return StructuredTool.from_function(func=run, name=spec.name, description=spec.description,
                                        args_schema=spec.args_schema.model_json_schema(), handle_tool_error=True)
