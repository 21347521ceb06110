#!/usr/bin/env bash
# Set up, then check and test everything: lint (ruff: pyflakes + bugbear), types (pyright, basic), the import
# layers and the no-cycle check (import-linter), then the whole suite (real anvil, a real Solana devnet on
# LiteSVM, a real llama.cpp model file, real SQLite and PostgreSQL, a Ray cluster, headless Chromium).
# The suite runs as two pytest processes side by side (`--shard 1/2` and `--shard 2/2`, tests/conftest.py), one
# per core; with arguments it runs one pytest process with them instead (`bash scripts/test.sh -k plan`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff (F, B) =="
.venv/bin/ruff check --select F,B swarm agents tools
echo "== pyright (basic) =="
.venv/bin/pyright
echo "== import layers and cycles =="
.venv/bin/lint-imports --no-cache
if [ $# -gt 0 ]; then
    echo "== tests =="
    exec .venv/bin/python -m pytest "$@"
fi
echo "== tests (two processes; each line is prefixed by its shard) =="
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
shard() {  # $1: 1 or 2
    set -o pipefail
    .venv/bin/python -m pytest --shard "$1/2" --basetemp "$work/shard$1" -p no:cacheprovider 2>&1 \
        | sed -u "s/^/[$1] /"
}
start=$SECONDS
shard 1 & first=$!
shard 2 & second=$!
status=0
wait "$first" || status=$?
wait "$second" || status=$?
echo "== both shards finished in $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s (exit $status) =="
exit "$status"
