"""A local stand-in for Jupiter's swap API (GET /quote, POST /swap), in Jupiter's documented JSON wire format.

The swap TRANSACTION is a STAND-IN, not Jupiter's: no AMM program exists offline
(LiteSVM ships only the SPL programs), so the route is a constant-product pool
whose reserves are token accounts of a pool keypair this server holds. The
transaction it returns pays the input token into the pool's account and takes
the output token from the pool's account as a delegate the pool approved for
exactly the quoted amount (so the user's wallet stays the only signer), plus a
memo saying it is a stand-in. Native SOL is wrapped and unwrapped around it as
Jupiter does with `wrapAndUnwrapSol`. The client, the quote checks, the
decode-and-check of the transaction and its execution on the real SVM are the
same code that runs against the real Jupiter.

swapMode=ExactOut is answered as Jupiter does (amount is the output; inAmount what the route needs,
otherAmountThreshold the most it may take); its transaction pays inAmount and delivers exactly outAmount.

With `lookup_tables` on, the transaction ships its pool accounts, mints and the user's output account
through two address lookup tables made by the real lookup-table program, as Jupiter ships its routes.

`mode` selects a malicious variant for tests of the executor's refusals:
  honest | extra_program | output_elsewhere | foreign_fee_payer | extra_signer | inflated_slippage |
  high_impact | drain_other_token | approve_attacker | short_output | lie_threshold
"""
from __future__ import annotations

import base64
import struct
from decimal import Decimal

from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from spl.token.instructions import (approve_checked, close_account, create_idempotent_associated_token_account,
                                    get_associated_token_address, sync_native, transfer_checked)
from spl.token.models import ApproveCheckedParams, CloseAccountParams, SyncNativeParams, TransferCheckedParams

from defai_swarm.tools.devnet.solana.accounts import create_lookup_table, send_direct
from defai_swarm.tools.devnet.solana.http import LocalHttpServer
from defai_swarm.tools.devnet.solana.litesvm_rpc import LocalSolanaRpc
from defai_swarm.tools.solana.programs import COMPUTE_BUDGET_PROGRAM, MEMO_PROGRAM, NATIVE_MINT
from defai_swarm.tools.solana.token_layout import parse_token_account

STAND_IN_MEMO = b"jupiter stand-in swap (local test pool, not Jupiter's program)"
ROUTE_LABEL = "LocalStandInPool"

MintSpec = tuple[Pubkey, int, Pubkey]  # (mint, decimals, token program)


