"""`swarm` for scripts and people: every reporting command's --json parses, exit codes per outcome, one-line errors
(a traceback only with --debug), the plan as a tree, labelled transactions, refusals once in human units."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from defai_swarm.cli import main
from defai_swarm.exitcodes import ExitCode
from tests.secret_scan import record_output
from defai_swarm.tools.devnet.node import free_port


@pytest.fixture
def swarm_cli(devnet, chain, tmp_path, monkeypatch, capsys):
    """`swarm ARGS` (its `main`, in this process: the suite's log collector sees its records) on the session devnet,
    with its own state directory and spend ledger; (exit code, stdout + stderr) or (exit code, JSON, stderr)."""
    for name in ("SWARM_MODEL", "SWARM_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SWARM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SWARM_LEDGER", str(tmp_path / "ledger.sqlite"))
    monkeypatch.setenv("SWARM_MANIFEST", str(devnet.manifest_path))
    capsys.readouterr()

    def run(*args: str, json_out: bool = False):
        try:
            code = main(list(args))
        except SystemExit as exc:  # --help, --version, argparse usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        record_output(captured.out + captured.err)
        if json_out:
            return code, json.loads(captured.out), captured.err
        return code, captured.out + captured.err
    return run


INTENT = "swap 1 ETH to USDC if ETH is above 2500, max 0.5% slippage"


def test_plan_tree_and_json(swarm_cli):
    code, out = swarm_cli("plan", INTENT)
    assert code == ExitCode.DONE, out
    assert "plan ok" in out and "no model: deterministic parser only" in out
    assert "only if ETH/USD > 2,500" in out and "max slippage 0.50% (50 bps)" in out
    assert "after price_eth, price_usdc" in out and "{" not in out  # a tree, not JSON
    code, plan, _ = swarm_cli("plan", INTENT, "--json", json_out=True)
    assert code == 0 and plan["ok"] is True and plan["model_used"] is False and plan["exit_code"] == 0
    assert [t["kind"] for t in plan["task_graph"]["tasks"]] == ["read_price", "read_price", "check_risk", "swap"]
    assert "thoughts" in plan  # the full plan
    code, plan, _ = swarm_cli("plan", "swap 1 ETH to NOPE", "--json", json_out=True)
    assert code == ExitCode.REFUSED and plan["ok"] is False and plan["refusal_reason"]


def test_run_resume_and_audit_json(swarm_cli):
    code, result, _ = swarm_cli("run", "sell 3000 USDC for DAI in 3 parts, max 1% slippage", "--json", json_out=True)
    assert code == ExitCode.DONE and result["status"] == "done" and result["exit_code"] == 0, result
    assert len(result["tx_hashes"]) == 4 and result["anchor"]["tx_id"]  # one approval for the split, three swaps
    run_id = result["run_id"]

    code, resumed, _ = swarm_cli("resume", run_id, "--json", json_out=True)
    assert code == 0 and resumed["run_id"] == run_id and resumed["status"] == "done"

    code, runs, _ = swarm_cli("audit", "runs", "--json", json_out=True)
    assert code == 0 and [r["run_id"] for r in runs] == [run_id]
    assert runs[0]["intent"].startswith("sell 3000 USDC") and runs[0]["status"] == "done"
    assert runs[0]["entries"] > runs[0]["signed"] > 0

    code, shown, _ = swarm_cli("audit", "show", run_id, "--json", json_out=True)
    assert code == 0 and shown["entries"] == len(shown["entries_detail"]) == runs[0]["entries"]
    assert all(row["summary"] for row in shown["entries_detail"]), shown  # every entry kind summarised

    code, verified, _ = swarm_cli("audit", "verify", run_id, "--json", json_out=True)
    assert code == 0 and verified["verdict"] == "PASS" and any(c["name"] == "anchor" and c["ok"]
                                                               for c in verified["checks"]), verified
    code, replayed, _ = swarm_cli("audit", "replay", run_id, "--json", json_out=True)
    assert code == 0 and replayed["ok"] is True and replayed["checks"]

    # the same run for people: labelled transactions, human amounts, the same entry wording everywhere
    code, out = swarm_cli("audit", "runs")
    # the signed checkpoint's own anchor record comes after it by construction: named, never "not signed yet"
    assert runs[0]["anchored"] is True and runs[0]["entries"] == runs[0]["signed"] + 1, runs[0]
    phrase = f"{runs[0]['entries']} entries, {runs[0]['signed']} signed + its anchor record"
    assert code == 0 and phrase in out and "sell 3000 USDC" in out and "not signed yet" not in out
    code, out = swarm_cli("audit", "show", run_id)
    assert phrase in out
    code, out = swarm_cli("audit", "verify", run_id)
    assert code == 0 and phrase in out and f"PASS run {run_id}" in out


def test_refused_run_exit_code_and_human_output(swarm_cli):
    code, out = swarm_cli("run", "swap 50 ETH to USDC")
    assert code == ExitCode.REFUSED, out
    assert out.count("max_trade_usd: trade $150,000.00, limit $10,000.00") == 1, out  # once, not per task
    assert "quote_meets_min_out: quote 142,448.9" in out and "USDC, independent minimum 149,250 USDC" in out, out
    assert "swap tx:" not in out and "approve tx:" not in out and "anchor tx: 0x" in out  # only the audit anchor
    code, out = swarm_cli("run", "swap 1 ETH to USDC if ETH is above 5000")
    assert code == ExitCode.SKIPPED, out
    code, out = swarm_cli("run", "sell 300 USDC for DAI in 3 parts, max 1% slippage")
    assert code == 0 and out.count("approve tx: 0x") == 1 and out.count("swap tx: 0x") == 3, out
    assert "anchor tx: 0x" in out
    assert "DAI" in out and not any(len(tok.split(".")[-1]) > 4 for tok in out.split() if tok[:1].isdigit() and
                                    "." in tok and tok.replace(".", "").replace(",", "").isdigit()), out


def test_devnet_status_json(swarm_cli, devnet):
    code, status, _ = swarm_cli("devnet", "status", "--json", json_out=True)
    assert code == 0 and status["chain_id"] == 31337 and status["rpc_url"] == devnet.manifest.rpc_url
    assert {p["pair"] for p in status["pools"]} >= {"WETH/USDC", "WETH/DAI"} and "ETH/USD" in status["feeds"]


# ---- errors: one line, no traceback; --debug shows it ----------------------------------------------------

def _one_line(result: tuple, expected_code: int, *needles: str) -> None:
    code, out = result
    lines = [line for line in out.splitlines() if line.strip()]
    assert code == expected_code and "Traceback" not in out and len(lines) == 1, out
    assert lines[0].startswith("error: ") and all(n in lines[0] for n in needles), out


def test_user_errors_are_one_line(swarm_cli, devnet, tmp_path):
    _one_line(swarm_cli("plan", INTENT, "--model", "/nope.gguf"), ExitCode.ERROR, "/nope.gguf")
    bad_policy = tmp_path / "policy.json"
    bad_policy.write_text('{"max_trade_usd": 50,\n')
    _one_line(swarm_cli("run", INTENT, "--policy", str(bad_policy)), ExitCode.ERROR, "not valid JSON", str(bad_policy))
    dead = json.loads(Path(devnet.manifest_path).read_text())
    dead["rpc_url"] = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "dead.json").write_text(json.dumps(dead))
    _one_line(swarm_cli("run", INTENT, "--manifest", str(tmp_path / "dead.json")), ExitCode.ERROR,
              "cannot reach the RPC", "swarm devnet up")
    (tmp_path / "bad.json").write_text('{"family": "evm", "chain_id": "x"')
    _one_line(swarm_cli("plan", INTENT, "--manifest", str(tmp_path / "bad.json")), ExitCode.ERROR, "bad.json")
    _one_line(swarm_cli("audit", "show", "0123456789abcdef"), ExitCode.USAGE, "no audit log")
    code, out = swarm_cli("plan", INTENT, "--model", "/nope.gguf", "--debug")
    assert code == ExitCode.ERROR and "Traceback" in out and "error: " in out


def test_help_version_and_logs(swarm_cli, tmp_path):
    code, out = swarm_cli("devnet", "up", "--help")
    assert code == 0 and "usage: swarm devnet up" in out and "--keep-pools-aligned" in out and "--port" in out
    code, out = swarm_cli("devnet", "set-price", "--help")
    assert code == 0 and "symbol" in out and "price" in out
    code, out = swarm_cli("--version")
    assert code == 0 and out.startswith("swarm (defai-swarm) ")
    code, out = swarm_cli("--help")
    assert code == 0 and "8 verify failed" in out and "SWARM_HOME" in out
    proc_code, out = swarm_cli("plan", INTENT, "--json", "--log-level", "info", "--log-format", "json")
    assert proc_code == 0
    logs = [json.loads(line) for line in out.splitlines() if line.startswith('{"time"')]
    assert logs and all({"time", "level", "logger", "message"} <= set(rec) for rec in logs), out


def test_model_planning_reports_each_call(swarm_cli, tiny_model_path):
    """With a model, each call is reported as it finishes (the backend's on_call): on a terminal as progress
    lines, and always in the log (tokens, tokens per second, elapsed)."""
    code, out = swarm_cli("plan", INTENT, "--model", str(tiny_model_path), "--k", "1", "--log-level", "info")
    assert code in (ExitCode.DONE, ExitCode.REFUSED) and "Traceback" not in out, out
    calls = [line for line in out.splitlines() if "model call done: model call " in line]
    assert calls and all("tokens/s" in line and "elapsed" in line for line in calls), out
    assert "model loaded: " in out


def test_help_is_fast_to_start_and_own_per_action():
    """`swarm --help` imports no heavy module (a new process, as a user types it); each devnet action has its help."""
    probe = ("import sys, runpy; sys.argv = ['swarm', '--help']\n"
             "try:\n    runpy.run_module('defai_swarm.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('web3', 'langgraph', 'llama_cpp', 'defai_swarm.api', 'rich') if m in sys.modules]\n"
             "print('HEAVY', heavy)")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_every_flag_and_argument_is_explained():
    import argparse

    from defai_swarm.cli import build_parser
    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if name != "mcp":  # its flags are the MCP server's own (defai_swarm.integrations.mcp_server)
                        walk(sub, f"{path} {name}")
            elif not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    walk(build_parser(), "swarm")
    assert not missing, missing


def test_unknown_run_and_missing_run_id_are_usage_errors(swarm_cli):
    code, out = swarm_cli("resume", "0123456789abcdef")
    assert code == ExitCode.USAGE and "Traceback" not in out and out.startswith("error: no run 0123456789abcdef"), out


# ---- scripts: the console script as a subprocess ---------------------------------------------------------

SWARM = shutil.which("swarm", path=str(Path(sys.executable).parent)) or str(Path(sys.executable).parent / "swarm")


@pytest.fixture
def swarm_proc(devnet, chain, tmp_path):
    """`swarm ARGS` as a script runs it (the installed console script, a new process) on the session devnet, with
    its own state directory and spend ledger."""
    env = {k: v for k, v in os.environ.items() if k not in ("SWARM_MODEL", "SWARM_PRIVATE_KEY", "SWARM_STORE")}
    env.update(SWARM_HOME=str(tmp_path / "home"), SWARM_LEDGER=str(tmp_path / "ledger.sqlite"),
               SWARM_MANIFEST=str(devnet.manifest_path), NO_COLOR="1", COLUMNS="200", TERM="dumb")

    def run(*args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([SWARM, *args], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        record_output(proc.stdout + proc.stderr)
        return proc
    return run


def _error_document(proc: subprocess.CompletedProcess, code: int, *needles: str) -> dict:
    """A failed --json command: one JSON error document on stdout, and the one-line error on stderr."""
    out = f"stdout: {proc.stdout!r}\nstderr: {proc.stderr!r}"
    assert proc.returncode == code, out
    doc = json.loads(proc.stdout)
    assert isinstance(doc, dict) and doc["exit_code"] == code and all(n in doc["error"] for n in needles), out
    assert "Traceback" not in proc.stdout + proc.stderr and "error" in proc.stderr, out
    return doc


def test_failed_json_commands_print_an_error_document(swarm_proc, devnet, tmp_path):
    dead = json.loads(Path(devnet.manifest_path).read_text())
    dead["rpc_url"] = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "dead.json").write_text(json.dumps(dead))
    doc = _error_document(swarm_proc("run", INTENT, "--json", "--manifest", str(tmp_path / "dead.json")),
                          ExitCode.ERROR, "cannot reach the RPC")
    assert doc["command"] == "run"
    assert "error: cannot reach the RPC" in swarm_proc("run", INTENT, "--json", "--manifest",
                                                       str(tmp_path / "dead.json")).stderr
    doc = _error_document(swarm_proc("audit", "show", "0123456789abcdef", "--json"), ExitCode.USAGE, "no audit log")
    assert doc["command"] == "audit show"
    # argparse's own usage errors too, wherever --json stands
    doc = _error_document(swarm_proc("run", INTENT, "--json", "--bogus"), ExitCode.USAGE, "--bogus")
    assert "usage: swarm" in swarm_proc("run", INTENT, "--json", "--bogus").stderr
    _error_document(swarm_proc("--json", "audit", "verify"), ExitCode.USAGE, "run id")
    # without --json: no JSON anywhere, the one line as before
    proc = swarm_proc("audit", "show", "0123456789abcdef")
    assert proc.returncode == ExitCode.USAGE and proc.stdout.startswith("error: no audit log") and "{" not in proc.stdout


def test_json_before_or_after_the_run_id_and_unknown_runs_are_usage_errors(swarm_proc, tmp_path):
    run = swarm_proc("run", "swap 0.1 ETH to USDC", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    run_id = json.loads(run.stdout)["run_id"]
    for args in (("audit", "verify", "--json", run_id), ("audit", "verify", run_id, "--json"),
                 ("--json", "audit", "verify", run_id)):
        proc = swarm_proc(*args)
        assert proc.returncode == 0 and json.loads(proc.stdout)["verdict"] == "PASS", (args, proc.stdout, proc.stderr)
    for action in ("show", "replay"):
        before, after = swarm_proc("audit", action, "--json", run_id), swarm_proc("audit", action, run_id, "--json")
        assert before.returncode == after.returncode == 0, before.stdout + before.stderr
        assert json.loads(before.stdout)["run_id"] == json.loads(after.stdout)["run_id"] == run_id
    page, bundle = tmp_path / "page.html", tmp_path / "run.bundle.json"
    assert swarm_proc("audit", "html", "-o", str(page), run_id).returncode == 0 and page.exists()
    assert swarm_proc("audit", "export", "-o", str(bundle), run_id).returncode == 0 and bundle.exists()
    # an unknown run id is a usage error (2) for every audit action that takes one, with or without --json
    for action in ("show", "verify", "replay", "export", "html"):
        proc = swarm_proc("audit", action, "deadbeef")
        assert proc.returncode == ExitCode.USAGE and "no run deadbeef" in proc.stdout, (action, proc.stdout)
    for action in ("show", "verify", "replay"):
        _error_document(swarm_proc("audit", action, "--json", "deadbeef"), ExitCode.USAGE, "no run deadbeef")
    # --json where a command has no JSON output is a usage error, not text on a script's stdout
    _error_document(swarm_proc("audit", "html", run_id, "--json"), ExitCode.USAGE, "--json")
    _error_document(swarm_proc("--json", "new", "some_bot"), ExitCode.USAGE, "--json")
    assert not (tmp_path / "some_bot").exists()


def test_an_unreadable_intent_is_explained_once(swarm_proc):
    proc = swarm_proc("run", "swp 1 ETH")
    assert proc.returncode == ExitCode.REFUSED, proc.stdout + proc.stderr
    assert proc.stdout.count("could not read 'swp 1 eth'") == 1, proc.stdout
    proc = swarm_proc("run", "swp 1 ETH", "--json")
    assert json.loads(proc.stdout)["plan"]["refusal_reason"].count("could not read 'swp 1 eth'") == 1, proc.stdout


def test_devnet_status_prices_carry_no_noise_digits(swarm_proc):
    assert swarm_proc("run", "swap 0.1 ETH to USDC").returncode == 0  # the pool moves off its round price
    status = swarm_proc("devnet", "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    pools = {p["pair"]: p for p in json.loads(status.stdout)["pools"]}
    for pair, pool in pools.items():
        price, reserves = Decimal(pool["price"]), [Decimal(r) for r in pool["reserves"]]
        digits = min(len(r.as_tuple().digits) for r in reserves)  # what the reserves' base units carry
        assert "E" not in pool["price"].upper() and len(price.as_tuple().digits) <= digits, (pair, pool)
        assert abs(price - reserves[1] / reserves[0]) <= price.scaleb(1 - digits), (pair, pool)
    assert pools["WETH/USDC"]["price"] != "3000" and Decimal(pools["WETH/USDC"]["price"]) < 3000
    text = swarm_proc("devnet", "status").stdout
    row = next(line for line in text.splitlines() if "HONEY/WETH" in line)
    assert "0.000333333 WETH per HONEY" in row, row  # six significant digits, not 0.000333
    row = next(line for line in text.splitlines() if "WETH/USDC" in line)
    assert re.search(r"\b2,999\.\d{6} USDC per WETH", row), row
