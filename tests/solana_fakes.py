"""Local stand-ins for services that cannot be reached here, all bound to 127.0.0.1 and self-stopping.

- LocalSolanaRpc: a Solana JSON-RPC endpoint backed by LiteSVM (the real SVM with
  the real SPL Token, Token-2022, ATA and Memo programs). It implements only the
  methods the library uses, in the documented wire format, plus fault injection
  (lost sends, lost responses, block height racing ahead) to test the sender.
- FakeJupiter: Jupiter's /quote and /swap in their documented JSON format. No AMM
  program exists offline, so its "swap" transaction is a STAND-IN: the user pays
  the input token into a pool wallet's account, and takes the output token from
  the pool's account as a delegate the pool approved for exactly the quoted amount
  (so our wallet stays the only signer), plus a memo. Malicious modes return the
  kinds of transactions and quotes the executor must refuse.
- FakeHermes: Pyth's Hermes /v2/updates/price/latest JSON.
- Helpers that set up LiteSVM state directly (mints with Token-2022 extensions,
  token accounts, Pyth price accounts) for the tests.
"""
from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlparse

from solders.account import Account
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import CreateAccountParams, create_account
from solders.transaction import VersionedTransaction
import solders.transaction_status as ts
from solders.transaction_metadata import FailedTransactionMetadata
from spl.token.instructions import (approve_checked, create_idempotent_associated_token_account,
                                    get_associated_token_address, mint_to_checked, transfer_checked)
from spl.token.models import ApproveCheckedParams, MintToCheckedParams, TransferCheckedParams

from tools.solana.programs import COMPUTE_BUDGET_PROGRAM, MEMO_PROGRAM, TOKEN_2022_PROGRAM, TOKEN_PROGRAM
from tools.solana.token_layout import is_token_account, parse_token_account

MAX_LIFETIME_SECONDS = 300
MAX_BODY_BYTES = 2_000_000
BLOCKHASH_VALID_BLOCKS = 150


# --------------------------------------------------------------------------- a bounded local HTTP server
class _LocalServer:
    """ThreadingHTTPServer on 127.0.0.1:<free port>; stops after MAX_LIFETIME_SECONDS even if never closed."""

    def __init__(self, max_lifetime: float = MAX_LIFETIME_SECONDS):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):  # keep test output clean
                pass

            def _reply(self, status: int, payload) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urlparse(self.path)
                status, payload = owner.handle_get(url.path, parse_qs(url.query))
                self._reply(status, payload)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self._reply(413, {"error": "body too large"})
                    return
                try:
                    body = json.loads(self.rfile.read(length) or b"null")
                except json.JSONDecodeError:
                    self._reply(400, {"error": "invalid JSON"})
                    return
                result = owner.handle_post(urlparse(self.path).path, body)
                if result is None:  # fault injection: drop the connection without answering
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self._reply(*result)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._timer = threading.Timer(max_lifetime, self.close)
        self._timer.daemon = True
        self._closed = False

    def start(self):
        self._thread.start()
        self._timer.start()
        return self

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._timer.cancel()
            self.server.shutdown()
            self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def handle_get(self, path: str, query: dict) -> tuple[int, object]:
        return 404, {"error": f"no route {path}"}

    def handle_post(self, path: str, body) -> tuple[int, object] | None:
        return 404, {"error": f"no route {path}"}


# --------------------------------------------------------------------------- LiteSVM-backed JSON-RPC
def _name(value) -> str:
    return str(value).split(".")[-1]


def err_json(err):
    """A solders TransactionError as the RPC's JSON value (e.g. {"InstructionError": [0, {"Custom": 1}]})."""
    if err is None:
        return None
    if isinstance(err, ts.TransactionErrorInstructionError):
        inner = err.err
        if isinstance(inner, ts.InstructionErrorCustom):
            inner = {"Custom": inner.code}
        elif isinstance(inner, ts.InstructionErrorBorshIO):
            inner = {"BorshIoError": inner.value}
        else:
            inner = _name(inner)
        return {"InstructionError": [err.index, inner]}
    if isinstance(err, ts.TransactionErrorInsufficientFundsForRent):
        return {"InsufficientFundsForRent": {"account_index": err.account_index}}
    if isinstance(err, ts.TransactionErrorDuplicateInstruction):
        return {"DuplicateInstruction": err.index}
    return _name(err)


