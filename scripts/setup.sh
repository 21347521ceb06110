#!/usr/bin/env bash
# Set up everything the library needs on a fresh machine: a venv with the package
# (llama-cpp-python compiled for this CPU family) and the devnet's npm parts.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
command -v npm >/dev/null || { echo "npm is required (Node.js 20+) for the devnet (anvil, Uniswap V2 builds) and the audit page tests (headless Chromium)" >&2; exit 1; }

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# GGML_NATIVE=OFF: a native build enables AMX kernels that crash where AMX is not permitted;
# the portable build (AVX2/FMA/F16C) works everywhere. pip's wheel cache keeps the compiled wheel.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
echo "installing the package and its dependencies (the first run compiles llama.cpp: ~5 minutes on 2 cores)..."
.venv/bin/python -m pip install --quiet -e ".[test]"
.venv/bin/swarm devnet install
