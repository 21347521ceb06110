"""The deterministic intent parser: a few fixed phrasings, read exactly, or a refusal.

It never guesses.  Text it cannot read completely is a `ParseFailure`; a failure
for a safety reason (a recipient, an address, an unlimited or relative amount,
exact output, several actions, instructions aimed at the planner, ...) is `final`:
no model reading can override it.  A failure that only means "phrasing not known"
is not final, so the planner may let model readings try (they are then checked
against the text).

Keywords and digits are ASCII only (`re.ASCII`: a Kelvin sign is not a "k", a
full-width "２" is not a 2).  Token symbols may contain any letters: a look-alike
such as Cyrillic "ЕТН" is passed on as written and the token registry refuses it.
"""
from __future__ import annotations

import re
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, ValidationError

from swarm.intent import MAX_PARTS, Intent, IntentSlots, PriceCondition
from swarm.planner.numbers import NUMBER, percent_to_bps, to_decimal
from swarm.taskgraph import Op

MAX_AMOUNT = Decimal(10) ** 12  # more than any wallet holds of anything: an absurd amount
MAX_DECIMALS = 18
USD_STABLES = frozenset({"USDC", "DAI", "USDT"})  # "the price" then means the other token's


class ParseFailure(BaseModel):
    """Why the parser did not produce slots; `final` means a safety refusal nothing overrides."""

    model_config = ConfigDict(frozen=True)
    reason: str
    final: bool = True


class _Refuse(Exception):
    def __init__(self, reason: str, final: bool = True):
        super().__init__(reason)
        self.failure = ParseFailure(reason=reason, final=final)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.ASCII)


SYM = r"(?u:[^\W\d_][^\W_]{0,19}(?!\w))"
AMT = rf"{NUMBER}(?!\d|[.,]\d)"
EXACT_IN_VERBS = r"(?:swap|sell|trade|convert|exchange)"
ACTION_VERBS = _rx(r"\b(?:swap|sell|buy|trade|convert|exchange)\b")

# --- safety scans over the whole text: any hit is a final refusal --------------------------

_SCANS: list[tuple[re.Pattern[str], str]] = [
    (_rx(r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}?\b(?:instructions?|rules?|prompts?|previous|above"
         r"|polic(?:y|ies)|limits?|checks?)\b|\bsystem\s+prompt\b|\byou\s+are\s+now\b|\bact\s+as\b|\bnew\s+instructions?\b"
         r"|\bjailbreak|\bdeveloper\s+mode\b|\bpretend\b"),
     "the intent contains instructions aimed at the planner ({hit!r}); an intent is data, not a command"),
    (_rx(r"\b0x[0-9a-z]*"),
     "the intent contains an address ({hit!r}): tokens are named by symbol, and money only moves to the wallet itself"),
    (_rx(r"[\w-]+\.(?:eth|sol|crypto|nft|x|xyz|lens)\b"),
     "the intent names a recipient ({hit!r}): money only moves to the wallet itself"),
    (_rx(r"\b(?:send|sends|sending|sent|transfer\w*|pay|pays|paying|give|gift|donate|deliver|forward|recipient"
         r"|receiver|beneficiary|payee|bridge|withdraw\w*|deposit\w*)\b"),
     "the intent moves money elsewhere ({hit!r}): money only moves to the wallet itself, and only swaps are supported"),
    (_rx(r"\b(?:unlimited|infinite|infinity|uncapped|no\s+limit|approve|approval|allowance)\b"),
     "the intent asks for an unlimited amount or an approval ({hit!r}); amounts must be explicit and bounded"),
    (_rx(r"\b(?:all|everything|entire|whole|half|rest|remaining|remainder|balance|as\s+much\s+as|worth|of\s+my)\b"),
     "the amount must be an explicit number of tokens, not {hit!r}"),
    (_rx(r"\b(?:stake|unstake|lend|borrow|mint|burn|wrap|unwrap|leverage|margin|short|long|loan|farm|provide)\b"),
     "only swaps are supported, not {hit!r}"),
    (_rx(r"\b(?:and\s+then|after\s+that|afterwards|followed\s+by"
         r"|also|plus|as\s+well)\b"),
     "the intent asks for more than one action ({hit!r}); state one swap per intent"),
    (_rx(r"(?<![\w>=<])-\s*\.?\d|[\u2010-\u2015\u2212\ufe63\uff0d]\s*\.?\d|\bminus\b|\bnegative\b"),
     "negative numbers are not accepted ({hit!r})"),
    (_rx(r"\d\.?e[+-]?\d|\d\s*[x*]\s*10\s*\^|\^\s*\d|\*\*\s*\d"),
     "numbers in scientific notation or with exponents are not accepted ({hit!r}); write the digits"),
    (_rx(r"\d,\d{1,2}(?!\d)|\d,\d{4,}|\d\.\d*\.\d|\d,,|\d\s+\.?\d"),
     "ambiguous number ({hit!r}): use '.' as the decimal point and ',' only between groups of three digits"),
    (_rx(r"\b(?:unless|not|never|except|without|don\W?t|doesn\W?t|isn\W?t|do\s+not)\b"),
     "negations are not supported ({hit!r}): state what to do, e.g. 'if ETH is above 3000'"),
    (_rx(r"\b(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|daily|weekly|monthly|hourly|tomorrow|tonight"
         r"|every|each|later|schedule\w*|until|whenever|repeat\w*)\b"),
     "timing is not supported ({hit!r}): a plan runs its swaps right away, one after another"),
    (_rx(rf"\bat\s+\$?\s?{NUMBER}(?!\d|[.,]\d)(?!\s*(?:%|percent|bps?\b|basis))"),
     "limit prices ({hit!r}) are not supported: use a condition such as 'if ETH is below 3000'"),
    (_rx(r"\b(?:get|receive|obtain|acquire|exactly)\b"),
     "only exact-input swaps are supported ({hit!r}): say how much you pay, e.g. 'swap 1 ETH to USDC'"),
]