def account_json(acc: Account | None):
    if acc is None:
        return None
    data = bytes(acc.data)
    return {"lamports": acc.lamports, "owner": str(acc.owner), "data": [base64.b64encode(data).decode(), "base64"],
            "executable": acc.executable, "rentEpoch": 18446744073709551615, "space": len(data)}


NOT_LANDED = {"BlockhashNotFound", "AlreadyProcessed", "AccountNotFound", "InsufficientFundsForFee",
              "SignatureFailure", "AccountInUse", "AccountLoadedTwice", "InvalidAccountForFee"}


class LocalSolanaRpc(_LocalServer):
    """A Solana JSON-RPC endpoint over one LiteSVM instance.

    Block height is a counter the test controls (`advance`, or `blocks_per_height_call`
    to let time race ahead while a sender polls). A blockhash stays valid for 150
    blocks; after that sends using it are silently dropped, as a leader would.
    """

    def __init__(self, svm: LiteSVM | None = None, **kw):
        super().__init__(**kw)
        self.svm = svm or LiteSVM()
        self.lock = threading.RLock()
        self.slot, self.height = 100, 1_000
        self.valid_until: dict[str, int] = {}
        self.landed: dict[str, dict] = {}
        self.calls: list[str] = []
        self.bodies: list[str] = []
        self.sent_raw: list[str] = []
        # fault injection
        self.drop_sends = 0            # answer with the signature but never land the tx
        self.drop_new_signatures = 0   # the next N distinct transactions never land, however often re-sent
        self._doomed: set[str] = set()
        self.lose_send_responses = 0   # land the tx, then drop the connection instead of answering
        self.blocks_per_height_call = 0

    def advance(self, blocks: int) -> None:
        with self.lock:
            self.height += blocks
            self.slot += blocks

    def count(self, method: str) -> int:
        return self.calls.count(method)

    # -- plumbing
    def handle_post(self, path, body):
        if not isinstance(body, dict) or "method" not in body:
            return 200, {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid request"}}
        method, params, rid = body["method"], body.get("params") or [], body.get("id")
        with self.lock:
            self.calls.append(method)
            self.bodies.append(json.dumps(body))
            handler = getattr(self, f"rpc_{method}", None)
            if handler is None:
                return 200, {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}}
            try:
                result = handler(*params)
            except _RpcFault as fault:
                if fault.drop_connection:
                    return None
                return 200, {"jsonrpc": "2.0", "id": rid, "error": fault.error}
        return 200, {"jsonrpc": "2.0", "id": rid, "result": result}

    def _ctx(self, value):
        return {"context": {"slot": self.slot, "apiVersion": "2.2.0"}, "value": value}

    def _current_blockhash(self) -> Hash:
        current = self.svm.latest_blockhash()
        until = self.valid_until.get(str(current))
        if until is not None and until < self.height:
            self.svm.expire_blockhash()
            current = self.svm.latest_blockhash()
        self.valid_until.setdefault(str(current), self.height + BLOCKHASH_VALID_BLOCKS)
        return current

    # -- reads
    def rpc_getBalance(self, pubkey, config=None):
        return self._ctx(self.svm.get_balance(Pubkey.from_string(pubkey)) or 0)

    def rpc_getAccountInfo(self, pubkey, config=None):
        return self._ctx(account_json(self.svm.get_account(Pubkey.from_string(pubkey))))

    def rpc_getMultipleAccounts(self, pubkeys, config=None):
        return self._ctx([account_json(self.svm.get_account(Pubkey.from_string(p))) for p in pubkeys])

    def rpc_getLatestBlockhash(self, config=None):
        current = self._current_blockhash()
        return self._ctx({"blockhash": str(current), "lastValidBlockHeight": self.valid_until[str(current)]})

    def rpc_getBlockHeight(self, config=None):
        self.advance(self.blocks_per_height_call)
        return self.height

    def rpc_getSlot(self, config=None):
        return self.slot

    def rpc_getTokenAccountBalance(self, pubkey, config=None):
        acc = self.svm.get_account(Pubkey.from_string(pubkey))
        if acc is None or not is_token_account(acc.owner, bytes(acc.data)):
            raise _RpcFault({"code": -32602, "message": "Invalid param: could not find account"})
        info = parse_token_account(pubkey, acc.owner, bytes(acc.data))
        decimals = self._decimals(info.mint)
        return self._ctx(_ui_amount(info.amount, decimals))

    def _decimals(self, mint: str) -> int:
        acc = self.svm.get_account(Pubkey.from_string(mint))
        return bytes(acc.data)[44] if acc else 0

    def rpc_getSignatureStatuses(self, signatures, config=None):
        out = []
        for sig in signatures:
            rec = self.landed.get(sig)
            if rec is None:
                out.append(None)
            else:
                status = {"Ok": None} if rec["err"] is None else {"Err": rec["err"]}
                out.append({"slot": rec["slot"], "confirmations": None, "err": rec["err"], "status": status,
                            "confirmationStatus": "finalized"})
        return self._ctx(out)

    def rpc_getTransaction(self, signature, config=None):
        rec = self.landed.get(signature)
        if rec is None:
            return None
        status = {"Ok": None} if rec["err"] is None else {"Err": rec["err"]}
        return {"slot": rec["slot"], "blockTime": rec["block_time"], "version": 0,
                "transaction": [rec["raw"], "base64"],
                "meta": {"err": rec["err"], "status": status, "fee": rec["fee"], "preBalances": rec["pre_balances"],
                         "postBalances": rec["post_balances"], "innerInstructions": [], "logMessages": rec["logs"],
                         "preTokenBalances": rec["pre_tokens"], "postTokenBalances": rec["post_tokens"],
                         "rewards": [], "loadedAddresses": {"writable": [], "readonly": []},
                         "computeUnitsConsumed": rec["units"]}}

    # -- simulation and sending
    def rpc_simulateTransaction(self, raw, config=None):
        config = config or {}
        tx = VersionedTransaction.from_bytes(base64.b64decode(raw))
        res = self.svm.simulate_transaction(tx)
        failed = isinstance(res, FailedTransactionMetadata)
        meta = res.meta()
        post = {} if failed else {str(k): a for k, a in res.post_accounts()}
        accounts = None
        if config.get("accounts"):
            accounts = [None if failed else account_json(post.get(a) or self.svm.get_account(Pubkey.from_string(a)))
                        for a in config["accounts"]["addresses"]]
        return self._ctx({"err": err_json(res.err()) if failed else None, "logs": list(meta.logs()),
                          "accounts": accounts, "unitsConsumed": meta.compute_units_consumed(), "returnData": None,
                          "innerInstructions": None, "replacementBlockhash": None})

    def rpc_sendTransaction(self, raw, config=None):
        config = config or {}
        tx = VersionedTransaction.from_bytes(base64.b64decode(raw))
        sig = str(tx.signatures[0])
        self.sent_raw.append(sig)
        if not config.get("skipPreflight"):
            sim = self.svm.simulate_transaction(tx)
            if isinstance(sim, FailedTransactionMetadata):
                raise _RpcFault({"code": -32002, "message": f"Transaction simulation failed: {err_json(sim.err())}",
                                 "data": {"err": err_json(sim.err()), "logs": list(sim.meta().logs()),
                                          "accounts": None, "unitsConsumed": 0, "returnData": None}})
        if self.drop_new_signatures > 0 and sig not in self._doomed and sig not in self.landed:
            self.drop_new_signatures -= 1
            self._doomed.add(sig)
        if sig in self._doomed:
            return sig
        if self.drop_sends > 0:
            self.drop_sends -= 1
            return sig
        until = self.valid_until.get(str(tx.message.recent_blockhash), -1)
        if until >= self.height and sig not in self.landed:
            self._land(tx, raw, sig)
        if self.lose_send_responses > 0:
            self.lose_send_responses -= 1
            raise _RpcFault(None, drop_connection=True)
        return sig

    def _land(self, tx: VersionedTransaction, raw: str, sig: str) -> None:
        keys = list(tx.message.account_keys)
        pre = [self.svm.get_account(k) for k in keys]
        pre_tokens = self._token_balances(keys, pre)
        res = self.svm.send_transaction(tx)
        failed = isinstance(res, FailedTransactionMetadata)
        err = err_json(res.err()) if failed else None
        if failed and (isinstance(err, str) and err in NOT_LANDED):
            return
        post = [self.svm.get_account(k) for k in keys]
        meta = res.meta() if failed else res
        self.slot += 1
        self.height += 1
        self.landed[sig] = {"slot": self.slot, "err": err, "raw": raw, "fee": meta.fee(), "logs": list(meta.logs()),
                            "units": meta.compute_units_consumed(), "block_time": int(time.time()),
                            "pre_balances": [a.lamports if a else 0 for a in pre],
                            "post_balances": [a.lamports if a else 0 for a in post],
                            "pre_tokens": pre_tokens, "post_tokens": self._token_balances(keys, post)}

    def _token_balances(self, keys, accounts) -> list[dict]:
        out = []
        for i, (key, acc) in enumerate(zip(keys, accounts)):
            if acc is None or not is_token_account(acc.owner, bytes(acc.data)):
                continue
            info = parse_token_account(key, acc.owner, bytes(acc.data))
            out.append({"accountIndex": i, "mint": info.mint, "owner": info.owner, "programId": str(acc.owner),
                        "uiTokenAmount": _ui_amount(info.amount, self._decimals(info.mint))})
        return out


