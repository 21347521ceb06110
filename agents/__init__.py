"""Narrow agents: each reads or does one thing, with a deterministic check around it.

Each module holds one agent as a task plugin (`defai_swarm.plugins.TaskPlugin`);
`builtin_plugins()` is what every `Swarm` starts with.
"""
from __future__ import annotations


def builtin_plugins() -> list:
    from defai_swarm.agents.balance_reader import ReadBalancePlugin
    from defai_swarm.agents.price_reader import ReadPricePlugin
    from defai_swarm.agents.risk import CheckRiskPlugin
    from defai_swarm.agents.amount_resolver import ResolveAmountPlugin
    from defai_swarm.agents.answer import AnswerPlugin
    from defai_swarm.agents.quote_reader import ReadQuotePlugin
    from defai_swarm.agents.swap_executor import SwapPlugin
    from defai_swarm.agents.wait_blocks import WaitBlocksPlugin
    return [ReadPricePlugin(), ReadBalancePlugin(), CheckRiskPlugin(), SwapPlugin(), ResolveAmountPlugin(),
            ReadQuotePlugin(), AnswerPlugin(), WaitBlocksPlugin()]
