"""Every fenced ```python block of README.md runs, read from README.md itself (not a copy).

Blocks of one `## ` section run in order in one namespace (a reader goes on from the block before), against the
session's anvil devnet (`SWARM_MANIFEST` points at it) with `HOME` a fresh directory, so `~` and the default
`~/.swarm` are the test's. A block right after `<!-- needs: cluster -->` runs in tests/cluster_suite.py
(`test_readme_cluster_blocks`) on its two-node Ray cluster, through `run_blocks` here. Every other block is run by
this file's test of its section; `test_every_block_is_run` fails for a block in a section no test here runs.

What the README leaves to the reader (a model file, a chat model, a key, a server address) is put in by
SUBSTITUTIONS, one table, and nothing else in a block is changed. Also here: a `~` in every path a user gives
(issue 28: `Swarm.from_config("~/...")` said "no chain configuration"), through the API and the `swarm` command.
"""
from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
ROOT = README.parent
CLUSTER_MARK = "<!-- needs: cluster -->"
SCALE_OUT = "Scale-out: a Ray cluster with PostgreSQL as the shared state"

# What the README leaves to the reader, and what the tests put in its place: (section, README text, replacement).
# Each README text must occur in its section's blocks (test_every_substitution_is_used), so a renamed placeholder
# fails instead of silently running something else. The replacements are names the runner binds (see each test).
SUBSTITUTIONS: list[tuple[str, str, str]] = [
    # your GGUF file: the suite's tiny random-weight model
    ("Using a real DeepSeek-R1 model", '"/models/DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf"', "TINY_MODEL"),
    # your chat model: a scripted one (langchain_core's fake chat model) that calls read_price, then answers
    ("LangChain and LangGraph tools", "your_chat_model", "SCRIPTED_CHAT_MODEL"),
    # the cluster (tests/cluster_suite.py): the suite's devnet manifest, PostgreSQL, node directory and keys
    (SCALE_OUT, '"/etc/defai-swarm/chain.json"', "CHAIN_CONFIG"),
    (SCALE_OUT, '"postgresql://swarm:PASSWORD@10.0.0.4/swarm"', "STORE"),
    (SCALE_OUT, '"/var/lib/defai-swarm"', "NODE_HOME"),
    (SCALE_OUT, '"file:/etc/defai-swarm/treasury.key"', "TREASURY_KEY"),  # file:<tmp>/treasury.key (anvil acct 9)
    # a variable set before `ray start`: the suite's nodes are started by its fixture, so anvil account 0 instead
    (SCALE_OUT, '"env:MM_BOT_KEY"', "MM_BOT_KEY"),
    # "SwarmPool(...," is "the same arguments as above"
    (SCALE_OUT, "SwarmPool(..., ", "SwarmPool(CHAIN_CONFIG, store=STORE, cluster='prod', home=NODE_HOME, "),
    (SCALE_OUT, '"/models/DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf"', "TINY_MODEL"),
    # the suite's nodes have one CPU each (a whole CPU per model actor would never be scheduled next to the wallets)
    (SCALE_OUT, "model_actors=2)", "model_actors=2, model_cpus=0.1)"),
]


@dataclass(frozen=True)
class Block:
    section: str  # the `## ` heading it is under
    line: int  # of its opening fence in README.md
    code: str
    needs_cluster: bool


def python_blocks() -> list[Block]:
    """Every fenced python block of README.md, in order."""
    text = README.read_text()
    blocks = []
    for found in re.finditer(r"^```python\n(.*?)^```\s*$", text, re.S | re.M):
        before = text[:found.start()]
        headings = re.findall(r"^## (.+)$", before, re.M)
        blocks.append(Block(section=headings[-1].strip(), line=before.count("\n") + 1, code=found.group(1),
                            needs_cluster=before.rstrip().endswith(CLUSTER_MARK)))
    return blocks


def section_blocks(section: str) -> list[Block]:
    blocks = [b for b in python_blocks() if b.section == section and not b.needs_cluster]
    assert blocks, f"README.md has no python block under '## {section}'"
    return blocks


def substituted(block: Block) -> str:
    code = block.code
    for section, text, replacement in SUBSTITUTIONS:
        if section == block.section:
            code = code.replace(text, replacement)
    return code


