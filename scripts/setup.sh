#!/usr/bin/env bash
# Set up everything the library needs on a fresh machine: a venv with the package
# (llama-cpp-python compiled for this CPU family) and the devnet's npm parts.
set -euo pipefail

# Run "$@" (a long step that prints nothing, such as pip compiling llama.cpp) with a line every
# $SETUP_HEARTBEAT_S seconds (default 60) saying it is still alive; the step's exit status is returned.
# Ctrl-C stops the step too (a background job would otherwise ignore it and go on compiling).
with_heartbeat() {
    local what="$1"; shift
    local every="${SETUP_HEARTBEAT_S:-60}"
    "$@" &
    local pid=$! started=$SECONDS
    local next=$((SECONDS + every))
    trap 'kill "$pid" 2>/dev/null; exit 130' INT TERM
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= next)); then
            local spent=$((SECONDS - started))
            if ((spent >= 60)); then spent="$((spent / 60)) min"; else spent="${spent} s"; fi
            echo "  still ${what} (${spent} so far)..."
            next=$((SECONDS + every))
        fi
        sleep 1
    done
    trap - INT TERM
    wait "$pid"
}

# True when installing the package would compile llama.cpp: the venv has no llama_cpp and pip's wheel cache
# holds no wheel built from the sdist earlier on this machine.
llama_needs_compiling() {
    local python="${1:-.venv/bin/python}"
    ! "$python" -c 'import llama_cpp' 2>/dev/null &&
        ! "$python" -m pip cache list 'llama_cpp_python*' 2>/dev/null | grep -q 'llama_cpp_python-.*\.whl'
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then return 0; fi  # sourced (tests): the functions only

cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
command -v npm >/dev/null || { echo "npm is required (Node.js 20+) for the devnet (anvil, Uniswap V2 builds) and the audit page tests (headless Chromium)" >&2; exit 1; }

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# GGML_NATIVE=OFF: a native build enables AMX kernels that crash where AMX is not permitted;
# the portable build (AVX2/FMA/F16C) works everywhere. pip's wheel cache keeps the compiled wheel.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
# The checkout installs as the one import name `defai_swarm` (pyproject.toml maps swarm/, agents/, tools/ into it).
# "strict" editable mode links the files into build/__editable__.*: pyright, import-linter and editors see one
# package tree, and an edited file takes effect at once; a NEW module needs this script again (the test run says so).
EDITABLE=(-e ".[test,devnet]" --config-settings editable_mode=strict)
if llama_needs_compiling; then
    echo "installing the package and its dependencies; compiling llama.cpp (llama-cpp-python has no wheel on PyPI:" \
         "about 5 minutes on 2 cores, once; pip caches the wheel)..."
    with_heartbeat "compiling llama.cpp" .venv/bin/python -m pip install --quiet "${EDITABLE[@]}"
else
    echo "installing the package and its dependencies..."
    .venv/bin/python -m pip install --quiet "${EDITABLE[@]}"
fi
.venv/bin/swarm devnet install
