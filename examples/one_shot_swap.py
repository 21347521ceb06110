"""One-shot bot: plan and run one intent, e.g. `python examples/one_shot_swap.py "swap 1 ETH to USDC if ETH is above 2500"`."""
from __future__ import annotations

import sys

from defai_swarm.bot import exit_code, open_swarm, parser, report


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("intent")
    args = p.parse_args(argv)
    swarm = open_swarm(args)
    try:
        result = swarm.run(args.intent)
        report(swarm, result)
        return exit_code(result)  # 0 done, 4 skipped, 5 refused, ... (defai_swarm.exitcodes)
    finally:
        swarm.close()


if __name__ == "__main__":
    sys.exit(main())
