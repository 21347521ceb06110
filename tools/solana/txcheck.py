"""Decode-and-check for a swap transaction someone else built (Jupiter), before we sign it.

Two layers, both must pass:
- static: fee payer and only signer is our wallet; every instruction's program is
  allowlisted; compute-budget priority fee under a cap; token, system and ATA
  instructions limited to the few forms a swap needs; no instruction moves tokens
  out of a token account of ours (known from the writable accounts' state, read
  before signing) other than the route's input account; Jupiter route instructions
  must deliver to our own output token account, signed by us.
- simulated: the signed transaction is simulated with the post-state of every
  writable account. The wallet's holdings of a mint are measured across ALL the
  token accounts it owns (associated or not, Token or Token-2022): the output
  received is the net growth of its holdings of the output mint (a transfer
  between two accounts of ours delivers nothing), its holdings of the input mint
  may fall by at most the quoted input, and no account of ours but the route's
  input account may lose tokens, gain a delegate or close authority, or change
  owner. Our SOL (wallet plus its token accounts) may only pay the input, when it
  is SOL, and this transaction's fee; the wallet's own lamports also rent for new
  accounts of ours.

Native SOL as the output is measured as the wallet's own SOL: the lamports of the
wallet plus those of every token account it owns (wrapped SOL included), so that
unwrapping or closing an account of ours moves nothing into "received". The
simulated gain counts the fee against the swap (no allowance is ever added); the
landed gain adds back only the fee this very transaction paid, capped by what its
own signed bytes allow (`fee_bound_lamports`). A fee can make a check stricter,
never looser.
"""
from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

from pydantic import BaseModel
from solders.address_lookup_table_account import AddressLookupTable
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from spl.token.instructions import get_associated_token_address

from defai_swarm.tools.solana.errors import LayoutError
from defai_swarm.tools.solana.programs import (ADDRESS_LOOKUP_TABLE_PROGRAM, ASSOCIATED_TOKEN_PROGRAM, COMPUTE_BUDGET_PROGRAM,
                                   JUPITER_V6_PROGRAM, NATIVE_MINT, SWAP_ALLOWED_PROGRAMS, SYSTEM_PROGRAM, TOKEN_PROGRAM,
                                   TOKEN_PROGRAMS)
from defai_swarm.tools.solana.rpc import RawAccount, TxRecord
from defai_swarm.tools.solana.token_layout import is_token_account, parse_token_account

DEFAULT_CU_LIMIT = 1_400_000  # when a tx sets no limit, assume the maximum: the fee cap must hold for the worst case
LAMPORTS_PER_SIGNATURE = 5_000  # the base fee per signature on every Solana cluster (and LiteSVM)


def anchor_discriminator(name: str) -> bytes:
    return hashlib.sha256(f"global:{name}".encode()).digest()[:8]


# Jupiter v6 route instructions: (index of user_transfer_authority, of the user's source token account, of the
# destination account, of the destination mint, index whose value == the Jupiter program id means "no separate
# destination" (or None)).
JUPITER_ROUTES = {
    anchor_discriminator("route"): ("route", 1, 2, 4, 5, 3),
    anchor_discriminator("route_with_token_ledger"): ("route_with_token_ledger", 1, 2, 4, 5, 3),
    anchor_discriminator("exact_out_route"): ("exact_out_route", 1, 2, 4, 6, 3),
    anchor_discriminator("shared_accounts_route"): ("shared_accounts_route", 2, 3, 6, 8, None),
    anchor_discriminator("shared_accounts_route_with_token_ledger"): ("shared_accounts_route_with_token_ledger",
                                                                      2, 3, 6, 8, None),
    anchor_discriminator("shared_accounts_exact_out_route"): ("shared_accounts_exact_out_route", 2, 3, 6, 8, None),
}
TOKEN_IX_NAMES = {3: "Transfer", 4: "Approve", 6: "SetAuthority", 7: "MintTo", 8: "Burn", 9: "CloseAccount",
                  10: "FreezeAccount", 12: "TransferChecked", 13: "ApproveChecked", 15: "BurnChecked",
                  17: "SyncNative", 18: "InitializeAccount3"}


class Finding(BaseModel):
    rule: str
    passed: bool
    detail: str


