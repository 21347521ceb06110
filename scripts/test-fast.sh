#!/usr/bin/env bash
# The fast tier (under 2 minutes on 2 cores): lint (ruff: pyflakes + bugbear), then every test that needs no node,
# browser, model, Ray or PostgreSQL. No set-up: it runs in the virtualenv scripts/setup.sh made (no npm, no anvil).
# The tier guard (tests/tiers.py) fails a selected test that starts anvil, the Solana devnet, Chromium, a model,
# Ray or PostgreSQL: give such a test its marker (pyproject.toml lists them). The full suite: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff (F, B) =="
.venv/bin/ruff check --select F,B swarm agents tools
echo "== fast tests =="
export SWARM_TEST_TIER=fast
exec .venv/bin/python -m pytest -m "not devnet and not solana and not cluster and not browser and not model and not postgres and not heavy" "$@"
