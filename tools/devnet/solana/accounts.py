"""Setting up LiteSVM state directly: mints (with Token-2022 extensions), token accounts, wrapped SOL, Pyth accounts.

Used by the devnet to build its world and by tests to build theirs. Setup
transactions go straight into LiteSVM, not through the RPC endpoint. Pyth price
accounts are written byte for byte in the documented layouts (see
tools/solana/pyth.py) under the real Pyth program ids as owners, since no Pyth
program runs offline to post them.
"""
from __future__ import annotations

import struct
from typing import Callable, Sequence

from solders.account import Account
from solders.address_lookup_table_account import AddressLookupTableAccount, derive_lookup_table_address
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata
from spl.token.instructions import (create_idempotent_associated_token_account, get_associated_token_address,
                                    mint_to_checked, set_authority, sync_native)
from spl.token.models import AuthorityType, MintToCheckedParams, SetAuthorityParams, SyncNativeParams

from defai_swarm.core.errors import SwarmError
from defai_swarm.tools.devnet.solana.wire import err_json
from defai_swarm.tools.solana.programs import (ADDRESS_LOOKUP_TABLE_PROGRAM, NATIVE_MINT, SYSTEM_PROGRAM, TOKEN_2022_PROGRAM,
                                   TOKEN_PROGRAM)
from defai_swarm.tools.solana.pyth import PRICE_UPDATE_V2_DISCRIMINATOR

MintExtension = Callable[[Pubkey], tuple[int, Instruction]]  # mint -> (extension data length, init instruction)


class SetupError(SwarmError):  # a RuntimeError, through the library's root
    """A setup transaction failed: the world could not be built as asked."""


def send_direct(svm: LiteSVM, payer: Keypair, ixs: list[Instruction], extra_signers: tuple = ()):
    """Setup transactions straight into LiteSVM (not through the RPC endpoint)."""
    msg = MessageV0.try_compile(payer.pubkey(), ixs, [], svm.latest_blockhash())
    res = svm.send_transaction(VersionedTransaction(msg, [payer, *extra_signers]))
    if isinstance(res, FailedTransactionMetadata) and err_json(res.err()) != "AlreadyProcessed":
        raise SetupError(f"setup transaction failed: {res.err()} {res.meta().logs()}")
    return res


def _opt(pk: Pubkey | None) -> bytes:
    return b"\x01" + bytes(pk) if pk else b"\x00"


# --------------------------------------------------------------------------- Token-2022 mint extensions
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


# --------------------------------------------------------------------------- mints and token accounts
def create_mint(svm: LiteSVM, payer: Keypair, decimals: int = 6, program: Pubkey = TOKEN_PROGRAM,
                mint_authority: Pubkey | None = None, freeze_authority: Pubkey | None = None,
                extensions: Sequence[MintExtension] = (), mint: Keypair | None = None) -> Pubkey:
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


def revoke_mint_authority(svm: LiteSVM, authority: Keypair, mint: Pubkey, program: Pubkey = TOKEN_PROGRAM) -> None:
    """SetAuthority(MintTokens -> None): supply becomes fixed."""
    send_direct(svm, authority, [set_authority(SetAuthorityParams(
        program_id=program, account=mint, authority=AuthorityType.MINT_TOKENS,
        current_authority=authority.pubkey(), new_authority=None))])


def ensure_native_mint(svm: LiteSVM) -> Pubkey:
    """The wrapped-SOL mint account (9 decimals, no authorities), which every cluster has and LiteSVM lacks."""
    if svm.get_account(NATIVE_MINT) is None:
        data = struct.pack("<I32sQBBI32s", 0, bytes(32), 0, 9, 1, 0, bytes(32))  # Mint layout, 82 bytes
        put_account(svm, NATIVE_MINT, TOKEN_PROGRAM, data)
    return NATIVE_MINT


