"""`python -m starter_project "<intent>"`: run one intent on the running devnet, with the liquidity guard in every swap."""
from __future__ import annotations

import sys

from defai_swarm.api import Swarm
from defai_swarm.core.errors import SwarmError
from defai_swarm.exitcodes import for_status
from starter_project.liquidity_guard import LiquidityGuard

USAGE = """usage: python -m starter_project "<intent>"

Runs the intent once on the running devnet (start one with `swarm devnet up`), with the
liquidity guard in front of every swap; prints the run's summary and where its audit log is.
Exit codes are the `swarm` command's (swarm/exitcodes.py): 0 done, 1 error, 2 usage, 3 partial,
4 skipped, 5 refused, 6 failed, 7 awaiting approval.

example: python -m starter_project "swap 0.5 ETH to USDC"
"""


def main(argv: list[str]) -> int:
    if argv in (["-h"], ["--help"]):
        print(USAGE, end="")
        return 0
    intent = " ".join(argv).strip()
    if not intent:
        print(USAGE, end="", file=sys.stderr)
        return 2
    try:
        swarm = Swarm.from_devnet()
    except (FileNotFoundError, SwarmError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        swarm.use(LiquidityGuard())
        result = swarm.run(intent)
        print(result.summary())
        if swarm.auditor is not None:
            print(f"audit log: {swarm.auditor.log.path} (run {result.run_id}); "
                  f"check with: swarm audit show {result.run_id} && swarm audit verify {result.run_id}")
        return int(for_status(result.status))
    finally:
        swarm.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
