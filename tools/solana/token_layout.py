"""SPL Token / Token-2022 account layouts, parsed from raw account bytes (no network).

Mint: 82 bytes (COption<Pubkey> mint authority, u64 supply, u8 decimals, bool
initialized, COption<Pubkey> freeze authority). Token account: 165 bytes.
Token-2022 with extensions: the base is padded to 165 bytes, byte 165 is the
account type (1 = mint, 2 = token account), then TLV entries (u16 type, u16
length, value). Anything that does not fit is refused with LayoutError.
"""
from __future__ import annotations

import struct
from enum import IntEnum

from pydantic import BaseModel
from solders.pubkey import Pubkey

from defai_swarm.tools.solana.errors import LayoutError
from defai_swarm.tools.solana.programs import TOKEN_2022_PROGRAM, TOKEN_PROGRAMS

MINT_LEN, ACCOUNT_LEN, MULTISIG_LEN = 82, 165, 355
ACCOUNT_TYPE_MINT, ACCOUNT_TYPE_ACCOUNT = 1, 2


class ExtensionType(IntEnum):
    Uninitialized = 0
    TransferFeeConfig = 1
    TransferFeeAmount = 2
    MintCloseAuthority = 3
    ConfidentialTransferMint = 4
    ConfidentialTransferAccount = 5
    DefaultAccountState = 6
    ImmutableOwner = 7
    MemoTransfer = 8
    NonTransferable = 9
    InterestBearingConfig = 10
    CpiGuard = 11
    PermanentDelegate = 12
    NonTransferableAccount = 13
    TransferHook = 14
    TransferHookAccount = 15
    ConfidentialTransferFeeConfig = 16
    ConfidentialTransferFeeAmount = 17
    MetadataPointer = 18
    TokenMetadata = 19
    GroupPointer = 20
    TokenGroup = 21
    GroupMemberPointer = 22
    TokenGroupMember = 23
    ConfidentialMintBurn = 24
    ScaledUiAmount = 25
    Pausable = 26
    PausableAccount = 27


class AccountState(IntEnum):
    Uninitialized = 0
    Initialized = 1
    Frozen = 2


class TransferFee(BaseModel):
    epoch: int
    maximum_fee: int
    basis_points: int


class TransferFeeConfig(BaseModel):
    config_authority: str | None
    withdraw_withheld_authority: str | None
    withheld_amount: int
    older: TransferFee
    newer: TransferFee


class TransferHook(BaseModel):
    authority: str | None
    program_id: str | None


class Extension(BaseModel):
    """One TLV entry: its type (a name, or `unknown:<n>`), raw value, and the decoded fields we rely on."""

    type: str
    type_id: int
    raw_hex: str
    transfer_fee: TransferFeeConfig | None = None
    transfer_hook: TransferHook | None = None
    permanent_delegate: str | None = None
    default_state: AccountState | None = None
    close_authority: str | None = None


class MintInfo(BaseModel):
    address: str
    program: str
    mint_authority: str | None
    supply: int
    decimals: int
    is_initialized: bool
    freeze_authority: str | None
    extensions: list[Extension] = []

    @property
    def is_token_2022(self) -> bool:
        return self.program == str(TOKEN_2022_PROGRAM)

    def extension(self, kind: ExtensionType) -> Extension | None:
        return next((e for e in self.extensions if e.type_id == kind), None)


class TokenAccountInfo(BaseModel):
    address: str
    program: str
    mint: str
    owner: str
    amount: int
    delegate: str | None
    state: AccountState
    is_native: int | None
    delegated_amount: int
    close_authority: str | None
    extensions: list[Extension] = []


def _coption_pubkey(data: bytes, offset: int) -> str | None:
    tag = struct.unpack_from("<I", data, offset)[0]
    if tag not in (0, 1):
        raise LayoutError(f"bad COption tag {tag} at offset {offset}")
    return str(Pubkey.from_bytes(data[offset + 4:offset + 36])) if tag == 1 else None


def _optional_nonzero_pubkey(raw: bytes) -> str | None:
    return None if raw == bytes(32) else str(Pubkey.from_bytes(raw))


