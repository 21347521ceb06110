"""Amount resolver agent: a swap input that depends on the world, computed in code at run time.

Dollars ("$250 of ETH"): dollars / the independent USD price of token_in (a reading that
passes the same sourcing rule as any trade's price): the median of its families' medians, so one
trader who pushes every pool of one DEX moves it by at most half the spread the policy allows
(`defai_swarm.core.prices`); the rule and the family medians are recorded with the amount.  A share ("25% of my USDC") or "all":
the balance read now (all of the native coin keeps the policy's gas reserve back).  A
previous step's output ("then swap it to DAI"): what that step's swaps received.  The total
is split into the step's parts and rounded down to the token's decimals.  Every input and
the formula go into the task's result (hence the audit log), and `replay` recomputes it;
the swap's risk check then treats the amount like any written one, right before signing.
"""
from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from typing import Any, Mapping

from defai_swarm.core.errors import SwarmError
from defai_swarm.core.policy import price_reading_rule
from defai_swarm.core.prices import FAMILY_RULE, PriceReading, median_and_spread
from defai_swarm.core.status import TaskStatus
from defai_swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult, amount_text, generic_description, is_result
from defai_swarm.taskgraph import ResolveAmountTask


class AmountResult(TaskResult):
    mode: str | None = None
    value: str | None = None
    parts: int | None = None
    token: str | None = None
    decimals: int | None = None
    amount: str | None = None  # human units, per part
    raw: str | None = None  # base units, per part
    total_raw: str | None = None
    inputs: dict = {}
    formula: str = ""


def resolve(mode: str, value: Decimal | None, parts: int, decimals: int, inputs: dict) -> tuple[int, str]:
    """(base units per part, formula) from recorded inputs; the one computation `handle` and `replay` share."""
    if mode == "usd":
        assert value is not None
        median = Decimal(inputs["price_median"])
        total = int((value / median).scaleb(decimals).to_integral_value(rounding=ROUND_DOWN))
        formula = f"${value} / ${median} per token"
    elif mode == "percent":
        assert value is not None
        total = int(Decimal(inputs["balance_raw"]) * value / 100)
        formula = f"{value}% of the balance {inputs['balance_raw']} (base units)"
    elif mode == "all":
        total = int(inputs["balance_raw"]) - int(inputs.get("gas_reserve_raw", 0))
        formula = f"balance {inputs['balance_raw']} - gas reserve {inputs.get('gas_reserve_raw', 0)} (base units)"
    else:
        received = int(inputs["received_raw"])
        total = received if value is None else int(Decimal(received) * value / 100)
        formula = (f"{value}% of " if value is not None else "") + f"{received} received by the previous step"
    per_part = max(total, 0) // parts
    return per_part, formula + (f", / {parts} parts" if parts > 1 else "")


class ResolveAmountPlugin(TaskPlugin[ResolveAmountTask]):
    kind = "resolve_amount"
    task_model = ResolveAmountTask
    result_model = AmountResult

    described = frozenset({"mode", "token_in", "value", "parts", "previous_swaps"})  # what describe(task) says

    def describe(self, data: Mapping[str, Any]) -> str:
        """resolve amount: $100 of ETH | 30% of the USDC balance | all ETH | 50% of what swap_1 received; and the
        parts. A result: the amount per part."""
        if is_result(data):
            if data.get("amount") is not None:
                parts = data.get("parts")
                return (f"{data.get('status')}: {data.get('amount')} {data.get('token')}"
                        + (f" per part, {parts} parts" if parts is not None and str(parts) != "1" else ""))
            return generic_description(self.kind, data)
        token, value, mode = data.get("token_in"), data.get("value"), data.get("mode")
        what = {"usd": f"${amount_text(value)} of {token}", "percent": f"{amount_text(value)}% of the {token} balance",
                "all": f"all {token}", "previous": (f"{amount_text(value)}% of " if value else "") + "what "
                + ", ".join(data.get("previous_swaps") or ()) + f" received ({token})"}.get(str(mode), str(mode))
        return "resolve amount: " + what + (f", in {data['parts']} parts" if (data.get("parts") or 1) > 1 else "")

    def handle(self, task: ResolveAmountTask, run: RunView, deps: RunDeps) -> AmountResult:
        try:
            token = deps.chain.token(task.token_in)
            inputs: dict = {}
            if task.mode == "usd":
                payload = run.result(task.price_task or "")
                if payload.get("status") != TaskStatus.OK:
                    return AmountResult(status=TaskStatus.REFUSED, reason=f"price of {task.token_in} unavailable: "
                                                                          f"{payload.get('reason', 'missing')}")
                reading = PriceReading.model_validate(payload["reading"])
                rule = price_reading_rule(deps.policy, reading)
                if not rule.passed:  # a dollar amount is never converted at a price one party could set
                    return AmountResult(status=TaskStatus.REFUSED, reason=f"{rule.rule}: {rule.detail}")
                inputs["price_median"] = str(reading.median)
                inputs["price_rule"] = reading.median_rule
                inputs["family_medians"] = {family: str(m) for family, m in reading.family_medians.items()}
            elif task.mode in ("percent", "all"):
                inputs["balance_raw"] = str(deps.chain.balance_of(token.symbol))
                if task.mode == "all":
                    inputs["gas_reserve_raw"] = str(token.to_base(task.gas_reserve))
            else:
                received = 0
                for sid in task.previous_swaps:
                    r = run.result(sid)
                    outcome = r.get("outcome") or {}
                    if r.get("status") != TaskStatus.CONFIRMED or outcome.get("received") is None:
                        return AmountResult(status=TaskStatus.SKIPPED,
                                            reason=f"previous step {sid} did not complete ({r.get('status')})")
                    received += int(outcome["received"])
                inputs["received_raw"] = str(received)
        except SwarmError as exc:
            return AmountResult(status=TaskStatus.FAILED, reason=str(exc))
        raw, formula = resolve(task.mode, task.value, task.parts, token.decimals, inputs)
        fields = {"mode": task.mode, "value": None if task.value is None else str(task.value), "parts": task.parts,
                  "token": token.symbol, "decimals": token.decimals, "inputs": inputs, "formula": formula,
                  "raw": str(raw), "total_raw": str(raw * task.parts), "amount": str(token.from_base(raw))}
        if raw <= 0:
            return AmountResult(status=TaskStatus.REFUSED, reason=f"the amount resolves to nothing ({formula})",
                                **fields)
        return AmountResult(status=TaskStatus.OK, reason=f"{token.from_base(raw)} {token.symbol} per part: {formula}",
                            **fields)

    def replay(self, payload: dict, run_context: dict) -> tuple[bool, str] | None:
        if payload.get("status") != TaskStatus.OK:
            return None
        inputs = payload["inputs"]
        raw, formula = resolve(payload["mode"], Decimal(payload["value"]) if payload.get("value") else None,
                               payload["parts"], payload["decimals"], inputs)
        if payload["mode"] == "usd":  # the price is the recorded rule applied to the recorded family medians
            medians = [Decimal(m) for m in inputs.get("family_medians", {}).values()]
            price = median_and_spread(medians)[0] if medians else None
            if inputs.get("price_rule") != FAMILY_RULE or price != Decimal(inputs["price_median"]):
                return False, (f"price {inputs['price_median']} is not the {FAMILY_RULE} of the logged family "
                               f"medians {inputs.get('family_medians')} (rule logged: {inputs.get('price_rule')})")
        return raw == int(payload["raw"]), f"recomputed {raw} (logged {payload['raw']}): {formula}"