class JupiterStandIn(LocalHttpServer):
    """Jupiter /quote and /swap over LiteSVM state, with a constant-product pool held by `pool`.

    `mints` maps mint (base58) -> (mint, decimals, token program); the pool must hold each
    one's associated token account (wrapped SOL for the native mint).
    """

    FEE_BPS = 30

    def __init__(self, rpc: LocalSolanaRpc, pool: Keypair, mints: dict[str, MintSpec], fee_bps: int | None = None,
                 lookup_tables: bool = False, **kw):
        super().__init__(**kw)
        self.rpc, self.pool, self.mints = rpc, pool, mints
        self.fee_bps = self.FEE_BPS if fee_bps is None else fee_bps
        self.lookup_tables = lookup_tables
        self.mode = "honest"
        self.attacker = Keypair()
        self.record_requests = True
        self.requests: list[tuple[str, dict]] = []

    def __repr__(self) -> str:
        return f"JupiterStandIn({self.url}, pool={self.pool.pubkey()})"

    def _record(self, kind: str, payload: dict) -> None:
        if self.record_requests:
            self.requests.append((kind, payload))

    def reserve(self, mint: str) -> int:
        mint_pk, _, program = self.mints[mint]
        acc = self.rpc.svm.get_account(get_associated_token_address(self.pool.pubkey(), mint_pk, program))
        return parse_token_account("pool", acc.owner, bytes(acc.data)).amount if acc else 0

    def quote(self, input_mint: str, output_mint: str, amount: int, slippage_bps: int) -> dict:
        r_in, r_out = self.reserve(input_mint), self.reserve(output_mint)
        in_after_fee = amount * (10_000 - self.fee_bps) // 10_000
        out = r_out * in_after_fee // (r_in + in_after_fee) if r_in + in_after_fee else 0
        spot_out = Decimal(r_out) * in_after_fee / r_in if r_in else Decimal(0)
        impact = (spot_out - out) / spot_out if spot_out else Decimal(1)
        if self.mode == "high_impact":
            impact = Decimal("0.2")
        if self.mode == "inflated_slippage":
            slippage_bps = 5_000
        threshold = out * (10_000 - slippage_bps) // 10_000
        if self.mode == "lie_threshold":
            threshold = out // 2
        return {"inputMint": input_mint, "inAmount": str(amount), "outputMint": output_mint, "outAmount": str(out),
                "otherAmountThreshold": str(threshold), "swapMode": "ExactIn", "slippageBps": slippage_bps,
                "platformFee": None, "priceImpactPct": format(impact, "f"),
                "routePlan": [{"swapInfo": {"ammKey": str(self.pool.pubkey()), "label": ROUTE_LABEL,
                                            "inputMint": input_mint, "outputMint": output_mint,
                                            "inAmount": str(amount), "outAmount": str(out),
                                            "feeAmount": str(amount - in_after_fee), "feeMint": input_mint},
                               "percent": 100, "bps": 10_000}],
                "contextSlot": self.rpc.slot, "timeTaken": 0.001}

    def quote_exact_out(self, input_mint: str, output_mint: str, amount_out: int, slippage_bps: int) -> dict | None:
        """swapMode=ExactOut as Jupiter answers it: inAmount is what the pool needs (fee included, rounded up)
        for exactly `amount_out`; otherAmountThreshold is the most the swap may take (inAmount plus slippage).
        None when the pool cannot give that much."""
        r_in, r_out = self.reserve(input_mint), self.reserve(output_mint)
        if not 0 < amount_out < r_out or r_in == 0:
            return None
        after_fee = -(-r_in * amount_out // (r_out - amount_out))  # ceil: the pool gives at least amount_out
        amount_in = -(-after_fee * 10_000 // (10_000 - self.fee_bps))
        spot_in = Decimal(r_in) * amount_out / r_out
        impact = (after_fee - spot_in) / after_fee if after_fee else Decimal(1)
        if self.mode == "high_impact":
            impact = Decimal("0.2")
        if self.mode == "inflated_slippage":
            slippage_bps = 5_000
        threshold = amount_in * (10_000 + slippage_bps) // 10_000
        if self.mode == "lie_threshold":
            threshold = amount_in * 2
        return {"inputMint": input_mint, "inAmount": str(amount_in), "outputMint": output_mint,
                "outAmount": str(amount_out), "otherAmountThreshold": str(threshold), "swapMode": "ExactOut",
                "slippageBps": slippage_bps, "platformFee": None, "priceImpactPct": format(impact, "f"),
                "routePlan": [{"swapInfo": {"ammKey": str(self.pool.pubkey()), "label": ROUTE_LABEL,
                                            "inputMint": input_mint, "outputMint": output_mint,
                                            "inAmount": str(amount_in), "outAmount": str(amount_out),
                                            "feeAmount": str(amount_in - after_fee), "feeMint": input_mint},
                               "percent": 100, "bps": 10_000}],
                "contextSlot": self.rpc.slot, "timeTaken": 0.001}

    def handle_get(self, path, query):
        if path.rstrip("/").endswith("/quote"):
            q = {k: v[0] for k, v in query.items()}
            self._record("quote", q)
            try:
                amount, slippage = int(q["amount"]), int(q.get("slippageBps", 50))
                mode = q.get("swapMode", "ExactIn")
                if amount <= 0 or not 0 <= slippage <= 10_000 or mode not in ("ExactIn", "ExactOut"):
                    raise ValueError
                if q["inputMint"] not in self.mints or q["outputMint"] not in self.mints \
                        or q["inputMint"] == q["outputMint"]:
                    return 400, {"error": "Could not find any route", "errorCode": "COULD_NOT_FIND_ANY_ROUTE"}
            except (KeyError, ValueError):
                return 400, {"error": "invalid query"}
            with self.rpc.lock:
                if mode == "ExactOut":
                    answer = self.quote_exact_out(q["inputMint"], q["outputMint"], amount, slippage)
                    if answer is None:
                        return 400, {"error": "Could not find any route", "errorCode": "COULD_NOT_FIND_ANY_ROUTE"}
                    return 200, answer
                return 200, self.quote(q["inputMint"], q["outputMint"], amount, slippage)
        return super().handle_get(path, query)

    def handle_post(self, path, body):
        if path.rstrip("/").endswith("/swap"):
            self._record("swap", body)
            try:
                quote = body["quoteResponse"]
                Pubkey.from_string(body["userPublicKey"])
                if quote["inputMint"] not in self.mints or quote["outputMint"] not in self.mints:
                    return 400, {"error": "quote names a mint this pool does not trade"}
                int(quote["inAmount"])
                int(quote["outAmount"])
            except (KeyError, TypeError, ValueError):
                return 400, {"error": "invalid swap request"}
            with self.rpc.lock:
                return 200, self.swap(body)
        return super().handle_post(path, body)

    def swap(self, body: dict) -> dict:
        """The /swap answer for a validated request body (quoteResponse, userPublicKey)."""
        quote, user = body["quoteResponse"], Pubkey.from_string(body["userPublicKey"])
        in_mint, in_dec, in_prog = self.mints[quote["inputMint"]]
        out_mint, out_dec, out_prog = self.mints[quote["outputMint"]]
        amount_in, amount_out = int(quote["inAmount"]), int(quote["outAmount"])
        pool = self.pool.pubkey()
        pool_in = get_associated_token_address(pool, in_mint, in_prog)
        pool_out = get_associated_token_address(pool, out_mint, out_prog)
        recipient = self.attacker.pubkey() if self.mode == "output_elsewhere" else user
        user_in = get_associated_token_address(user, in_mint, in_prog)
        user_out = get_associated_token_address(recipient, out_mint, out_prog)
        delivered = amount_out // 2 if self.mode == "short_output" else amount_out
        # The pool authorises exactly this delivery: our wallet becomes delegate of the pool's output account.
        send_direct(self.rpc.svm, self.pool, [approve_checked(ApproveCheckedParams(
            program_id=out_prog, source=pool_out, mint=out_mint, delegate=user, owner=pool, amount=delivered,
            decimals=out_dec))])
        payer = self.attacker.pubkey() if self.mode == "foreign_fee_payer" else user
        ixs = [Instruction(COMPUTE_BUDGET_PROGRAM, bytes([2]) + struct.pack("<I", 200_000), []),
               Instruction(COMPUTE_BUDGET_PROGRAM, bytes([3]) + struct.pack("<Q", 1_000), []),
               create_idempotent_associated_token_account(payer, recipient, out_mint, out_prog)]
        if in_mint == NATIVE_MINT:  # wrapAndUnwrapSol: wrap exactly the input
            ixs += [create_idempotent_associated_token_account(payer, user, in_mint, in_prog),
                    transfer(TransferParams(from_pubkey=user, to_pubkey=user_in, lamports=amount_in)),
                    sync_native(SyncNativeParams(program_id=in_prog, account=user_in))]
        ixs += [transfer_checked(TransferCheckedParams(program_id=in_prog, source=user_in, mint=in_mint, dest=pool_in,
                                                       owner=user, amount=amount_in, decimals=in_dec)),
                transfer_checked(TransferCheckedParams(program_id=out_prog, source=pool_out, mint=out_mint,
                                                       dest=user_out, owner=user, amount=delivered, decimals=out_dec))]
        if in_mint == NATIVE_MINT:
            ixs.append(close_account(CloseAccountParams(program_id=in_prog, account=user_in, dest=user, owner=user)))
        if out_mint == NATIVE_MINT and recipient == user:  # unwrap: the wrapped SOL account's lamports come home
            ixs.append(close_account(CloseAccountParams(program_id=out_prog, account=user_out, dest=user, owner=user)))
        ixs.append(Instruction(MEMO_PROGRAM, STAND_IN_MEMO, [AccountMeta(user, True, False)]))
        if self.mode == "extra_program":
            ixs.append(Instruction(Keypair().pubkey(), b"\x00", [AccountMeta(user, True, True)]))
        if self.mode == "extra_signer":
            ixs.append(Instruction(MEMO_PROGRAM, b"co-sign", [AccountMeta(self.attacker.pubkey(), True, False)]))
        if self.mode in ("drain_other_token", "approve_attacker"):
            other = next(m for k, m in self.mints.items() if k not in (quote["inputMint"], quote["outputMint"]))
            mint, dec, prog = other
            source = get_associated_token_address(user, mint, prog)
            if self.mode == "drain_other_token":
                ixs.append(transfer_checked(TransferCheckedParams(
                    program_id=prog, source=source, mint=mint, dest=pool_in if mint == in_mint else
                    get_associated_token_address(pool, mint, prog), owner=user, amount=1, decimals=dec)))
            else:
                ixs.append(approve_checked(ApproveCheckedParams(program_id=prog, source=source, mint=mint,
                                                                delegate=self.attacker.pubkey(), owner=user,
                                                                amount=2**64 - 1, decimals=dec)))
        tables = []
        if self.lookup_tables:  # the pool's accounts, both mints and the user's output account come from two tables
            tables = [create_lookup_table(self.rpc.svm, self.pool, [pool_in, user_out, in_mint]),
                      create_lookup_table(self.rpc.svm, self.pool, [pool_out, out_mint])]
            self.rpc.advance(len(tables))  # the VM's clock moved on a slot per table: keep the RPC's slot with it
        blockhash, last_valid = self.rpc.rpc_getLatestBlockhash()["value"].values()
        message = MessageV0.try_compile(payer, ixs, tables, Hash.from_string(blockhash))
        n_signers = message.header.num_required_signatures
        tx = VersionedTransaction.populate(message, [Signature.default()] * n_signers)
        return {"swapTransaction": base64.b64encode(bytes(tx)).decode(), "lastValidBlockHeight": last_valid,
                "prioritizationFeeLamports": 200, "computeUnitLimit": 200_000, "dynamicSlippageReport": None,
                "simulationError": None}