# --- the grammar ---------------------------------------------------------------------------

_LEAD = _rx(r"(?:(?:please|pls|kindly|i\s+want\s+to|i\s+would\s+like\s+to|i'd\s+like\s+to|can\s+you|could\s+you)\s+)*")
_EXACT_IN = _rx(rf"{EXACT_IN_VERBS}\s+(?P<amount>{AMT})\s*(?P<tin>{SYM})\s+(?:to|for|into|->)\s+(?P<tout>{SYM})")
_BUY_WITH = _rx(rf"buy\s+(?P<tout>{SYM})\s+(?:with|using)\s+(?P<amount>{AMT})\s*(?P<tin>{SYM})")

# Phrasings that are understood but refused (checked only when the grammar did not match).
_ACTION_REFUSALS: list[tuple[re.Pattern[str], str]] = [
    (_rx(rf"buy\s+\$?\s*{AMT}"),
     "exact-output buys ('buy 100 USDC ...') are not supported: say what you pay, e.g. 'buy USDC with 0.05 ETH'"),
    (_rx(rf"{EXACT_IN_VERBS}\s+{SYM}\s+(?:to|for|into)\s+\$?\s*{AMT}"),
     "exact-output swaps ('swap ETH for 100 USDC') are not supported: say how much you pay"),
    (_rx(rf"(?:{EXACT_IN_VERBS}|buy)\s+(?:{AMT}\s*(?:%|percent\b)|(?:some|a\s+few|a\s+bit|max|maximum|most)\b)"),
     "the amount must be an explicit number of tokens, not a share or a vague quantity"),
    (_rx(rf"(?:{EXACT_IN_VERBS}|buy)\s+(?:\$|{AMT}\s*(?:usd|dollars?)\b)"),
     "amounts in dollars are not supported: give the amount in token units"),
]

_COND_LEAD = r"(?:only\s+)?(?:if|when|once|provided(?:\s+that)?)\s+"
_SUBJECT = (rf"(?:the\s+)?(?:price\s+of\s+(?P<b1>{SYM})|(?P<b0>price)(?!\s+of)"
            rf"|(?!price\b)(?P<b2>{SYM})(?:\s*/\s*usd)?(?:'s)?(?:\s+price)?)")
_MOTION = r"(?:\s+(?:is|goes|trades|rises|climbs|falls|drops|gets|moves))?"
_OPS = (r"(?P<ge>>=|at\s+least|(?:above|over|greater\s+than|more\s+than|higher\s+than)\s+or\s+equal\s+to)"
        r"|(?P<le><=|at\s+most|(?:below|under|less\s+than|lower\s+than)\s+or\s+equal\s+to)"
        r"|(?P<gt>>|above|over|greater\s+than|more\s+than|higher\s+than|exceeds)"
        r"|(?P<lt><|below|under|less\s+than|lower\s+than)")
