"""Narrow agents: each reads or does one thing, with a deterministic check around it."""
