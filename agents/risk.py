"""Risk checker agent: a deterministic policy enforced before anything is signed.

It gathers the measured inputs (balance, a fresh quote, the chain's own pre-trade
checks), evaluates the price condition in code, and applies `swarm.core.policy.decide`;
every rule gives a reasoned result and the swap is approved only if all pass. An
approved trade reserves its USD value against the daily cap atomically, and a trade
above the approval threshold pauses for an operator (LangGraph `interrupt`). A model
can neither see nor override any of this.
"""
from __future__ import annotations

from decimal import Decimal

from langgraph.types import interrupt

from swarm.core.errors import SwarmError
from swarm.core.policy import (RiskDecision, RuleResult, SwapCheck, SwapPolicy, TokenFacts, common_rules, decide,
                               oracle_min_out)
from swarm.core.status import TaskStatus
from swarm.plugins import RunDeps, RunView, TaskPlugin, TaskResult
from swarm.taskgraph import CheckRiskTask, SwapTask
from tools.evm.policy import RiskPolicy


class RiskResult(TaskResult):
    input: SwapCheck | None = None
    decision: RiskDecision | None = None
    amount_in: str | None = None  # base units, as text
    min_out: str | None = None


def _refused(reason: str, **extra) -> RiskResult:
    return RiskResult(status=TaskStatus.REFUSED, reason=reason, **extra)


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
            return _refused("price unavailable, refusing to trade blind: " + "; ".join(failed))
        gates = [f"{dep} {run.status(dep)}: {run.result(dep).get('reason', '')}" for dep in task.depends_on
                 if not isinstance(tasks.get(dep), SwapTask) and run.status(dep) in (TaskStatus.REFUSED, TaskStatus.FAILED)]
        if gates:  # another agent in front of this check (a plugin's guard) said no
            return _refused("; ".join(gates))
        if swap.condition is not None:
            median = Decimal(run.result(swap.condition.source_task)["reading"]["median"])
            holds = swap.condition.evaluate(median)
            deps.record(run.run_id, "condition", {"task": swap.id, "source_task": swap.condition.source_task,
                                                  "condition": swap.condition.model_dump(mode="json"),
                                                  "describe": swap.condition.describe(),
                                                  "price": str(median), "holds": holds})
            if not holds:
                return RiskResult(status=TaskStatus.SKIPPED, reason=f"condition {swap.condition.describe()} not met "
                                                                    f"(median {median:.2f}): nothing to do")
        return self._decide(run, task, swap, deps)

    def _decide(self, run: RunView, task: CheckRiskTask, swap: SwapTask, deps: RunDeps) -> RiskResult:
        chain, policy = deps.chain, deps.policy
        try:
            token_in, token_out = chain.token(swap.token_in), chain.token(swap.token_out)
            amount_in = token_in.to_base(swap.amount_in)
            balance = chain.balance_of(token_in.symbol)
            if balance < amount_in:
                return _refused(f"balance {token_in.from_base(balance)} {token_in.symbol} is below the amount "
                                f"{swap.amount_in}")
            quote = chain.quote(token_in.symbol, token_out.symbol, amount_in)
            chain_rules = chain.pre_trade_checks(policy, token_in.symbol, token_out.symbol, amount_in, quote,
                                                 swap.max_slippage_bps)
        except SwarmError as exc:
            return _refused(str(exc))
        check = SwapCheck(
            chain=chain.family, token_in=TokenFacts(symbol=token_in.symbol, decimals=token_in.decimals),
            token_out=TokenFacts(symbol=token_out.symbol, decimals=token_out.decimals), amount_in=amount_in,
            slippage_bps=swap.max_slippage_bps, recipient=chain.wallet_address, wallet=chain.wallet_address,
            price_in=run.result(swap.price_tasks[0])["reading"], price_out=run.result(swap.price_tasks[1])["reading"],
            quote_out=quote.amount_out, spent_today_usd=deps.ledger.spent_today(), chain_rules=chain_rules)
        decision = decide(policy, check)
        logged = {"input": check, "decision": decision}
        if not decision.approved:
            return _refused(decision.reason, **logged)
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
                deps.ledger.release_spend(run.run_id, swap.id)
                return _refused("operator declined", **logged)
        return RiskResult(status=TaskStatus.APPROVED, reason=decision.reason, amount_in=str(amount_in),
                          min_out=str(decision.min_out), **logged)

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