def _decode_extension(type_id: int, value: bytes) -> Extension:
    try:
        name = ExtensionType(type_id).name
    except ValueError:
        name = f"unknown:{type_id}"
    ext = Extension(type=name, type_id=type_id, raw_hex=value.hex())

    def need(n: int) -> None:
        if len(value) < n:
            raise LayoutError(f"extension {name} is {len(value)} bytes, expected at least {n}")

    if type_id == ExtensionType.TransferFeeConfig:
        need(108)
        fees = [TransferFee(epoch=e, maximum_fee=m, basis_points=b)
                for e, m, b in (struct.unpack_from("<QQH", value, off) for off in (72, 90))]
        ext.transfer_fee = TransferFeeConfig(
            config_authority=_optional_nonzero_pubkey(value[0:32]),
            withdraw_withheld_authority=_optional_nonzero_pubkey(value[32:64]),
            withheld_amount=struct.unpack_from("<Q", value, 64)[0], older=fees[0], newer=fees[1])
    elif type_id == ExtensionType.TransferHook:
        need(64)
        ext.transfer_hook = TransferHook(authority=_optional_nonzero_pubkey(value[0:32]),
                                         program_id=_optional_nonzero_pubkey(value[32:64]))
    elif type_id == ExtensionType.PermanentDelegate:
        need(32)
        ext.permanent_delegate = _optional_nonzero_pubkey(value[0:32])
    elif type_id == ExtensionType.DefaultAccountState:
        need(1)
        try:
            ext.default_state = AccountState(value[0])
        except ValueError:
            raise LayoutError(f"DefaultAccountState has invalid state {value[0]}") from None
    elif type_id == ExtensionType.MintCloseAuthority:
        need(32)
        ext.close_authority = _optional_nonzero_pubkey(value[0:32])
    return ext


def _parse_tlv(data: bytes, expected_type: int) -> list[Extension]:
    if len(data) == MULTISIG_LEN:
        raise LayoutError("account has the multisig size (355 bytes), not a mint or token account")
    if data[ACCOUNT_LEN] != expected_type:
        raise LayoutError(f"account type byte is {data[ACCOUNT_LEN]}, expected {expected_type}")
    extensions, offset = [], ACCOUNT_LEN + 1
    while offset + 4 <= len(data):
        type_id, length = struct.unpack_from("<HH", data, offset)
        if type_id == ExtensionType.Uninitialized and length == 0:
            break  # zero padding after the last entry
        if offset + 4 + length > len(data):
            raise LayoutError(f"extension {type_id} at {offset} runs past the end of the account")
        extensions.append(_decode_extension(type_id, data[offset + 4:offset + 4 + length]))
        offset += 4 + length
    if len({e.type_id for e in extensions}) != len(extensions):
        raise LayoutError("an extension appears twice")
    return extensions


def _check_program(owner: Pubkey | str) -> str:
    owner = Pubkey.from_string(owner) if isinstance(owner, str) else owner
    if owner not in TOKEN_PROGRAMS:
        raise LayoutError(f"account is owned by {owner}, not by SPL Token or Token-2022")
    return str(owner)


def parse_mint(address: Pubkey | str, owner: Pubkey | str, data: bytes) -> MintInfo:
    program = _check_program(owner)
    if len(data) < MINT_LEN or (MINT_LEN < len(data) <= ACCOUNT_LEN):
        raise LayoutError(f"mint account is {len(data)} bytes; expected 82, or more than 165 with extensions")
    if len(data) > MINT_LEN and program != str(TOKEN_2022_PROGRAM):
        raise LayoutError("extension bytes on a mint owned by the legacy token program")
    if len(data) > MINT_LEN and any(data[MINT_LEN:ACCOUNT_LEN]):
        raise LayoutError("non-zero padding between the mint and its extensions")
    supply, decimals, initialized = struct.unpack_from("<QBB", data, 36)
    if initialized not in (0, 1):
        raise LayoutError(f"is_initialized byte is {initialized}")
    return MintInfo(address=str(address), program=program, mint_authority=_coption_pubkey(data, 0), supply=supply,
                    decimals=decimals, is_initialized=bool(initialized), freeze_authority=_coption_pubkey(data, 46),
                    extensions=_parse_tlv(data, ACCOUNT_TYPE_MINT) if len(data) > MINT_LEN else [])


def parse_token_account(address: Pubkey | str, owner: Pubkey | str, data: bytes) -> TokenAccountInfo:
    program = _check_program(owner)
    if len(data) < ACCOUNT_LEN:
        raise LayoutError(f"token account is {len(data)} bytes; expected at least 165")
    amount = struct.unpack_from("<Q", data, 64)[0]
    state = data[108]
    if state not in (1, 2):
        raise LayoutError(f"token account state is {state} (uninitialized or invalid)")
    native_tag, native_amount = struct.unpack_from("<IQ", data, 109)
    return TokenAccountInfo(
        address=str(address), program=program, mint=str(Pubkey.from_bytes(data[0:32])),
        owner=str(Pubkey.from_bytes(data[32:64])), amount=amount, delegate=_coption_pubkey(data, 72),
        state=AccountState(state), is_native=native_amount if native_tag == 1 else None,
        delegated_amount=struct.unpack_from("<Q", data, 121)[0], close_authority=_coption_pubkey(data, 129),
        extensions=_parse_tlv(data, ACCOUNT_TYPE_ACCOUNT) if len(data) > ACCOUNT_LEN else [])


def is_token_account(owner: Pubkey, data: bytes) -> bool:
    """Cheap test used when scanning simulated accounts: token-program owned and sized like an account."""
    return owner in TOKEN_PROGRAMS and (len(data) == ACCOUNT_LEN or (len(data) > ACCOUNT_LEN and data[ACCOUNT_LEN] == ACCOUNT_TYPE_ACCOUNT))
