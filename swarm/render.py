"""What `swarm plan|run|resume` show people: the task graph as a tree, amounts at display precision, labelled
transactions, each refusal once with its rule, threshold and value in human units.

Rendering reads the task models generically: each task's line is its kind's `TaskPlugin.describe` (the plugin
registry's), and its other fields are listed under it, so a new kind needs nothing here. Scripts use `--json` instead, which prints the models themselves.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Callable

from rich.markup import escape
from rich.tree import Tree

from defai_swarm.plugins import amount_text

_HUMAN_AMOUNT = re.compile(r"(?<![\w.])(\d[\d,]*\.\d{5,})(\s+)([A-Z][A-Z0-9]{1,9})\b")
_RAW_MIN_OUT = re.compile(r"quote (\d+), independent minimum (\d+)")
_LONG_DECIMAL = re.compile(r"(?<![\w.])(\d[\d,]*\.\d{5,})(?![\d\w])")  # no token named: display precision
_INTERNAL = ("kind", "id", "depends_on")


def amount(value: Any, decimals: int | None = None, symbol: str = "") -> str:
    """`value` (human units) at display precision: 996.0070 DAI, 1 ETH, 3,000 USDC (the plugins' `amount_text`)."""
    return amount_text(value, decimals, symbol)


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


def _task_line(task: dict, plugins: Any) -> str:
    kind, tid = task.get("kind", "?"), task.get("id", "?")
    what = plugins.describe(str(kind), task)  # the task kind's own wording (TaskPlugin.describe)
    return f"[bold]{escape(tid)}[/bold]  {escape(what)}  [dim]({escape(kind)})[/dim]"


def _task_details(task: dict, plugins: Any) -> list[str]:
    shown = plugins.described(str(task.get("kind")))  # what the task's line already says
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


def plan_tree(plan: Any, plugins: Any = None) -> Tree:
    """The plan as a tree: the intent, how it was planned (model or parser only), then every task in order with
    what it needs, its condition and its slippage; or the refusal. Each task's line is its kind's `describe`
    (`plugins`: the swarm's PluginRegistry; by default the built-in agents and the installed ones)."""
    if plugins is None:
        from defai_swarm.auditing import default_plugins
        plugins = default_plugins()
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
        node = graph.add(_task_line(task, plugins))
        for line in _task_details(task, plugins):
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