def wrap_sol(svm: LiteSVM, owner: Keypair, lamports: int) -> Pubkey:
    """Move `lamports` of owner's SOL into its wrapped-SOL token account (created if missing)."""
    ensure_native_mint(svm)
    ata = get_associated_token_address(owner.pubkey(), NATIVE_MINT, TOKEN_PROGRAM)
    send_direct(svm, owner, [
        create_idempotent_associated_token_account(owner.pubkey(), owner.pubkey(), NATIVE_MINT, TOKEN_PROGRAM),
        transfer(TransferParams(from_pubkey=owner.pubkey(), to_pubkey=ata, lamports=lamports)),
        sync_native(SyncNativeParams(program_id=TOKEN_PROGRAM, account=ata))])
    return ata


def put_account(svm: LiteSVM, address: Pubkey, owner: Pubkey, data: bytes) -> Pubkey:
    """Write an account as-is (rent-exempt), for state no program offline can produce."""
    svm.set_account(address, Account(lamports=svm.minimum_balance_for_rent_exemption(len(data)), data=data,
                                     owner=owner, executable=False))
    return address


def create_lookup_table(svm: LiteSVM, payer: Keypair, addresses: Sequence[Pubkey]) -> AddressLookupTableAccount:
    """An address lookup table made by the real Address Lookup Table program (CreateLookupTable, then
    ExtendLookupTable), payer paying its rent. Addresses added in a slot are usable from the next one only, so
    the VM's clock moves on one slot: the caller's RPC slot counter must follow (`LocalSolanaRpc.advance`).
    Each table gets a fresh authority: LiteSVM's SlotHashes holds one slot, and (authority, recent slot)
    derives the table's address."""
    authority = Keypair()
    recent_slot = svm.get_slot_hashes()[0][0]
    table, bump = derive_lookup_table_address(authority.pubkey(), recent_slot)
    metas = [AccountMeta(table, False, True), AccountMeta(authority.pubkey(), True, False),
             AccountMeta(payer.pubkey(), True, True), AccountMeta(SYSTEM_PROGRAM, False, False)]
    create = Instruction(ADDRESS_LOOKUP_TABLE_PROGRAM, struct.pack("<IQB", 0, recent_slot, bump), metas)
    extend = Instruction(ADDRESS_LOOKUP_TABLE_PROGRAM,
                         struct.pack("<IQ", 2, len(addresses)) + b"".join(bytes(a) for a in addresses), metas)
    send_direct(svm, payer, [create, extend], (authority,))
    clock = svm.get_clock()
    clock.slot += 1
    svm.set_clock(clock)
    return AddressLookupTableAccount(table, list(addresses))


# --------------------------------------------------------------------------- Pyth accounts
PRICE_UPDATE_V2_LEN = 134  # the receiver allocates PriceUpdateV2 accounts at this fixed size


def pyth_price_update_v2(feed_id: bytes, price: int, conf: int, exponent: int, publish_time: int,
                         full: bool = True, posted_slot: int = 1, write_authority: Pubkey | None = None) -> bytes:
    """PriceUpdateV2 as the Pyth receiver stores it (Anchor/Borsh): note that Borsh writes the
    VerificationLevel enum in 1 byte for Full and 2 for Partial, so later offsets shift."""
    level = b"\x01" if full else b"\x00\x05"
    message = feed_id + struct.pack("<qQiqqqQ", price, conf, exponent, publish_time, publish_time - 1, price, conf)
    authority = write_authority or Keypair().pubkey()
    data = PRICE_UPDATE_V2_DISCRIMINATOR + bytes(authority) + level + message + struct.pack("<Q", posted_slot)
    return data + bytes(PRICE_UPDATE_V2_LEN - len(data))


def pyth_legacy_price(price: int, conf: int, expo: int, timestamp: int, status: int = 1, pub_slot: int = 1) -> bytes:
    """A Pyth v2 (push oracle) price account: magic, version 2, type 3 (price), aggregate at offset 208."""
    data = bytearray(3312)
    struct.pack_into("<IIII", data, 0, 0xA1B2C3D4, 2, 3, 3312)
    struct.pack_into("<Ii", data, 16, 1, expo)
    struct.pack_into("<q", data, 96, timestamp)
    struct.pack_into("<qQIIQ", data, 208, price, conf, status, 0, pub_slot)
    return bytes(data)
