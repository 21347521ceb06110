"""What the local Solana devnet holds: a funded user wallet, USDC-like and Token-2022 `FEE` mints, a deep
stand-in pool for the Jupiter stand-in, and Pyth price accounts kept fresh by `publish`.

Prices: SOL = 150 USD, USDC = 1 USD, USDT = 1 USD and FEE = 1 USD (pool only; no Pyth feed). USDT's
pool gives USDC a DEX price (Jupiter USDC/USDT) next to Pyth: two independent source families, which the
risk policy requires of every price it uses.
USDC's mint authority is revoked after funding and it has no freeze authority, so
the risk rules on mint authorities pass; FEE carries a 1 % transfer fee, which the
risk checker must refuse. The pool is deep enough that 1 SOL quotes about 150 USDC
with a price impact around 0.001 %. Pyth accounts are written in the PriceUpdateV2
layout under the real Pyth receiver program id (the owner the library trusts),
because no Pyth program runs offline to post them.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from decimal import Decimal

from solders.account import Account
from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from spl.token.instructions import get_associated_token_address

from defai_swarm.tools.devnet.solana.accounts import (create_mint, ext_transfer_fee, fund_tokens, put_account,
                                          pyth_price_update_v2, revoke_mint_authority, wrap_sol)
from defai_swarm.tools.solana.prices import PythFeed
from defai_swarm.tools.solana.programs import NATIVE_MINT, PYTH_RECEIVER_PROGRAM, TOKEN_2022_PROGRAM, TOKEN_PROGRAM
from defai_swarm.tools.solana.tokens import SOL, SolanaToken

LAMPORTS = 10**9
PRICE_EXPO = -8
# Pyth's published feed ids for SOL/USD and USDC/USD: the same ids a reader uses against the real Hermes.
SOL_USD_FEED_ID = "ef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d"
USDC_USD_FEED_ID = "eaa020c61cc479712813461ce153894a96a6c00b21ed0cfc2798d1f9a9e9c94a"


@dataclass(frozen=True)
class FeedSpec:
    symbol: str
    feed_id: str
    price: Decimal
    conf: Decimal


FEEDS = (FeedSpec("SOL", SOL_USD_FEED_ID, Decimal("150"), Decimal("0.05")),
         FeedSpec("USDC", USDC_USD_FEED_ID, Decimal("1"), Decimal("0.0005")))
WALLET_SOL, WALLET_USDC, WALLET_FEE = 100, 1_000, 1_000
POOL_SOL, POOL_USDC, POOL_FEE = 100_000, 15_000_000, 1_000_000  # SOL at 150 USDC, FEE at 1 USDC
POOL_USDT = 15_000_000  # USDT at 1 USDC
FEE_TRANSFER_BPS = 100


def _raw(value: Decimal) -> int:
    return int(value.scaleb(-PRICE_EXPO))


@dataclass
class DevnetWorld:
    """LiteSVM state of one devnet instance. Keypairs here are devnet-only and never leave the process."""

    svm: LiteSVM
    wallet: Pubkey
    genesis_hash: str
    issuer: Keypair = field(repr=False)
    pool: Keypair = field(repr=False)
    usdc: SolanaToken
    usdt: SolanaToken
    fee: SolanaToken
    price_accounts: dict[str, Pubkey]
    pyth_authority: Pubkey
    # USD price of every token the devnet prices (Pyth feeds and the stand-in pool): `swarm devnet set-price` moves them
    prices: dict[str, Decimal] = field(default_factory=lambda: {"SOL": Decimal(150), "USDC": Decimal(1),
                                                                  "USDT": Decimal(1), "FEE": Decimal(1)})

    @classmethod
    def build(cls, wallet: Pubkey, svm: LiteSVM | None = None) -> "DevnetWorld":
        svm = svm or LiteSVM()
        # A genesis hash unique to this instance: a restarted devnet is a different chain (old anchors are gone).
        genesis = str(Hash(hashlib.sha256(bytes(svm.latest_blockhash()) + os.urandom(32)).digest()))
        issuer, pool = Keypair(), Keypair()
        svm.airdrop(issuer.pubkey(), 100 * LAMPORTS)
        svm.airdrop(pool.pubkey(), (POOL_SOL + 10) * LAMPORTS)
        svm.airdrop(wallet, WALLET_SOL * LAMPORTS)
        usdc_mint = create_mint(svm, issuer, 6, TOKEN_PROGRAM)
        fund_tokens(svm, issuer, usdc_mint, pool.pubkey(), POOL_USDC * 10**6, 6)
        fund_tokens(svm, issuer, usdc_mint, wallet, WALLET_USDC * 10**6, 6)
        revoke_mint_authority(svm, issuer, usdc_mint)
        usdt_mint = create_mint(svm, issuer, 6, TOKEN_PROGRAM)
        fund_tokens(svm, issuer, usdt_mint, pool.pubkey(), POOL_USDT * 10**6, 6)
        revoke_mint_authority(svm, issuer, usdt_mint)
        fee_mint = create_mint(svm, issuer, 6, TOKEN_2022_PROGRAM,
                               extensions=[lambda m: ext_transfer_fee(m, issuer.pubkey(), FEE_TRANSFER_BPS, 10**12)])
        fund_tokens(svm, issuer, fee_mint, pool.pubkey(), POOL_FEE * 10**6, 6, TOKEN_2022_PROGRAM)
        fund_tokens(svm, issuer, fee_mint, wallet, WALLET_FEE * 10**6, 6, TOKEN_2022_PROGRAM)
        revoke_mint_authority(svm, issuer, fee_mint, TOKEN_2022_PROGRAM)
        wrap_sol(svm, pool, POOL_SOL * LAMPORTS)
        world = cls(svm=svm, wallet=wallet, genesis_hash=genesis, issuer=issuer, pool=pool,
                    usdc=SolanaToken(symbol="USDC", mint=str(usdc_mint), decimals=6),
                    usdt=SolanaToken(symbol="USDT", mint=str(usdt_mint), decimals=6),
                    fee=SolanaToken(symbol="FEE", mint=str(fee_mint), decimals=6, program=str(TOKEN_2022_PROGRAM)),
                    price_accounts={f.symbol: Keypair().pubkey() for f in FEEDS}, pyth_authority=Keypair().pubkey())
        return world

    @property
    def tokens(self) -> list[SolanaToken]:
        return [SOL, self.usdc, self.usdt, self.fee]

    @property
    def pyth_feeds(self) -> dict[str, PythFeed]:
        return {f.symbol: PythFeed(account=str(self.price_accounts[f.symbol]), feed_id=f.feed_id) for f in FEEDS}

    def jupiter_mints(self) -> dict[str, tuple[Pubkey, int, Pubkey]]:
        """What the Jupiter stand-in trades: mint -> (mint, decimals, token program)."""
        return {str(NATIVE_MINT): (NATIVE_MINT, 9, TOKEN_PROGRAM),
                **{t.mint: (t.mint_pubkey, t.decimals, t.program_pubkey) for t in (self.usdc, self.usdt, self.fee)}}

    def publish_prices(self, now: int, slot: int) -> list[tuple[str, int, int, int, int]]:
        """Re-write every Pyth account with publish time `now`; returns (feed_id, price, conf, expo, time) to mirror."""
        out = []
        for f in FEEDS:
            price, conf = _raw(self.prices.get(f.symbol, f.price)), _raw(f.conf)
            data = pyth_price_update_v2(bytes.fromhex(f.feed_id), price, conf, PRICE_EXPO, now, posted_slot=slot,
                                        write_authority=self.pyth_authority)
            put_account(self.svm, self.price_accounts[f.symbol], PYTH_RECEIVER_PROGRAM, data)
            out.append((f.feed_id, price, conf, PRICE_EXPO, now))
        return out

    # ---- devnet levers (`swarm devnet set-price|align --chain solana`) ------------------------------------
    def _pool_mints(self) -> dict[str, tuple[Pubkey, int, Pubkey]]:
        return {"SOL": (NATIVE_MINT, 9, TOKEN_PROGRAM),
                **{t.symbol: (t.mint_pubkey, t.decimals, t.program_pubkey) for t in (self.usdc, self.usdt, self.fee)}}

    def pool_reserve(self, symbol: str) -> int:
        mint, _, program = self._pool_mints()[symbol]
        account = self.svm.get_account(get_associated_token_address(self.pool.pubkey(), mint, program))
        return int.from_bytes(bytes(account.data)[64:72], "little") if account else 0

    def _set_pool_reserve(self, symbol: str, amount: int) -> None:
        """The stand-in pool's balance of `symbol`, written in place (amount field; a wrapped-SOL account's
        lamports follow it). The stand-in's swap is SPL transfers against these balances, so this is where its
        price lives."""
        mint, _, program = self._pool_mints()[symbol]
        address = get_associated_token_address(self.pool.pubkey(), mint, program)
        account = self.svm.get_account(address)
        if account is None:
            raise ValueError(f"the stand-in pool has no {symbol} account")
        data = bytearray(bytes(account.data))
        old = int.from_bytes(data[64:72], "little")
        data[64:72] = amount.to_bytes(8, "little")
        lamports = account.lamports + (amount - old if mint == NATIVE_MINT else 0)
        self.svm.set_account(address, Account(lamports=lamports, data=bytes(data), owner=account.owner,
                                              executable=False, rent_epoch=account.rent_epoch))

    def align_pool(self) -> list[dict]:
        """Every token's pool reserve set so its price against USDC is the devnet's USD price (USDC's reserve is
        the anchor); returns what moved, in the shape of the EVM levers' PoolMove."""
        usdc = Decimal(self.pool_reserve("USDC")).scaleb(-self.usdc.decimals)
        moves = []
        for symbol, (_, decimals, _) in self._pool_mints().items():
            if symbol == "USDC":
                continue
            before_raw = self.pool_reserve(symbol)
            before = usdc / Decimal(before_raw).scaleb(-decimals) if before_raw else Decimal(0)
            target = self.prices[symbol] / self.prices["USDC"]
            amount = int((usdc / target).scaleb(decimals))
            self._set_pool_reserve(symbol, amount)
            after = usdc / Decimal(amount).scaleb(-decimals)
            moves.append({"pair": f"{symbol}/USDC", "price_before": before, "price_after": after, "target": target,
                          "swapped_in": "" if amount == before_raw else
                          f"pool {symbol} reserve set to {Decimal(amount).scaleb(-decimals):f}"})
        return moves

    def set_price(self, symbol: str, usd: Decimal) -> list[dict]:
        symbol = symbol.upper()
        if symbol not in self.prices:
            raise ValueError(f"the Solana devnet prices {', '.join(sorted(self.prices))}, not {symbol}")
        if not usd.is_finite() or usd <= 0:
            raise ValueError(f"a price must be a positive number (got {usd})")
        self.prices[symbol] = usd
        return self.align_pool()
