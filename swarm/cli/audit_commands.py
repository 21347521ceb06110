"""`swarm audit runs|show|verify|replay|export|html|serve`: what a reviewer runs against a run's audit log.

What `verify` trusts comes from outside the data it checks (a bundle, or a state directory whoever holds
it can rewrite):
  - the checkpoint key: `--vkey`, else this machine's audit key (`$SWARM_HOME/audit/signing.key`, read,
    never created here). A bundle checked against nothing but the key it carries is SELF-SIGNED, not PASS;
  - the anchor's sender: `--anchor-sender`, else the operator's wallet of the chain configuration in use
    (`--config`, else the running devnet of the anchor's chain family). Nothing pinned: UNPINNED, not PASS;
  - the anchor's time: its block must not be older than the newest entry the checkpoint covers (less a
    small clock skew) nor later than `--anchor-window` seconds after it.

`html` writes one self-contained page (swarm/audit/html.py) that shows the run and verifies its log in the browser;
`serve` hands those pages out on 127.0.0.1, under a list of the runs (newest first, each run's outcome from the part
of its log the trusted key signed: `--vkey`, else this machine's audit key, as `runs` reads it). A page pins only
what is passed to it (`--vkey`, `--anchor-sender`), never this machine's key or configuration: without them it says
"self-signed, unpinned".
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from defai_swarm.audit import AuditLog, KeyFileError, NoteError, Verifier, export_bundle, verify_bundle, verify_log
from defai_swarm.audit.checkpoint import DEFAULT_KEY_NAME
from defai_swarm.audit.keys import load_signing_key
from defai_swarm.audit.outcome import RunOutcome, anchor_of, newest_checkpoint, run_outcome
from defai_swarm.audit.replay import replay
from defai_swarm.audit.verify import DEFAULT_ANCHOR_WINDOW, VerifyReport
from defai_swarm.config import swarm_home
from defai_swarm.core.anchor import AnchorFacts
from defai_swarm.core.errors import ConfigError
from defai_swarm.exitcodes import ExitCode

if TYPE_CHECKING:
    from defai_swarm.audit.html import RunRow


def audit_paths() -> tuple[Path, Path]:
    base = swarm_home() / "audit"
    return base / "audit.db", base / "signing.key"


# ---- what the verifier trusts ------------------------------------------------------------------------

def trusted_key(args: argparse.Namespace) -> tuple[Verifier | None, str]:
    """The checkpoint key to trust and where it came from: `--vkey`, else this machine's audit key.

    (None, why) when neither exists: the key file is read, never created (a new key has signed nothing).
    """
    if getattr(args, "vkey", None):
        return Verifier.from_vkey(args.vkey), "--vkey"
    _, key_path = audit_paths()
    try:
        key = load_signing_key(key_path)
    except FileNotFoundError:
        return None, f"no --vkey and no audit key on this machine ({key_path})"
    return Verifier(DEFAULT_KEY_NAME, key.public_key), f"this machine's audit key ({key_path})"


class _NotLookedUp:
    """Stands in for a checker when the anchor's chain cannot be reached from here: the anchor is not a pass."""

    def __init__(self, why: str):
        self.why = why

    def inspect(self, anchor: dict, checkpoint_hash: bytes) -> AnchorFacts:
        return AnchorFacts(ok=False, detail=f"not looked up: {self.why}")

    def check(self, anchor: dict, checkpoint_hash: bytes) -> tuple[bool, str]:
        return False, f"not looked up: {self.why}"


def configured_sender(adapter: Any, family: str, config: Any) -> str | None:
    """The operator's account from the configuration in use (no node contacted), or None."""
    hook = getattr(adapter, "anchor_sender_for", None)  # a plugin family may not say: then --anchor-sender does
    found = hook(config) if callable(hook) else None
    return str(found) if found is not None else None