_OP_GROUPS: dict[str, Op] = {"ge": ">=", "le": "<=", "gt": ">", "lt": "<"}  # _OPS's group names, in order
_THRESHOLD = rf"\$?\s?(?P<thr>{AMT})(?:\s?(?P<k>k)(?!\w))?(?:\s?(?:usd|dollars?)(?!\w))?"
_CONDITION = _rx(rf"{_COND_LEAD}{_SUBJECT}{_MOTION}\s*(?:{_OPS})\s*{_THRESHOLD}")

_PCT = rf"(?P<sv>{AMT})\s*(?P<su>%|percent(?!\w)|bps(?!\w)|bp(?!\w)|basis\s+points?(?!\w))"
_CAP = r"(?:max(?:imum)?|at\s+most|up\s+to)"
_SLIPPAGE = [
    _rx(rf"(?:a\s+)?(?:{_CAP}\s+)?{_PCT}\s+(?:{_CAP}\s+)?slippage(?:\s+tolerance)?"),
    _rx(rf"(?:(?:a\s+)?(?:{_CAP}|allowed)\s+)?slippage(?:\s+tolerance)?(?:\s*[:=]|\s+of|\s+at|\s+is)?\s*"
        rf"(?:(?:{_CAP}|below|under|of)\s+)?{_PCT}"),
]

_UNIT = r"(?:equal\s+)?(?:parts|pieces|chunks|swaps|trades|tranches|orders|portions|batches)(?!\w)"
_N = r"(?P<n>\d+)(?!\d|[.,]\d)"
_PARTS = [
    _rx(rf"split(?:\s+it)?\s+(?:into|in)\s+{_N}\s+{_UNIT}"),
    _rx(rf"(?:in|as)\s+{_N}\s+{_UNIT}"),
    _rx(rf"(?:over|across)\s+{_N}\s+{_UNIT}"),
    _rx(rf"dca(?:\s+it)?\s+(?:over|in|across|into)\s+{_N}(?:\s+{_UNIT})?"),
]

_SEP = _rx(r"(?:\s*,\s*|\s+)(?:(?:and|with|using|at|but)\s+)?")
_THEN = _rx(r"(?:\s*,\s*|\s+)(?:then\s+)?")
_END = _rx(r"\s*,?\s*(?:please|thanks|thank\s+you)?\s*[.!]*\s*$")
_RECIPIENT_TAIL = _rx(r"(?:to|for|towards?|into)\b")
_UNREADABLE = "could not read the intent as 'swap <amount> <token> to <token>' or 'buy <token> with <amount> <token>'"


def parse_intent(text: str) -> IntentSlots | ParseFailure:
    """Slots for a phrasing the parser knows completely, else a `ParseFailure` with the reason."""
    try:
        intent = Intent(text=text)
    except ValidationError as e:
        return ParseFailure(reason="intent rejected: " + "; ".join(err["msg"].removeprefix("Value error, ")
                                                                    for err in e.errors()))
    try:
        return _parse(intent.text)
    except _Refuse as r:
        return r.failure


def _parse(s: str) -> IntentSlots:
    for pattern, reason in _SCANS:
        if m := pattern.search(s):
            raise _Refuse(reason.format(hit=m.group(0)))
    if len(ACTION_VERBS.findall(s)) > 1:
        raise _Refuse("the intent asks for more than one action; state one swap per intent")

    pos = _skip(_LEAD, s, 0)
    clauses: dict[str, re.Match[str]] = {}
    if m := _CONDITION.match(s, pos):  # "if ETH is above 3000, swap ..."
        clauses["condition"] = m
        then = _THEN.match(s, m.end())
        if then is None:  # e.g. "if ETH is above 3000." with no action after the condition
            raise _Refuse(_UNREADABLE, final=False)
        pos = _skip(_LEAD, s, then.end())
    action = _EXACT_IN.match(s, pos) or _BUY_WITH.match(s, pos)
    if action is None:
        for pattern, reason in _ACTION_REFUSALS:
            if pattern.match(s, pos):
                raise _Refuse(reason)
        raise _Refuse(_UNREADABLE, final=False)
    pos = action.end()
    while not _END.match(s, pos):
        sep = _SEP.match(s, pos)
        found = _clause(s, sep.end()) if sep else None
        if found is None:
            rest = s[pos:].strip(" ,")
            if _RECIPIENT_TAIL.match(rest):
                raise _Refuse(f"the intent names a destination ({rest!r}): money only moves to the wallet itself")
            raise _Refuse(f"could not read {rest!r}", final=False)
        name, m = found
        if name in clauses:
            raise _Refuse(f"the intent states the {name} twice")
        clauses[name] = m
        pos = m.end()
    return _slots(action, clauses)


