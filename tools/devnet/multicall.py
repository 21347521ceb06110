"""Multicall3 on the devnet: our Vyper `Multicall3.vy` installed at Multicall3's canonical address.

Public chains have Multicall3 at 0xcA11bde05977b3631167028862bE2a173976CA11; the devnet gets a
compatible contract at the same address (deployed once to get its runtime code, which anvil_setCode
then places there), so `defai_swarm.tools.evm.multicall` batches reads the same way on both.
"""
from __future__ import annotations

from web3 import Web3

from defai_swarm.tools.devnet.contracts import artifact
from defai_swarm.tools.evm.multicall import MULTICALL3_ADDRESS


def install_multicall(w3: Web3, deployer: str) -> str:
    """Deploy Multicall3.vy, copy its runtime code to the canonical address; that address."""
    art = artifact("Multicall3")
    tx = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"]).constructor().transact({"from": deployer})
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    if receipt["status"] != 1 or receipt["contractAddress"] is None:
        raise RuntimeError("devnet deployment of Multicall3 failed")
    code = w3.eth.get_code(receipt["contractAddress"])
    w3.provider.make_request("anvil_setCode", [MULTICALL3_ADDRESS, "0x" + bytes(code).hex()])  # type: ignore[arg-type]
    if bytes(w3.eth.get_code(Web3.to_checksum_address(MULTICALL3_ADDRESS))) != bytes(code):
        raise RuntimeError("anvil_setCode did not install Multicall3 at its canonical address")
    return MULTICALL3_ADDRESS


__all__ = ["install_multicall"]