def _chain_config(args: argparse.Namespace, adapter: Any, family: str) -> Any:
    """`--config` (it must be of the anchor's family), else the running devnet of that family, else None."""
    if getattr(args, "config", None):
        from defai_swarm.session import chain_config_path
        path, config_family = chain_config_path(args.config)
        if config_family != family:
            raise ConfigError(f"the anchor is on a {family} chain, but --config {path} is a {config_family} "
                              f"configuration")
        return adapter.config_model.load(path)
    if getattr(args, "rpc", None):
        return None  # a bare node: no configuration in use (SWARM_PRIVATE_KEY or --anchor-sender pin the sender)
    from defai_swarm.tools.devnet.local import local_devnet

    devnet = local_devnet(family)
    return devnet.running_config(swarm_home()) if devnet is not None else None


def _anchor_checker(args: argparse.Namespace, anchor: Any):
    """A checker for the anchor's own chain (its label says which family), pinned to the operator's account:
    `--anchor-sender`, else the wallet of the configuration in use. None when there is no anchor; a stand-in
    that fails the anchor when its chain cannot be reached from here."""
    if not isinstance(anchor, dict):
        return None
    from defai_swarm.chains import adapter_class

    family = str(anchor.get("chain", "")).partition(":")[0]
    try:
        adapter = adapter_class(family)
        config = _chain_config(args, adapter, family)
        sender = getattr(args, "anchor_sender", None) or configured_sender(adapter, family, config)
        at: Any = getattr(adapter, "anchor_checker_at", None)
        if getattr(args, "rpc", None) and callable(at):
            checker: Any = at(args.rpc, sender)  # a bare node's URL (EVM: `--rpc`)
            return checker
        if config is None:
            return _NotLookedUp(f"no {family} chain configuration here to look the anchor up: pass --config FILE "
                                f"(or start the devnet it was made on)")
        return adapter.anchor_checker_for(config, sender)
    except ConfigError as exc:
        return _NotLookedUp(str(exc))


def chain_moved_on(log: AuditLog, run_id: str, anchor: Any, args: argparse.Namespace) -> str | None:
    """Why a run's anchor may be gone without anyone tampering: the chain it was sent to was restarted (another
    genesis block) or reset/rewound since the run (head below the anchor's block, or a recorded `swarm devnet
    reset` that rewound past it). None when nothing says so: then a missing anchor is just missing."""
    if not isinstance(anchor, dict) or not str(anchor.get("chain", "")).startswith("evm:"):
        return None
    from defai_swarm.chains import adapter_class
    from defai_swarm.tools.evm.rpc import connect
    try:
        config = _chain_config(args, adapter_class("evm"), "evm")
    except ConfigError:
        return None
    if config is None:
        return None
    recorded = next((e.payload.get("chain_identity") or {} for e in log.entries(run_id) if e.kind == "intent"), {})
    genesis, now = recorded.get("genesis_hash"), getattr(config, "genesis_hash", None)
    if genesis and now and str(genesis).lower() != str(now).lower():
        return (f"this chain was restarted since the run: the run was on genesis {genesis}, the node at "
                f"{config.rpc_url} has genesis {now}, so the anchor cannot be there (not evidence of tampering); "
                f"verify on the chain the run used")
    block = anchor.get("block")
    try:
        head = connect(config.rpc_url).eth.block_number
    except Exception:  # the node is down: nothing to say about resets
        return None
    if block is not None and head < int(block):
        return (f"this chain was reset or rewound since the run: its head (block {head}) is below the anchor's "
                f"block {block} (not evidence of tampering)")
    for reset in getattr(config, "resets", None) or []:
        if block is not None and int(reset.get("head_before", -1)) >= int(block):
            import time
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(reset.get("time", 0))))
            return (f"this devnet was reset since the run (`swarm devnet reset` at {when}, back to block "
                    f"{reset.get('block_after')}): the anchor's block {block} was rewound with it (not evidence "
                    f"of tampering)")
    return None


def _anchor_window(args: argparse.Namespace) -> float:
    window = getattr(args, "anchor_window", None)
    return DEFAULT_ANCHOR_WINDOW if window is None else float(window)


# ---- output ------------------------------------------------------------------------------------------

