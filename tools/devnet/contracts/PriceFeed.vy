# pragma version ^0.4.1
"""
@title Chainlink-style price feed (devnet only)
@notice Implements the AggregatorV3Interface read methods the price reader
        uses (decimals, description, latestRoundData). The deployer sets the
        answer, and may backdate it to test staleness handling.
"""

decimals: public(uint8)
description: public(String[64])
version: public(uint256)
owner: public(address)
round_id: uint80
answer: int256
updated_at: uint256


@deploy
def __init__(_decimals: uint8, _description: String[64], _answer: int256):
    self.decimals = _decimals
    self.description = _description
    self.version = 4
    self.owner = msg.sender
    self.round_id = 1
    self.answer = _answer
    self.updated_at = block.timestamp


@external
def set_answer(_answer: int256, _updated_at: uint256):
    """@notice _updated_at == 0 means now."""
    assert msg.sender == self.owner, "only owner"
    self.round_id += 1
    self.answer = _answer
    if _updated_at == 0:
        self.updated_at = block.timestamp
    else:
        self.updated_at = _updated_at


@view
@external
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    return (self.round_id, self.answer, self.updated_at, self.updated_at, self.round_id)
