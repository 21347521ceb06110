"""The swarm's tools for other agent frameworks, defined once (LangChain/LangGraph and MCP wrap these).

What an outside model may do, and nothing more:
  * read-only: plan an intent, read a price, show a run, verify a run;
  * only when the operator enables it (`allow_fund_moving=True`): run an intent through the whole
    planner -> risk -> executor -> audit path.  That tool takes the intent text and nothing else (no
    policy, manifest, wallet, run id or approval argument), and because the calling model wrote that
    text, every trade it plans pauses for the operator's approval: the toolkit lowers the policy's
    approval threshold to `approval_above_usd` (default 0), a value only the operator's code or command
    line sets.  There is no transfer, approve, resume or approval tool, and none can be added here.

Every call is recorded in the audit log as a run of its own (`tool_call`, `tool_result`), signed and
anchored like a CLI run, whatever becomes of it: an unknown tool (a fund-moving one on a read-only server),
unknown or malformed arguments are refused here, on the record, not by a framework before the log sees them.
A fund-moving call's own run is linked from its `tool_result`.  Bad input or a failure is one line back to the
model (`ok: false`, which MCP and LangChain return as a tool error), never a traceback.

`show_run` and `verify_run` read only runs of this swarm's own wallet on its own chain (a shared store holds
every wallet's runs), and say what a run did from the part of its log this swarm's audit key signed
(`defai_swarm.audit.outcome`): entries after its newest checkpoint are shown as an unverified tail, never as the
outcome.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from defai_swarm.intent import MAX_INTENT_CHARS

if TYPE_CHECKING:
    from defai_swarm.api import Swarm

log = logging.getLogger(__name__)

RUN_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IntentArgs(_Args):
    intent: str = Field(min_length=1, max_length=MAX_INTENT_CHARS,
                        description="The trade in plain words, e.g. 'swap 1 ETH to USDC if ETH is above 2500, "
                                    "max 0.5% slippage'. Only the intent: limits and approvals are the operator's.")


class PriceArgs(_Args):
    token: str = Field(pattern=r"^[A-Za-z0-9.]{1,16}$", description="Token symbol, e.g. ETH, USDC, SOL")


class RunArgs(_Args):
    run_id: str = Field(pattern=RUN_ID_PATTERN, description="A run id as returned by run_intent (or `swarm run`)")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    args_schema: type[_Args]
    moves_funds: bool


SPECS: tuple[ToolSpec, ...] = (
    ToolSpec("plan_intent", "Plan a DeFi intent without executing anything: the task graph the swarm would run "
             "(swaps, conditions, splits) or the reason it refuses. Read-only.", IntentArgs, False),
    ToolSpec("read_price", "USD price of a token from independent sources (oracle and DEX), with their spread. "
             "Read-only.", PriceArgs, False),
    ToolSpec("show_run", "What happened in a run: intent, plan, each task's outcome, transactions, pending "
             "approvals, from its audit log. Read-only.", RunArgs, False),
    ToolSpec("verify_run", "Verify a run's audit log: every entry, the signed checkpoint and its on-chain "
             "anchor. Read-only.", RunArgs, False),
    ToolSpec("run_intent", "Execute a DeFi intent through the swarm's planner, risk checks, executor and audit "
             "log. Give only the intent text. Every trade waits for the human operator's approval; this tool "
             "cannot approve it.", IntentArgs, True),
)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 400 else text[:397] + "..."


class SwarmToolkit:
    """The tools bound to one `Swarm`.  Calls are serialized (a Swarm is not built for concurrent runs)."""

    def __init__(self, swarm: "Swarm", *, allow_fund_moving: bool = False,
                 approval_above_usd: Decimal | int | str = 0, caller: str = "integration"):
        self.swarm, self.caller = swarm, caller
        self.allow_fund_moving = allow_fund_moving
        self._lock = threading.Lock()
        if allow_fund_moving:
            if swarm.auditor is None:
                raise ValueError("a fund-moving tool needs a swarm that keeps its audit log (audit=True)")
            self._require_approval(Decimal(str(approval_above_usd)))

    def _require_approval(self, threshold: Decimal) -> None:
        """Lower (never raise) the swarm's approval threshold: a model-written intent pauses for the operator."""
        if threshold < 0:
            raise ValueError("approval_above_usd must be >= 0")
        policy = self.swarm.policy
        current = getattr(policy, "human_approval_above_usd", None)
        if current is not None and current <= threshold:
            return
        policy = policy.model_copy(update={"human_approval_above_usd": threshold})
        self.swarm.policy = policy
        self.swarm.deps = self.swarm._deps(policy)

    def specs(self) -> list[ToolSpec]:
        return [s for s in SPECS if self.allow_fund_moving or not s.moves_funds]

    def call(self, name: str, arguments: Any) -> dict[str, Any]:
        """Validate, run and audit one tool call; the result is what the calling model sees (`ok` false: refused
        or failed, which the MCP and LangChain wrappers return as a tool error)."""
        spec = next((s for s in self.specs() if s.name == name), None)
        name = str(name)[:64]  # a caller-chosen name is kept short in the result and the log
        call_id = "call-" + uuid.uuid4().hex[:16]
        with self._lock:
            if spec is None:
                known = ", ".join(s.name for s in self.specs())
                result = {"ok": False, "error": f"no tool {name!r} here; tools: {known}"}
                self._audit(call_id, name, {"arguments_sha256": _digest(arguments)}, result)
                return {**result, "audit_id": call_id}
            try:
                args = spec.args_schema.model_validate(arguments)
            except ValidationError as e:
                errors = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
                                   for err in e.errors(include_url=False))
                result = {"ok": False, "error": f"invalid arguments for {name}: {errors}"}
                # the raw arguments may be long or hostile: only their digest is kept
                self._audit(call_id, name, {"arguments_sha256": _digest(arguments)}, result)
                return {**result, "audit_id": call_id}
            handler: Callable[[Any], dict[str, Any]] = getattr(self, "_" + name)
            try:
                result = {"ok": True, **handler(args)}
            except Exception as exc:  # a tool answers its caller in one line; the operator's log has the rest
                log.warning("tool %s failed: %s", name, exc, exc_info=not _expected(exc))
                result = {"ok": False, "error": _one_line(exc)}
            self._audit(call_id, name, args.model_dump(mode="json"), result)
            result["audit_id"] = call_id
            return result

    def _audit(self, call_id: str, name: str, arguments: dict[str, Any], result: dict[str, Any]) -> None:
        auditor = self.swarm.auditor
        if auditor is None:
            return
        identity = self.swarm.chain.identity
        self.swarm.record(call_id, "tool_call", {"tool": name, "caller": self.caller, "arguments": arguments,
                                                 "wallet": self.swarm.chain.wallet_address, "chain": identity.label,
                                                 "chain_identity": identity.model_dump(mode="json")})
        self.swarm.record(call_id, "tool_result", _audit_view(result))
        auditor.seal(call_id)

    # -- the tools ----------------------------------------------------------------------------------

    def _plan_intent(self, args: IntentArgs) -> dict[str, Any]:
        plan = self.swarm.plan(args.intent)
        return {"planned": plan.ok, "refusal_reason": plan.refusal_reason, "note": plan.note,
                "model_used": plan.model_used, "model": plan.model_summary,
                "tasks": [t.model_dump(mode="json") for t in plan.task_graph.tasks] if plan.task_graph else []}

    def _read_price(self, args: PriceArgs) -> dict[str, Any]:
        symbols = self.swarm.registry.symbols()
        symbol = next((s for s in symbols if s.upper() == args.token.upper()), None)
        if symbol is None:
            raise LookupError(f"unknown token {args.token!r}; this chain knows: {', '.join(symbols)}")
        reading = self.swarm.chain.read_price(symbol)
        return {"token": symbol, "quote": reading.quote, "price": str(reading.median),
                "max_deviation_bps": reading.max_deviation_bps,
                "sources": [{"name": s.name, "family": s.family, "price": str(s.price)} for s in reading.sources],
                "failed_sources": reading.failed_sources}

    def _show_run(self, args: RunArgs) -> dict[str, Any]:
        from defai_swarm.audit.outcome import run_outcome, seal_record

        auditor, entries = self._own_run(args.run_id)
        outcome = run_outcome(auditor.log, args.run_id, auditor.signer.verifier, entries)
        shown: dict[str, Any] = {"run_id": args.run_id, "entries": len(entries), "signed": outcome.signed,
                                 "status": outcome.status, "tasks": []}
        if outcome.result is not None:
            shown.update(tx_hashes=outcome.result.get("tx_hashes"), reasons=outcome.result.get("reasons"))
        shown.update(_view(entries[:outcome.signed]))
        if outcome.anchor is not None:
            shown["anchor_tx"] = outcome.anchor.get("tx_id")
        unsigned = [e for e in entries[outcome.signed:]
                    if outcome.checkpoint_hash is None or not seal_record(e.kind, e.payload, outcome.checkpoint_hash)]
        if unsigned or outcome.why:
            shown["unverified_tail"] = {
                "entries": len(unsigned), "from_index": unsigned[0].index if unsigned else None,
                "note": "not signed by this swarm's audit key: what these entries claim, not what the run did"
                        + (f" ({outcome.why})" if outcome.why else ""),
                **outcome.claims, **_view(unsigned),
                "problems": {str(i): why for i, why in sorted(outcome.problems.items())}}
        stored = self.swarm.store.load_run(args.run_id)
        if stored is not None:
            shown["tasks"] = [{"id": t.id, "kind": t.kind} for t in self.swarm.plugins.parse_graph(stored[1]).tasks]
        return shown

    def _verify_run(self, args: RunArgs) -> dict[str, Any]:
        from defai_swarm.audit.outcome import run_outcome
        from defai_swarm.audit.verify import verify_log

        auditor, entries = self._own_run(args.run_id)
        trusted = auditor.signer.verifier
        outcome = run_outcome(auditor.log, args.run_id, trusted, entries)
        # the newest checkpoint this swarm's key signed and its own anchor, never an older one an anchor record names
        note, anchor = outcome.checkpoint, outcome.anchor
        checker = self.swarm.chain.anchor_checker(self.swarm.chain.wallet_address) if anchor else None
        report = verify_log(auditor.log, args.run_id, trusted_vkey=trusted, anchor_checker=checker,
                            checkpoint_note=note, anchor=anchor)
        verdict = report.verdict if anchor is not None else "FAIL"
        return {"run_id": args.run_id, "verdict": verdict, "passed": verdict == "PASS", "status": outcome.status,
                "reason": report.reason if anchor is not None
                else f"no on-chain anchor recorded for this run's newest signed checkpoint; {report.reason or 'the log checks'}",
                "first_bad_index": report.first_bad_index,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks]
                + ([] if anchor is not None else [{"name": "anchor", "ok": False,
                                                   "detail": "no on-chain anchor recorded for this run"}])}

    def _run_intent(self, args: IntentArgs) -> dict[str, Any]:
        result = self.swarm.run(args.intent)
        out: dict[str, Any] = {"run_id": result.run_id, "status": str(result.status), "reasons": result.reasons,
                               "tx_hashes": result.tx_hashes}
        if result.pending_approval:
            out["awaiting_operator_approval"] = [r.get("question") if isinstance(r, dict) else str(r)
                                                 for r in result.pending_approval]
            out["note"] = (f"nothing was sent: the operator decides with `swarm resume {result.run_id} --approve` "
                           f"or `--decline`; no tool can approve")
        return out

    def _own_run(self, run_id: str) -> tuple[Any, list[Any]]:
        """(auditor, entries) of a run of this swarm's wallet on this swarm's chain; any other run, like a missing
        one, is "no run": a shared store holds every wallet's runs, and a model asks only about its own."""
        auditor = self.swarm.auditor
        if auditor is None:
            raise LookupError("this swarm keeps no audit log (audit=False)")
        entries = auditor.log.entries(run_id)
        if not entries or not _same_scope(entries, self.swarm.chain):
            identity = self.swarm.chain.identity
            raise LookupError(f"no run {run_id!r} of wallet {self.swarm.chain.wallet_address} on {identity.label} in "
                              f"this swarm's audit log")
        return auditor, entries