def _skip(pattern: re.Pattern[str], s: str, pos: int) -> int:
    """Where an optional pattern (one that may match the empty string, like _LEAD) ends when matched at `pos`."""
    m = pattern.match(s, pos)
    return m.end() if m else pos


def _clause(s: str, pos: int) -> tuple[str, re.Match[str]] | None:
    if m := _CONDITION.match(s, pos):
        return "condition", m
    for name, patterns in (("slippage", _SLIPPAGE), ("parts", _PARTS)):
        for pattern in patterns:
            if m := pattern.match(s, pos):
                return name, m
    return None


def _number(text: str, what: str) -> Decimal:
    value = to_decimal(text)
    if value <= 0:
        raise _Refuse(f"the {what} must be positive, got {text}")
    if value > MAX_AMOUNT:
        raise _Refuse(f"the {what} {text} is absurdly large")
    exponent = value.as_tuple().exponent  # an int: to_decimal refuses NaN and infinities
    if isinstance(exponent, int) and -exponent > MAX_DECIMALS:
        raise _Refuse(f"the {what} {text} has more than {MAX_DECIMALS} decimal places")
    return value


def _slots(action: re.Match[str], clauses: dict[str, re.Match[str]]) -> IntentSlots:
    token_in, token_out = action["tin"], action["tout"]
    fields: dict = {"token_in": token_in, "token_out": token_out,
                    "amount_in": _number(action["amount"], "amount")}
    if m := clauses.get("condition"):
        fields["condition"] = _condition(m, token_in, token_out)
    if m := clauses.get("slippage"):
        fields["max_slippage_bps"] = _slippage(m)
    if m := clauses.get("parts"):
        n = int(m["n"])
        if not 1 <= n <= MAX_PARTS:
            raise _Refuse(f"the number of parts must be between 1 and {MAX_PARTS}, got {n}")
        fields["parts"] = n
    try:
        return IntentSlots(**fields)
    except ValidationError as e:  # e.g. an over-long symbol
        raise _Refuse(f"the intent does not form valid slots: {e.errors()[0]['msg']}") from None


def _condition(m: re.Match[str], token_in: str, token_out: str) -> PriceCondition:
    base = m["b1"] or m["b2"]
    if base is None:  # "if the price is above ...": only clear when exactly one side is not a USD stablecoin
        volatile = [t for t in (token_in, token_out) if t.upper() not in USD_STABLES]
        if len(volatile) != 1:
            raise _Refuse("the condition does not say which token's price it means; name it, e.g. 'if ETH is above 3000'")
        base = volatile[0]
    threshold = _plain(to_decimal(m["thr"]) * (1000 if m["k"] else 1))
    op: Op = next(sym for key, sym in _OP_GROUPS.items() if m[key])
    return PriceCondition(base=base, op=op, threshold=_number(str(threshold), "price threshold"))


def _plain(value: Decimal) -> Decimal:
    """2500.0 -> 2500 and 2555.500 -> 2555.5, never an exponent form like 2.5E+3."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _slippage(m: re.Match[str]) -> int:
    value = to_decimal(m["sv"])
    unit = m["su"].lower()
    if unit in ("%", "percent"):
        try:
            bps = percent_to_bps(value)
        except ValueError as e:
            raise _Refuse(str(e)) from None
    else:
        if value != value.to_integral_value():
            raise _Refuse(f"slippage of {value} bps is not a whole number of basis points")
        bps = int(value)
    if not 1 <= bps <= 10_000:
        raise _Refuse(f"slippage must be between 1 bps and 100%, got {m['sv']}{m['su']}")
    return bps


__all__ = ["ParseFailure", "parse_intent", "MAX_AMOUNT", "USD_STABLES"]
