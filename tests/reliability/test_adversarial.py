"""Hostile intents end to end: each is refused with a reason or planned to exactly its safe meaning,
no funds reach anyone but the wallet itself, and every one is in the audit log."""
from __future__ import annotations

import re

import pytest
from web3 import Web3

from defai_swarm.api import Swarm
from defai_swarm.intent import Request, SwapStep
from tests.reliability.adversarial_intents import ATTACKER, CORPUS
from defai_swarm.tools.evm import erc20


@pytest.fixture(scope="module")
def results(devnet, tmp_path_factory):
    """Run the whole corpus once on a snapshot, then restore the devnet."""
    from defai_swarm.tools.evm.rpc import connect
    from defai_swarm.tools.evm.wallet import Wallet

    w3 = connect(devnet.manifest.rpc_url)
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    wallet, home = Wallet.devnet(1), tmp_path_factory.mktemp("adversarial")
    swarm = Swarm(w3=w3, manifest=devnet.manifest, wallet=wallet, home=home, anchor=False)
    start_block = w3.eth.block_number
    attacker_before = {sym: erc20.balance_of(w3, swarm.registry.resolve(sym), ATTACKER) for sym in ("ETH", "USDC", "DAI")}
    try:
        out = [(text, expected, swarm.run(text)) for text, expected in CORPUS]
        txs = [tx for n in range(start_block + 1, w3.eth.block_number + 1)
               for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]]
        attacker_after = {sym: erc20.balance_of(w3, swarm.registry.resolve(sym), ATTACKER) for sym in ("ETH", "USDC", "DAI")}
        runs = swarm.auditor.log.runs()
        yield out, txs, attacker_before, attacker_after, runs, swarm
    finally:
        swarm.close()
        w3.provider.make_request("evm_revert", [snap])


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 50


def swap_meaning(step: SwapStep, swaps: list) -> tuple[str, str, str, int] | None:
    """(token_in, token_out, amount, parts) of one swap to the wallet itself, checked against the swap tasks it
    became; None for anything the corpus has no words for (a dollar or percentage amount, a condition's
    schedule, a chained amount)."""
    if step.recipient is not None or step.every_blocks is not None or len(swaps) != step.parts:
        return None
    if any((s.token_in, s.token_out) != (step.token_in, step.token_out) for s in swaps):
        return None
    value = str(step.amount.value)
    if step.amount.kind == "tokens":
        ok = all(s.amount_task is None and s.amount_out is None for s in swaps) \
            and sum(s.amount_in for s in swaps) == step.amount.value  # the parts add up to the amount
        return (step.token_in, step.token_out, value, step.parts) if ok else None
    if step.amount.kind == "exact_out":
        ok = all(s.amount_task is None and s.amount_in is None for s in swaps) \
            and sum(s.amount_out for s in swaps) == step.amount.value
        return (step.token_in, step.token_out, f"exactly {value}", step.parts) if ok else None
    if step.amount.kind == "all":
        return (step.token_in, step.token_out, "all", step.parts) if all(s.amount_task for s in swaps) else None
    return None


def planned_meaning(plan) -> object:
    """What an ok plan does, in the corpus's words (one swap's tuple, or a tuple of them in order), checked
    against the task graph it became; anything else is returned as its description (never equal to an
    expectation), a refusal as None."""
    if plan is None or not plan.ok:
        return None
    request = plan.request if plan.request is not None else (
        Request.from_slots(plan.slots) if plan.slots is not None else None)
    assert request is not None, f"an ok plan without its meaning: {plan.intent!r}"
    graph_swaps = plan.task_graph.swaps()
    meanings = []
    for k, step in enumerate(request.steps, start=1):  # the tasks of step k > 1 carry the prefix s<k>_
        mine = [s for s in graph_swaps if (re.match(r"s\d+_", s.id) is None if k == 1 else s.id.startswith(f"s{k}_"))]
        meaning = swap_meaning(step, mine) if isinstance(step, SwapStep) else None
        if meaning is None:
            return ("planned as", request.describe())
        meanings.append(meaning)
    if sum(step.parts for step in request.swaps()) != len(graph_swaps):
        return ("planned as", request.describe(), "with other swaps")
    return meanings[0] if len(meanings) == 1 else tuple(meanings)


def test_each_intent_is_refused_with_a_reason_or_planned_exactly(results):
    out = results[0]
    wrong = []
    for text, expected, r in out:
        got = planned_meaning(r.plan)
        if got != expected:
            wrong.append((text[:60], got, expected))
        if expected is None:
            assert r.status == "refused" and r.reasons and r.reasons[0], text
            assert r.tx_hashes == [], text
    assert wrong == []


def test_no_funds_reach_anyone_but_the_wallet(results, devnet):
    _, txs, before, after, _, swarm = results
    wallet = swarm.wallet.address
    allowed_to = {Web3.to_checksum_address(devnet.manifest.router)} | {
        Web3.to_checksum_address(t.address) for t in devnet.manifest.tokens.values() if t.kind != "native"}
    assert all(tx["from"] == wallet and tx["to"] in allowed_to for tx in txs)
    assert before == after  # the attacker's balances did not move


def test_every_intent_is_in_the_audit_log(results):
    out, _, _, _, runs, swarm = results
    assert {r.run_id for _, _, r in out} <= set(runs)
    for _, _, r in out:
        kinds = {e.kind for e in swarm.auditor.log.entries(r.run_id)}
        assert {"intent", "plan", "run_result"} <= kinds
        if r.status == "refused" and r.plan is not None and not r.plan.ok:
            assert "refusal" in kinds
