"""What `swarm plan|run|resume` show people: the task graph as a tree, amounts at display precision, labelled
transactions, each refusal once with its rule, threshold and value in human units.

Rendering reads the task models generically (any task kind a plugin or the planner adds shows its own fields),
so a new kind needs nothing here. Scripts use `--json` instead, which prints the models themselves.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from rich.markup import escape
from rich.tree import Tree

DISPLAY_PLACES = 4  # amounts: at most this many decimals (never more than the token has)
_HUMAN_AMOUNT = re.compile(r"(?<![\w.])(\d[\d,]*\.\d{5,})(\s+)([A-Z][A-Z0-9]{1,9})\b")
_RAW_MIN_OUT = re.compile(r"quote (\d+), independent minimum (\d+)")
_LONG_DECIMAL = re.compile(r"(?<![\w.])(\d[\d,]*\.\d{5,})(?![\d\w])")  # no token named: display precision
_INTERNAL = ("kind", "id", "depends_on")


def amount(value: Any, decimals: int | None = None, symbol: str = "") -> str:
    """`value` (human units) at display precision: 996.0070 DAI, 1 ETH, 3,000 USDC."""
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return f"{value} {symbol}".strip()
    places = DISPLAY_PLACES if decimals is None else min(decimals, DISPLAY_PLACES)
    text = f"{d:,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {symbol}".strip()


def base_units(raw: Any, decimals: int, symbol: str) -> str:
    return amount(Decimal(int(raw)).scaleb(-decimals), decimals, symbol)


def humanize(reason: str, tokens: Callable[[str], int | None] | None = None, token_out: tuple[str, int] | None = None) -> str:
    """A reason with long decimals cut to display precision and the min-out rule's base units in tokens."""
    def cut(m: re.Match) -> str:
        decimals = tokens(m.group(3)) if tokens else None
        return amount(m.group(1).replace(",", ""), decimals, m.group(3)) if decimals is not None or tokens is None \
            else m.group(0)
    reason = _HUMAN_AMOUNT.sub(cut, reason)
    reason = _LONG_DECIMAL.sub(lambda m: amount(m.group(1).replace(",", "")), reason)
    if token_out is not None:
        symbol, decimals = token_out
        reason = _RAW_MIN_OUT.sub(lambda m: f"quote {base_units(m.group(1), decimals, symbol)}, independent minimum "
                                            f"{base_units(m.group(2), decimals, symbol)}", reason)
    return reason


# ---- plans -------------------------------------------------------------------------------------------

def _condition(cond: Any, lead: str = "only if") -> str:
    """A task's condition through the condition model's own describe(), with the price task it reads."""
    from defai_swarm.taskgraph import Condition

    if not isinstance(cond, dict):
        return f"{lead} {cond}"
    try:
        c = Condition.model_validate(cond)
        text = c.describe().removesuffix(str(c.threshold)) + amount(c.threshold)  # threshold at display precision
    except ValueError:
        text = ", ".join(f"{k}={v}" for k, v in cond.items())
    source = f"{cond['source_task']} over {cond['quote_task']}" if cond.get("quote_task") else cond.get("source_task")
    return f"{lead} {text}" + (f" (price from {source})" if source else "")


def _swap_what(task: dict) -> str:
    """swap 1 ETH -> USDC | buy exactly 100 USDC with ETH | swap ETH -> DAI, the amount from task X."""
    token_in, token_out = task.get("token_in"), task.get("token_out")
    if task.get("amount_in") is not None:
        return f"swap {amount(task['amount_in'])} {token_in} -> {token_out}"
    if task.get("amount_out") is not None:
        return f"buy exactly {amount(task['amount_out'])} {token_out} with {token_in}"
    if task.get("amount_task"):
        return f"swap {token_in} -> {token_out}, the amount from task {task['amount_task']}"
    return f"swap {token_in} -> {token_out}, amount unknown"


def _resolve_what(task: dict) -> str:
    """$100 of ETH | 30% of the USDC balance | all ETH | 50% of what swap_1 received; and the parts."""
    token, value, mode = task.get("token_in"), task.get("value"), task.get("mode")
    what = {"usd": f"${amount(value)} of {token}", "percent": f"{amount(value)}% of the {token} balance",
            "all": f"all {token}", "previous": (f"{amount(value)}% of " if value else "") + "what "
            + ", ".join(task.get("previous_swaps") or ()) + f" received ({token})"}.get(str(mode), str(mode))
    return what + (f", in {task['parts']} parts" if (task.get("parts") or 1) > 1 else "")


def _task_line(task: dict) -> str:
    kind, tid = task.get("kind", "?"), task.get("id", "?")
    if kind == "swap":
        what = _swap_what(task)
    elif kind == "read_price":
        what = f"read price {task.get('base')}/{task.get('quote', 'USD')}"
    elif kind == "read_balance":
        what = f"read balance {task.get('token')}"
    elif kind == "check_risk":
        what = f"check risk of {task.get('swap_task')}"
    elif kind == "read_quote":
        what = f"read quote {amount(task.get('amount_in'))} {task.get('token_in')} -> {task.get('token_out')}"
    elif kind == "resolve_amount":
        what = "resolve amount: " + _resolve_what(task)
    elif kind == "answer":
        what = f"answer: {task.get('question')}"
    else:
        what = kind.replace("_", " ")
    return f"[bold]{escape(tid)}[/bold]  {escape(what)}  [dim]({escape(kind)})[/dim]"


