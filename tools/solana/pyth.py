"""Pyth prices on Solana: price accounts parsed from their documented layouts, and the Hermes HTTP API.

Two on-chain layouts:
- PriceUpdateV2 (pull oracle; also what the sponsored push feeds hold), owned by
  the Pyth receiver program: Anchor discriminator, write authority, Borsh
  VerificationLevel (1 byte for Full, 2 for Partial: later offsets shift), then
  feed id, price i64, conf u64, exponent i32, publish_time i64, ..., posted slot.
- the older v2 price account (magic 0xa1b2c3d4, type 3), owned by the Pyth
  oracle program: expo at 20, timestamp at 96, aggregate price/conf/status/slot at 208.
Any account not owned by a trusted program is refused: anyone can write the same bytes.
"""
from __future__ import annotations

import hashlib
import struct
import time
from decimal import Decimal

import httpx
from pydantic import BaseModel
from solders.pubkey import Pubkey

from defai_swarm.tools.solana.errors import LayoutError, PriceUnavailable
from defai_swarm.tools.solana.programs import PYTH_RECEIVER_PROGRAM

PRICE_UPDATE_V2_DISCRIMINATOR = hashlib.sha256(b"account:PriceUpdateV2").digest()[:8]
LEGACY_MAGIC, LEGACY_VERSION, LEGACY_PRICE_TYPE, LEGACY_TRADING = 0xA1B2C3D4, 2, 3, 1
PYTH_ORACLE_MAINNET = Pubkey.from_string("FsJ3A3u2vn5cTVofAjvy6y5kwABJAqYWpe4975bi2epH")
PYTH_ORACLE_DEVNET = Pubkey.from_string("gSbePebfvPy7tRqimPoVecS2UsBvYv46ynrzWocc92s")
TRUSTED_OWNERS = frozenset({PYTH_RECEIVER_PROGRAM, PYTH_ORACLE_MAINNET, PYTH_ORACLE_DEVNET})


class PythPrice(BaseModel):
    price: Decimal
    conf: Decimal
    raw_price: int
    raw_conf: int
    expo: int
    publish_time: int
    slot: int = 0
    layout: str
    feed_id: str | None = None
    fully_verified: bool = True

    @property
    def conf_bps(self) -> int:
        return int(self.conf / self.price * 10_000) if self.price > 0 else 10**9


def _scaled(raw: int, expo: int) -> Decimal:
    return Decimal(raw).scaleb(expo)


def parse_price_update_v2(data: bytes) -> PythPrice:
    if len(data) < 8 + 32 + 1 or data[:8] != PRICE_UPDATE_V2_DISCRIMINATOR:
        raise LayoutError("not a PriceUpdateV2 account")
    offset = 40
    level = data[offset]
    if level == 0:
        offset, full = offset + 2, False  # Partial { num_signatures: u8 }
    elif level == 1:
        offset, full = offset + 1, True
    else:
        raise LayoutError(f"unknown verification level {level}")
    if len(data) < offset + 32 + 52 + 8:
        raise LayoutError("PriceUpdateV2 account too short")
    feed_id = data[offset:offset + 32].hex()
    price, conf, expo, publish_time, _prev, _ema, _ema_conf = struct.unpack_from("<qQiqqqQ", data, offset + 32)
    posted_slot = struct.unpack_from("<Q", data, offset + 32 + 52)[0]
    return PythPrice(price=_scaled(price, expo), conf=_scaled(conf, expo), raw_price=price, raw_conf=conf, expo=expo,
                     publish_time=publish_time, slot=posted_slot, layout="price_update_v2", feed_id=feed_id,
                     fully_verified=full)