class _RpcFault(Exception):
    def __init__(self, error, drop_connection: bool = False):
        super().__init__("rpc fault")
        self.error, self.drop_connection = error, drop_connection


def _ui_amount(amount: int, decimals: int) -> dict:
    ui = Decimal(amount).scaleb(-decimals)
    return {"amount": str(amount), "decimals": decimals, "uiAmount": float(ui), "uiAmountString": format(ui.normalize(), "f")}


# --------------------------------------------------------------------------- LiteSVM setup helpers
def send_direct(svm: LiteSVM, payer: Keypair, ixs: list[Instruction], extra_signers: tuple = ()):
    """Setup transactions straight into LiteSVM (not through the RPC under test)."""
    msg = MessageV0.try_compile(payer.pubkey(), ixs, [], svm.latest_blockhash())
    res = svm.send_transaction(VersionedTransaction(msg, [payer, *extra_signers]))
    if isinstance(res, FailedTransactionMetadata) and err_json(res.err()) != "AlreadyProcessed":
        raise AssertionError(f"setup transaction failed: {res.err()} {res.meta().logs()}")
    return res


def _opt(pk: Pubkey | None) -> bytes:
    return b"\x01" + bytes(pk) if pk else b"\x00"


def ext_transfer_fee(mint: Pubkey, authority: Pubkey, basis_points: int = 100, maximum_fee: int = 10**9):
    """Token-2022 TransferFeeExtension::InitializeTransferFeeConfig (instruction 26, sub 0); 108-byte extension."""
    data = bytes([26, 0]) + _opt(authority) + _opt(authority) + struct.pack("<HQ", basis_points, maximum_fee)
    return 108, Instruction(TOKEN_2022_PROGRAM, data, [AccountMeta(mint, False, True)])