class SwapExpectations(BaseModel):
    """What the transaction must do, from our own request and the checked quote (never from the tx itself)."""

    wallet: str
    input_mint: str
    input_program: str = str(TOKEN_PROGRAM)
    output_mint: str
    output_program: str = str(TOKEN_PROGRAM)
    in_amount: int
    min_out: int
    max_priority_fee_lamports: int
    max_sol_overhead_lamports: int = 10_000_000  # fees, rent for new token accounts, priority fee

    def own_account(self, mint: str, program: str) -> Pubkey:
        return get_associated_token_address(Pubkey.from_string(self.wallet), Pubkey.from_string(mint),
                                            Pubkey.from_string(program))

    @property
    def input_account(self) -> Pubkey:
        return self.own_account(self.input_mint, self.input_program)

    @property
    def output_account(self) -> Pubkey:
        return self.own_account(self.output_mint, self.output_program)

    @property
    def input_native(self) -> bool:
        return self.input_mint == str(NATIVE_MINT)

    @property
    def output_native(self) -> bool:
        return self.output_mint == str(NATIVE_MINT)

    @property
    def fee_allowance_lamports(self) -> int:
        """The most a transaction within the priority-fee cap can pay in fees: one signature's base fee plus the
        cap (the runtime rounds the priority fee up, hence the 1)."""
        return LAMPORTS_PER_SIGNATURE + self.max_priority_fee_lamports + 1


def lookup_table_addresses(account: RawAccount | None) -> list[Pubkey]:
    if account is None or account.owner != ADDRESS_LOOKUP_TABLE_PROGRAM:
        raise LayoutError("address lookup table missing or not owned by the lookup table program")
    return list(AddressLookupTable.deserialize(account.data).addresses)


def _is_maybe_writable(message: Message | MessageV0, i: int) -> bool:
    """Whether static key `i` may be written. solders has `is_maybe_writable` only on MessageV0; for a legacy
    Message this is the same rule (Solana's `is_writable_index` from the header, minus demoted program ids)."""
    if isinstance(message, MessageV0):
        return message.is_maybe_writable(i)
    header, n_keys = message.header, len(message.account_keys)
    n_signed = header.num_required_signatures
    writable_index = (i < n_signed - header.num_readonly_signed_accounts
                      or n_signed <= i < n_keys - header.num_readonly_unsigned_accounts)
    return writable_index and not message.demote_program_id(i)


def account_keys(tx: VersionedTransaction, fetch_account) -> tuple[list[Pubkey], set[int]]:
    """All account keys (static, then lookup-table writable, then readonly) and the indexes that may be written."""
    message = tx.message
    keys = list(message.account_keys)
    writable = {i for i in range(len(keys)) if _is_maybe_writable(message, i)}
    lookups = list(getattr(message, "address_table_lookups", None) or [])
    loaded_w, loaded_r = [], []
    for lookup in lookups:
        table = lookup_table_addresses(fetch_account(lookup.account_key))
        try:
            loaded_w += [table[i] for i in lookup.writable_indexes]
            loaded_r += [table[i] for i in lookup.readonly_indexes]
        except IndexError:
            raise LayoutError("lookup index past the end of its table") from None
    writable |= set(range(len(keys), len(keys) + len(loaded_w)))
    return keys + loaded_w + loaded_r, writable


def _token_state(acc: RawAccount | None):
    if acc is None or not is_token_account(acc.owner, acc.data):
        return None
    return parse_token_account(acc.address, acc.owner, acc.data)


def own_token_accounts(accounts: Sequence[RawAccount | None], wallet: str) -> frozenset[Pubkey]:
    """The token accounts (any mint, Token or Token-2022, associated or not) that `wallet` owns among `accounts`."""
    return frozenset(acc.address for acc in accounts
                     if acc is not None and (state := _token_state(acc)) is not None and state.owner == wallet)


