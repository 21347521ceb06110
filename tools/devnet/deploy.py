"""Deploy the devnet world: Uniswap V2 (official builds), test tokens, pools at known prices, price feeds.

Uses anvil's unlocked dev accounts (eth_sendTransaction), which is fine for
setting up a devnet and never used by the agents themselves.
"""
from __future__ import annotations

from decimal import Decimal

from eth_typing import ChecksumAddress
from web3 import Web3

from defai_swarm.tools.devnet.contracts import abi, artifact
from defai_swarm.tools.devnet.manifest import DevnetManifest, FeedEntry, PairEntry, TokenEntry

FEED_DECIMALS = 8
USD_PRICES = {"ETH": Decimal(3000), "USDC": Decimal(1), "DAI": Decimal(1), "FOT": Decimal(1), "HONEY": Decimal(1)}
# Pools: (symbol a, amount a, symbol b, amount b) in whole tokens, priced as USD_PRICES.
POOLS = [
    ("WETH", 1000, "USDC", 3_000_000),
    ("WETH", 1000, "DAI", 3_000_000),
    ("USDC", 1_000_000, "DAI", 1_000_000),
    ("WETH", 100, "FOT", 303_031),  # 1% burn on transfer leaves ~300,000 in the pool
    ("WETH", 100, "HONEY", 300_000),
]
# What each funded (non-deployer) account receives, in whole tokens.
FUNDING = {"USDC": 100_000, "DAI": 100_000, "FOT": 10_000}
MAX_UINT = 2**256 - 1


class Deployer:
    def __init__(self, w3: Web3, account: str):
        self.w3 = w3
        self.account = account

    def deploy(self, name: str, *args) -> ChecksumAddress:
        art = artifact(name)
        factory = self.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        receipt = self._wait(factory.constructor(*args).transact({"from": self.account}))
        address = receipt["contractAddress"]
        if address is None:
            raise RuntimeError(f"devnet deployment of {name} created no contract")
        return address

    def call(self, fn, value: int = 0):
        return self._wait(fn.transact({"from": self.account, "value": value}))

    def _wait(self, tx_hash):
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
        if receipt["status"] != 1:
            raise RuntimeError(f"devnet deployment transaction {tx_hash.hex()} reverted")
        return receipt


def deploy_world(w3: Web3, rpc_url: str, funded: int = 3) -> DevnetManifest:
    """Deploy everything on a fresh anvil; account 0 deploys, accounts 1..funded get tokens."""
    accounts = w3.eth.accounts
    d = Deployer(w3, accounts[0])
    weth = d.deploy("WETH9")
    factory = d.deploy("UniswapV2Factory", accounts[0])
    router = d.deploy("UniswapV2Router02", factory, weth)

    big = 10**30  # comfortably more than any pool or funding needs
    tokens = {
        "ETH": TokenEntry(symbol="ETH", address="0x" + "ee" * 20, decimals=18, kind="native"),
        "WETH": TokenEntry(symbol="WETH", address=weth, decimals=18, kind="wrapped_native"),
        "USDC": TokenEntry(symbol="USDC", address=d.deploy("TestToken", "USD Coin (devnet)", "USDC", 6), decimals=6),
        "DAI": TokenEntry(symbol="DAI", address=d.deploy("TestToken", "Dai Stablecoin (devnet)", "DAI", 18), decimals=18),
        "FOT": TokenEntry(symbol="FOT", address=d.deploy("DeflatingERC20", big), decimals=18, kind="fee_on_transfer"),
        "HONEY": TokenEntry(symbol="HONEY", address=d.deploy("HoneypotToken", "Honey (devnet honeypot)", "HONEY", big),
                            decimals=18, kind="honeypot"),
    }
    contract = {s: w3.eth.contract(address=Web3.to_checksum_address(t.address), abi=abi("HoneypotToken" if s == "HONEY" else "TestToken"))
                for s, t in tokens.items() if s not in ("ETH", "WETH")}
    for sym in ("USDC", "DAI"):
        d.call(contract[sym].functions.mint(accounts[0], big))

    router_c = w3.eth.contract(address=router, abi=abi("UniswapV2Router02"))
    factory_c = w3.eth.contract(address=factory, abi=abi("UniswapV2Factory"))
    # web3 types every block field as optional, but a mined block always has its timestamp and hash
    deadline = w3.eth.get_block("latest")["timestamp"] + 3600  # pyright: ignore[reportTypedDictNotRequiredAccess]
    pairs = []
    for sym_a, amt_a, sym_b, amt_b in POOLS:
        a, b = tokens[sym_a], tokens[sym_b]
        raw_b = amt_b * 10**b.decimals
        d.call(contract[sym_b].functions.approve(router, raw_b))
        if sym_a == "WETH":
            d.call(router_c.functions.addLiquidityETH(b.address, raw_b, raw_b * 9 // 10, 0, accounts[0], deadline),
                   value=amt_a * 10**18)
        else:
            raw_a = amt_a * 10**a.decimals
            d.call(contract[sym_a].functions.approve(router, raw_a))
            d.call(router_c.functions.addLiquidity(a.address, b.address, raw_a, raw_b, raw_a, raw_b, accounts[0], deadline))
        pair = factory_c.functions.getPair(a.address, b.address).call()
        pair_c = w3.eth.contract(address=pair, abi=abi("UniswapV2Pair"))
        t0, t1 = pair_c.functions.token0().call(), pair_c.functions.token1().call()
        syms = (sym_a, sym_b) if t0.lower() == a.address.lower() else (sym_b, sym_a)
        pairs.append(PairEntry(address=pair, token0=t0, token1=t1, symbols=syms))
        if sym_b == "HONEY":
            d.call(contract["HONEY"].functions.set_trap(pair))

    feeds = {}
    for sym, usd in USD_PRICES.items():
        name = f"{sym}/USD"
        address = d.deploy("PriceFeed", FEED_DECIMALS, name, int(usd * 10**FEED_DECIMALS))
        feeds[name] = FeedEntry(pair=name, address=address, decimals=FEED_DECIMALS)

    funded_accounts: list[str] = list(accounts[1:1 + funded])
    for acct in funded_accounts:
        for sym, whole in FUNDING.items():
            d.call(contract[sym].functions.transfer(acct, whole * 10**tokens[sym].decimals))

    from defai_swarm.tools.devnet.multicall import install_multicall  # batched reads at Multicall3's address (defai_swarm.tools.evm.multicall)
    install_multicall(w3, accounts[0])
    genesis_hash = w3.eth.get_block(0)["hash"].to_0x_hex()  # pyright: ignore[reportTypedDictNotRequiredAccess]
    return DevnetManifest(
        chain_id=w3.eth.chain_id, rpc_url=rpc_url, genesis_hash=genesis_hash, deployer=accounts[0], funded_accounts=funded_accounts,
        weth=weth, factory=factory, router=router, tokens=tokens, pairs=pairs, feeds=feeds,
    )