def ext_transfer_hook(mint: Pubkey, authority: Pubkey, hook_program: Pubkey):
    """TransferHookExtension::Initialize (36, 0): authority and program id, 32 bytes each (zero = none)."""
    data = bytes([36, 0]) + bytes(authority) + bytes(hook_program)
    return 64, Instruction(TOKEN_2022_PROGRAM, data, [AccountMeta(mint, False, True)])


def ext_permanent_delegate(mint: Pubkey, delegate: Pubkey):
    """InitializePermanentDelegate (35): the delegate's 32 bytes."""
    return 32, Instruction(TOKEN_2022_PROGRAM, bytes([35]) + bytes(delegate), [AccountMeta(mint, False, True)])


def ext_default_frozen(mint: Pubkey):
    """DefaultAccountStateExtension::Initialize (28, 0) with state Frozen (2); needs a freeze authority."""
    return 1, Instruction(TOKEN_2022_PROGRAM, bytes([28, 0, 2]), [AccountMeta(mint, False, True)])


def ext_non_transferable(mint: Pubkey):
    """InitializeNonTransferableMint (32): a zero-length extension."""
    return 0, Instruction(TOKEN_2022_PROGRAM, bytes([32]), [AccountMeta(mint, False, True)])


def ext_mint_close_authority(mint: Pubkey, authority: Pubkey):
    """InitializeMintCloseAuthority (25): COption<Pubkey> in instruction form (1 + 32 bytes)."""
    return 32, Instruction(TOKEN_2022_PROGRAM, bytes([25]) + _opt(authority), [AccountMeta(mint, False, True)])


