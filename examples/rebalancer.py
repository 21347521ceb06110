"""Portfolio rebalancer: keep ETH at a target share of ETH+USDC value, swapping the excess when outside a band."""
from __future__ import annotations

import sys
from decimal import ROUND_DOWN, Decimal

from defai_swarm.bot import ExitCode, exit_code, open_swarm, parser, report


def rebalance_intent(eth: Decimal, usdc: Decimal, price: Decimal, target: Decimal, band: Decimal,
                     max_step_usd: Decimal) -> str | None:
    """The swap (in words, so it goes through the planner) that moves ETH's value share toward target,
    at most `max_step_usd` per round so each step stays inside the risk policy."""
    total = eth * price + usdc
    share = eth * price / total
    if abs(share - target) <= band:
        return None
    excess_usd = max(min((share - target) * total, max_step_usd), -max_step_usd)
    if excess_usd > 0:
        amount = (excess_usd / price).quantize(Decimal("0.0001"), ROUND_DOWN)
        return f"swap {amount} ETH to USDC, max 1% slippage"
    amount = (-excess_usd).quantize(Decimal("0.01"), ROUND_DOWN)
    return f"swap {amount} USDC to ETH, max 1% slippage"


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--target", type=Decimal, default=Decimal("0.5"), help="ETH share of value")
    p.add_argument("--band", type=Decimal, default=Decimal("0.05"))
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--max-step-usd", type=Decimal, default=Decimal(5000))
    args = p.parse_args(argv)
    swarm = open_swarm(args)
    try:
        for _ in range(args.rounds):
            balances = swarm.balances()
            price = swarm.chain.read_price("ETH").median
            intent = rebalance_intent(balances["ETH"], balances["USDC"], price, args.target, args.band, args.max_step_usd)
            print(f"ETH {balances['ETH']:.4f}, USDC {balances['USDC']:.2f}, ETH ${price:,.2f}")
            if intent is None:
                print("within band: nothing to do")
                return ExitCode.DONE
            print(f"rebalancing: {intent}")
            result = swarm.run(intent)
            report(swarm, result)
            if result.status != "done":
                return exit_code(result)
        return ExitCode.DONE
    finally:
        swarm.close()


if __name__ == "__main__":
    sys.exit(main())
