"""Solana JSON-RPC wire encodings of LiteSVM values: errors, accounts, token amounts, messages.

Shapes follow the documented JSON-RPC API (what solana-py / solders parse), so a
client cannot tell this endpoint from a validator's for the methods it serves.
"""
from __future__ import annotations

import base64
from decimal import Decimal

import solders.transaction_status as ts
from solders.account import Account
from solders.message import Message
from solders.transaction import VersionedTransaction

RENT_EPOCH_EXEMPT = 18446744073709551615
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58, as instruction data is encoded in the "json" transaction encoding."""
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


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
    """getAccountInfo's value in base64 encoding (None for a missing account)."""
    if acc is None:
        return None
    data = bytes(acc.data)
    return {"lamports": acc.lamports, "owner": str(acc.owner), "data": [base64.b64encode(data).decode(), "base64"],
            "executable": acc.executable, "rentEpoch": RENT_EPOCH_EXEMPT, "space": len(data)}


def ui_amount(amount: int, decimals: int) -> dict:
    """UiTokenAmount: raw amount as a string plus its decimal forms."""
    ui = Decimal(amount).scaleb(-decimals)
    return {"amount": str(amount), "decimals": decimals, "uiAmount": float(ui),
            "uiAmountString": format(ui.normalize(), "f")}


def tx_version(tx: VersionedTransaction):
    return "legacy" if isinstance(tx.message, Message) else 0


def tx_json(tx: VersionedTransaction) -> dict:
    """The "json" encoding of a transaction: signatures and the message with base58 instruction data."""
    message = tx.message
    header = message.header
    out = {"signatures": [str(s) for s in tx.signatures],
           "message": {"header": {"numRequiredSignatures": header.num_required_signatures,
                                  "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
                                  "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts},
                       "accountKeys": [str(k) for k in message.account_keys],
                       "recentBlockhash": str(message.recent_blockhash),
                       "instructions": [{"programIdIndex": ix.program_id_index, "accounts": list(ix.accounts),
                                         "data": b58encode(bytes(ix.data)), "stackHeight": None}
                                        for ix in message.instructions]}}
    if not isinstance(message, Message):
        out["message"]["addressTableLookups"] = [
            {"accountKey": str(lk.account_key), "writableIndexes": list(lk.writable_indexes),
             "readonlyIndexes": list(lk.readonly_indexes)} for lk in message.address_table_lookups]
    return out
