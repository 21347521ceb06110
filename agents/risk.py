"""Risk checker agent: a deterministic policy enforced before anything is signed.

It gathers the measured inputs (balance, a fresh quote, the chain's own pre-trade
checks), evaluates the price condition in code, and applies `defai_swarm.core.policy.decide`;
every rule gives a reasoned result and the swap is approved only if all pass. An
approved trade reserves its USD value against the daily cap atomically, and a trade
above the approval threshold pauses for an operator (LangGraph `interrupt`). A model
can neither see nor override any of this.

Prices: a condition is evaluated only on a reading that rests on independent, fresh
source families (`price_sources_agree`, the same rule a trade's prices pass); otherwise
it is refused, never evaluated. It compares the reading's price, the median of its families'
medians (`defai_swarm.core.prices`: pushing every pool of one DEX moves it by at most half the allowed
spread); the condition entry records that rule and the family medians.

After an approval pause the node runs again from its start (LangGraph re-executes an
interrupted node), so the readings it sees are the ones from before the pause. The
operator's yes is therefore followed by a re-check before anything is signed: both prices
(and the condition's) are read again, the condition re-evaluated, a fresh quote taken and
every rule re-run (`decide`, with the approved value as a limit); the swap gets that fresh
decision and its minOut. The re-read prices, the re-evaluated condition and the fresh
decision go to the audit log as ordinary `read_price`, `condition` and `check_risk`
entries, so the replay checks them like any other.

Spend: the step's own reservation never counts against itself (`spent_today(exclude=...)`),
and every refusal after a reservation was made (declined, the re-check refusing, the
condition no longer holding) releases it.
"""
from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from typing import Any, Mapping

from defai_swarm.core.errors import Refused, SwarmError
from defai_swarm.core.policy import (RiskDecision, RuleResult, SwapCheck, SwapPolicy, TokenFacts, cap_refusal, common_rules,
                               decide, oracle_min_out, price_reading_rule, reference_price, refusal_reason)
from defai_swarm.core.prices import PriceReading
from defai_swarm.core.status import TaskStatus
from defai_swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult, generic_description, is_result
from defai_swarm.runtime import interrupt
from defai_swarm.taskgraph import CheckRiskTask, ReadPriceTask, SwapTask
from defai_swarm.tools.evm.policy import RiskPolicy


class RiskResult(TaskResult):
    input: SwapCheck | None = None
    decision: RiskDecision | None = None
    amount_in: str | None = None  # base units, as text (exact output: the maximum input authorised)
    min_out: str | None = None
    amount_out: str | None = None  # exact output only: base units to receive exactly
    route_in: str | None = None  # exact output only: the input the route quoted for amount_out
    amount_source: str | None = None  # how the input was derived when it was not written (resolve task, exact out)


def _refused(reason: str, **extra) -> RiskResult:
    return RiskResult(status=TaskStatus.REFUSED, reason=reason, **extra)


def _price_base(run: RunView, task_id: str, fallback: str) -> str:
    """The token a read_price task reads (what the re-check reads again)."""
    task = run.graph.by_id().get(task_id)
    return task.base if isinstance(task, ReadPriceTask) else fallback


