"""Start-up stays light: which heavy modules a fresh process loads for `swarm --help` and for `swarm plan`.

Each check runs in a new interpreter (this test process has imported everything already) and asserts on
`sys.modules`, not on timings (timings live in benchmarks/bench_overhead.py). Planning needs web3 (it reads
balances and prices), not LangGraph (loaded when a run compiles its graph), not the SQLite checkpointer
(made on the first run), not langchain/langsmith tracing, not the devnet's deployer.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# never needed to plan (nor for --help)
NOT_FOR_PLANNING = ("langgraph", "langgraph.checkpoint.sqlite", "langchain_core", "langsmith", "llama_cpp", "numpy",
                    "defai_swarm.tools.devnet.control", "defai_swarm.tools.devnet.deploy")
# never needed for `import defai_swarm.cli` (the parser, --help)
NOT_FOR_HELP = NOT_FOR_PLANNING + ("web3", "eth_account", "rich", "pydantic", "defai_swarm.api", "defai_swarm.tools.evm", "defai_swarm.tools.solana", "defai_swarm.agents")


def _child(code: str, env: dict[str, str] | None = None) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON document (the last line of stdout)."""
    prelude = textwrap.dedent("""
        import json, sys
        def loaded(names):
            return sorted(name for name in names if name in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_nothing_heavy():
    result = _child(f"""
        import defai_swarm.cli
        text = defai_swarm.cli.build_parser(["--help"]).format_help()  # what `swarm --help` prints
        print(json.dumps({{"loaded": loaded({NOT_FOR_HELP!r}), "help": "plan" in text}}))
    """)
    assert result["help"] is True
    assert result["loaded"] == []


def _plan_env(devnet, tmp_path) -> dict[str, str]:
    env = {"SWARM_HOME": str(tmp_path / "home"), "SWARM_LEDGER": str(tmp_path / "ledger.sqlite"),
           "SWARM_MANIFEST": str(devnet.manifest_path)}
    return {k: v for k, v in {**os.environ, **env}.items() if k not in ("SWARM_MODEL", "SWARM_PRIVATE_KEY",
                                                                            "SWARM_STORE")}


def test_swarm_plan_loads_neither_langgraph_nor_the_checkpointer(devnet, chain, tmp_path):
    """`swarm plan` (the command's own code path, in a fresh process) plans without the run-time modules."""
    result = _child(f"""
        import io, contextlib
        from defai_swarm.cli import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["plan", "--json", "swap 1 ETH to USDC"])
        plan = json.loads(out.getvalue())
        print(json.dumps({{"code": int(code), "ok": plan["ok"], "loaded": loaded({NOT_FOR_PLANNING!r}),
                          "web3": "web3" in sys.modules}}))
    """, _plan_env(devnet, tmp_path))
    assert result["code"] == 0 and result["ok"] is True  # a real plan was made from chain reads
    assert result["web3"] is True  # it did read the chain
    assert result["loaded"] == []


def test_a_run_still_gets_langgraph_and_the_sqlite_checkpointer(devnet, chain, tmp_path):
    """Deferred, not dropped: the first compile loads LangGraph and makes the SQLite checkpointer (one per swarm)."""
    result = _child(f"""
        import os
        from defai_swarm.api import Swarm
        swarm = Swarm.from_config(os.environ["SWARM_MANIFEST"])
        try:
            plan = swarm.plan("swap 1 ETH to USDC")
            before = loaded({NOT_FOR_PLANNING!r})
            app = swarm.runtime.compile(plan.task_graph)
            saver = swarm.runtime.checkpointer
            print(json.dumps({{"before": before, "after": loaded(["langgraph", "langgraph.checkpoint.sqlite"]),
                              "saver": type(saver).__name__, "same": app.checkpointer is saver,
                              "once": swarm.runtime.checkpointer is saver is swarm.stores.checkpointer}}))
        finally:
            swarm.close()
    """, _plan_env(devnet, tmp_path))
    assert result["before"] == []
    assert result["after"] == ["langgraph", "langgraph.checkpoint.sqlite"]
    assert result["saver"] == "SqliteSaver" and result["same"] and result["once"]
