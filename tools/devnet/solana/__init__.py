"""A local Solana devnet: LiteSVM behind a real JSON-RPC endpoint, plus Jupiter and Pyth Hermes stand-ins.

`SolanaDevnet.start(home)` runs it as a detached process and writes
`<home>/solana-devnet/config.json` (a `defai_swarm.tools.solana.config.SolanaChainConfig`).
LiteSVM is the real Solana VM with the real SPL Token, Token-2022, ATA and Memo
programs. Two parts are stand-ins because their programs do not exist offline:
the Jupiter swap transaction (SPL transfers against a local pool, not an AMM
program) and Hermes (Pyth's wire format, prices published by the devnet itself).
"""
from defai_swarm.tools.devnet.solana.devnet import (DEFAULT_PORT, SolanaDevnet, SolanaDevnetError, running_config,
                                        stop_devnet)
from defai_swarm.tools.devnet.solana.status import status_lines

__all__ = ["DEFAULT_PORT", "SolanaDevnet", "SolanaDevnetError", "running_config", "status_lines", "stop_devnet"]
