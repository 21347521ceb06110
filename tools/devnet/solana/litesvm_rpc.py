"""A Solana JSON-RPC endpoint over one LiteSVM: the real SVM with the real SPL Token, Token-2022, ATA and Memo programs.

It serves the methods the library (and a user's curl) needs, in the documented
wire format: reads, simulateTransaction, sendTransaction, getSignatureStatuses,
getTransaction (with the message and meta.logMessages, so a memo anchor can be
checked over RPC), getGenesisHash, getHealth, getVersion, requestAirdrop.

getTransaction's meta lists in loadedAddresses {writable, readonly} what a v0
transaction's address lookup tables loaded, and indexes every balance list over
the static keys, then the loaded writable, then the loaded readonly ones, as a
validator does: a swap whose output account comes from a table is verifiable.

Block height is a counter: the devnet advances it with wall time, a test
controls it (`advance`, or `blocks_per_height_call` to let time race ahead while
a sender polls). A blockhash stays valid for 150 blocks; after that sends using
it are silently dropped, as a leader would. Fault injection for the sender
tests: lost sends, lost responses, signatures that never land.
"""
from __future__ import annotations

import base64
import json
import threading
import time

from solders.address_lookup_table_account import AddressLookupTable
from solders.hash import Hash
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata

from defai_swarm.core.errors import SwarmError
from defai_swarm.tools.devnet.solana.http import LocalHttpServer
from defai_swarm.tools.devnet.solana.wire import account_json, b58encode, err_json, tx_json, tx_version, ui_amount
from defai_swarm.tools.solana.programs import ADDRESS_LOOKUP_TABLE_PROGRAM
from defai_swarm.tools.solana.token_layout import is_token_account, parse_token_account

BLOCKHASH_VALID_BLOCKS = 150
MAX_AIRDROP_LAMPORTS = 1_000 * 10**9
API_VERSION = "2.2.0"
NOT_LANDED = {"BlockhashNotFound", "AlreadyProcessed", "AccountNotFound", "InsufficientFundsForFee",
              "SignatureFailure", "AccountInUse", "AccountLoadedTwice", "InvalidAccountForFee",
              "AddressLookupTableNotFound", "InvalidAddressLookupTableOwner", "InvalidAddressLookupTableData",
              "InvalidAddressLookupTableIndex"}


class RpcFault(SwarmError):
    """Raised by an rpc_* method: answer with this JSON-RPC error (or drop the connection). Caught by the server
    loop, never seen by a client (under the library's root all the same)."""

    def __init__(self, error, drop_connection: bool = False):
        super().__init__("rpc fault")
        self.error, self.drop_connection = error, drop_connection


def _invalid(message: str) -> RpcFault:
    return RpcFault({"code": -32602, "message": message})


def _pubkey(text) -> Pubkey:
    try:
        return Pubkey.from_string(text)
    except (ValueError, TypeError):
        raise _invalid(f"Invalid param: {text!r} is not a base58 public key") from None