def _plugins():
    """The built-in agents plus those installed packages declare (their entries replay too)."""
    from defai_swarm.auditing import default_plugins
    return default_plugins()


def _print_report(console, report: VerifyReport, title: str) -> int:
    for check in report.checks:
        name, ok, detail = check
        label = "[green]ok[/]" if ok else "[yellow]UNPINNED[/]" if detail.startswith("unpinned") else "[red]FAIL[/]"
        console.print(f"  {label}  {name}: {detail}")
    verdict = report.verdict
    where = f" (first bad entry: {report.first_bad_index})" if report.first_bad_index is not None else ""
    if verdict == "PASS":
        console.print(f"[green]PASS[/green] {title}")
        return ExitCode.DONE
    if verdict == "SELF-SIGNED":
        others = [c for c in report.failed() if c.name != "signature"]
        console.print(f"[red]SELF-SIGNED[/red] {title}: the bundle is self-signed: it was checked only against the "
                      f"key it carries, which anyone who edits the entries can replace. Pass --vkey with the "
                      f"operator's key (or verify where the operator's audit key is)."
                      + (f" Also: {report.reason}{where}" if others else ""))
        return ExitCode.VERIFY_FAILED
    if verdict == "UNPINNED":
        console.print(f"[yellow]UNPINNED[/yellow] {title}: everything else checks out, but the anchor's sender is not "
                      f"pinned to the operator's account, so anyone could have anchored it. Pass --anchor-sender "
                      f"ADDRESS, or verify with the operator's chain configuration (--config, or its wallet).")
        return ExitCode.VERIFY_FAILED
    console.print(f"[red]FAIL[/red] {title}: {report.reason}{where}")
    return ExitCode.VERIFY_FAILED


# ---- html and serve ----------------------------------------------------------------------------------

def run_bundle(log: AuditLog, run_id: str, trusted: Verifier | None = None) -> dict | None:
    """The bundle `export` writes for a run: its newest checkpoint signed by `trusted` (None: by the key stored
    beside each, for a page that pins nothing and says so) with that checkpoint's own anchor record, never an older
    checkpoint an anchor record names; None if nothing is signed."""
    newest = newest_checkpoint(log.checkpoints(run_id), run_id, trusted)
    if newest is None:
        return None
    tail = log.entries(run_id, newest.checkpoint.size)
    anchored = anchor_of([(e.index, e.kind, e.payload) for e in tail], newest.hash_hex)
    return export_bundle(log, run_id, newest.stored.note, anchor=anchored[1] if anchored else None)


def _open_log(source: Path | str) -> AuditLog:
    """The audit log at a `_log_source` (its storage picked by `defai_swarm.stores`: SQLite file or PostgreSQL)."""
    from defai_swarm.stores import open_audit_log
    return open_audit_log(source)


def _log_source(db: Path) -> tuple[Path | str, str]:
    """Where the audit log is: the shared store when SWARM_STORE names one (a cluster's runs are all there),
    else this machine's SQLite file; and how to name it in messages (a URL without its password)."""
    from defai_swarm.stores import store_url
    url = store_url()
    if url is None:
        return db, str(db)
    from defai_swarm.stores.postgres import redacted
    return url, redacted(url)


