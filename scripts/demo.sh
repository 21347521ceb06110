#!/usr/bin/env bash
# Set up everything, start the local devnet, and run one intent end to end:
# plan (Graph of Thought) -> price reads -> risk check -> swap on Uniswap V2 -> audit checkpoint anchored on-chain -> verify.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swarm=.venv/bin/swarm
$swarm devnet up
$swarm devnet status
intent="${1:-swap 1 ETH to USDC if ETH is above 2500, max 0.5% slippage}"
run_id="demo-$(date +%Y%m%d-%H%M%S)"
$swarm run "$intent" --run-id "$run_id"
$swarm audit verify "$run_id"
$swarm audit replay "$run_id"
echo
echo "The devnet keeps running: try 'swarm run \"sell 500 USDC for DAI\"', 'swarm audit show $run_id', and 'swarm devnet down' when done."