class CheckRiskPlugin(TaskPlugin[CheckRiskTask]):
    kind = "check_risk"
    task_model = CheckRiskTask
    result_model = RiskResult

    described = frozenset({"swap_task"})  # what describe(task) says

    def describe(self, data: Mapping[str, Any]) -> str:
        """`check risk of swap_1`; a result: its status and reason (every rule's verdict)."""
        if is_result(data):
            return generic_description(self.kind, data)
        return f"check risk of {data.get('swap_task')}"

    def handle(self, task: CheckRiskTask, run: RunView, deps: RunDeps) -> RiskResult:
        tasks = run.graph.by_id()
        swap = tasks[task.swap_task]
        assert isinstance(swap, SwapTask)  # validate() guarantees it
        for dep in task.depends_on:
            if isinstance(tasks.get(dep), SwapTask) and run.status(dep) != TaskStatus.CONFIRMED:
                return RiskResult(status=TaskStatus.SKIPPED,
                                  reason=f"previous part {dep} did not complete ({run.status(dep)})")
        if swap.amount_task is not None and run.status(swap.amount_task) == TaskStatus.SKIPPED:
            return RiskResult(status=TaskStatus.SKIPPED, reason=f"{swap.amount_task}: "
                                                                f"{run.result(swap.amount_task).get('reason', '')}")
        needed = swap.price_tasks + tuple(t for c in swap.all_conditions()
                                          for t in (c.source_task, c.quote_task) if t is not None)
        failed = [f"{pid}: {run.result(pid).get('reason', 'missing')}" for pid in needed
                  if run.status(pid) != TaskStatus.OK]
        if failed:
            return self._release(run.run_id, swap, deps,
                                 _refused("price unavailable, refusing to trade blind: " + "; ".join(failed)))
        gates = [f"{dep} {run.status(dep)}: {run.result(dep).get('reason', '')}" for dep in task.depends_on
                 if not isinstance(tasks.get(dep), SwapTask) and run.status(dep) in (TaskStatus.REFUSED, TaskStatus.FAILED)]
        if gates:  # another agent in front of this check (a plugin's guard) said no
            return self._release(run.run_id, swap, deps, _refused("; ".join(gates)))
        if swap.condition is not None:
            readings = {tid: PriceReading.model_validate(run.result(tid)["reading"])
                        for c in swap.all_conditions() for tid in (c.source_task, c.quote_task) if tid is not None}
            not_met = self._condition(run.run_id, swap, readings, deps)
            if not_met is not None:
                return self._release(run.run_id, swap, deps, not_met)
        price_in = PriceReading.model_validate(run.result(swap.price_tasks[0])["reading"])
        price_out = PriceReading.model_validate(run.result(swap.price_tasks[1])["reading"])
        return self._decide(run, task, swap, deps, price_in, price_out)

    # -- the pieces ------------------------------------------------------------------------------------------
    def _condition(self, run_id: str, swap: SwapTask, readings: dict[str, PriceReading], deps: RunDeps,
                   recheck: bool = False) -> RiskResult | None:
        """None when the conditions hold (all for "and", one for "or") on independently sourced readings; else the
        result to end with (refused: a reading is not independent or its sources disagree; skipped: not met).
        A token quote (ETH/DAI) compares the ratio of the two USD medians."""
        when = " after the operator's approval" if recheck else ""
        results = []
        for cond in swap.all_conditions():
            for tid in (cond.source_task, cond.quote_task):
                if tid is None:
                    continue
                sourced = price_reading_rule(deps.policy, readings[tid])
                if not sourced.passed:  # never evaluated on a price one party could set
                    return _refused(f"condition {cond.describe()} not evaluated{when}: {sourced.rule}: {sourced.detail}")
            price = readings[cond.source_task].median
            if cond.quote_task is not None:
                price = price / readings[cond.quote_task].median
            holds = cond.evaluate(price)
            results.append((cond, price, holds))
            used = {tid: readings[tid] for tid in (cond.source_task, cond.quote_task) if tid is not None}
            deps.record(run_id, "condition", {"task": swap.id, "source_task": cond.source_task,
                                              "quote_task": cond.quote_task, "condition": cond.model_dump(mode="json"),
                                              "describe": cond.describe(), "price": str(price), "holds": holds,
                                              "price_rule": {tid: r.median_rule for tid, r in used.items()},
                                              "family_medians": {tid: {f: str(m) for f, m in r.family_medians.items()}
                                                                 for tid, r in used.items()},
                                              "combine": swap.combine or "and", **({"recheck": True} if recheck else {})})
        held = [h for _, _, h in results]
        if not (any(held) if swap.combine == "or" else all(held)):
            verb = "no longer holds" + when if recheck else "not met"
            shown = f" {swap.combine or 'and'} ".join(f"{c.describe()} (now {p:.2f})" for c, p, _ in results)
            return RiskResult(status=TaskStatus.SKIPPED, reason=f"condition {shown} {verb}: nothing to do")
        return None

    def _amount(self, run: RunView, swap: SwapTask, deps: RunDeps, price_in: PriceReading,
                price_out: PriceReading) -> tuple[Decimal, dict] | str:
        """The input to check and trade (human units) and what to log about how it was found, or why not.

        Written: as written.  Derived: the resolve_amount task's result, computed from recorded inputs.
        Exact output: the maximum input is amount_out at the independent prices plus the slippage allowance
        (rounded up); the route's own exact-output quote must not need more."""
        if swap.amount_in is not None:
            return swap.amount_in, {}
        if swap.amount_task is not None:
            r = run.result(swap.amount_task)
            if r.get("status") != TaskStatus.OK or r.get("amount") is None:
                return f"{swap.amount_task}: {r.get('reason', 'no amount')}"
            return Decimal(r["amount"]), {"amount_source": f"{swap.amount_task}: {r.get('formula', '')}"}
        assert swap.amount_out is not None
        t_in, t_out = deps.chain.token(swap.token_in), deps.chain.token(swap.token_out)
        out_raw = t_out.to_base(swap.amount_out)
        rate = reference_price(price_out) / reference_price(price_in)
        max_in = (swap.amount_out * rate * (10_000 + swap.max_slippage_bps) / 10_000).scaleb(t_in.decimals)
        max_in_raw = int(max_in.to_integral_value(rounding=ROUND_CEILING))
        quote = deps.chain.quote_exact_out(t_in.symbol, t_out.symbol, out_raw)
        if quote.amount_in > max_in_raw:
            return (f"exact output {swap.amount_out} {t_out.symbol}: the route needs {t_in.from_base(quote.amount_in)} "
                    f"{t_in.symbol}, more than the independent maximum {t_in.from_base(max_in_raw)} {t_in.symbol} "
                    f"({swap.max_slippage_bps} bps over the oracle rate)")
        return t_in.from_base(max_in_raw), {"amount_out": str(out_raw), "route_in": str(quote.amount_in),
                                            "amount_source": f"exact output {swap.amount_out} {t_out.symbol}: at most "
                                                             f"{t_in.from_base(max_in_raw)} {t_in.symbol}"}

    def _check(self, run_id: str, swap: SwapTask, deps: RunDeps, price_in: PriceReading, price_out: PriceReading,
               approved_trade_usd: Decimal | None = None, amount: Decimal | None = None) -> SwapCheck | str:
        """The measured inputs of one decision (balance, quote, the chain's own checks, today's spend without
        this step's own reservation), or why they could not be measured."""
        chain, policy = deps.chain, deps.policy
        amount = swap.amount_in if amount is None else amount
        assert amount is not None
        try:
            token_in, token_out = chain.token(swap.token_in), chain.token(swap.token_out)
            amount_in = token_in.to_base(amount)
            balance = chain.balance_of(token_in.symbol)
            if balance < amount_in:
                return f"balance {token_in.from_base(balance)} {token_in.symbol} is below the amount {amount}"
            quote = chain.quote(token_in.symbol, token_out.symbol, amount_in)
            chain_rules = chain.pre_trade_checks(policy, token_in.symbol, token_out.symbol, amount_in, quote,
                                                 swap.max_slippage_bps)
        except SwarmError as exc:
            return str(exc)
        return SwapCheck(
            chain=chain.family, token_in=TokenFacts(symbol=token_in.symbol, decimals=token_in.decimals),
            token_out=TokenFacts(symbol=token_out.symbol, decimals=token_out.decimals), amount_in=amount_in,
            slippage_bps=swap.max_slippage_bps, recipient=chain.wallet_address, wallet=chain.wallet_address,
            price_in=price_in, price_out=price_out, quote_out=quote.amount_out,
            spent_today_usd=deps.ledger.spent_today(exclude=(run_id, swap.id)), chain_rules=chain_rules,
            approved_trade_usd=approved_trade_usd)

    @staticmethod
    def _release(run_id: str, swap: SwapTask, deps: RunDeps, result: RiskResult) -> RiskResult:
        """End without a trade: give back the step's reservation if an earlier pass of this node made one
        (nothing of the swap can have been signed: the swap runs only after this check approves)."""
        if not deps.outbox.has_signed(run_id, f"{swap.id}:"):
            deps.ledger.release_spend(run_id, swap.id)
        return result

    def _decide(self, run: RunView, task: CheckRiskTask, swap: SwapTask, deps: RunDeps, price_in: PriceReading,
                price_out: PriceReading) -> RiskResult:
        policy = deps.policy
        try:
            found = self._amount(run, swap, deps, price_in, price_out)
        except SwarmError as exc:
            found = str(exc)
        if isinstance(found, str):
            return self._release(run.run_id, swap, deps, _refused(found))
        amount, extra = found
        check = self._check(run.run_id, swap, deps, price_in, price_out, amount=amount)
        if isinstance(check, str):
            return self._release(run.run_id, swap, deps, _refused(check))
        decision = decide(policy, check)
        logged = {"input": check, "decision": decision, **extra}
        if not decision.approved:
            return self._release(run.run_id, swap, deps, _refused(refusal_reason(decision), **logged))
        try:
            ok, spent = deps.ledger.reserve_spend(run.run_id, swap.id, decision.trade_usd, policy.daily_cap_usd)
        except Refused as exc:  # another ledger keeps the wallet's cap today (defai_swarm.ledger): nothing reserved
            return _refused(str(exc), **logged)
        if not ok:
            return _refused(cap_refusal(f"daily_cap_usd: ${spent:,.2f} already spent today, "
                                        f"${decision.trade_usd:,.2f} more exceeds ${policy.daily_cap_usd:,.2f}"),
                            **logged)
        if decision.needs_human:
            answer = interrupt({"task": task.id, "swap": swap.id, "trade_usd": str(decision.trade_usd),
                                "question": f"approve swap {amount} {swap.token_in} -> {swap.token_out} "
                                            f"(${decision.trade_usd:,.2f})?"})
            approved = isinstance(answer, dict) and answer.get("approve") is True
            deps.record(run.run_id, "operator_input", {"task": task.id, "answer": answer})
            if not approved:
                return self._release(run.run_id, swap, deps, _refused("operator declined", **logged))
            return self._recheck(run, swap, deps, decision)
        return RiskResult(status=TaskStatus.APPROVED, reason=decision.reason, amount_in=str(check.amount_in),
                          min_out=str(decision.min_out), **logged)

    def _recheck(self, run: RunView, swap: SwapTask, deps: RunDeps, approved: RiskDecision) -> RiskResult:
        """After the operator's yes: fresh prices, the condition again, a fresh quote and every rule again.
        The swap gets this decision (its minOut), or nothing."""
        policy, run_id = deps.policy, run.run_id
        bases = [_price_base(run, pid, sym) for pid, sym in zip(swap.price_tasks, (swap.token_in, swap.token_out),
                                                                strict=True)]
        wanted = list(zip(swap.price_tasks, bases, strict=True))
        for cond in swap.all_conditions():
            for tid, sym in ((cond.source_task, cond.base), (cond.quote_task, cond.quote)):
                if tid is not None and tid not in dict(wanted):
                    wanted.append((tid, _price_base(run, tid, sym)))
        fresh: dict[str, PriceReading] = {}
        for task_id, base in wanted:
            try:
                reading = deps.chain.read_price(base)
            except SwarmError as exc:
                return self._release(run_id, swap, deps, _refused(
                    f"re-check after the operator's approval: price of {base} unavailable, refusing to trade "
                    f"blind: {exc}"))
            fresh[task_id] = reading
            deps.record(run_id, "read_price", {"task": task_id, "status": TaskStatus.OK.value, "recheck": True,
                                               "reason": "read again after the operator's approval",
                                               "reading": reading.model_dump(mode="json")})
        if swap.condition is not None:
            not_met = self._condition(run_id, swap, fresh, deps, recheck=True)
            if not_met is not None:
                return self._release(run_id, swap, deps, not_met)
        try:
            found = self._amount(run, swap, deps, fresh[swap.price_tasks[0]], fresh[swap.price_tasks[1]])
        except SwarmError as exc:
            found = str(exc)
        if isinstance(found, str):
            return self._release(run_id, swap, deps, _refused(f"re-check after the operator's approval: {found}"))
        amount, extra = found
        check = self._check(run_id, swap, deps, fresh[swap.price_tasks[0]], fresh[swap.price_tasks[1]],
                            approved_trade_usd=approved.trade_usd, amount=amount)
        if isinstance(check, str):
            return self._release(run_id, swap, deps, _refused(f"re-check after the operator's approval: {check}"))
        decision = decide(policy, check)
        logged = {"input": check, "decision": decision, **extra}
        if not decision.approved:
            return self._release(run_id, swap, deps, _refused(
                f"re-check after the operator's approval: {refusal_reason(decision)}", **logged))
        if decision.trade_usd != approved.trade_usd:  # the reservation holds the fresh value, within the cap
            deps.ledger.release_spend(run_id, swap.id)
            try:
                ok, spent = deps.ledger.reserve_spend(run_id, swap.id, decision.trade_usd, policy.daily_cap_usd)
            except Refused as exc:
                return _refused(str(exc), **logged)
            if not ok:
                return _refused(cap_refusal(f"daily_cap_usd: ${spent:,.2f} already spent today, "
                                            f"${decision.trade_usd:,.2f} more exceeds ${policy.daily_cap_usd:,.2f}"),
                                **logged)
        return RiskResult(status=TaskStatus.APPROVED, reason=f"re-checked after the operator's approval: "
                                                            f"{decision.reason}",
                          amount_in=str(check.amount_in), min_out=str(decision.min_out), **logged)

    def replay(self, payload: dict, run_context: dict) -> tuple[bool, str] | None:
        """The decision recomputed with the run's recorded policy from the logged inputs."""
        if "decision" not in payload or payload.get("input") is None:
            return None
        policy_data = run_context.get("policy")
        if policy_data is None:
            return False, "no policy recorded: cannot replay"
        policy = SwapPolicy.model_validate({k: v for k, v in policy_data.items() if k in SwapPolicy.model_fields})
        replayed = decide(policy, SwapCheck.model_validate(payload["input"]))
        logged = RiskDecision.model_validate(payload["decision"])
        if replayed != logged:
            diff = [r.rule for r, lg in zip(replayed.rules, logged.rules, strict=False) if r != lg] or ["approved/min_out/trade_usd"]
            return False, f"replayed decision differs from the logged one in: {', '.join(diff)}"
        if payload.get("status") == TaskStatus.APPROVED and not replayed.approved:
            return False, "logged as approved, but the policy refuses it"
        return True, f"{'approved' if replayed.approved else 'refused'}: {replayed.reason}"


__all__ = ["CheckRiskPlugin", "RiskDecision", "RiskPolicy", "RiskResult", "RuleResult", "SwapPolicy",
           "common_rules", "oracle_min_out"]