def create_mint(svm: LiteSVM, payer: Keypair, decimals: int = 6, program: Pubkey = TOKEN_PROGRAM,
                mint_authority: Pubkey | None = None, freeze_authority: Pubkey | None = None,
                extensions: list[Callable[[Pubkey], tuple[int, Instruction]]] = (),
                mint: Keypair | None = None) -> Pubkey:
    """A real mint in LiteSVM: CreateAccount sized for its extensions, the extension inits, InitializeMint2."""
    mint = mint or Keypair()
    built = [make(mint.pubkey()) for make in extensions]
    size = 82 if not built else 165 + 1 + sum(4 + n for n, _ in built)
    ixs = [create_account(CreateAccountParams(from_pubkey=payer.pubkey(), to_pubkey=mint.pubkey(),
                                              lamports=svm.minimum_balance_for_rent_exemption(size), space=size,
                                              owner=program))]
    ixs += [ix for _, ix in built]
    authority = mint_authority or payer.pubkey()
    ixs.append(Instruction(program, bytes([20, decimals]) + bytes(authority) + _opt(freeze_authority),
                           [AccountMeta(mint.pubkey(), False, True)]))
    send_direct(svm, payer, ixs, (mint,))
    return mint.pubkey()


def fund_tokens(svm: LiteSVM, payer: Keypair, mint: Pubkey, owner: Pubkey, amount: int, decimals: int,
                program: Pubkey = TOKEN_PROGRAM) -> Pubkey:
    """Create owner's ATA (idempotent) and mint `amount` into it; payer must be the mint authority."""
    ata = get_associated_token_address(owner, mint, program)
    send_direct(svm, payer, [
        create_idempotent_associated_token_account(payer.pubkey(), owner, mint, program),
        mint_to_checked(MintToCheckedParams(program_id=program, mint=mint, dest=ata, mint_authority=payer.pubkey(),
                                            amount=amount, decimals=decimals))])
    return ata


# --------------------------------------------------------------------------- Pyth accounts
PRICE_UPDATE_V2_DISCRIMINATOR = hashlib.sha256(b"account:PriceUpdateV2").digest()[:8]


def pyth_price_update_v2(feed_id: bytes, price: int, conf: int, exponent: int, publish_time: int,
                         full: bool = True, posted_slot: int = 1) -> bytes:
    """PriceUpdateV2 as the Pyth receiver stores it (Anchor/Borsh): note that Borsh writes the
    VerificationLevel enum in 1 byte for Full and 2 for Partial, so later offsets shift."""
    level = b"\x01" if full else b"\x00\x05"
    message = feed_id + struct.pack("<qQiqqqQ", price, conf, exponent, publish_time, publish_time - 1, price, conf)
    data = PRICE_UPDATE_V2_DISCRIMINATOR + bytes(Keypair().pubkey()) + level + message + struct.pack("<Q", posted_slot)
    return data + bytes(134 - len(data))  # accounts are allocated at the fixed LEN (134 bytes)


def pyth_legacy_price(price: int, conf: int, expo: int, timestamp: int, status: int = 1, pub_slot: int = 1) -> bytes:
    """A Pyth v2 (push oracle) price account: magic, version 2, type 3 (price), aggregate at offset 208."""
    data = bytearray(3312)
    struct.pack_into("<IIII", data, 0, 0xA1B2C3D4, 2, 3, 3312)
    struct.pack_into("<Ii", data, 16, 1, expo)
    struct.pack_into("<q", data, 96, timestamp)
    struct.pack_into("<qQIIQ", data, 208, price, conf, status, 0, pub_slot)
    return bytes(data)


