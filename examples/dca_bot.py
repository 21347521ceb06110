"""DCA bot: buy a fixed amount every N blocks, K times (`--mine` advances an automine devnet's blocks)."""
from __future__ import annotations

import sys
import time

from defai_swarm.bot import ExitCode, open_swarm, parser, report


def wait_blocks(w3, blocks: int, mine: bool, poll_seconds: float = 1.0) -> None:
    """On a real chain blocks come by themselves; an automine devnet only mines on transactions."""
    target = w3.eth.block_number + blocks
    while w3.eth.block_number < target:
        if mine:
            w3.provider.make_request("evm_mine", [])
        else:
            time.sleep(poll_seconds)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--amount", default="100", help="USDC spent per round")
    p.add_argument("--buy", default="ETH")
    p.add_argument("--every", type=int, default=5, help="blocks between rounds")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--mine", action="store_true")
    args = p.parse_args(argv)
    swarm = open_swarm(args)
    done = 0
    try:
        for i in range(args.rounds):
            if i:
                wait_blocks(swarm.w3, args.every, args.mine)
            result = swarm.run(f"swap {args.amount} USDC to {args.buy}")
            print(f"round {i + 1}/{args.rounds} at block {swarm.w3.eth.block_number}:", end=" ")
            report(swarm, result)
            done += result.status == "done"
    finally:
        swarm.close()
    print(f"DCA: {done}/{args.rounds} rounds bought {args.buy}")
    return ExitCode.DONE if done == args.rounds else ExitCode.PARTIAL if done else ExitCode.FAILED


if __name__ == "__main__":
    sys.exit(main())
