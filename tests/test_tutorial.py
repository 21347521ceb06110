"""The README's five-minute tutorial, its Python snippet, every example bot and a `swarm new` project's README
examples, run twice in a row on one devnet under the DEFAULT policy ($25,000 daily cap).

Read from README.md and the generated project's README.md themselves (not copies), so neither can drift from
what is tested. The devnet is started the way the tutorial says (`--keep-pools-aligned`: pools are arbitraged
back to the feeds before each run); the runs use no policy of their own and a spend ledger of this test's own.
Each command must end as its README says: exit 0, or 5 where it says "refused". One pass trades about $22,000;
the tutorial ends with `swarm devnet reset`, which clears the devnet's daily cap with the trades it reverts
(issue 28 #1: before, the second pass ran into the cap), so a second pass fits as the first did.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import re
import shlex
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from examples import dca_bot, one_shot_swap, price_trigger, rebalancer
from defai_swarm.cli import main as swarm_main
from defai_swarm.core.chain import ChainIdentity
from defai_swarm.exitcodes import ExitCode
from defai_swarm.ledger import SpendLedger
from defai_swarm.starter import create
from defai_swarm.tools.devnet.install import install
from defai_swarm.tools.devnet.manifest import DevnetManifest
from defai_swarm.tools.devnet.node import free_port
from defai_swarm.tools.evm.wallet import Wallet

pytestmark = pytest.mark.devnet  # the tutorial's `swarm devnet up` starts anvil

README = Path(__file__).resolve().parents[1] / "README.md"
STARTER = "tutorial_bot"  # the `swarm new` project's name (a package imported in this process)


def tutorial_section() -> str:
    text = README.read_text()
    start = text.index("## Five-minute tutorial")
    return text[start:text.index("\n## ", start + 5)]


def tutorial_commands() -> list[tuple[list[str], int]]:
    """The EVM part of the tutorial's shell block: (argv after `swarm`, expected exit code), `devnet down` last."""
    block = re.search(r"```bash\n(.*?)```", tutorial_section(), re.S)
    assert block, "the tutorial has no ```bash block"
    commands: list[tuple[list[str], int]] = []
    for line in block.group(1).splitlines():
        code, _, comment = line.partition("  #")
        for part in code.split("&&"):
            argv = shlex.split(part.strip())
            if not argv or argv[0] != "swarm":
                continue  # setup.sh, source
            commands.append((argv[1:], ExitCode.REFUSED if "refused" in comment else ExitCode.DONE))
            if argv[1:3] == ["devnet", "down"]:
                return commands
    raise AssertionError("the tutorial's EVM part does not end with `swarm devnet down`")


def python_snippet() -> str:
    block = re.search(r"```python\n(.*?)```", tutorial_section(), re.S)
    assert block and "Swarm.from_devnet()" in block.group(1)
    return block.group(1)


def starter_commands(readme: str) -> list[tuple[list[str], int]]:
    """The generated project's README "Run" examples: (argv, expected exit code), `python -m NAME ...` and
    `swarm ...` lines in order; `python -m pytest` (the project's own tests: tests/test_starter.py) left out."""
    section = readme[readme.index("## Run"):readme.index("\n## ", readme.index("## Run") + 5)]
    commands: list[tuple[list[str], int]] = []
    for line in section.splitlines():
        if not line.startswith("    "):
            continue
        code, _, comment = line.strip().partition("  #")
        argv = shlex.split(code)
        if argv[:2] == ["python", "-m"] and argv[2] != "pytest" or argv[:1] == ["swarm"]:
            commands.append((argv, ExitCode.REFUSED if "refused" in comment else ExitCode.DONE))
    assert [c for c in commands if c[0][:3] == ["python", "-m", STARTER]], section
    return commands