class _Scan:
    """Running state while walking a message's top-level instructions."""

    def __init__(self, x: SwapExpectations, own: frozenset[Pubkey]):
        self.x, self.wallet, self.own = x, Pubkey.from_string(x.wallet), own
        self.in_acc, self.out_acc = x.input_account, x.output_account
        self.out_mint = Pubkey.from_string(x.output_mint)
        self.unknown: list[str] = []
        self.problems: list[str] = []
        self.deliveries: list[Pubkey] = []
        self.cu_limit, self.cu_price, self.spent_in = DEFAULT_CU_LIMIT, 0, 0

    def instruction(self, where: str, program: Pubkey, data: bytes, accs: list[Pubkey]) -> None:
        if program not in SWAP_ALLOWED_PROGRAMS:
            self.unknown.append(str(program))
        elif program == COMPUTE_BUDGET_PROGRAM:
            self.compute_budget(where, data)
        elif program in TOKEN_PROGRAMS:
            self.token(where, data, accs)
        elif program == SYSTEM_PROGRAM:
            tag = struct.unpack_from("<I", data, 0)[0] if len(data) >= 4 else -1
            if tag != 2 or accs[1] not in (self.in_acc, self.out_acc):
                self.problems.append(f"{where}: system instruction {tag} to {accs[1] if len(accs) > 1 else '?'} not allowed")
        elif program == ASSOCIATED_TOKEN_PROGRAM:
            if data not in (b"", b"\x00", b"\x01") or accs[0] != self.wallet or accs[2] != self.wallet:
                self.problems.append(f"{where}: token account creation not paid by and for our wallet")
        elif program == JUPITER_V6_PROGRAM:
            self.jupiter(where, data, accs)

    def compute_budget(self, where: str, data: bytes) -> None:
        if data[:1] == b"\x02" and len(data) == 5:
            self.cu_limit = struct.unpack_from("<I", data, 1)[0]
        elif data[:1] == b"\x03" and len(data) == 9:
            self.cu_price = struct.unpack_from("<Q", data, 1)[0]
        elif data[:1] not in (b"\x01", b"\x04"):
            self.problems.append(f"{where}: unknown compute-budget instruction")

    def token(self, where: str, data: bytes, accs: list[Pubkey]) -> None:
        tag = data[0] if data else -1
        name = TOKEN_IX_NAMES.get(tag, f"token instruction {tag}")
        if tag in (3, 12):
            source, dest, authority = (accs[0], accs[1], accs[2]) if tag == 3 else (accs[0], accs[2], accs[3])
            amount = struct.unpack_from("<Q", data, 1)[0]
            if authority == self.wallet and source == self.in_acc:
                self.spent_in += amount
            elif source in self.own:  # e.g. our second account of the output mint "delivering" into the first
                self.problems.append(f"{where}: {name} moves {amount} out of our token account {source}, "
                                     f"which is not the route's input account {self.in_acc}")
            elif authority == self.wallet and dest != self.out_acc:
                self.problems.append(f"{where}: {name} we sign for moves {amount} from {source} to {dest}")
            if (tag == 12 and accs[1] == self.out_mint) or dest == self.out_acc:
                self.deliveries.append(dest)
        elif tag == 9:
            if accs[1] != self.wallet:
                self.problems.append(f"{where}: CloseAccount sends the rent to {accs[1]}, not to our wallet")
        elif tag != 17:  # SyncNative is harmless
            self.problems.append(f"{where}: {name} is not allowed in a swap")

    def jupiter(self, where: str, data: bytes, accs: list[Pubkey]) -> None:
        route = JUPITER_ROUTES.get(data[:8])
        if route is None:
            self.problems.append(f"{where}: unrecognised Jupiter instruction {data[:8].hex()}")
            return
        name, auth_i, source_i, dest_i, mint_i, fallback_i = route
        if accs[source_i] != self.in_acc and accs[source_i] in self.own:
            self.problems.append(f"{where}: {name} takes from our token account {accs[source_i]}, "
                                 f"which is not the route's input account {self.in_acc}")
        dest = accs[dest_i]
        if fallback_i is not None and dest == JUPITER_V6_PROGRAM:
            dest = accs[fallback_i]
        self.deliveries.append(dest)
        if accs[auth_i] != self.wallet:
            self.problems.append(f"{where}: {name} transfer authority {accs[auth_i]} is not our wallet")
        if accs[mint_i] != self.out_mint:
            self.problems.append(f"{where}: {name} delivers mint {accs[mint_i]}, expected {self.out_mint}")


