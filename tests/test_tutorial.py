"""The README's five-minute tutorial, its Python snippet and every example bot, run twice in a row on one devnet.

Read from README.md itself (not a copy), so the tutorial cannot drift from what is tested. The devnet is started
the way the tutorial says (`--keep-pools-aligned`: pools are arbitraged back to the feeds before each run), and
the runs go under a stated policy whose daily cap covers both passes (about $41k of trades against a $50k cap),
with a spend ledger of this test's own. Each command must end as the README says: exit 0, or 5 where it says
"refused". The spend ledger is never reset, so the second pass also shows the cap holding across passes.
"""
from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from examples import dca_bot, one_shot_swap, price_trigger, rebalancer
from swarm.cli import main as swarm_main
from swarm.exitcodes import ExitCode
from tools.devnet.install import install
from tools.devnet.node import free_port

README = Path(__file__).resolve().parents[1] / "README.md"
POLICY = '{"daily_cap_usd": 50000, "max_trade_usd": 10000}'  # the stated policy: two passes fit the daily cap


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


@pytest.fixture
def env(tmp_path, monkeypatch):
    install()
    for name in ("SWARM_MODEL", "SWARM_PRIVATE_KEY", "SWARM_MANIFEST"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("SWARM_HOME", str(home))
    monkeypatch.setenv("SWARM_LEDGER", str(tmp_path / "ledger.sqlite"))
    monkeypatch.chdir(tmp_path)
    policy = tmp_path / "policy.json"
    policy.write_text(POLICY)
    yield home, policy
    swarm_main(["devnet", "down"])


def swarm(argv: list[str], capsys) -> tuple[int, str]:
    code = swarm_main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


def run_tutorial(commands, policy: Path, port: int, capsys) -> None:
    run_id = None
    for argv, expected in commands:
        if argv[:2] == ["devnet", "down"]:
            continue
        argv = [(run_id or "<no run yet>") if a == "<run-id>" else a for a in argv]
        if argv[:2] == ["devnet", "up"]:
            argv += ["--port", str(port)]
        if argv[0] == "run":
            argv += ["--policy", str(policy)]
        code, out = swarm(argv, capsys)
        assert code == expected and "Traceback" not in out, f"swarm {shlex.join(argv)} -> {code}\n{out}"
        if argv[0] == "run":
            found = re.search(r"^run (\w+): (\w+)", out, re.M)
            assert found, out
            if found.group(2) == "done" and run_id is None:
                run_id = found.group(1)  # `<run-id>` in the tutorial: its first run
        if argv[:2] == ["audit", "verify"]:
            assert "PASS" in out, out


def run_snippet(policy: Path) -> str:
    from tools.evm.policy import RiskPolicy
    source = python_snippet().replace("Swarm.from_devnet()", "Swarm.from_devnet(policy=POLICY)")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        scope: dict[str, Any] = {"POLICY": RiskPolicy.model_validate_json(policy.read_text())}
        exec(compile(source, "README.md python snippet", "exec"), scope)  # noqa: S102 - the README's own code
        scope["swarm"].close()
    return printed.getvalue()


def run_examples(home: Path, policy: Path, capsys) -> None:
    manifest = home / "devnet" / "manifest.json"
    flags = ["--manifest", str(manifest), "--home", str(home), "--policy", str(policy)]
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


def test_tutorial_snippet_and_examples_twice_on_one_devnet(env, capsys):
    home, policy = env
    commands = tutorial_commands()
    assert commands[0][0][:2] == ["devnet", "up"] and "--keep-pools-aligned" in commands[0][0]
    assert any(c[0][:2] == ["devnet", "set-price"] for c in commands)
    port = free_port()
    for _pass in (1, 2):
        run_tutorial(commands, policy, port, capsys)
        out = run_snippet(policy)
        assert out.startswith("done "), out
        run_examples(home, policy, capsys)
    code, out = swarm(["audit", "runs"], capsys)
    assert code == 0 and "refused" in out and "done" in out
    assert swarm(["devnet", "down"], capsys) == (0, "devnet stopped\n")
