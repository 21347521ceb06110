"""Many intents at once against one wallet: no nonce collision, the daily cap holds under races."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from defai_swarm.agents.risk import RiskPolicy
from defai_swarm.api import Swarm
from tests.test_runtime import swap_graph

N_INTENTS, THREADS = 200, 8


def test_200_concurrent_intents_respect_nonces_and_the_daily_cap(chain, devnet, wallet, tmp_path):
    # Each swap is 0.01 ETH (~$30); a $1,500 cap admits about 50 of the 200.
    policy = RiskPolicy(daily_cap_usd=Decimal(1500), require_honeypot_check=False, max_slippage_bps=100)
    swarm = Swarm(w3=chain, manifest=devnet.manifest, wallet=wallet, home=tmp_path, policy=policy, anchor=False)
    n = chain.eth.get_transaction_count(wallet.address)
    start = time.monotonic()
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(lambda i: swarm.execute(swap_graph("ETH", "USDC", "0.01", slippage_bps=100)),
                                    range(N_INTENTS)))
    finally:
        swarm.close()
    elapsed = time.monotonic() - start
    done = [r for r in results if r.status == "done"]
    refused = [r for r in results if r.status == "refused"]
    assert len(done) + len(refused) == N_INTENTS, {r.status for r in results}
    assert all("daily_cap_usd" in r.tasks["swap_1"]["reason"] for r in refused)
    spent = sum(Decimal(r.tasks["risk_1"]["decision"]["trade_usd"]) for r in done)
    assert spent <= policy.daily_cap_usd
    assert spent > policy.daily_cap_usd - Decimal(100)  # the cap was actually reached, not refused early
    hashes = [h for r in done for h in r.tx_hashes]
    nonces = sorted(chain.eth.get_transaction(h)["nonce"] for h in hashes)
    assert nonces == list(range(n, n + len(done)))  # distinct and gapless
    assert chain.eth.get_transaction_count(wallet.address) == n + len(done)
    print(f"\n{N_INTENTS} intents, {THREADS} threads: {len(done)} done, {len(refused)} refused by the cap, "
          f"{elapsed:.1f}s ({N_INTENTS / elapsed:.1f} intents/s)")
