"""ERC20 reads and exact approvals (never unlimited)."""
from __future__ import annotations

from eth_abi.abi import encode
from web3 import Web3
from web3.types import BlockIdentifier

from defai_swarm.tools.evm.abi import abi
from defai_swarm.tools.evm.errors import AmountError
from defai_swarm.tools.evm.rpc import ContractAnswerError, answering_as, read_retry
from defai_swarm.tools.evm.tokens import Token
from defai_swarm.tools.evm.tx import TxRequest

UNLIMITED_THRESHOLD = 2**255  # anything this large is an "infinite" approval
APPROVE = bytes.fromhex("095ea7b3")  # approve(address,uint256)


class NotATokenError(ContractAnswerError):
    """A configured token address did not answer like an ERC-20 token."""


def _as_token(token: Token, function: str):
    return answering_as(f"token {token.symbol} at {token.address} did not answer like an ERC-20 token ({function})",
                        NotATokenError, f"check the {token.symbol} address in the chain configuration")


def _erc20(w3: Web3, token: Token):
    return w3.eth.contract(address=Web3.to_checksum_address(token.address), abi=abi("ERC20"))


@read_retry
def balance_of(w3: Web3, token: Token, owner: str, block: BlockIdentifier = "latest") -> int:
    if token.is_native:
        return w3.eth.get_balance(Web3.to_checksum_address(owner), block_identifier=block)
    with _as_token(token, "balanceOf"):
        return _erc20(w3, token).functions.balanceOf(Web3.to_checksum_address(owner)).call(block_identifier=block)


@read_retry
def allowance(w3: Web3, token: Token, owner: str, spender: str) -> int:
    with _as_token(token, "allowance"):
        return _erc20(w3, token).functions.allowance(Web3.to_checksum_address(owner),
                                                     Web3.to_checksum_address(spender)).call()


def approve_tx(w3: Web3, token: Token, spender: str, amount: int) -> TxRequest:
    """An approve for exactly `amount`; unlimited or non-positive approvals are refused."""
    if token.is_native:
        raise AmountError("the native coin needs no approval")
    if amount <= 0 or amount >= UNLIMITED_THRESHOLD:
        raise AmountError(f"approval must be an exact positive amount, got {amount}")
    data = APPROVE + encode(["address", "uint256"], [Web3.to_checksum_address(spender), amount])
    return TxRequest(to=token.address, data="0x" + data.hex(), label=f"approve {token.symbol}")
