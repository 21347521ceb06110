"""Chain and price tools, and the local devnet."""
