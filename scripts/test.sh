#!/usr/bin/env bash
# Set up, then check and test everything: lint (ruff: pyflakes + bugbear), types (pyright, basic), the import
# layers (import-linter), then the whole suite (real anvil, a real Solana devnet on LiteSVM, a real llama.cpp
# model file, real SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff (F, B) =="
.venv/bin/ruff check --select F,B swarm agents tools
echo "== pyright (basic) =="
.venv/bin/pyright
echo "== import layers =="
.venv/bin/lint-imports --no-cache
echo "== tests =="
exec .venv/bin/python -m pytest "$@"