def parse_legacy_price(data: bytes) -> PythPrice:
    if len(data) < 240:
        raise LayoutError("legacy Pyth price account too short")
    magic, version, atype = struct.unpack_from("<III", data, 0)
    if (magic, version, atype) != (LEGACY_MAGIC, LEGACY_VERSION, LEGACY_PRICE_TYPE):
        raise LayoutError(f"not a Pyth v2 price account (magic {magic:#x}, version {version}, type {atype})")
    expo = struct.unpack_from("<i", data, 20)[0]
    timestamp = struct.unpack_from("<q", data, 96)[0]
    price, conf, status, _corp, pub_slot = struct.unpack_from("<qQIIQ", data, 208)
    if status != LEGACY_TRADING:
        raise PriceUnavailable(f"Pyth aggregate status is {status}, not trading")
    return PythPrice(price=_scaled(price, expo), conf=_scaled(conf, expo), raw_price=price, raw_conf=conf, expo=expo,
                     publish_time=timestamp, slot=pub_slot, layout="legacy_v2")


def parse_price_account(owner: Pubkey, data: bytes, trusted_owners: frozenset[Pubkey] = TRUSTED_OWNERS) -> PythPrice:
    if owner not in trusted_owners:
        raise LayoutError(f"price account owned by {owner}, not by a Pyth program")
    if data[:8] == PRICE_UPDATE_V2_DISCRIMINATOR:
        return parse_price_update_v2(data)
    if data[:4] == struct.pack("<I", LEGACY_MAGIC):
        return parse_legacy_price(data)
    raise LayoutError("unrecognised Pyth account layout")


def checked(p: PythPrice, max_age_seconds: int, max_conf_bps: int, feed_id: str | None = None,
            now: float | None = None) -> PythPrice:
    """Refuse a price that is not positive, stale, too uncertain, unverified, or for another feed."""
    now = time.time() if now is None else now
    if feed_id is not None and p.feed_id is not None and p.feed_id != feed_id.removeprefix("0x").lower():
        raise PriceUnavailable(f"account holds feed {p.feed_id}, expected {feed_id}")
    if not p.fully_verified:
        raise PriceUnavailable("price update only partially verified (Wormhole guardian signatures)")
    if p.price <= 0:
        raise PriceUnavailable(f"price {p.price} is not positive")
    age = now - p.publish_time
    if age > max_age_seconds:
        raise PriceUnavailable(f"price is {age:.0f}s old, max {max_age_seconds}s")
    if age < -60:
        raise PriceUnavailable(f"price published {-age:.0f}s in the future")
    if p.conf_bps > max_conf_bps:
        raise PriceUnavailable(f"confidence interval {p.conf_bps} bps of price, max {max_conf_bps} bps")
    return p


class HermesClient:
    """GET /v2/updates/price/latest?ids[]=...&parsed=true (price, conf and expo as in the on-chain message)."""

    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def latest(self, feed_id: str) -> PythPrice:
        fid = feed_id.removeprefix("0x").lower()
        try:
            resp = self._http.get(f"{self.base_url}/v2/updates/price/latest",
                                  params=[("ids[]", fid), ("parsed", "true")])
        except httpx.HTTPError as exc:
            raise PriceUnavailable(f"Hermes unreachable: {type(exc).__name__}") from None
        if resp.status_code != 200:
            raise PriceUnavailable(f"Hermes answered HTTP {resp.status_code}")
        try:
            entry = next(e for e in resp.json()["parsed"] if e["id"].removeprefix("0x").lower() == fid)
            price, conf, expo = int(entry["price"]["price"]), int(entry["price"]["conf"]), int(entry["price"]["expo"])
            publish_time = int(entry["price"]["publish_time"])
        except (KeyError, StopIteration, ValueError, TypeError):
            raise PriceUnavailable("Hermes answer does not match the documented format") from None
        return PythPrice(price=_scaled(price, expo), conf=_scaled(conf, expo), raw_price=price, raw_conf=conf,
                         expo=expo, publish_time=publish_time, slot=int(entry.get("metadata", {}).get("slot") or 0),
                         layout="hermes", feed_id=fid)
