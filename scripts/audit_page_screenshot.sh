#!/usr/bin/env bash
# Make docs/audit-page.png (the README's picture of an audit page) from a real run:
# a fresh local EVM devnet, one intent planned and executed (price reads, a condition, the risk check, approve + swap,
# the checkpoint anchored on-chain), `swarm audit html` with the operator's key and account pinned, and the page
# rendered in headless Chromium (the npm packages `swarm devnet install` brings), which verifies the log itself.
#
#   scripts/audit_page_screenshot.sh [OUT.png]     (default: docs/audit-page.png)
#
# Everything runs under a temporary SWARM_HOME on a free port; the devnet is stopped and the directory removed at
# the end. Needs the venv (scripts/setup.sh) and Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
swarm="$root/.venv/bin/swarm"
py="$root/.venv/bin/python"
out="${1:-docs/audit-page.png}"
case "$out" in /*) ;; *) out="$root/$out" ;; esac
mkdir -p "$(dirname "$out")"

work="$(mktemp -d)"
export SWARM_HOME="$work/home"
unset SWARM_PRIVATE_KEY SWARM_MODEL
cleanup() { "$swarm" devnet down >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

"$swarm" devnet install
port="$("$py" -c 'from defai_swarm.tools.devnet.node import free_port; print(free_port())')"
"$swarm" devnet up --port "$port"

run_id="audit-page-$(date +%Y%m%d-%H%M%S)"
"$swarm" run "swap 1000 USDC to ETH if USDC is above 0.5, max 0.5% slippage" --run-id "$run_id"

# The pins a reviewer would get from the operator out of band: the checkpoint key and the anchoring account.
vkey="$("$py" -c 'from defai_swarm.audit import Signer; print(Signer.load().vkey)')"
sender="$("$py" -c 'from defai_swarm.tools.devnet import running_manifest
from defai_swarm.tools.evm.anchor import configured_anchor_sender
print(configured_anchor_sender(running_manifest()))')"
"$swarm" audit verify "$run_id" --vkey "$vkey" --anchor-sender "$sender"
"$swarm" audit html "$run_id" -o "$work/run.html" --vkey "$vkey" --anchor-sender "$sender"

modules="$("$py" -c 'from defai_swarm.tools.devnet.install import browser_modules; print(browser_modules())')"
"$py" - "$work" "$out" <<'EOF'
import json, sys
from pathlib import Path
work, out = Path(sys.argv[1]), sys.argv[2]
(work / "jobs.json").write_text(json.dumps([{
    "url": (work / "run.html").as_uri(), "screenshot": out, "fullPage": False, "viewport": [1280, 1480],
}]))
EOF
NODE_MODULES="$modules" node tests/browser/render.js "$work/jobs.json" > "$work/facts.json"
"$py" - "$work/facts.json" <<'EOF'
import json, sys
[page] = json.load(open(sys.argv[1]))
print(f"page verdict: {page['headline']}; {page['svg_nodes']} tasks in the graph, {page['entries']} entries")
if page["state"] != "log-verified" or page["errors"]:
    sys.exit(f"the page did not verify the run: {page['detail']} {page['errors']}")
EOF
echo "screenshot written to $out"