def put_account(svm: LiteSVM, address: Pubkey, owner: Pubkey, data: bytes) -> Pubkey:
    svm.set_account(address, Account(lamports=svm.minimum_balance_for_rent_exemption(len(data)), data=data,
                                     owner=owner, executable=False))
    return address


# --------------------------------------------------------------------------- Jupiter
class FakeJupiter(_LocalServer):
    """Jupiter /quote and /swap over LiteSVM state, with a constant-product pool held by `pool` (a keypair
    this fake controls). See the module docstring: the swap transaction is a stand-in, not Jupiter's program.

    `mode` selects a malicious variant for the next responses:
      honest | extra_program | output_elsewhere | foreign_fee_payer | extra_signer | inflated_slippage |
      high_impact | drain_other_token | approve_attacker | short_output | lie_threshold
    """

    FEE_BPS = 30

    def __init__(self, rpc: LocalSolanaRpc, pool: Keypair, mints: dict[str, tuple[Pubkey, int, Pubkey]], **kw):
        super().__init__(**kw)
        self.rpc, self.pool, self.mints = rpc, pool, mints  # mint str -> (mint, decimals, token program)
        self.mode = "honest"
        self.attacker = Keypair()
        self.requests: list[tuple[str, dict]] = []

    def _reserve(self, mint: str) -> int:
        mint_pk, _, program = self.mints[mint]
        acc = self.rpc.svm.get_account(get_associated_token_address(self.pool.pubkey(), mint_pk, program))
        return parse_token_account("pool", acc.owner, bytes(acc.data)).amount

    def quote(self, input_mint: str, output_mint: str, amount: int, slippage_bps: int) -> dict:
        r_in, r_out = self._reserve(input_mint), self._reserve(output_mint)
        in_after_fee = amount * (10_000 - self.FEE_BPS) // 10_000
        out = r_out * in_after_fee // (r_in + in_after_fee)
        spot_out = Decimal(r_out) * in_after_fee / r_in
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
                "routePlan": [{"swapInfo": {"ammKey": str(self.pool.pubkey()), "label": "LocalStandInPool",
                                            "inputMint": input_mint, "outputMint": output_mint,
                                            "inAmount": str(amount), "outAmount": str(out),
                                            "feeAmount": str(amount - in_after_fee), "feeMint": input_mint},
                               "percent": 100, "bps": 10_000}],
                "contextSlot": self.rpc.slot, "timeTaken": 0.001}

    def handle_get(self, path, query):
        if path.rstrip("/").endswith("/quote"):
            q = {k: v[0] for k, v in query.items()}
            self.requests.append(("quote", q))
            try:
                amount, slippage = int(q["amount"]), int(q.get("slippageBps", 50))
                if q["inputMint"] not in self.mints or q["outputMint"] not in self.mints:
                    return 400, {"error": "Could not find any route", "errorCode": "COULD_NOT_FIND_ANY_ROUTE"}
            except (KeyError, ValueError):
                return 400, {"error": "invalid query"}
            with self.rpc.lock:
                return 200, self.quote(q["inputMint"], q["outputMint"], amount, slippage)
        return super().handle_get(path, query)

    def handle_post(self, path, body):
        if path.rstrip("/").endswith("/swap"):
            self.requests.append(("swap", body))
            with self.rpc.lock:
                return 200, self.swap(body)
        return super().handle_post(path, body)

    def swap(self, body: dict) -> dict:
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
               create_idempotent_associated_token_account(payer, recipient, out_mint, out_prog),
               transfer_checked(TransferCheckedParams(program_id=in_prog, source=user_in, mint=in_mint, dest=pool_in,
                                                      owner=user, amount=amount_in, decimals=in_dec)),
               transfer_checked(TransferCheckedParams(program_id=out_prog, source=pool_out, mint=out_mint,
                                                      dest=user_out, owner=user, amount=delivered, decimals=out_dec)),
               Instruction(MEMO_PROGRAM, b"jupiter stand-in swap (local test pool, not Jupiter's program)",
                           [AccountMeta(user, True, False)])]
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
        blockhash, last_valid = self.rpc.rpc_getLatestBlockhash()["value"].values()
        message = MessageV0.try_compile(payer, ixs, [], Hash.from_string(blockhash))
        n_signers = message.header.num_required_signatures
        tx = VersionedTransaction.populate(message, [Signature.default()] * n_signers)
        return {"swapTransaction": base64.b64encode(bytes(tx)).decode(), "lastValidBlockHeight": last_valid,
                "prioritizationFeeLamports": 200, "computeUnitLimit": 200_000, "dynamicSlippageReport": None,
                "simulationError": None}