@pytest.fixture
def env(tmp_path, monkeypatch):
    install()
    for name in ("SWARM_MODEL", "SWARM_PRIVATE_KEY", "SWARM_MANIFEST", "SWARM_STORE"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("SWARM_HOME", str(home))
    ledger = tmp_path / "ledger.sqlite"
    monkeypatch.setenv("SWARM_LEDGER", str(ledger))
    monkeypatch.chdir(tmp_path)
    project = create(STARTER, tmp_path / STARTER)
    monkeypatch.syspath_prepend(str(project))  # `python -m tutorial_bot` run in this process (fast)
    yield home, ledger, project
    swarm_main(["devnet", "down"])
    for module in [m for m in sys.modules if m == STARTER or m.startswith(STARTER + ".")]:
        del sys.modules[module]


def swarm(argv: list[str], capsys) -> tuple[int, str]:
    code = swarm_main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


def run_tutorial(commands, port: int, capsys) -> None:
    run_id = None
    for argv, expected in commands:
        if argv[:2] == ["devnet", "down"]:
            continue
        argv = [(run_id or "<no run yet>") if a == "<run-id>" else a for a in argv]
        if argv[:2] == ["devnet", "up"]:
            argv += ["--port", str(port)]
        code, out = swarm(argv, capsys)
        assert code == expected and "Traceback" not in out, f"swarm {shlex.join(argv)} -> {code}\n{out}"
        if argv[0] == "run":
            found = re.search(r"^run (\w+): (\w+)", out, re.M)
            assert found, out
            if found.group(2) == "done" and run_id is None:
                run_id = found.group(1)  # `<run-id>` in the tutorial: its first run
        if argv[:2] == ["audit", "verify"]:
            assert "PASS" in out, out


def run_snippet() -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        scope: dict[str, Any] = {}
        exec(compile(python_snippet(), "README.md python snippet", "exec"), scope)  # noqa: S102 - the README's own code
        scope["swarm"].close()
    return printed.getvalue()


def run_examples(home: Path, capsys) -> None:
    manifest = home / "devnet" / "manifest.json"
    flags = ["--manifest", str(manifest), "--home", str(home)]
    assert one_shot_swap.main([*flags, "swap 1 ETH to USDC if ETH is above 2500"]) == 0, capsys.readouterr().out
    assert dca_bot.main([*flags, "--amount", "100", "--every", "5", "--rounds", "3", "--mine"]) == 0, \
        capsys.readouterr().out
    # examples/README.md: the price trigger fires once the price is moved with set-price
    assert swarm(["devnet", "set-price", "ETH", "3200"], capsys)[0] == 0
    assert price_trigger.main([*flags, "--intent", "swap 1 ETH to USDC if ETH is above 3100", "--polls", "2",
                               "--interval", "0"]) == 0, capsys.readouterr().out
    assert swarm(["devnet", "set-price", "ETH", "3000"], capsys)[0] == 0
    assert rebalancer.main([*flags, "--target", "0.5", "--band", "0.05"]) == 0, capsys.readouterr().out
    capsys.readouterr()


def run_starter(commands, capsys) -> None:
    """The `swarm new` project's README examples, `python -m NAME` as its `main` in this process."""
    entry = importlib.import_module(f"{STARTER}.__main__")
    run_id = None
    for argv, expected in commands:
        if argv[0] == "python":
            code = entry.main(argv[3:])
            out = capsys.readouterr().out
            found = re.search(r"\(run (\w+)\)", out)
            assert found, out
            if expected == ExitCode.DONE and run_id is None:
                run_id = found.group(1)
        else:
            argv = [(run_id or "<no run yet>") if a == "RUN_ID" else a for a in argv[1:]]
            code, out = swarm(argv, capsys)
        assert code == expected and "Traceback" not in out, f"{shlex.join(argv)} -> {code}\n{out}"
        if argv[:2] == ["audit", "verify"]:
            assert "PASS" in out, out


def spent_today(home: Path, ledger: Path) -> Decimal:
    """The tutorial wallet's reservations today on the running devnet (the default policy's cap counts these)."""
    manifest = DevnetManifest.load(home / "devnet" / "manifest.json")
    identity = ChainIdentity(family="evm", chain_id=str(manifest.chain_id), genesis_hash=str(manifest.genesis_hash))
    return SpendLedger.for_wallet(ledger, identity, Wallet.devnet(1).address).spent_today()


def test_tutorial_snippet_examples_and_starter_twice_on_one_devnet_under_the_default_policy(env, capsys):
    home, ledger, project = env
    commands = tutorial_commands()
    assert commands[0][0][:2] == ["devnet", "up"] and "--keep-pools-aligned" in commands[0][0]
    assert any(c[0][:2] == ["devnet", "set-price"] for c in commands)
    assert commands[-2][0][:2] == ["devnet", "reset"]  # the tutorial ends clearing the devnet's cap
    starter = starter_commands((project / "README.md").read_text())
    port = free_port()
    for _pass in (1, 2):
        run_tutorial(commands, port, capsys)
        assert spent_today(home, ledger) == 0  # the reset released what the tutorial reserved
        out = run_snippet()
        assert out.startswith("done "), out
        run_examples(home, capsys)
        run_starter(starter, capsys)
        assert Decimal(14_000) < spent_today(home, ledger) < Decimal(20_000)  # what the next pass starts from
    code, out = swarm(["audit", "runs"], capsys)
    assert code == 0 and "refused" in out and "done" in out
    assert swarm(["devnet", "down"], capsys) == (0, "devnet stopped\n")