def run_blocks(blocks: list[Block], scope: dict[str, Any]) -> str:
    """Run the blocks in order in `scope` (substitutions applied); what they printed. Every Swarm a block made is
    closed afterwards, also one a later block replaced."""
    from defai_swarm.api import Swarm

    given = [v for v in scope.values() if isinstance(v, Swarm)]  # the caller's, closed by the caller
    made: list[Any] = []
    printed = io.StringIO()
    try:
        for block in blocks:
            with contextlib.redirect_stdout(printed):
                # dont_inherit: the block is compiled as the reader's own file, not under this module's __future__
                exec(compile(substituted(block), f"README.md:{block.line}", "exec", dont_inherit=True),  # noqa: S102
                     scope)
            made += [v for v in scope.values() if isinstance(v, Swarm) and all(v is not m for m in made + given)]
    finally:
        for s in made:
            s.close()
    return printed.getvalue()


# -- every block is run by something -------------------------------------------------------------------------------
LOCAL_SECTIONS = {"Five-minute tutorial", "Using a real DeepSeek-R1 model", "LangChain and LangGraph tools",
                  "Writing an agent"}  # each has its test below


def test_every_block_is_run():
    blocks = python_blocks()
    assert len(blocks) >= 9
    unrun = [(b.line, b.section) for b in blocks if not b.needs_cluster and b.section not in LOCAL_SECTIONS]
    assert not unrun, f"README python blocks no test runs (add a test here, or mark {CLUSTER_MARK}): {unrun}"
    cluster = [b for b in blocks if b.needs_cluster]
    assert cluster and {b.section for b in cluster} == {SCALE_OUT}, [(b.line, b.section) for b in cluster]
    suite = (ROOT / "tests" / "cluster_suite.py").read_text()
    assert "def test_readme_cluster_blocks" in suite and "run_blocks(cluster_blocks()" in suite


def test_every_substitution_is_used():
    blocks = python_blocks()
    for section, text, _ in SUBSTITUTIONS:
        assert any(text in b.code for b in blocks if b.section == section), f"'{text}' is not in '## {section}'"


def cluster_blocks() -> list[Block]:
    """The blocks tests/cluster_suite.py runs."""
    return [b for b in python_blocks() if b.needs_cluster]