def static_checks(tx: VersionedTransaction, keys: list[Pubkey], x: SwapExpectations,
                  own: frozenset[Pubkey] = frozenset()) -> list[Finding]:
    """The transaction's instructions against `x`; `own` are the wallet's token accounts among its writable
    accounts (`own_token_accounts` of their state before signing): none but the input account may pay."""
    message, scan = tx.message, _Scan(x, own)
    signers = message.header.num_required_signatures
    for n, ix in enumerate(message.instructions):
        try:
            scan.instruction(f"instruction {n}", keys[ix.program_id_index], bytes(ix.data), [keys[i] for i in ix.accounts])
        except (IndexError, struct.error):
            scan.problems.append(f"instruction {n}: malformed (too few accounts or too little data)")
    priority_fee = scan.cu_limit * scan.cu_price // 1_000_000
    delivered = sorted({str(d) for d in scan.deliveries})
    return [
        Finding(rule="fee_payer_is_wallet", passed=keys[0] == scan.wallet, detail=f"fee payer {keys[0]}"),
        Finding(rule="only_signer_is_wallet", passed=signers == 1,
                detail=f"{signers} required signers: {', '.join(str(k) for k in keys[:signers])}"),
        Finding(rule="programs_allowed", passed=not scan.unknown,
                detail=f"unknown programs: {', '.join(scan.unknown)}" if scan.unknown else "all programs allowlisted"),
        Finding(rule="instructions_allowed", passed=not scan.problems,
                detail="; ".join(scan.problems) or "all instructions allowed"),
        Finding(rule="input_within_quote", passed=scan.spent_in <= x.in_amount,
                detail=f"direct transfers from our input account {scan.spent_in}, quoted input {x.in_amount}"),
        Finding(rule="priority_fee_cap", passed=priority_fee <= x.max_priority_fee_lamports,
                detail=f"priority fee {priority_fee} lamports ({scan.cu_limit} CU at {scan.cu_price} micro-lamports), "
                       f"cap {x.max_priority_fee_lamports}"),
        Finding(rule="output_to_own_account", passed=delivered == [str(scan.out_acc)],
                detail=f"output delivered to {', '.join(delivered) or 'nowhere'}; ours is {scan.out_acc}"),
    ]


def _ours(state, wallet: str) -> int:
    """A token account's amount when `wallet` owns it, else 0 (an account that changes hands leaves our holdings)."""
    return state.amount if state is not None and state.owner == wallet else 0