class LocalSolanaRpc(LocalHttpServer):
    """JSON-RPC over `svm`; every method runs under `lock`, which other stand-ins sharing the VM also take."""

    def __init__(self, svm: LiteSVM | None = None, genesis_hash: str | None = None, record_calls: bool = True, **kw):
        super().__init__(**kw)
        self.svm = svm or LiteSVM()
        self.lock = threading.RLock()
        self.genesis_hash = genesis_hash or str(self.svm.latest_blockhash())
        self.slot, self.height = 100, 1_000
        self.valid_until: dict[str, int] = {}
        self.landed: dict[str, dict] = {}
        self.airdrops: dict[str, int] = {}  # signature -> slot
        self.record_calls = record_calls  # tests read these; a long-running devnet turns them off
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
            if self.record_calls:
                self.calls.append(method)
                self.bodies.append(json.dumps(body))
            handler = getattr(self, f"rpc_{method}", None) if isinstance(method, str) else None
            if handler is None:
                return 200, {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}}
            try:
                result = handler(*params) if isinstance(params, list) else handler(**params)
            except RpcFault as fault:
                if fault.drop_connection:
                    return None
                return 200, {"jsonrpc": "2.0", "id": rid, "error": fault.error}
            except (TypeError, ValueError) as exc:  # wrong arity or malformed values: the client's mistake
                return 200, {"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": f"Invalid params: {exc}"}}
        return 200, {"jsonrpc": "2.0", "id": rid, "result": result}

    def _ctx(self, value):
        return {"context": {"slot": self.slot, "apiVersion": API_VERSION}, "value": value}

    def _current_blockhash(self) -> Hash:
        current = self.svm.latest_blockhash()
        until = self.valid_until.get(str(current))
        if until is not None and until < self.height:
            self.svm.expire_blockhash()
            current = self.svm.latest_blockhash()
        self.valid_until.setdefault(str(current), self.height + BLOCKHASH_VALID_BLOCKS)
        return current

    # -- cluster
    def rpc_getHealth(self):
        return "ok"

    def rpc_getGenesisHash(self):
        return self.genesis_hash

    def rpc_getVersion(self):
        return {"solana-core": API_VERSION, "feature-set": 0}

    def rpc_getMinimumBalanceForRentExemption(self, size, config=None):
        return self.svm.minimum_balance_for_rent_exemption(int(size))

    # -- reads
    def rpc_getBalance(self, pubkey, config=None):
        return self._ctx(self.svm.get_balance(_pubkey(pubkey)) or 0)

    def rpc_getAccountInfo(self, pubkey, config=None):
        return self._ctx(account_json(self.svm.get_account(_pubkey(pubkey))))

    def rpc_getMultipleAccounts(self, pubkeys, config=None):
        return self._ctx([account_json(self.svm.get_account(_pubkey(p))) for p in pubkeys])

    def rpc_getLatestBlockhash(self, config=None):
        current = self._current_blockhash()
        return self._ctx({"blockhash": str(current), "lastValidBlockHeight": self.valid_until[str(current)]})

    def rpc_getBlockTime(self, slot):
        """Unix time of a slot that carried one of our transactions (null otherwise, as a pruned node answers)."""
        return next((tx.get("block_time") for tx in self.landed.values() if tx["slot"] == slot), None)

    def rpc_getBlockHeight(self, config=None):
        self.advance(self.blocks_per_height_call)
        return self.height

    def rpc_getSlot(self, config=None):
        return self.slot

    def rpc_getTokenAccountBalance(self, pubkey, config=None):
        acc = self.svm.get_account(_pubkey(pubkey))
        if acc is None or not is_token_account(acc.owner, bytes(acc.data)):
            raise _invalid("Invalid param: could not find account")
        info = parse_token_account(pubkey, acc.owner, bytes(acc.data))
        return self._ctx(ui_amount(info.amount, self._decimals(info.mint)))

    def _decimals(self, mint: str) -> int:
        acc = self.svm.get_account(Pubkey.from_string(mint))
        return bytes(acc.data)[44] if acc else 0

    def rpc_getSignatureStatuses(self, signatures, config=None):
        out = []
        for sig in signatures:
            rec = self.landed.get(sig)
            if rec is None and sig in self.airdrops:
                rec = {"slot": self.airdrops[sig], "err": None}
            if rec is None:
                out.append(None)
            else:
                status = {"Ok": None} if rec["err"] is None else {"Err": rec["err"]}
                out.append({"slot": rec["slot"], "confirmations": None, "err": rec["err"], "status": status,
                            "confirmationStatus": "finalized"})
        return self._ctx(out)

    def rpc_getTransaction(self, signature, config=None):
        """The landed transaction, in "json" (default), "base64" or "base58" encoding, with its meta."""
        if isinstance(config, str):  # the old positional form: getTransaction(sig, "json")
            config = {"encoding": config}
        config = config or {}
        rec = self.landed.get(signature)
        if rec is None:
            return None
        tx = VersionedTransaction.from_bytes(base64.b64decode(rec["raw"]))
        version = tx_version(tx)
        if version != "legacy" and config.get("maxSupportedTransactionVersion") is None:
            raise RpcFault({"code": -32015, "message": "Transaction version (0) is not supported by the requesting "
                                                       "client. Please try the request again with the following "
                                                       "configuration parameter: \"maxSupportedTransactionVersion\": 0"})
        encoding = config.get("encoding") or "json"
        if encoding == "base64":
            transaction = [rec["raw"], "base64"]
        elif encoding == "base58":
            transaction = [b58encode(bytes(tx)), "base58"]
        elif encoding == "json":
            transaction = tx_json(tx)
        else:
            raise _invalid(f"Invalid params: unsupported encoding {encoding!r} (json, base64, base58)")
        status = {"Ok": None} if rec["err"] is None else {"Err": rec["err"]}
        return {"slot": rec["slot"], "blockTime": rec["block_time"], "version": version,
                "transaction": transaction,
                "meta": {"err": rec["err"], "status": status, "fee": rec["fee"], "preBalances": rec["pre_balances"],
                         "postBalances": rec["post_balances"], "innerInstructions": [], "logMessages": rec["logs"],
                         "preTokenBalances": rec["pre_tokens"], "postTokenBalances": rec["post_tokens"],
                         "rewards": [], "loadedAddresses": rec["loaded"],
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
            accounts = [None if failed else account_json(post.get(a) or self.svm.get_account(_pubkey(a)))
                        for a in config["accounts"]["addresses"]]
        return self._ctx({"err": err_json(res.err()) if failed else None, "logs": list(meta.logs()),
                          "accounts": accounts, "unitsConsumed": meta.compute_units_consumed(), "returnData": None,
                          "innerInstructions": None, "replacementBlockhash": None})

    def rpc_sendTransaction(self, raw, config=None):
        config = config or {}
        if config.get("encoding", "base64") != "base64":
            raise _invalid("Invalid params: only base64 encoded transactions are accepted here")
        tx = VersionedTransaction.from_bytes(base64.b64decode(raw))
        sig = str(tx.signatures[0])
        if self.record_calls:
            self.sent_raw.append(sig)
        if not config.get("skipPreflight"):
            sim = self.svm.simulate_transaction(tx)
            if isinstance(sim, FailedTransactionMetadata):
                raise RpcFault({"code": -32002, "message": f"Transaction simulation failed: {err_json(sim.err())}",
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
            raise RpcFault(None, drop_connection=True)
        return sig

    def rpc_requestAirdrop(self, pubkey, lamports, config=None):
        lamports = int(lamports)
        if not 0 < lamports <= MAX_AIRDROP_LAMPORTS:
            raise _invalid(f"Invalid params: airdrop 1..{MAX_AIRDROP_LAMPORTS} lamports")
        res = self.svm.airdrop(_pubkey(pubkey), lamports)
        if isinstance(res, FailedTransactionMetadata):
            raise RpcFault({"code": -32603, "message": f"airdrop failed: {err_json(res.err())}"})
        self.advance(1)
        sig = str(res.signature())
        self.airdrops[sig] = self.slot
        return sig

    def _loaded_addresses(self, tx: VersionedTransaction) -> dict[str, list[Pubkey]] | None:
        """What the transaction's lookup tables load, as the runtime orders it: every table's writable
        entries, then every table's readonly ones. None when a table is missing or too short (the
        runtime refuses such a transaction before it can land)."""
        loaded: dict[str, list[Pubkey]] = {"writable": [], "readonly": []}
        for lookup in getattr(tx.message, "address_table_lookups", None) or []:
            acc = self.svm.get_account(lookup.account_key)
            if acc is None or acc.owner != ADDRESS_LOOKUP_TABLE_PROGRAM:
                return None
            try:
                table = AddressLookupTable.deserialize(bytes(acc.data)).addresses
            except (ValueError, TypeError):
                return None
            if any(i >= len(table) for i in [*lookup.writable_indexes, *lookup.readonly_indexes]):
                return None
            loaded["writable"] += [table[i] for i in lookup.writable_indexes]
            loaded["readonly"] += [table[i] for i in lookup.readonly_indexes]
        return loaded

    def _land(self, tx: VersionedTransaction, raw: str, sig: str) -> None:
        loaded = self._loaded_addresses(tx) or {"writable": [], "readonly": []}  # None: the send below fails
        keys = list(tx.message.account_keys) + loaded["writable"] + loaded["readonly"]
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
                            "pre_tokens": pre_tokens, "post_tokens": self._token_balances(keys, post),
                            "loaded": {kind: [str(k) for k in ks] for kind, ks in loaded.items()}}

    def _token_balances(self, keys, accounts) -> list[dict]:
        out = []
        for i, (key, acc) in enumerate(zip(keys, accounts, strict=True)):
            if acc is None or not is_token_account(acc.owner, bytes(acc.data)):
                continue
            info = parse_token_account(key, acc.owner, bytes(acc.data))
            out.append({"accountIndex": i, "mint": info.mint, "owner": info.owner, "programId": str(acc.owner),
                        "uiTokenAmount": ui_amount(info.amount, self._decimals(info.mint))})
        return out
