"""Jupiter swap API client (GET /quote, POST /swap), wire format as documented for v6 / swap v1.

Amounts travel as decimal strings of base units and are kept as int; the price
impact is a fraction string ("0.0123" = 1.23 %), kept as Decimal. Nothing the
API returns is trusted: the executor checks the quote and decodes the returned
transaction before signing.
"""
from __future__ import annotations

import base64
from decimal import Decimal, InvalidOperation

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel
from solders.transaction import VersionedTransaction

from defai_swarm.tools.solana.errors import JupiterError


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class SwapInfo(_Camel):
    amm_key: str
    label: str | None = None
    input_mint: str
    output_mint: str
    in_amount: int
    out_amount: int
    fee_amount: int | None = None
    fee_mint: str | None = None


class RoutePlanStep(_Camel):
    swap_info: SwapInfo
    percent: int | None = None
    bps: int | None = None


class JupiterQuote(_Camel):
    input_mint: str
    in_amount: int
    output_mint: str
    out_amount: int
    other_amount_threshold: int
    swap_mode: str
    slippage_bps: int = Field(ge=0)
    price_impact_pct: Decimal
    route_plan: list[RoutePlanStep]
    context_slot: int | None = None
    platform_fee: dict | None = None

    @field_validator("price_impact_pct", mode="before")
    @classmethod
    def _decimal(cls, v):
        if isinstance(v, float):
            raise ValueError("price impact must be a decimal string, not a float")
        try:
            return Decimal(str(v))
        except InvalidOperation:
            raise ValueError(f"price impact {v!r} is not a number") from None

    @property
    def price_impact_bps(self) -> int:
        """The fraction in basis points, rounded up (a cap compares against the worse value)."""
        return int((self.price_impact_pct * 10_000).to_integral_value(rounding="ROUND_CEILING"))

    def wire(self) -> dict:
        """The JSON Jupiter expects back in /swap (strings for amounts, as it sent them)."""
        data = self.model_dump(by_alias=True, mode="json")
        for key in ("inAmount", "outAmount", "otherAmountThreshold"):
            data[key] = str(data[key])
        data["priceImpactPct"] = format(self.price_impact_pct, "f")
        for step in data["routePlan"]:
            for key in ("inAmount", "outAmount", "feeAmount"):
                if step["swapInfo"].get(key) is not None:
                    step["swapInfo"][key] = str(step["swapInfo"][key])
        return data


class JupiterSwap(_Camel):
    swap_transaction: str
    last_valid_block_height: int
    prioritization_fee_lamports: int | None = None
    compute_unit_limit: int | None = None
    simulation_error: dict | None = None

    def transaction(self) -> VersionedTransaction:
        try:
            return VersionedTransaction.from_bytes(base64.b64decode(self.swap_transaction, validate=True))
        except Exception:
            raise JupiterError("swapTransaction is not a base64 serialized versioned transaction") from None


class JupiterClient:
    def __init__(self, base_url: str, timeout: float = 10.0, api_key: str | None = None):
        self.base_url = base_url.rstrip("/")
        headers = {"x-api-key": api_key} if api_key else {}
        self._http = httpx.Client(timeout=timeout, headers=headers)

    def __repr__(self) -> str:
        return f"JupiterClient({self.base_url})"

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kw) -> dict:
        try:
            resp = self._http.request(method, f"{self.base_url}{path}", **kw)
        except httpx.HTTPError as exc:
            raise JupiterError(f"Jupiter {path} unreachable: {type(exc).__name__}") from None
        if resp.status_code != 200:
            raise JupiterError(f"Jupiter {path} answered HTTP {resp.status_code}: {resp.text[:200]}")
        try:
            return resp.json()
        except ValueError:
            raise JupiterError(f"Jupiter {path} answered non-JSON") from None

    def quote(self, input_mint: str, output_mint: str, amount: int, slippage_bps: int,
              only_direct_routes: bool = False, swap_mode: str = "ExactIn") -> JupiterQuote:
        """`amount` is the exact input (swapMode ExactIn) or the exact output (ExactOut: inAmount is then what the
        route needs and otherAmountThreshold the most it may take)."""
        if swap_mode not in ("ExactIn", "ExactOut"):
            raise JupiterError(f"swap mode must be ExactIn or ExactOut, got {swap_mode!r}")
        params = {"inputMint": input_mint, "outputMint": output_mint, "amount": str(amount),
                  "slippageBps": str(slippage_bps), "swapMode": swap_mode,
                  "onlyDirectRoutes": str(only_direct_routes).lower()}
        try:
            return JupiterQuote.model_validate(self._call("GET", "/quote", params=params))
        except ValueError as exc:
            raise JupiterError(f"Jupiter quote does not match the documented format: {exc}") from None

    def swap(self, quote: JupiterQuote, user: str, max_priority_fee_lamports: int) -> JupiterSwap:
        body = {"quoteResponse": quote.wire(), "userPublicKey": user, "wrapAndUnwrapSol": True,
                "dynamicComputeUnitLimit": True,
                "prioritizationFeeLamports": {"priorityLevelWithMaxLamports": {
                    "priorityLevel": "medium", "maxLamports": max_priority_fee_lamports}}}
        try:
            return JupiterSwap.model_validate(self._call("POST", "/swap", json=body))
        except ValueError as exc:
            raise JupiterError(f"Jupiter swap does not match the documented format: {exc}") from None