def _html(args: argparse.Namespace, console, db: Path) -> int:
    from defai_swarm.audit.html import render_page

    if args.bundle:
        try:
            data = Path(args.bundle).read_bytes()
            bundle = json.loads(data.decode("utf-8"))  # the page reads UTF-8 only (json.loads(bytes) guesses)
        except (OSError, ValueError) as exc:
            console.print(f"[red]error:[/red] {args.bundle} is not a readable JSON bundle: {exc}")
            return 1
        name = Path(args.bundle).name
        source, default_out = f"bundle file {name}", Path(args.bundle).with_suffix(".html")
    else:
        if not args.run_id:
            return _error(console, args, "a run id or --bundle FILE is required (see `swarm audit runs`)")
        source, where = _log_source(db)
        with _open_log(source) as log:
            if args.run_id not in log.runs():
                return _error(console, args, f"no run {args.run_id} in {where} (see `swarm audit runs`)")
            try:
                pinned = Verifier.from_vkey(args.vkey) if args.vkey else None
            except NoteError as exc:
                console.print(f"[red]error:[/red] --vkey is not a usable key: {exc}")
                return 1
            bundle = run_bundle(log, args.run_id, pinned)
        if bundle is None:
            console.print(f"[red]error:[/red] run {args.run_id} has no signed checkpoint yet"
                          + (" (none signed by --vkey)" if args.vkey else ""))
            return 1
        data = json.dumps(bundle, indent=1).encode("utf-8")
        name, source, default_out = f"{args.run_id}.bundle.json", f"run {args.run_id} of the local audit log", \
            Path(f"{args.run_id}.html")
    try:
        page = render_page(data, vkey=args.vkey, anchor_sender=args.anchor_sender, source=source, bundle_name=name)
    except NoteError as exc:
        console.print(f"[red]error:[/red] --vkey is not a usable key: {exc}")
        return 1
    out = Path(args.output) if args.output else default_out
    out.write_text(page, encoding="utf-8")
    report = verify_bundle(bundle, trusted_vkey=args.vkey) if isinstance(bundle, dict) else None
    console.print(f"page written to {out}")
    if report is not None:
        where = f" (first bad entry: {report.first_bad_index})" if report.first_bad_index is not None else ""
        label = {"PASS": "the log verifies against --vkey", "SELF-SIGNED": "self-signed, unpinned (no --vkey)"}.get(
            report.verdict, f"FAIL: {report.reason}{where}")
        console.print(f"  the page's verdict on the log: {label}")
    if not args.anchor_sender:
        console.print("  anchor sender unpinned (no --anchor-sender)")
    console.print("  the page does not look the anchor up on-chain: `swarm audit verify` does")
    return 0


def index_rows(log: AuditLog, trusted: Verifier | None) -> list[RunRow]:
    """Every run of the log for the run list `serve` hands out: its outcome from the part the trusted key signed
    (`run_outcome`; "unverified" without a key), worded as `swarm audit runs` words it."""
    from defai_swarm.audit.html import RunRow

    rows = []
    for run_id in log.runs():
        entries = log.entries(run_id)
        outcome = run_outcome(log, run_id, trusted, entries)
        summary = run_summary(log, run_id, trusted, outcome, entries)
        intent = next((e for e in entries if e.kind == "intent"), None)
        payload = intent.payload if intent is not None else {}
        rows.append(RunRow(run_id=run_id, started_at=entries[0].created_at if entries else "",
                           intent=str(payload.get("text", "")), chain=str(payload.get("chain", "")),
                           status=outcome.status, outcome=_status_text(summary, brief=True), entries=len(entries),
                           signed=outcome.signed, attested=intent is not None and intent.index < outcome.signed))
    return rows


