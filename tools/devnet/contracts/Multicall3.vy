# pragma version ^0.4.1
"""
@title Multicall3-compatible batch reader (devnet only)
@notice The read subset of Multicall3 (aggregate3, getEthBalance, getBlockNumber,
        getCurrentBlockTimestamp, getBasefee, getChainId) with the same function
        signatures, so the client that batches reads through it works unchanged
        against the real Multicall3 at 0xcA11bde05977b3631167028862bE2a173976CA11
        on public chains. The devnet installs this runtime code at that address.
        Bounded: at most 32 calls, 1024 bytes of calldata and of answer per call.
"""

MAX_CALLS: constant(uint256) = 32
MAX_DATA: constant(uint256) = 1024


struct Call3:
    target: address
    allowFailure: bool
    callData: Bytes[MAX_DATA]


struct Result:
    success: bool
    returnData: Bytes[MAX_DATA]


@external
def aggregate3(calls: DynArray[Call3, MAX_CALLS]) -> DynArray[Result, MAX_CALLS]:
    results: DynArray[Result, MAX_CALLS] = []
    for c: Call3 in calls:
        success: bool = False
        data: Bytes[MAX_DATA] = b""
        success, data = raw_call(c.target, c.callData, max_outsize=MAX_DATA, is_static_call=True,
                                 revert_on_failure=False)
        assert success or c.allowFailure, "Multicall3: call failed"
        results.append(Result(success=success, returnData=data))
    return results


@view
@external
def getEthBalance(addr: address) -> uint256:
    return addr.balance


@view
@external
def getBlockNumber() -> uint256:
    return block.number


@view
@external
def getCurrentBlockTimestamp() -> uint256:
    return block.timestamp


@view
@external
def getBasefee() -> uint256:
    return block.basefee


@view
@external
def getChainId() -> uint256:
    return chain.id
