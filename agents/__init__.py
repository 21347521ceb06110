"""Narrow agents: each reads or does one thing, with a deterministic check around it.

Each module holds one agent as a task plugin (`swarm.plugins.TaskPlugin`);
`builtin_plugins()` is what every `Swarm` starts with.
"""
from __future__ import annotations


def builtin_plugins() -> list:
    from agents.balance_reader import ReadBalancePlugin
    from agents.price_reader import ReadPricePlugin
    from agents.risk import CheckRiskPlugin
    from agents.amount_resolver import ResolveAmountPlugin
    from agents.answer import AnswerPlugin
    from agents.quote_reader import ReadQuotePlugin
    from agents.swap_executor import SwapPlugin
    from agents.wait_blocks import WaitBlocksPlugin
    return [ReadPricePlugin(), ReadBalancePlugin(), CheckRiskPlugin(), SwapPlugin(), ResolveAmountPlugin(),
            ReadQuotePlugin(), AnswerPlugin(), WaitBlocksPlugin()]