# -- the reader's machine: HOME, the devnet the README's `swarm devnet up` would have started -------------------------
@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """HOME is a fresh directory (`~/.swarm` is the state directory, as by default); no model, key, shared store or
    devnet from the environment."""
    from defai_swarm.config import cache_home

    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home().parent))  # anvil and the contract builds stay found
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("SWARM_HOME", "SWARM_MODEL", "SWARM_PRIVATE_KEY", "SWARM_SOLANA_KEYPAIR", "SWARM_STORE",
                 "SWARM_MODEL_FAMILY", "SWARM_MANIFEST", "SWARM_NPM_PREFIX", "SWARM_ANVIL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def reader(home, devnet, chain, monkeypatch) -> Path:
    """`home`, and `Swarm.from_devnet()` finds the session's anvil devnet (reverted after the test)."""
    monkeypatch.setenv("SWARM_MANIFEST", str(devnet.manifest_path))
    return home


@pytest.fixture
def solana_config(reader, solana_devnet) -> Path:
    """The session's Solana devnet, its configuration where `swarm devnet up --chain solana` writes it."""
    path = reader / ".swarm" / "solana-devnet" / "config.json"
    path.parent.mkdir(parents=True)
    shutil.copy(solana_devnet.paths.config, path)
    return path


def test_tutorial_blocks(solana_config):
    """`Swarm.from_devnet()` and `Swarm.from_config("~/.swarm/solana-devnet/config.json")`, as written."""
    blocks = section_blocks("Five-minute tutorial")
    assert any('from_config("~/' in b.code for b in blocks)
    scope: dict[str, Any] = {}
    out = run_blocks(blocks, scope)
    assert out.startswith("done "), out  # the EVM run's status, tx hashes and reasons
    assert scope["result"].status == "done", scope["result"].reasons  # the Solana swap (the last block's result)
    assert scope["swarm"].chain.family == "solana" and len(scope["result"].tx_hashes) == 1


def test_model_blocks(reader, tiny_model_path):
    """`load_backend` is imported from where the README says, and the swarm plans with the loaded model."""
    scope: dict[str, Any] = {"TINY_MODEL": str(tiny_model_path)}
    run_blocks(section_blocks("Using a real DeepSeek-R1 model"), scope)
    assert Path(scope["swarm"].backend.info.path) == tiny_model_path


class ScriptedChatModel:
    """Made lazily (langchain_core is the `langchain` extra): a chat model that calls read_price, then answers."""

    @staticmethod
    def make() -> Any:
        from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
        from langchain_core.messages import AIMessage

        class Scripted(GenericFakeChatModel):
            def bind_tools(self, tools, **kwargs):  # type: ignore[override]  # the script decides, not the tools
                return self

        call = AIMessage(content="", tool_calls=[{"name": "read_price", "args": {"token": "ETH"}, "id": "call_1",
                                                  "type": "tool_call"}])
        return Scripted(messages=iter([call, AIMessage(content="ETH is about 3000 USD")]))


def test_langchain_blocks(reader):
    """The agent the README builds runs a tool call through the swarm's tools, with no deprecation warning from
    LangGraph or LangChain (LangGraph 1.x deprecates `langgraph.prebuilt.create_react_agent`)."""
    from langchain_core.messages import ToolMessage

    scope: dict[str, Any] = {"SCRIPTED_CHAT_MODEL": ScriptedChatModel.make()}
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        out = run_blocks(section_blocks("LangChain and LangGraph tools"), scope)
    assert out == "ETH is about 3000 USD\n"
    (tool,) = [m for m in scope["answer"]["messages"] if isinstance(m, ToolMessage)]
    assert tool.name == "read_price" and tool.status == "success", tool
    reading = json.loads(str(tool.content))
    assert reading["token"] == "ETH" and Decimal(reading["price"]) > 0 and reading["sources"]


def test_agent_blocks(reader):
    """"Writing an agent": the class block leaves out its imports; they are the example file's, whose code the
    block is (as tests/test_plugins.py checks). The one-line block registers it on the tutorial's swarm."""
    blocks = section_blocks("Writing an agent")
    example = ROOT / "examples" / "balance_floor.py"
    source = example.read_text()
    assert blocks[0].code.strip() in source
    imports = [ast.get_source_segment(source, node) for node in ast.parse(source).body
               if isinstance(node, (ast.Import, ast.ImportFrom))]
    prelude = "\n".join(i for i in imports if i) + "\nfrom defai_swarm.api import Swarm\nswarm = Swarm.from_devnet()\n"
    scope: dict[str, Any] = {}
    exec(compile(prelude, str(example), "exec", dont_inherit=True), scope)  # noqa: S102 - the file's imports
    try:
        run_blocks(blocks, scope)
        result = scope["swarm"].run("swap 1 ETH to USDC, max 1% slippage")
        assert result.status == "done", result.reasons
        assert result.tasks["floor_swap_1"]["status"] == "ok"  # the README's plugin ran as a node of the graph
    finally:
        scope["swarm"].close()


# -- `~` in every path a user gives (issue 28) ---------------------------------------------------------------------
def test_api_paths_expand_home(reader, devnet, chain, monkeypatch):
    """`Swarm.from_config("~/...")`, `Swarm.from_devnet("~/...")`, `SWARM_MANIFEST=~/...` and `home="~/..."`."""
    from defai_swarm.api import Swarm
    from defai_swarm.chains import read_config
    from defai_swarm.tools.evm.config import EvmChainConfig

    shutil.copy(devnet.manifest_path, reader / "chain.json")
    assert read_config(Path("~/chain.json"))["family"] == "evm"
    assert EvmChainConfig.load(Path("~/chain.json")).chain_id == devnet.manifest.chain_id
    for make in (lambda: Swarm.from_config("~/chain.json", home="~/state"),
                 lambda: Swarm.from_devnet("~/chain.json", home="~/state")):
        swarm = make()
        try:
            assert swarm.manifest.chain_id == devnet.manifest.chain_id
            assert swarm.home == reader / "state"
        finally:
            swarm.close()
    monkeypatch.setenv("SWARM_MANIFEST", "~/chain.json")
    swarm = Swarm.from_devnet()
    swarm.close()
    assert not (Path.cwd() / "~").exists()  # nothing was written to a folder named "~"


def test_environment_paths_expand_home(home, monkeypatch):
    """SWARM_HOME, SWARM_LEDGER, SWARM_NPM_PREFIX and SWARM_ANVIL given with `~` (a service file does not expand it)."""
    from defai_swarm.config import swarm_home
    from defai_swarm.ledger import default_ledger_path
    from defai_swarm.tools.devnet.install import anvil_binary, npm_prefix

    (home / "anvil").write_text("#!/bin/sh\n")  # an executable is all SWARM_ANVIL is checked for here
    (home / "anvil").chmod(0o755)
    for name, value in (("SWARM_HOME", "~/state"), ("SWARM_LEDGER", "~/ledger.sqlite"), ("SWARM_NPM_PREFIX", "~/npm"),
                        ("SWARM_ANVIL", "~/anvil")):
        monkeypatch.setenv(name, value)
    assert swarm_home() == home / "state" and default_ledger_path() == home / "ledger.sqlite"
    assert npm_prefix() == home / "npm" and anvil_binary() == home / "anvil"
    assert not (Path.cwd() / "~").exists()


def test_solana_config_paths_expand_home(home):
    """A Solana configuration's `wallet_path` and `state_dir` written with `~` (as a hand-written mainnet config
    would), and the file itself given with `~`."""
    from defai_swarm.tools.solana.config import SolanaChainConfig

    config = {"family": "solana", "cluster": "mainnet", "rpc_url": "https://api.mainnet-beta.solana.com",
              "wallet_path": "~/.config/solana/id.json", "state_dir": "~/solana-state"}
    (home / "solana.json").write_text(json.dumps(config))
    loaded = SolanaChainConfig.load("~/solana.json")
    assert loaded.wallet_path == str(home / ".config" / "solana" / "id.json")
    assert loaded.state_dir == str(home / "solana-state")


SWARM = shutil.which("swarm", path=str(Path(sys.executable).parent)) or str(Path(sys.executable).parent / "swarm")


def test_cli_paths_expand_home(reader, devnet, chain, capsys):
    """`swarm plan --config ~/chain.json --policy ~/policy.json` as a program that passes arguments without a
    shell (an MCP client's `args`, a service file) runs it, and `swarm audit export -o ~/...`, `verify --bundle
    ~/...`, `html --bundle ~/... -o ~/...`."""
    from defai_swarm.api import Swarm
    from defai_swarm.cli import main as swarm_main

    shutil.copy(devnet.manifest_path, reader / "chain.json")
    (reader / "policy.json").write_text('{"max_trade_usd": 1}')
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    plan = subprocess.run([SWARM, "plan", "--config", "~/chain.json", "--policy", "~/policy.json", "--json",
                           "swap 1 ETH to USDC"], env=env, capture_output=True, text=True, timeout=120)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert json.loads(plan.stdout)["task_graph"]["tasks"], plan.stdout
    refused = subprocess.run([SWARM, "run", "--config", "~/chain.json", "--policy", "~/policy.json",
                              "swap 1 ETH to USDC"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 5 and "max_trade_usd" in refused.stdout + refused.stderr, refused.stdout  # read it

    swarm = Swarm.from_devnet()  # ~/.swarm: the audit log the audit commands read
    try:
        run_id = swarm.run("swap 0.1 ETH to USDC").run_id
    finally:
        swarm.close()
    capsys.readouterr()
    assert swarm_main(["audit", "export", run_id, "-o", "~/run.json"]) == 0, capsys.readouterr()
    assert (reader / "run.json").exists()
    assert swarm_main(["audit", "verify", "--bundle", "~/run.json"]) == 0, capsys.readouterr()
    assert swarm_main(["audit", "html", "--bundle", "~/run.json", "-o", "~/run.html"]) == 0, capsys.readouterr()
    assert (reader / "run.html").exists()
    assert not (Path.cwd() / "~").exists()