def simulation_checks(pre: Sequence[RawAccount | None], post: Sequence[RawAccount | None], x: SwapExpectations,
                      fee_lamports: int | None = None) -> list[Finding]:
    """Compare pre-state with simulated post-state of the writable accounts (same order). `fee_lamports` is the
    most the transaction can pay in fees (`fee_bound_lamports` of the signed bytes); without it, the policy's cap."""
    wallet = x.wallet
    fee = x.fee_allowance_lamports if fee_lamports is None else fee_lamports
    deltas: dict[str, int] = {}
    problems, sol_delta, own_token_lamports = [], 0, 0
    if len(pre) != len(post):  # never pair one account's before with another's after
        problems.append(f"simulation returned {len(post)} accounts for {len(pre)} watched")
    for before, after in zip(pre, post, strict=False):
        lamports = (after.lamports if after else 0) - (before.lamports if before else 0)
        if before is not None and str(before.address) == wallet or after is not None and str(after.address) == wallet:
            sol_delta = lamports
        tb, ta = _token_state(before), _token_state(after)
        either = tb or ta
        if either is None or not ((tb and tb.owner == wallet) or (ta and ta.owner == wallet)):
            continue
        own_token_lamports += lamports  # closing (unwrapping) an account of ours moves SOL, it gains none
        address = either.address
        if tb and ta and tb.owner != ta.owner:
            problems.append(f"token account {address} changes owner to {ta.owner}")
        if ta and ta.delegate and (not tb or ta.delegate != tb.delegate):
            problems.append(f"token account {address} gains delegate {ta.delegate}")
        if ta and ta.close_authority and (not tb or ta.close_authority != tb.close_authority):
            problems.append(f"token account {address} gains close authority {ta.close_authority}")
        if either.mint == str(NATIVE_MINT):
            continue  # wrapped SOL is measured as SOL (its lamports, below): closing an account of ours unwraps it
        change = _ours(ta, wallet) - _ours(tb, wallet)
        deltas[either.mint] = deltas.get(either.mint, 0) + change
        if change < 0 and address != str(x.input_account):
            problems.append(f"our token account {address} loses {-change} of {either.mint}: only the route's input "
                            f"account {x.input_account} may pay")
    in_change = deltas.get(x.input_mint, 0)
    if in_change < -x.in_amount:
        problems.append(f"our {x.input_mint} (all our accounts) falls by {-in_change}, quote says {x.in_amount}")
    # The wallet's own SOL: its lamports plus those of the token accounts it owns (wrapped SOL, rent deposits).
    native_delta = sol_delta + own_token_lamports
    sol_in = x.in_amount if x.input_native else 0
    wallet_floor = -x.max_sol_overhead_lamports - sol_in  # the wallet alone also pays rent into accounts of ours
    native_floor = -fee - sol_in  # with our token accounts: nothing but the input and this fee may leave
    if x.output_native:  # fees count against the swap here: no allowance is ever added to what was received
        received = native_delta
        received_detail = (f"our SOL (wallet and own token accounts) gains {received} lamports after fees, "
                           f"guaranteed minimum {x.min_out}")
    else:
        received = deltas.get(x.output_mint, 0)
        received_detail = (f"our {x.output_mint} (all our token accounts, net) gains {received}, "
                           f"guaranteed minimum {x.min_out}")
    return [
        Finding(rule="simulated_own_accounts_safe", passed=not problems, detail="; ".join(problems) or
                f"own token balance changes: {deltas}"),
        Finding(rule="simulated_output_received", passed=received >= x.min_out, detail=received_detail),
        Finding(rule="simulated_sol_spend", passed=sol_delta >= wallet_floor and native_delta >= native_floor,
                detail=f"wallet SOL changes by {sol_delta} lamports (floor {wallet_floor}, rent for our new "
                       f"accounts included), {native_delta} with our token accounts (floor {native_floor}: "
                       f"{'the input and ' if sol_in else ''}a fee of at most {fee})"),
    ]


def fee_bound_lamports(tx: VersionedTransaction) -> int:
    """The most this transaction can pay in fees, from its own bytes: the base fee per required signature plus
    the priority fee at its compute-unit limit (the maximum when it sets none) and price."""
    message = tx.message
    keys = list(message.account_keys)  # program ids are always static keys
    cu_limit, cu_price = DEFAULT_CU_LIMIT, 0
    for ix in message.instructions:
        if ix.program_id_index >= len(keys) or keys[ix.program_id_index] != COMPUTE_BUDGET_PROGRAM:
            continue
        data = bytes(ix.data)
        if data[:1] == b"\x02" and len(data) == 5:
            cu_limit = struct.unpack_from("<I", data, 1)[0]
        elif data[:1] == b"\x03" and len(data) == 9:
            cu_price = struct.unpack_from("<Q", data, 1)[0]
    priority = -(-cu_limit * cu_price // 1_000_000)  # rounded up, as the runtime does
    return LAMPORTS_PER_SIGNATURE * message.header.num_required_signatures + priority


def landed_native_gain(record: TxRecord, wallet: str, fee_bound: int) -> int:
    """What a landed transaction added to the wallet's own SOL (its lamports plus those of the token accounts it
    owns), not counting the fee it paid: the fee is added back only when our wallet is this transaction's fee
    payer, and never more than `fee_bound` (from our own signed bytes), whatever the node reports."""
    keys = record.account_keys()
    if len(record.pre_balances) != len(keys) or len(record.post_balances) != len(keys):
        raise LayoutError(f"getTransaction reports {len(record.pre_balances)}/{len(record.post_balances)} balances "
                          f"for {len(keys)} accounts")
    own = {i for i, key in enumerate(keys) if key == wallet}
    own |= {b.account_index for b in record.pre_token_balances + record.post_token_balances if b.owner == wallet}
    if any(i >= len(keys) for i in own):
        raise LayoutError("getTransaction reports a token balance for an account index past the account keys")
    gained = sum(record.post_balances[i] - record.pre_balances[i] for i in own)
    fee = min(max(record.fee, 0), fee_bound) if keys and keys[0] == wallet else 0
    return gained + fee
