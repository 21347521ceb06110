"""Risk checker agent: a deterministic policy enforced before anything is signed.

It gathers the measured inputs (balance, a fresh quote, the chain's own pre-trade
checks), evaluates the price condition in code, and applies `swarm.core.policy.decide`;
every rule gives a reasoned result and the swap is approved only if all pass. An
approved trade reserves its USD value against the daily cap atomically, and a trade
above the approval threshold pauses for an operator (LangGraph `interrupt`). A model
can neither see nor override any of this.

Prices: a condition is evaluated only on a reading that rests on independent, fresh
source families (`price_sources_agree`, the same rule a trade's prices pass); otherwise
it is refused, never evaluated.

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

from decimal import Decimal

from langgraph.types import interrupt

from swarm.core.errors import SwarmError
from swarm.core.policy import (RiskDecision, RuleResult, SwapCheck, SwapPolicy, TokenFacts, common_rules, decide,
                               oracle_min_out, price_reading_rule)
from swarm.core.prices import PriceReading
from swarm.core.status import TaskStatus
from swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult
from swarm.taskgraph import CheckRiskTask, ReadPriceTask, SwapTask
from tools.evm.policy import RiskPolicy


class RiskResult(TaskResult):
    input: SwapCheck | None = None
    decision: RiskDecision | None = None
    amount_in: str | None = None  # base units, as text
    min_out: str | None = None


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

    def handle(self, task: CheckRiskTask, run: RunView, deps: RunDeps) -> RiskResult:
        tasks = run.graph.by_id()
        swap = tasks[task.swap_task]
        assert isinstance(swap, SwapTask)  # validate() guarantees it
        for dep in task.depends_on:
            if isinstance(tasks.get(dep), SwapTask) and run.status(dep) != TaskStatus.CONFIRMED:
                return RiskResult(status=TaskStatus.SKIPPED,
                                  reason=f"previous part {dep} did not complete ({run.status(dep)})")
        needed = swap.price_tasks + ((swap.condition.source_task,) if swap.condition else ())
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
            reading = PriceReading.model_validate(run.result(swap.condition.source_task)["reading"])
            not_met = self._condition(run.run_id, swap, reading, deps)
            if not_met is not None:
                return self._release(run.run_id, swap, deps, not_met)
        price_in = PriceReading.model_validate(run.result(swap.price_tasks[0])["reading"])
        price_out = PriceReading.model_validate(run.result(swap.price_tasks[1])["reading"])
        return self._decide(run, task, swap, deps, price_in, price_out)

    # -- the pieces ------------------------------------------------------------------------------------------
    def _condition(self, run_id: str, swap: SwapTask, reading: PriceReading, deps: RunDeps,
                   recheck: bool = False) -> RiskResult | None:
        """None when the condition holds on an independently sourced reading; else the result to end with
        (refused: the reading is not independent or its sources disagree; skipped: it does not hold)."""
        assert swap.condition is not None
        when = " after the operator's approval" if recheck else ""
        sourced = price_reading_rule(deps.policy, reading)
        if not sourced.passed:  # never evaluated on a price one party could set
            return _refused(f"condition {swap.condition.describe()} not evaluated{when}: {sourced.rule}: {sourced.detail}")
        holds = swap.condition.evaluate(reading.median)
        deps.record(run_id, "condition", {"task": swap.id, "source_task": swap.condition.source_task,
                                          "condition": swap.condition.model_dump(mode="json"),
                                          "describe": swap.condition.describe(), "price": str(reading.median),
                                          "holds": holds, **({"recheck": True} if recheck else {})})
        if not holds:
            verb = "no longer holds" + when if recheck else "not met"
            return RiskResult(status=TaskStatus.SKIPPED, reason=f"condition {swap.condition.describe()} {verb} "
                                                                f"(median {reading.median:.2f}): nothing to do")
        return None

    def _check(self, run_id: str, swap: SwapTask, deps: RunDeps, price_in: PriceReading, price_out: PriceReading,
               approved_trade_usd: Decimal | None = None) -> SwapCheck | str:
        """The measured inputs of one decision (balance, quote, the chain's own checks, today's spend without
        this step's own reservation), or why they could not be measured."""
        chain, policy = deps.chain, deps.policy
        try:
            token_in, token_out = chain.token(swap.token_in), chain.token(swap.token_out)
            amount_in = token_in.to_base(swap.amount_in)
            balance = chain.balance_of(token_in.symbol)
            if balance < amount_in:
                return f"balance {token_in.from_base(balance)} {token_in.symbol} is below the amount {swap.amount_in}"
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
        check = self._check(run.run_id, swap, deps, price_in, price_out)
        if isinstance(check, str):
            return self._release(run.run_id, swap, deps, _refused(check))
        decision = decide(policy, check)
        logged = {"input": check, "decision": decision}
        if not decision.approved:
            return self._release(run.run_id, swap, deps, _refused(decision.reason, **logged))
        ok, spent = deps.ledger.reserve_spend(run.run_id, swap.id, decision.trade_usd, policy.daily_cap_usd)
        if not ok:
            return _refused(f"daily_cap_usd: ${spent:,.2f} already spent today, ${decision.trade_usd:,.2f} more "
                            f"exceeds ${policy.daily_cap_usd:,.2f}", **logged)
        if decision.needs_human:
            answer = interrupt({"task": task.id, "swap": swap.id, "trade_usd": str(decision.trade_usd),
                                "question": f"approve swap {swap.amount_in} {swap.token_in} -> {swap.token_out} "
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
        if swap.condition is not None and swap.condition.source_task not in swap.price_tasks:
            wanted.append((swap.condition.source_task,
                           _price_base(run, swap.condition.source_task, swap.condition.base)))
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
            not_met = self._condition(run_id, swap, fresh[swap.condition.source_task], deps, recheck=True)
            if not_met is not None:
                return self._release(run_id, swap, deps, not_met)
        check = self._check(run_id, swap, deps, fresh[swap.price_tasks[0]], fresh[swap.price_tasks[1]],
                            approved_trade_usd=approved.trade_usd)
        if isinstance(check, str):
            return self._release(run_id, swap, deps, _refused(f"re-check after the operator's approval: {check}"))
        decision = decide(policy, check)
        logged = {"input": check, "decision": decision}
        if not decision.approved:
            return self._release(run_id, swap, deps, _refused(
                f"re-check after the operator's approval: {decision.reason}", **logged))
        if decision.trade_usd != approved.trade_usd:  # the reservation holds the fresh value, within the cap
            deps.ledger.release_spend(run_id, swap.id)
            ok, spent = deps.ledger.reserve_spend(run_id, swap.id, decision.trade_usd, policy.daily_cap_usd)
            if not ok:
                return _refused(f"daily_cap_usd: ${spent:,.2f} already spent today, ${decision.trade_usd:,.2f} more "
                                f"exceeds ${policy.daily_cap_usd:,.2f}", **logged)
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
