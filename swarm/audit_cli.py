"""`swarm audit runs|show|verify|replay|export`: what a reviewer runs against a run's audit log."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from swarm.audit import AuditLog, Signer, export_bundle, verify_bundle, verify_log
from swarm.audit.replay import replay
from swarm.auditing import RunAuditor
from swarm.config import swarm_home


def audit_paths() -> tuple[Path, Path]:
    base = swarm_home() / "audit"
    return base / "audit.db", base / "signing.key"


def _anchor_checker(args, expected_sender: str | None, anchor: dict | None):
    """A checker for the anchor's own chain (its label says which family): `--config`, `--rpc` (EVM), or the
    running devnet of that family. None when no chain is reachable: the anchor is then reported unchecked."""
    if not anchor:
        return None
    from swarm.chains import adapter_class
    from swarm.config import swarm_home

    family = str(anchor.get("chain", "")).partition(":")[0]
    if family == "evm" and args.rpc and not args.config:
        from tools.evm.anchor import EvmAnchorChecker
        from tools.evm.rpc import connect
        return EvmAnchorChecker(connect(args.rpc), expected_sender=expected_sender)
    adapter = adapter_class(family)
    if args.config:
        config = adapter.config_model.load(Path(args.config))
    elif family == "solana":
        from tools.devnet.solana import running_config
        config = running_config(swarm_home())
    else:
        from tools.devnet import running_manifest
        config = running_manifest()
    return adapter.anchor_checker_for(config, expected_sender) if config is not None else None


def _plugins():
    """The built-in agents plus those installed packages declare (their entries replay too)."""
    from agents import builtin_plugins
    from swarm.plugins import PluginRegistry
    registry = PluginRegistry(builtin_plugins())
    registry.load_entry_points()
    return registry


def _print_report(console, report, title: str) -> int:
    for check in report.checks:
        name, ok, detail = check
        console.print(f"  [{'green' if ok else 'red'}]{'ok' if ok else 'FAIL'}[/]  {name}: {detail}")
    if report.ok:
        console.print(f"[green]PASS[/green] {title}")
        return 0
    where = f" (first bad entry: {report.first_bad_index})" if report.first_bad_index is not None else ""
    console.print(f"[red]FAIL[/red] {title}: {report.reason}{where}")
    return 1


def audit_command(args: argparse.Namespace, console) -> int:
    db, key = audit_paths()
    if args.action == "verify" and args.bundle:
        bundle = json.loads(Path(args.bundle).read_text())
        sender = next((e["payload"].get("wallet") for e in bundle.get("entries", []) if e.get("kind") == "intent"), None)
        checker = _anchor_checker(args, sender, bundle.get("anchor"))
        return _print_report(console, verify_bundle(bundle, trusted_vkey=args.vkey, anchor_checker=checker),
                             f"bundle {args.bundle}")
    with AuditLog(db) as log:
        if args.action == "runs":
            for run_id in log.runs():
                console.print(f"{run_id}  {log.size(run_id)} entries")
            return 0
        if not args.run_id:
            console.print("[red]error:[/red] a run id is required (see `swarm audit runs`)")
            return 1
        if args.run_id not in log.runs():
            console.print(f"[red]error:[/red] no run {args.run_id} in {db}")
            return 1
        entries = log.entries(args.run_id)
        if args.action == "show":
            for e in entries:
                summary = e.payload.get("status") or e.payload.get("event") or e.payload.get("text") or ""
                task = e.payload.get("task") or e.payload.get("step") or ""
                console.print(f"{e.index:>4}  {e.created_at}  {e.kind:<16} {task:<18} {str(summary)[:90]}")
            return 0
        if args.action == "replay":
            report = replay(entries, _plugins())
            for c in report.checks:
                console.print(f"  [{'green' if c.ok else 'red'}]{'ok' if c.ok else 'FAIL'}[/]  #{c.index} {c.kind}: {c.detail}")
            console.print(f"[{'green' if report.ok else 'red'}]{'PASS' if report.ok else 'FAIL'}[/] replay: {report.reason}")
            return 0 if report.ok else 1
        anchored = RunAuditor(log, Signer.load(key)).anchor_for(args.run_id)
        note, anchor = anchored if anchored else (None, None)
        if args.action == "export":
            if note is None:
                latest = log.latest_checkpoint(args.run_id)
                note = latest.note if latest else None
            if note is None:
                console.print(f"[red]error:[/red] run {args.run_id} has no signed checkpoint yet")
                return 1
            out = Path(args.output or f"{args.run_id}.bundle.json")
            out.write_text(json.dumps(export_bundle(log, args.run_id, note, anchor=anchor), indent=1))
            console.print(f"bundle written to {out}")
            return 0
        sender = next((e.payload.get("wallet") for e in entries if e.kind == "intent"), None)
        vkey = args.vkey or Signer.load(key).vkey
        report = verify_log(log, args.run_id, trusted_vkey=vkey, anchor_checker=_anchor_checker(args, sender, anchor),
                            checkpoint_note=note, anchor=anchor)
        code = _print_report(console, report, f"run {args.run_id}")
        if anchor is None:
            console.print("[red]FAIL[/red] no on-chain anchor recorded for this run")
            return 1
        return code