def _view(entries: list[Any]) -> dict[str, Any]:
    """What a model is shown of some entries: intent, plan, refusals, approval requests, the tool call."""
    shown: dict[str, Any] = {}
    for e in entries:
        p = e.payload
        if e.kind == "intent":
            shown.setdefault("intent", p.get("text"))
        elif e.kind == "plan":
            shown["plan"] = {"ok": p.get("ok"), "refusal_reason": p.get("refusal_reason"), "note": p.get("note")}
        elif e.kind == "refusal":
            shown.setdefault("refusals", []).append(p.get("reason"))
        elif e.kind == "approval_request":
            shown["awaiting_approval"] = True
        elif e.kind == "operator_input":
            shown.pop("awaiting_approval", None)
        elif e.kind in ("tool_call", "tool_result"):
            shown[e.kind] = {k: v for k, v in p.items() if k != "chain_identity"}
    return shown


def _same_scope(entries: list[Any], chain: Any) -> bool:
    """Whether a run was made by `chain`'s wallet on `chain`: its first intent or tool call names them."""
    first = next((e.payload for e in entries if e.kind in ("intent", "tool_call")), None)
    if first is None:
        return False
    identity = chain.identity
    recorded = first.get("chain_identity") or {}
    wallet, mine = str(first.get("wallet", "")), str(chain.wallet_address)
    from defai_swarm.chains import same_address  # the family's address form (hex: no checksum case)
    same_wallet = same_address(identity.family, wallet, mine)
    return (same_wallet and first.get("chain") == identity.label
            and recorded.get("genesis_hash", identity.genesis_hash) == identity.genesis_hash)


def _expected(exc: BaseException) -> bool:
    from defai_swarm.core.errors import SwarmError
    from defai_swarm.llm.errors import ModelError
    return isinstance(exc, (SwarmError, ModelError, LookupError, ValueError))


def _digest(arguments: Any) -> str:
    try:
        text = json.dumps(arguments, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(arguments)
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def _audit_view(result: dict[str, Any]) -> dict[str, Any]:
    """What the log keeps of a result: status fields and ids, not bulk (a plan's tasks are in the run's own log)."""
    keep = ("ok", "error", "planned", "refusal_reason", "run_id", "status", "reasons", "tx_hashes", "verdict",
            "passed", "token", "price", "awaiting_operator_approval")
    return {k: v for k, v in result.items() if k in keep}
