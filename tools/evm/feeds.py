"""Chainlink-style price feeds (AggregatorV3 latestRoundData) with staleness checks."""
from __future__ import annotations

import time
from decimal import Decimal

from pydantic import BaseModel
from web3 import Web3

from defai_swarm.tools.evm.abi import abi
from defai_swarm.tools.evm.config import FeedEntry
from defai_swarm.tools.evm.errors import PriceUnavailable, StalePriceError
from defai_swarm.tools.evm.rpc import ContractAnswerError, answering_as, read_retry


class NotAFeedError(ContractAnswerError, PriceUnavailable):
    """A configured feed address did not answer like a Chainlink AggregatorV3 feed."""


class FeedPrice(BaseModel):
    pair: str
    price: Decimal
    round_id: int
    updated_at: int
    block_number: int
    age_seconds: int


@read_retry
def _latest_round(w3: Web3, feed: FeedEntry) -> tuple[tuple, int, int]:
    block = w3.eth.get_block("latest")
    # web3 types every block field as optional, but a mined block always has its number and timestamp
    number, timestamp = block["number"], block["timestamp"]  # pyright: ignore[reportTypedDictNotRequiredAccess]
    contract = w3.eth.contract(address=Web3.to_checksum_address(feed.address), abi=abi("AggregatorV3"))
    with answering_as(f"{feed.pair} feed at {feed.address} did not answer like a Chainlink AggregatorV3 feed "
                      f"(latestRoundData)", NotAFeedError, f"check the {feed.pair} feed in the chain configuration"):
        return contract.functions.latestRoundData().call(block_identifier=number), number, timestamp


def read_feed(w3: Web3, feed: FeedEntry, max_age_seconds: int = 3600) -> FeedPrice:
    """The feed's answer; refuses a stale, non-positive or incomplete round rather than returning it."""
    answer, block_number, block_ts = _latest_round(w3, feed)
    return checked_feed_price(feed, answer, block_number, block_ts, max_age_seconds)


LATEST_ROUND_SIGNATURE = "latestRoundData()"
LATEST_ROUND_TYPES = ("uint80", "int256", "uint256", "uint256", "uint80")


def not_a_feed(feed: FeedEntry, why: str) -> NotAFeedError:
    return NotAFeedError(f"{feed.pair} feed at {feed.address} did not answer like a Chainlink AggregatorV3 feed "
                         f"(latestRoundData): {why}; check the {feed.pair} feed in the chain configuration")


def checked_feed_price(feed: FeedEntry, latest_round: tuple, block_number: int, block_ts: int,
                       max_age_seconds: int = 3600) -> FeedPrice:
    """A latestRoundData answer (read alone or in a batch) checked: positive, complete and fresh."""
    round_id, answer, _started, updated_at, answered_in = latest_round
    now = max(block_ts, int(time.time()))
    age = now - updated_at
    if answer <= 0:
        raise StalePriceError(f"{feed.pair} feed answered a non-positive price ({answer})")
    if answered_in < round_id or updated_at == 0:
        raise StalePriceError(f"{feed.pair} feed round {round_id} is incomplete")
    if age > max_age_seconds:
        raise StalePriceError(f"{feed.pair} feed is stale: updated {age}s ago, allowed {max_age_seconds}s")
    return FeedPrice(pair=feed.pair, price=Decimal(answer).scaleb(-feed.decimals), round_id=round_id,
                     updated_at=updated_at, block_number=block_number, age_seconds=age)