def _task_details(task: dict) -> list[str]:
    shown = {"swap": {"amount_in", "amount_out", "amount_task", "token_in", "token_out", "combine"}, "read_price": {"base", "quote"},
             "read_balance": {"token"}, "check_risk": {"swap_task"}, "answer": {"question"},
             "read_quote": {"amount_in", "token_in", "token_out"},
             "resolve_amount": {"mode", "token_in", "value", "parts", "previous_swaps"}}.get(str(task.get("kind")),
                                                                                                set())
    lines = []
    if task.get("depends_on"):
        lines.append("after " + ", ".join(task["depends_on"]))
    for key, value in task.items():
        if key in _INTERNAL or key in shown or value in (None, [], (), {}):
            continue
        if key == "condition":
            lines.append(_condition(value))
        elif key == "conditions":  # joined to `condition` by `combine` (and when not given)
            lead = "or if" if task.get("combine") == "or" else "and only if"
            lines += [_condition(c, lead) for c in value]
        elif key.endswith("slippage_bps"):
            lines.append(f"max slippage {Decimal(value) / 100:.2f}% ({value} bps)")
        else:
            lines.append(f"{key.replace('_', ' ')}: {', '.join(map(str, value)) if isinstance(value, list | tuple) else value}")
    return lines


def plan_tree(plan: Any) -> Tree:
    """The plan as a tree: the intent, how it was planned (model or parser only), then every task in order with
    what it needs, its condition and its slippage; or the refusal."""
    data = plan.model_dump(mode="json", exclude={"thoughts", "trace", "operations"})
    verdict = "[green]plan ok[/green]" if data.get("ok") else "[red]refused[/red]"
    root = Tree(f"{verdict}  {escape(data.get('intent', ''))}")
    summary = data.get("model_summary") or ""
    if not summary or summary == "no model configured":
        how = "no model: deterministic parser only"
    else:  # what the model contributed: readings made and kept, or why none was kept (never just "model used")
        how = f"model: {summary}"
    root.add(f"[dim]planner: {escape(how)}; {len(getattr(plan, 'thoughts', []) or [])} thought(s)[/dim]")
    if not data.get("ok") or not data.get("task_graph"):
        root.add(f"[red]reason:[/red] {escape(str(data.get('refusal_reason') or 'no plan'))}")
        return root
    graph = root.add(f"task graph ({len(data['task_graph']['tasks'])} tasks)")
    for task in data["task_graph"]["tasks"]:
        node = graph.add(_task_line(task))
        for line in _task_details(task):
            node.add(escape(line))
    return root


# ---- runs --------------------------------------------------------------------------------------------

TX_LABELS = (("approve_tx", "approve"), ("swap_tx", "swap"), ("revoke_tx", "revoke approval"))


def labelled_txs(result: Any) -> list[tuple[str, str, str]]:
    """(task, label, tx) for every transaction the run sent, in task order; unlabelled ones as `tx`."""
    seen: set[str] = set()
    rows = []
    for task_id, task in (result.tasks or {}).items():
        outcome = task.get("outcome") if isinstance(task, dict) else None
        if not isinstance(outcome, dict):
            continue
        for key, label in TX_LABELS:
            if outcome.get(key):
                rows.append((task_id, label, str(outcome[key])))
                seen.add(str(outcome[key]))
    rows += [("", "tx", tx) for tx in result.tx_hashes if tx not in seen]
    return rows


def refusals(result: Any) -> list[str]:
    """Every distinct reason once (a swap skipped because its risk check refused repeats that check's reason),
    split into its rules: `max_trade_usd: trade $150,000.00, limit $10,000.00`."""
    out: list[str] = []
    for reason in result.reasons:
        _, _, text = reason.partition(": ") if re.match(r"^[a-z][a-z0-9_]*: ", reason) else ("", "", reason)
        for part in _rule_parts(text):
            if part and part not in out:
                out.append(part)
    return out


_RULE_START = re.compile(r"[a-z_:A-Z0-9]+: ")


def _rule_parts(text: str) -> list[str]:
    """Split `rule: ...; rule: ...` at its top level only: a reason that lists its own causes in brackets
    ("no valid reading of the intent (parser: ...; t2 (model): ...)") stays one line."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if depth == 0 and text.startswith("; ", i) and _RULE_START.match(text, i + 2):
            parts.append(text[start:i])
            start = i + 2
    parts.append(text[start:])
    return parts


def answers(result: Any) -> list[str]:
    """The answer of every read-only question the run answered, in task order (printed as `answer: ...`)."""
    out = []
    for task in (result.tasks or {}).values():  # an answer task's result carries its question and its answer
        if isinstance(task, dict) and task.get("question") and task.get("answer"):
            out.append(str(task["answer"]))
    return out


def token_out_of(result: Any) -> tuple[str, int] | None:
    for task in (result.tasks or {}).values():
        token = (task.get("input") or {}).get("token_out") if isinstance(task, dict) else None
        if isinstance(token, dict) and "decimals" in token:
            return str(token.get("symbol")), int(token["decimals"])
    return None


__all__ = ["amount", "answers", "humanize", "labelled_txs", "plan_tree", "refusals", "token_out_of"]
