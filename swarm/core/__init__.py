"""The chain-neutral core: errors, statuses, prices, policy and rules, tokens, outbox and ledger, the chain seam.

Imports nothing chain-specific and nothing above it (a test enforces this), so every
other layer (tools, agents, runtime, audit, CLI) can build on it.
"""
