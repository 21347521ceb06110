"""Price-trigger bot (limit-order style): watch ETH's median price and swap once a condition holds.

On the devnet the price only moves when you move it: in another terminal, `swarm devnet set-price ETH 3200`
makes "above 3100" fire on the next poll. Exit code 0 when it swapped, 4 (skipped) when the condition never held.
"""
from __future__ import annotations

import sys
import time

from defai_swarm.bot import ExitCode, exit_code, open_swarm, parser, report


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--intent", default="swap 1 ETH to USDC if ETH is above 2500, max 0.5% slippage")
    p.add_argument("--polls", type=int, default=10)
    p.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    args = p.parse_args(argv)
    swarm = open_swarm(args)
    try:
        for poll in range(1, args.polls + 1):
            price = swarm.chain.read_price("ETH").median
            # The condition is re-checked in code by the runtime; a "skipped" run moved nothing.
            result = swarm.run(args.intent)
            print(f"poll {poll}: ETH ${price:,.2f} ->", end=" ")
            report(swarm, result)
            if result.status == "done":
                return ExitCode.DONE
            if result.status != "skipped":
                return exit_code(result)
            time.sleep(args.interval)
        print("condition never held; nothing swapped (on the devnet: `swarm devnet set-price ETH 3200` moves it)")
        return ExitCode.SKIPPED
    finally:
        swarm.close()


if __name__ == "__main__":
    sys.exit(main())
