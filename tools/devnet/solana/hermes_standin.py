"""A local STAND-IN for Pyth's Hermes price service, speaking its wire format (GET /v2/updates/price/latest).

Hermes serves prices signed through Wormhole; nothing offline can sign those, so
this server only answers the parsed JSON (`parsed[].price` with price, conf,
expo, publish_time, and `metadata`), with a placeholder in `binary`. Readers
that use the parsed prices (tools/solana/pyth.HermesClient) cannot tell the
difference; anything that would post the binary update on chain cannot use it.
"""
from __future__ import annotations

import threading

from defai_swarm.tools.devnet.solana.http import LocalHttpServer


class HermesStandIn(LocalHttpServer):
    """GET /v2/updates/price/latest?ids[]=<hex>[&parsed=true], in Hermes' JSON shape."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self._lock = threading.Lock()
        self.feeds: dict[str, dict] = {}

    def set_price(self, feed_id: str, price: int, conf: int, expo: int, publish_time: int,
                  slot: int | None = None) -> None:
        """Publish a price for `feed_id` (64 hex digits, 0x optional); `slot` defaults to publish_time."""
        entry = {"price": str(price), "conf": str(conf), "expo": expo, "publish_time": publish_time,
                 "slot": publish_time if slot is None else slot}
        with self._lock:
            self.feeds[feed_id.removeprefix("0x").lower()] = entry

    def handle_get(self, path, query):
        if path.rstrip("/") == "/v2/updates/price/latest":
            ids = [i.removeprefix("0x").lower() for i in query.get("ids[]", [])]
            with self._lock:
                found = {i: dict(self.feeds[i]) for i in ids if i in self.feeds}
            missing = [i for i in ids if i not in found]
            if missing or not ids:
                return 404, {"error": f"Price ids not found: {missing}"}
            parsed = []
            for i in ids:
                f = found[i]
                price = {"price": f["price"], "conf": f["conf"], "expo": f["expo"], "publish_time": f["publish_time"]}
                parsed.append({"id": i, "price": price, "ema_price": dict(price),
                               "metadata": {"slot": f["slot"], "proof_available_time": f["publish_time"],
                                            "prev_publish_time": f["publish_time"] - 1}})
            answer: dict = {"binary": {"encoding": "hex", "data": ["00"]}}  # no Wormhole-signed update offline
            if query.get("parsed", ["true"])[0].lower() != "false":
                answer["parsed"] = parsed
            return 200, answer
        return super().handle_get(path, query)