# --------------------------------------------------------------------------- Pyth Hermes
class FakeHermes(_LocalServer):
    """GET /v2/updates/price/latest?ids[]=<hex> with parsed=true, in Hermes' JSON shape."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.feeds: dict[str, dict] = {}

    def set_price(self, feed_id: str, price: int, conf: int, expo: int, publish_time: int) -> None:
        self.feeds[feed_id.removeprefix("0x")] = {"price": str(price), "conf": str(conf), "expo": expo,
                                                  "publish_time": publish_time}

    def handle_get(self, path, query):
        if path == "/v2/updates/price/latest":
            ids = [i.removeprefix("0x") for i in query.get("ids[]", [])]
            missing = [i for i in ids if i not in self.feeds]
            if missing or not ids:
                return 404, {"error": f"Price ids not found: {missing}"}
            parsed = [{"id": i, "price": self.feeds[i], "ema_price": self.feeds[i],
                       "metadata": {"slot": self.feeds[i]["publish_time"], "proof_available_time": self.feeds[i]["publish_time"],
                                    "prev_publish_time": self.feeds[i]["publish_time"] - 1}} for i in ids]
            return 200, {"binary": {"encoding": "hex", "data": ["00"]}, "parsed": parsed}
        return super().handle_get(path, query)


# --------------------------------------------------------------------------- a whole local chain for one test
class LocalChain:
    """LiteSVM + LocalSolanaRpc + the library's SolanaRpc client, with a funded wallet and a token issuer."""

    def __init__(self, poll_seconds: float = 0.01, rebroadcast_seconds: float = 0.05, timeout_seconds: float = 10.0):
        from tools.solana.rpc import SolanaRpc
        from tools.solana.tx import SolanaTxSender
        from tools.solana.wallet import SolanaWallet

        self.svm = LiteSVM()
        self.server = LocalSolanaRpc(self.svm).start()
        self.rpc = SolanaRpc(self.server.url, timeout=5.0)
        self.issuer = Keypair()
        self.svm.airdrop(self.issuer.pubkey(), 100 * 10**9)
        self.wallet = SolanaWallet.generate()
        self.svm.airdrop(self.wallet.pubkey, 10 * 10**9)
        self.sender = SolanaTxSender(self.rpc, self.wallet, poll_seconds=poll_seconds,
                                     rebroadcast_seconds=rebroadcast_seconds, timeout_seconds=timeout_seconds)

    def token(self, symbol: str, decimals: int = 6, program: Pubkey = TOKEN_PROGRAM, fund: int = 0, **mint_kw):
        from tools.solana.tokens import SolanaToken

        mint = create_mint(self.svm, self.issuer, decimals, program, **mint_kw)
        if fund:
            fund_tokens(self.svm, self.issuer, mint, self.wallet.pubkey, fund, decimals, program)
        return SolanaToken(symbol=symbol, mint=str(mint), decimals=decimals, program=str(program))

    def close(self) -> None:
        self.rpc.close()
        self.server.close()


def revoke_mint_authority(svm: LiteSVM, authority: Keypair, mint: Pubkey, program: Pubkey = TOKEN_PROGRAM) -> None:
    """SetAuthority(MintTokens -> None): supply becomes fixed."""
    from spl.token.instructions import set_authority
    from spl.token.models import AuthorityType, SetAuthorityParams

    send_direct(svm, authority, [set_authority(SetAuthorityParams(
        program_id=program, account=mint, authority=AuthorityType.MINT_TOKENS,
        current_authority=authority.pubkey(), new_authority=None))])