def _serve(args: argparse.Namespace, console, db: Path) -> int:
    from defai_swarm.audit.html import AuditPageServer, render_index, render_page

    pinned = None
    if args.vkey:
        try:
            pinned = Verifier.from_vkey(args.vkey)
        except NoteError as exc:
            console.print(f"[red]error:[/red] --vkey is not a usable key: {exc}")
            return 1
    try:  # the run list's outcomes: --vkey, else this machine's audit key, as `swarm audit runs` reads them
        trusted, key_source = trusted_key(args)
    except (NoteError, KeyFileError) as exc:
        return _error(console, args, f"no usable trusted key: {exc}", ExitCode.ERROR)
    if trusted is None:
        trust = ("No trusted key (no --vkey and no audit key on this machine): no run's outcome can be told, each is "
                 "unverified. Serve with --vkey KEY, the operator's checkpoint key.")
    else:
        label = "--vkey" if args.vkey else "this machine's audit key"
        trust = (f"Outcomes come from the checkpoints signed by {trusted.vkey} ({label}). "
                 + ("Each run's page checks its log against it too." if args.vkey else
                    "Each run's page pins no key (serve with --vkey to pin one): it says self-signed, unpinned."))
    source, where = _log_source(db)
    log = _open_log(source)

    def page(run_id: str) -> str | None:
        if run_id not in log.runs():
            return None
        bundle = run_bundle(log, run_id, pinned)
        if bundle is None:
            return None
        return render_page(json.dumps(bundle, indent=1), vkey=args.vkey, anchor_sender=args.anchor_sender,
                           source=f"run {run_id} of the local audit log", bundle_name=f"{run_id}.bundle.json")

    server = AuditPageServer(args.port if args.port is not None else 8765,
                             lambda: render_index(index_rows(log, trusted), trust), page)
    console.print(f"serving the audit pages of {where} at {server.url} (127.0.0.1 only; Ctrl-C stops)")
    if trusted is None:
        console.print(f"  run outcomes unverified: {key_source}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log.close()
    return 0


# ---- the command -------------------------------------------------------------------------------------

def _emit_json(data: Any) -> None:
    import sys
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _error(console, args: argparse.Namespace, message: str, code: ExitCode = ExitCode.USAGE) -> int:
    """One line on stdout with a person's output; with --json on stderr, and a JSON error document on stdout."""
    from defai_swarm.cli.output import fail
    return fail(args, message, code, console)


def _entries_phrase(size: int, signed: int | None, anchored: bool = False) -> str:
    """The same wording in `runs`, `show` and `verify`: how many entries, how many the newest trusted checkpoint
    signs. That checkpoint's own anchor record comes after it by construction (a checkpoint cannot contain its own
    anchor): it is named as such, not counted among the entries "not signed yet"."""
    if not signed:
        return f"{size} entries, none signed yet"
    tail = size - signed - (1 if anchored else 0)
    return (f"{size} entries, {signed} signed" + (" + its anchor record" if anchored else "")
            + (f", {tail} after the checkpoint not signed yet" if tail > 0 else ""))


def run_summary(log: AuditLog, run_id: str, trusted: Verifier | None, outcome: RunOutcome | None = None,
                entries: list | None = None) -> dict:
    """One run for `audit runs`: when it started, its intent, its status (from the part of its log the trusted key
    signed: `run_outcome`), its entry count, how many are signed, and what the unsigned rest claims, unverified."""
    entries = log.entries(run_id) if entries is None else entries
    outcome = outcome or run_outcome(log, run_id, trusted, entries)
    intent = next((str(e.payload.get("text", "")) for e in entries if e.kind == "intent"), "")
    return {"run_id": run_id, "started_at": entries[0].created_at if entries else "", "intent": intent,
            "status": outcome.status, "entries": len(entries), "signed": outcome.signed or None,
            "anchored": outcome.anchor is not None,
            "unverified_tail": {"entries": outcome.tail, "claims": outcome.claims,
                                "problems": {str(i): why for i, why in sorted(outcome.problems.items())}},
            "note": outcome.why}


def _status_text(summary: dict, brief: bool = False) -> str:
    """A run's status for people: the signed outcome, then what the unsigned tail claims (never as the outcome)."""
    tail = summary["unverified_tail"]
    text = summary["status"]
    if tail["problems"]:
        first = min(tail["problems"], key=int)
        why = "see `swarm audit verify`" if brief else tail["problems"][first]
        text += f" (entry {first} after the signed checkpoint may not be there: {why})"
    elif tail["claims"]:
        text += " (unverified tail claims " + ", ".join(k if v is True else f"{k} {v}"
                                                         for k, v in tail["claims"].items()) + ")"
    if summary.get("note") and not brief:
        text += f" ({summary['note']})"
    return text


_DESCRIBER: list = []  # the registry `summarize` describes task kinds with, built on first use


def _describer():
    """The registry whose plugins describe task kinds' entries (built once: entry points are read once)."""
    if not _DESCRIBER:
        _DESCRIBER.append(_plugins())
    return _DESCRIBER[0]


def summarize(kind: str, payload: dict, plugins: Any = None) -> str:
    """A one-line summary of any entry kind: a task kind's entry through its plugin's `describe` (`plugins`: a
    PluginRegistry, by default the built-in and installed agents); unknown kinds show their first plain fields."""
    p = payload
    if kind == "intent":
        return f"\"{p.get('text', '')}\" on {p.get('chain', '?')}, wallet {p.get('wallet', '?')}"
    if kind == "thought":
        origin = p.get("source") or p.get("origin") or ""
        score = f", score {p['score']}" if p.get("score") is not None else ""
        kept = "" if p.get("kept", True) else ", dropped"
        why = f": {p['why']}" if p.get("why") else ""
        errors = f"; invalid: {'; '.join(map(str, p['errors']))[:80]}" if p.get("errors") else ""
        return f"{p.get('id', '')} {origin} thought{score}{kept}{why}{errors}".strip()
    if kind == "model_call":
        acc = p.get("accounting") or {}
        tokens = (acc.get("reasoning_tokens") or 0) + (acc.get("answer_tokens") or 0)
        return f"{p.get('kind', 'model')} call: {tokens} tokens in {acc.get('wall_seconds', '?')} s" + (
            f", rejected: {p['error']}" if p.get("error") else "")
    if kind == "tx":
        event = p.get("event", "?")
        if event == "receipt":
            return f"mined in block {p.get('block_number')}: status {p.get('status')}, gas {p.get('gas_used')}, " \
                   f"{p.get('hash')}"
        return f"{event}" + (f" (simulation {p['simulation']})" if p.get("simulation") else "") + \
            (f", nonce {p['nonce']}" if p.get("nonce") is not None else "") + (f", {p['hash']}" if p.get("hash") else "")
    if kind == "plan":
        if p.get("ok"):
            tasks = len((p.get("task_graph") or {}).get("tasks", []))
            return f"plan ok: {tasks} tasks" + (f" ({p['note']})" if p.get("note") else "")
        return f"no plan: {p.get('refusal_reason')}"
    if kind == "anchor":
        return f"checkpoint hash anchored in tx {p.get('tx_id') or p.get('tx_hash') or '?'}"
    if kind == "checkpoint":
        return f"signed checkpoint of {p.get('size', '?')} entries"
    if kind == "run_result":
        return f"run {p.get('status')}: {len(p.get('tx_hashes', []))} tx" + (
            f"; {p['reasons'][0]}" if p.get("reasons") else "")
    if kind == "approval_request":
        return f"waiting for a human: {len(p.get('requests', []))} request(s)"
    registry = plugins if plugins is not None else _describer()
    if kind in registry:  # a task kind: its plugin says it (TaskPlugin.describe), as `swarm plan` and the page do
        return registry.describe(kind, p)
    status, reason = p.get("status"), p.get("reason")
    if status or reason:
        return ": ".join(str(x) for x in (status, reason) if x)
    plain = [f"{k}={v}" for k, v in p.items() if isinstance(v, str | int | float | bool) and k != "task"][:3]
    return ", ".join(plain) or ", ".join(sorted(p))[:90]


def audit_command(args: argparse.Namespace, console) -> int:
    db, _ = audit_paths()
    as_json = getattr(args, "json", False)
    if args.action == "html":
        return _html(args, console, db)
    if args.action == "serve":
        return _serve(args, console, db)
    try:  # the key whose checkpoints say what a run did: --vkey, else this machine's audit key
        trusted, key_source = trusted_key(args)
    except (NoteError, KeyFileError) as exc:
        return _error(console, args, f"no usable trusted key: {exc}", ExitCode.ERROR)
    if args.action == "verify" and not as_json:
        console.print(f"  trusted key: {trusted.vkey if trusted else 'none'} ({key_source})")
    if args.action == "verify" and args.bundle:
        try:
            bundle = json.loads(Path(args.bundle).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            return _error(console, args, f"{args.bundle} is not a readable JSON bundle: {exc}", ExitCode.ERROR)
        anchor = bundle.get("anchor") if isinstance(bundle, dict) else None
        report = verify_bundle(bundle, trusted_vkey=trusted, anchor_checker=_anchor_checker(args, anchor),
                               anchor_window=_anchor_window(args))
        return _verified(console, args, report, f"bundle {args.bundle}", anchor, "the bundle carries no on-chain anchor")
    source, where = _log_source(db)
    if db.parent.is_dir():
        from defai_swarm.audit.keys import private_dir
        private_dir(db.parent)  # an audit directory left open (older version, wrong umask) is tightened even with no log yet
    if source == db and not db.exists() and args.action in ("runs", "show", "verify", "replay", "export"):
        if args.action == "runs":
            if as_json:
                _emit_json([])
            else:
                console.print(f"no runs yet (no audit log at {db}); start one with `swarm run \"...\"`")
            return ExitCode.DONE
        return _error(console, args, f"no audit log at {db}: no runs on this machine (SWARM_HOME={swarm_home()})")
    with _open_log(source) as log:
        if args.action == "runs":
            runs = sorted((run_summary(log, r, trusted) for r in log.runs()), key=lambda r: (r["started_at"], r["run_id"]))
            if as_json:
                _emit_json(runs)
                return ExitCode.DONE
            for r in runs:
                console.print(f"{r['started_at'][:19]}  {r['run_id']}  {escape(_status_text(r, brief=True)):<17}  "
                              f"{_entries_phrase(r['entries'], r['signed'], r['anchored'])}  {escape(r['intent'][:80])}")
            if trusted is None and runs:
                console.print(f"statuses come only from checkpoints a trusted key signed: {key_source}")
            return ExitCode.DONE
        if not args.run_id:
            return _error(console, args, "a run id is required (see `swarm audit runs`)")
        if args.run_id not in log.runs():
            return _error(console, args, f"no run {args.run_id} in {where} (see `swarm audit runs`)")
        entries = log.entries(args.run_id)
        outcome = run_outcome(log, args.run_id, trusted, entries)
        if args.action == "show":
            summary = run_summary(log, args.run_id, trusted, outcome, entries)
            from defai_swarm.render import humanize
            rows = [{"index": e.index, "created_at": e.created_at, "kind": e.kind,
                     "task": e.payload.get("task") or e.payload.get("step") or "",
                     "summary": humanize(summarize(e.kind, e.payload)), "signed": e.index < outcome.signed,
                     "problem": outcome.problems.get(e.index)} for e in entries]
            if as_json:
                _emit_json({**summary, "entries_detail": [{**row, "payload": e.payload}
                                                          for row, e in zip(rows, entries, strict=True)]})
                return ExitCode.DONE
            console.print(f"run {args.run_id}: {escape(_status_text(summary))}, "
                          f"{_entries_phrase(summary['entries'], summary['signed'], summary['anchored'])}")
            for row in rows:
                if row["index"] == outcome.signed:
                    console.print(f"  -- {outcome.tail} entries after the signed checkpoint: not signed, unverified, "
                                  f"not the run's outcome --")
                mark = "[red]NOT SIGNED, MAY NOT BE THERE[/] " if row["problem"] else ""
                console.print(f"{row['index']:>4}  {row['created_at'][:19]}  {row['kind']:<16} {row['task']:<18} "
                              f"{mark}{escape(row['summary'][:120])}")
            return ExitCode.DONE
        if args.action == "replay":
            if not outcome.signed:
                reason = f"nothing of run {args.run_id} is signed by the trusted key ({outcome.describe()})"
                if as_json:
                    _emit_json({"run_id": args.run_id, "ok": False, "reason": reason, "first_bad_index": None,
                                "checks": [], "unsigned_tail": outcome.tail,
                                "exit_code": int(ExitCode.VERIFY_FAILED)})
                else:
                    console.print(f"[red]FAIL[/] replay: {escape(reason)}")
                return ExitCode.VERIFY_FAILED
            report = replay(entries[:outcome.signed], _plugins())  # decisions a trusted key signed, no others
            if as_json:
                _emit_json({"run_id": args.run_id, "ok": report.ok, "reason": report.reason,
                            "first_bad_index": report.first_bad_index,
                            "checks": [c.model_dump(mode="json") for c in report.checks],
                            "unsigned_tail": outcome.tail,
                            "exit_code": int(ExitCode.DONE if report.ok else ExitCode.VERIFY_FAILED)})
            else:
                for c in report.checks:
                    console.print(f"  [{'green' if c.ok else 'red'}]{'ok' if c.ok else 'FAIL'}[/]  #{c.index} {c.kind}: {c.detail}")
                if outcome.tail:
                    console.print(f"  {outcome.tail} entries after the signed checkpoint not replayed (unsigned)")
                console.print(f"[{'green' if report.ok else 'red'}]{'PASS' if report.ok else 'FAIL'}[/] replay: {report.reason}")
            return ExitCode.DONE if report.ok else ExitCode.VERIFY_FAILED
        if args.action == "export":
            bundle = run_bundle(log, args.run_id, trusted)
            if bundle is None:
                return _error(console, args, f"run {args.run_id} has no signed checkpoint yet"
                              + (" (none signed by the trusted key)" if trusted is not None else ""), ExitCode.ERROR)
            out = Path(args.output or f"{args.run_id}.bundle.json")
            out.write_text(json.dumps(bundle, indent=1))
            console.print(f"bundle written to {out}")
            return ExitCode.DONE
        if trusted is None:  # the key stored in the database is as rewritable as the entries
            if as_json:
                _emit_json({"run_id": args.run_id, "verdict": "FAIL", "ok": False, "checks": [],
                            "reason": f"no trusted key: {key_source}", "exit_code": int(ExitCode.VERIFY_FAILED)})
            else:
                console.print(f"[red]FAIL[/red] run {args.run_id}: no trusted key to check its checkpoints with: "
                              f"{key_source}; pass --vkey with the operator's key")
            return ExitCode.VERIFY_FAILED
        summary = run_summary(log, args.run_id, trusted, outcome, entries)
        if not as_json:
            phrase = _entries_phrase(summary["entries"], summary["signed"], summary["anchored"])
            console.print(f"  run {args.run_id}: {phrase}")
        # the newest checkpoint the trusted key signed, and its own anchor record: never an older one an anchor
        # record names (swarm/audit/outcome.py)
        note, anchor = outcome.checkpoint, outcome.anchor
        report = verify_log(log, args.run_id, trusted_vkey=trusted, anchor_checker=_anchor_checker(args, anchor),
                            checkpoint_note=note, anchor=anchor, anchor_window=_anchor_window(args))
        anchor_failed = any(c.name == "anchor" and not c.ok for c in report.checks)
        moved = chain_moved_on(log, args.run_id, anchor, args) if anchor_failed else None
        no_anchor = (f"no on-chain anchor recorded for the newest checkpoint signed by the trusted key (size "
                     f"{outcome.signed})" if outcome.signed else "no on-chain anchor recorded for this run")
        return _verified(console, args, report, f"run {args.run_id}", anchor, no_anchor, moved)


def _verified(console, args: argparse.Namespace, report: VerifyReport, title: str, anchor: Any, no_anchor: str,
              chain_reset: str | None = None) -> int:
    """Print (or emit as JSON) a verification report; any verdict but PASS, or no anchor, is VERIFY_FAILED."""
    code = ExitCode.DONE if report.verdict == "PASS" and anchor is not None else ExitCode.VERIFY_FAILED
    if getattr(args, "json", False):
        data = report.model_dump(mode="json")
        data.update(verdict=report.verdict if anchor is not None else "FAIL", title=title, exit_code=int(code),
                    checks=[{"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks])
        if anchor is None:
            data["reason"] = no_anchor
        data["chain_reset"] = chain_reset
        _emit_json(data)
        return code
    _print_report(console, report, title)
    if chain_reset:
        console.print(f"[yellow]CHAIN RESET[/yellow] {title}: {escape(chain_reset)}")
    if anchor is None:
        console.print(f"[red]FAIL[/red] {no_anchor}")
    return code
