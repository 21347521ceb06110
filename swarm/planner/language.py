"""The intent language: plain English -> a `Request` (swaps and questions, in order), or a refusal.

Four passes, each deterministic and each able to refuse:

1. `screen`: unicode tricks, instructions aimed at the planner, addresses, recipients,
   out-of-scope actions, unbounded amounts, wall-clock timing (final refusals: no model
   reading can override them);
2. `canonical`: numbers as people write them become plain decimals ("three" -> 3,
   "two-thirds of a" -> 0.666..., "1e-2" -> 0.01, "$3k" -> "3000 usd", "half of my" ->
   "50% of my") and token aliases become symbols ("wrapped ether" -> weth); every value
   is computed from the user's own words, so grounding holds by construction;
3. `decompose`: the text split into sub-intents ("then", "after that", "and if ...");
4. `parse_step` per sub-intent and `combine`: each sub-intent becomes one step; the steps
   are checked together ("it" needs a previous swap, a question's token can come from a
   later step).

It never guesses.  An ambiguous text is refused with its readings listed; a phrasing it
does not know is a non-final refusal naming the part it could not read (a model reading
may then try, and is checked against the text).  Three meaning rules any parser of this
language must keep (tests/test_intent_properties.py checks them over generated wordings):

- a number is one number: a run of number words is one standard English numeral ("twenty-five",
  "a hundred", "three thousand five hundred", "one hundred and five", "twelve hundred") or it is
  refused with its readings ("one one", "twenty twenty-five", "a thousand million", "twenty 5");
  numbers side by side are never added or multiplied;
- an amount with a count has one meaning in every clause order (`_scheduled`): a split ("in 3 parts",
  "over 3 buys") divides the total; "in all" makes it the total, "each round" / "per buy" the amount
  of each round; a bare repetition ("1 ETH every 10 blocks for 5 rounds") is refused with both totals;
- a price level has a direction: "drops/falls/dips to X" is <= X, "rises/climbs to X" is >= X; a level
  verb without one ("hits", "reaches", "gets to", "goes to", "touches") is refused with both readings,
  since read as a bound it would already hold on one side of X (the planner cannot see today's price).
"""
from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_DOWN, Decimal, InvalidOperation, localcontext
from typing import Literal, Sequence

from pydantic import BaseModel, ConfigDict, ValidationError

from defai_swarm.intent import (MAX_EVERY_BLOCKS, MAX_PARTS, MAX_STEPS, Amount, Intent, PriceCondition, QueryStep, Request,
                          SwapStep)
from defai_swarm.planner.numbers import NUMBER_WORDS, SCALES, UNITS, numeral_value, split_numerals
from defai_swarm.taskgraph import Op

MAX_AMOUNT = Decimal(10) ** 12  # more than any wallet holds of anything: an absurd amount
MAX_DECIMALS = 18
USD_STABLES = frozenset({"USDC", "DAI", "USDT"})  # "the price" then means the other token's

RefusalClass = Literal["injection", "recipient", "absurd", "invalid_amount", "unicode", "unknown_token",
                       "out_of_scope", "ambiguous", "incomplete", "policy"]


class ParseFailure(BaseModel):
    """Why the parser did not produce a plan; `final` means a safety refusal nothing overrides.

    `refusal_class` names the kind of refusal; `readings` lists the possible meanings of an
    ambiguous intent (a clarification: the user picks one and says it).
    """

    model_config = ConfigDict(frozen=True)
    reason: str
    final: bool = True
    refusal_class: RefusalClass = "out_of_scope"
    readings: list[str] = []


class Refuse(Exception):
    def __init__(self, reason: str, cls: RefusalClass, final: bool = True, readings: Sequence[str] = ()):
        super().__init__(reason)
        if readings:
            reason += " (it could mean: " + " | ".join(readings) + "; say which)"
        self.failure = ParseFailure(reason=reason, final=final, refusal_class=cls, readings=list(readings))


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.ASCII)


# --- 1. screening ----------------------------------------------------------------------------------

_ALLOWED_NON_ASCII = {"\u2192": "->", "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'}
# Letters that look Latin: a symbol spelled with them is a look-alike (Cyrillic, Greek).
_CONFUSABLE = str.maketrans("АВЕКМНОРСТХаеорсухАВЕЗΗΙΚΜΝΟΡΤΥΧΖ", "ABEKMHOPCTXaeopcyxABEZHIKMNOPTYXZ")
_CONFUSABLE = {**_CONFUSABLE, **str.maketrans("ΑΒΕΗΙΚΜΝΟΡΤΥΧΖ", "ABEHIKMNOPTYXZ")}


def _lookalike_script(c: str) -> bool:
    """Cyrillic and Greek letters: the scripts whose letters pass for Latin ones ('é' is Latin, not a trick)."""
    return c.isalpha() and unicodedata.name(c, "").startswith(("CYRILLIC", "GREEK"))


def screen_unicode(text: str) -> str:
    """Refuse characters that can disguise a number or a symbol; map the few harmless ones (an arrow)."""
    for c, plain in _ALLOWED_NON_ASCII.items():
        text = text.replace(c, f" {plain} " if plain == "->" else plain)
    if text.isascii():
        return text
    for word in re.findall(r"\S+", text):
        if word.isascii():
            continue
        for c in word:
            if c.isascii():
                continue
            if unicodedata.category(c) == "Nd" or unicodedata.normalize("NFKC", c) != c:
                raise Refuse(f"the intent contains {c!r} ({unicodedata.name(c, 'unnamed')}), a character that "
                             "disguises a digit, letter or sign; type it in plain ASCII", "unicode")
        letters = "".join(ch for ch in word if ch.isalpha())
        mapped = letters.translate(_CONFUSABLE)
        if letters and mapped.isascii() and (not letters.isascii()):
            raise Refuse(f"the intent contains {word!r}, which imitates Latin letters with look-alike characters; "
                         "type token symbols in plain ASCII", "unicode")
        if any(ch.isascii() and ch.isalpha() for ch in word) and any(_lookalike_script(ch) for ch in word):
            raise Refuse(f"the intent contains {word!r}, which mixes alphabets (a look-alike symbol?); "
                         "type token symbols in plain ASCII", "unicode")
    return text


def english_only(text: str) -> None:
    """After the safety scans: text the parser cannot read (another language, emoji) is for the model path."""
    if not text.isascii():
        odd = next(c for c in text if not c.isascii())
        raise Refuse(f"the parser reads English in plain ASCII only; found {odd!r} "
                     f"({unicodedata.name(odd, 'unnamed').lower()})", "unicode", final=False)


_NUMRAW = r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"

_SCANS: list[tuple[re.Pattern[str], str, RefusalClass]] = [
    (_rx(r"\b(?:ignore|disregard|forget|override|bypass|skip|disable)\b.{0,40}?\b(?:instructions?|rules?|prompts?"
         r"|previous|above|polic(?:y|ies)|limits?|checks?|caps?|risk)\b|\bsystem\s*(?:prompt|:)|\bassistant\s*:"
         r"|\byou\s+are\s+(?:now|a)\b|\bact\s+as\b|\bnew\s+(?:rule|instructions?)\b|\bjailbreak|\bdeveloper\b"
         r"|\bpretend\b|\badmin\b|\bauthori[sz]e\b|\bnote\s+to\s+the\s+(?:ai|model|assistant|bot)\b|<<<|>>>|```|###"
         r"|\bset\s+(?:the\s+)?recipient\b|\bunrestricted\b|\boverride\b"),
     "the intent contains instructions aimed at the planner ({hit!r}); an intent is data, not a command", "injection"),
    (_rx(r"\b0x[0-9a-z]*"),
     "the intent contains an address ({hit!r}): tokens are named by symbol, and money only moves to the wallet itself",
     "recipient"),
    (_rx(r"\b[1-9A-HJ-NP-Za-km-z]{32,44}\b"),
     "the intent contains what looks like a Solana address ({hit!r}): money only moves to the wallet itself",
     "recipient"),
    (_rx(r"[\w-]+\.(?:eth|sol|crypto|nft|x|xyz|lens)\b"),
     "the intent names a recipient ({hit!r}): money only moves to the wallet itself", "recipient"),
    (_rx(r"\b(?:send|sends|sending|sent|transfer\w*|pay(?!\s+with)|pays|paying|give|gift|donate|deliver|forward|recipient"
         r"|receiver|beneficiary|payee|bridge|withdraw\w*|deposit\w*|on\s+behalf|proceeds|cold\s+wallet"
         r"|other\s+wallet|envoie|envoyer)\b"),
     "the intent moves money elsewhere ({hit!r}): money only moves to the wallet itself, and only swaps are supported",
     "recipient"),
    (re.compile(r"(?<!\w)(?:sende\w*|schick\w*|überweis\w*|envoie\w*|envoy\w*|transf[eé]r\w*|env[ií]a\w*|mand[ae]\w*"
                r"|invia\w*|envie\w*|отправ\w*|перевед\w*|перевод\w*)|发送|转给|转账|汇给|送って|送金|送信", re.IGNORECASE),
     "the intent moves money elsewhere ({hit!r}): money only moves to the wallet itself", "recipient"),
    (_rx(r"\b(?:private\s+key|seed\s+phrase|mnemonic|secret)\b"),
     "the planner never reads or reveals wallet secrets ({hit!r})", "out_of_scope"),
    (_rx(r"\b(?:unlimited|infinite|infinity|uncapped|no\s+limit|approve|approval|allowance|forever|indefinitely)\b"),
     "the intent asks for an unlimited amount, time or approval ({hit!r}); amounts and rounds must be explicit and "
     "bounded", "absurd"),
    (_rx(r"\b(?:stake|unstake|lend|borrow|mint|burn|wrap|unwrap|leverage|margin|short|long|loan|farm|provide"
         r"|liquidity|stop[\s-]+loss|take[\s-]+profit|limit\s+order|cancel)\b"),
     "only swaps and read-only questions are supported, not {hit!r}", "out_of_scope"),
    (_rx(r"\b(?:unless|not|never|except|without|don\W?t|doesn\W?t|isn\W?t|do\s+not)\b"),
     "negations are not supported ({hit!r}): state what to do, e.g. 'if ETH is above 3000'", "out_of_scope"),
    (_rx(r"\b(?:seconds?|minutes?|hours?|hourly|days?|daily|weeks?|weekly|months?|monthly|years?|tomorrow|tonight"
         r"|today|later|schedule\w*|until|whenever|noon|midnight|o'?clock|[ap]m)\b"),
     "wall-clock timing is not supported ({hit!r}): a schedule is counted in blocks, e.g. 'every 10 blocks for 5 "
     "rounds'", "out_of_scope"),
    (_rx(r"(?<![\w>=<])-\s*\.?\d|[\u2010-\u2015\u2212\ufe63\uff0d]\s*\.?\d|\bminus\b|\bnegative\b"),
     "negative numbers are not accepted ({hit!r})", "invalid_amount"),
    (_rx(r"\d\s*[x*]\s*10\s*\^|\^\s*\d|\*\*\s*\d"),
     "numbers with exponents are not accepted ({hit!r}); write the digits or 1e-2", "ambiguous"),
    (_rx(r"\d,\d{1,2}(?!\d)|\d,\d{4,}|\d\.\d*\.\d|\d,,|\d\s+\.?\d|\d[o]\d|\d[o]{2,}\b|\d\s+o{2,}\b"),
     "ambiguous number ({hit!r}): use '.' as the decimal point and ',' only between groups of three digits",
     "ambiguous"),
    (_rx(rf"(?<![<>=])\bat\s+\$?\s?{_NUMRAW}(?!\s*(?:%|percent|bps?\b|basis))"),
     "limit prices ({hit!r}) are not supported: use a condition such as 'if ETH is below 3000'", "out_of_scope"),
    (_rx(r"\b(?:some|a\s+few|a\s+bit|a\s+little|a\s+lot|lots|max|maximum|most|several|gazillion|bazillion|zillion"
         r"|bunch|loads?|a\s+ton|tons)\b(?!\s+(?:\d|slippage|of\s+\d))"),
     "the amount must be an explicit number, not {hit!r}", "ambiguous"),
]

# "max 1% slippage" uses "max" as a cap, not as an amount: the vague-amount scan skips it.
_MAX_AS_CAP = _rx(r"\b(?:max(?:imum)?)\s+(?=\.?\d|slippage)")


def screen(text: str) -> None:
    unslipped = _MAX_AS_CAP.sub("cap ", text)
    for pattern, reason, cls in _SCANS:
        if m := pattern.search(unslipped if cls == "ambiguous" else text):
            hit = m.group(0).strip()
            raise Refuse(reason.format(hit=hit), cls, readings=_readings_of(hit) if cls == "ambiguous" else ())


def _readings_of(hit: str) -> list[str]:
    """What an ambiguous number or a vague amount could mean, for the clarification."""
    if re.fullmatch(r"\d+,\d+", hit):
        return [hit.replace(",", "."), hit.replace(",", "")]
    if re.fullmatch(r"\d+\s+\.?\d+", hit):
        a, b = hit.split()
        return [a + b, a, b]
    if re.fullmatch(r"\d+\.\d*\.\d+", hit):
        a, b, c = hit.split(".")
        return [f"{a}.{b}{c}", f"{a}{b}.{c}"]
    if re.search(r"\d\s*o", hit, re.I):
        return [re.sub(r"[oO]", "0", hit), "a typo (say the number again)"]
    if re.search(r"\d", hit):
        return [hit]
    return ["an amount in tokens, e.g. '1 ETH'", "a dollar amount, e.g. '$100 of ETH'",
            "a share of the balance, e.g. '25% of my ETH'"]


# --- 2. canonical form -----------------------------------------------------------------------------

ALIASES: list[tuple[str, str]] = [
    (r"wrapped\s+ether(?:eum)?|wrapped\s+eth", "weth"), (r"usd[\s-]+coin", "usdc"), (r"ether(?:eum)?", "eth"),
    (r"tether", "usdt"), (r"dollars?|bucks|usd", "usd"), (r"percent|per\s+cent", "%"),
]
_DENOMS = {"half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4, "fourth": 4, "fourths": 4,
           "fifth": 5, "fifths": 5, "tenth": 10, "tenths": 10}
_NUMWORD = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))


def plain(value: Decimal) -> str:
    """A decimal as plain digits: at most 18 places (rounded down), no exponent, no trailing zeros."""
    with localcontext(prec=200):
        q = value.quantize(Decimal(1).scaleb(-MAX_DECIMALS), rounding=ROUND_DOWN) if value.as_tuple().exponent \
            and isinstance(value.as_tuple().exponent, int) and -int(value.as_tuple().exponent) > MAX_DECIMALS else value
        text = format(q, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _divide(a: Decimal, b: Decimal) -> Decimal:
    if b == 0:
        raise Refuse("the intent divides by zero", "invalid_amount")
    with localcontext(prec=60):
        return (a / b).quantize(Decimal(1).scaleb(-MAX_DECIMALS), rounding=ROUND_DOWN)


_NUMERIC = _rx(rf"(?<![\w.,/])(?P<num>{_NUMRAW})(?:e(?P<exp>[+]?\d{{1,3}}|-\d{{1,3}}))?"
               r"(?:\s?(?P<suffix>k|m|thousand|million|billion)(?![a-z]))?(?![\d])")
_FRACTION_DIGITS = _rx(r"(?<![\w.,/])(?P<a>\d+)\s*/\s*(?P<b>\d+)(?![\d.,/])")
# A run of number words ("twenty-five", "a thousand", "one hundred and five", "two three"): read by
# `_number_words` as one standard numeral or refused; never added up word by word.
_RUN = (rf"\b(?:an?\s+(?=(?:hundred|{'|'.join(SCALES)})\b))?(?:{_NUMWORD})\b"
        rf"(?:[\s-]+(?:and[\s-]+)?(?:{_NUMWORD})\b)*")
_WORDS = _rx(rf"{_RUN}(?P<half>\s+and\s+a\s+half\b)?")
_WORDS_AND_A_HALF = _rx(rf"{_RUN}(?P<half>\s+and\s+a\s+half\b)")
_JUXTAPOSED = _rx(r"(?<![\w.])(?P<a>\d+(?:\.\d+)?)\s+(?P<b>\d+(?:\.\d+)?)(?![\d.])")
_FRACTION_WORDS = _rx(r"(?<!\band\s)\b(?P<n>an?|one|two|three|four|five|six|seven|eight|nine)?[\s-]*(?P<d>halves|half|thirds?"
                      r"|quarters?|fourths?|fifths?|tenths?)\s*(?:(?P<of>of)\s+)?(?P<what>an?\b|my\b|it\b|that\b|the\b)?")


def _fraction_words(m: re.Match[str]) -> str:
    n_word, d_word, what = (m["n"] or "").lower(), m["d"].lower(), (m["what"] or "").lower()
    if not n_word and d_word not in ("half",) and not what:
        return m.group(0)
    if not n_word and d_word != "half":
        return m.group(0)
    n = Decimal(1) if n_word in ("", "a", "an", "one") else Decimal(UNITS[n_word])
    value = _divide(n, Decimal(_DENOMS[d_word]))
    if what in ("my", "it", "that", "the"):
        return f" {plain(_divide(n * 100, Decimal(_DENOMS[d_word])))}% of {what}"
    if what in ("a", "an") or (not m["of"] and not what):
        return f" {plain(value)} "
    return m.group(0)


def _side_by_side(a: str, b: str) -> list[str]:
    """The readings of two numbers written side by side: one number ("20 5": 25, "5 5": 55) or either."""
    whole = "." not in a + b and int(a) % 10 ** len(b) == 0 and int(a) > 0
    return list(dict.fromkeys([str(int(a) + int(b)) if whole else a + b if "." not in a else a, a, b]))


def _number_words(m: re.Match[str]) -> str:
    """One run of number words -> its value, if the run is one standard English numeral (plus "and a half").

    A run that is several numerals side by side ("one one", "twenty twenty-five", "a thousand million") is
    refused with its readings: a number is one number, never the sum of the words.  After "between",
    'and' between two complete numerals is the conjunction ("between two thousand and three thousand")."""
    run = m.group(0)[: m.start("half") - m.start()] if m["half"] else m.group(0)
    words = [w for w in re.split(r"[\s-]+", run.lower()) if w]
    half = Decimal("0.5") if m["half"] else Decimal(0)
    value = numeral_value(words)
    if value is not None:
        return f" {plain(Decimal(value) + half)} "
    pieces = " ".join(words).split(" and ")
    values = [numeral_value(p.split()) for p in pieces]
    if (len(pieces) == 2 and not half and all(v is not None for v in values)
            and re.search(r"\bbetween\s*$", m.string[: m.start()])):
        return f" {values[0]} and {values[1]} "
    parts = split_numerals(words)
    numbers = [str(v) for v, _ in parts]
    readings = []
    if len(parts) > 1 and all(len(ws) == 1 and ws[0] in ("hundred", *SCALES) for _, ws in parts[1:]):
        product = 1
        for v, _ in parts:
            product *= v
        readings.append(str(product))  # "a thousand million"
    if len(parts) > 1 and all(v < 100 for v, _ in parts[1:]):
        readings.append("".join(numbers))  # "twenty twenty-five", "two three"
    readings += numbers
    raise Refuse(f"the number words {run.strip()!r} are {len(parts) or 'several'} numbers side by side "
                 f"({', '.join(numbers)}), not one number: write the amount once", "ambiguous",
                 readings=list(dict.fromkeys(readings)) or ["one amount (say it again)"])


def canonical(text: str) -> str:
    """The intent with numbers as plain decimals and aliases as symbols, lower case, single spaces."""
    s = " " + text.lower() + " "
    s = s.replace("\u2192", " -> ")
    for pattern, repl in ALIASES:
        s = re.sub(rf"(?<![\w$]){pattern}(?![\w])", f" {repl} " if repl != "%" else "%", s, flags=re.I | re.A)
    # money: "$3k" -> "3k usd"
    s = re.sub(rf"\$\s?({_NUMRAW}(?:e[+-]?\d+)?(?:\s?(?:k|m)(?![a-z]))?)", r"\1 usd", s, flags=re.I | re.A)

    def numeric(m: re.Match[str]) -> str:
        try:
            value = Decimal(m["num"].replace(",", ""))
            if m["exp"]:
                value = value.scaleb(int(m["exp"]))
        except (InvalidOperation, ValueError):
            raise Refuse(f"not a number: {m.group(0)!r}", "ambiguous") from None
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > MAX_DECIMALS and value != 0:
            raise Refuse(f"the number {m.group(0).strip()} has more than {MAX_DECIMALS} decimal places", "absurd")
        if abs(value.adjusted()) > 60:
            raise Refuse(f"the number {m.group(0).strip()} is absurdly large or small", "absurd")
        scale = {"k": 1000, "thousand": 1000, "m": 10**6, "million": 10**6, "billion": 10**9}.get(
            (m["suffix"] or "").lower(), 1)
        return plain(value * scale)

    s = _FRACTION_DIGITS.sub(lambda m: plain(_divide(Decimal(m["a"]), Decimal(m["b"]))), s)
    s = _NUMERIC.sub(numeric, s)
    s = re.sub(r"\bone\s+half\b", "0.5", s)
    s = re.sub(r"\bhalf\s+an?\b", "0.5", s)

    s = _WORDS_AND_A_HALF.sub(_number_words, s)
    s = _FRACTION_WORDS.sub(_fraction_words, s)
    s = _WORDS.sub(_number_words, s)
    if m := _JUXTAPOSED.search(s):  # "twenty 5" -> "20 5": two numbers side by side are not one
        raise Refuse(f"two numbers side by side ({m['a']} {m['b']}) are not one amount", "ambiguous",
                     readings=_side_by_side(m["a"], m["b"]))
    s = re.sub(r"(\d)\s+(?:%)", r"\1%", s)
    s = re.sub(r"\s*(->|/|%)\s*", lambda m: {"->": " -> ", "%": "% "}.get(m.group(1), m.group(1)), s)
    s = re.sub(r"\s+([,.?!;])", r"\1", s)
    return " ".join(s.split())


# --- 3. decomposition ------------------------------------------------------------------------------

_VERB = r"(?:swap|sell|buy|trade|convert|exchange|turn|spend|get|receive|dca|check|show|quote)"
_SEQ_SPLIT = _rx(r"\s*(?:,\s*|\s)(?:and\s+then|after\s+that|afterwards|then)\s*,?\s+|\s*;\s*"
                 r"|\s+and\s+(?=(?:if|when|how|what|show|check)\b)")
_AND_VERB = _rx(r"\s*,?\s+and\s+(?=(?:swap|sell|buy|trade|convert|exchange|spend)\b)"
                r"|,\s+(?=(?:swap|sell|buy|trade|convert|exchange|spend)\b)")


def decompose(s: str) -> list[str]:
    """Sub-intents of a canonical text, in order; an 'and' between two actions with a condition is ambiguous."""
    parts: list[str] = []
    for chunk in _merge_conditions(_SEQ_SPLIT.split(s)):
        pieces = _merge_conditions([p for p in _AND_VERB.split(chunk) if p.strip()])
        if len(pieces) > 1 and _COND_WORD.search(chunk):
            raise Refuse(f"it is unclear which actions the condition in {chunk!r} applies to", "ambiguous",
                         readings=["the condition applies to every action", "the condition applies to the last action "
                                   "only"])
        parts += pieces
    parts = [p.strip(" ,.") for p in parts if p.strip(" ,.")]
    if len(parts) > MAX_STEPS:
        raise Refuse(f"the intent has {len(parts)} steps; at most {MAX_STEPS} are planned at once", "absurd")
    return parts


def _merge_conditions(pieces: list[str]) -> list[str]:
    """'if eth falls below 2200' then 'buy eth ...': a piece that is only a condition (or a schedule:
    'every 10 blocks, for 5 rounds') leads the next one."""
    out: list[str] = []
    lead = _rx(rf"^\s*(?:{_COND_LEAD}|(?:(?:one|1)\s+)?every\s+\d+\s+blocks?\b|for\s+\d+\s+[a-z]+|\d+\s+times\b)")
    for p in pieces:
        if out and lead.match(out[-1]) and not _rx(rf"\b{_VERB}\b").search(out[-1]):
            out[-1] = out[-1].rstrip(" ,") + ", " + p.strip()
        else:
            out.append(p)
    return out


# --- 4. one sub-intent ---------------------------------------------------------------------------

_RESERVED = ("to|for|into|with|using|if|when|once|and|or|then|in|of|my|all|the|it|that|worth|usd|every|blocks?|parts?"
             "|on|over|under|above|below|at|is|price|exactly|swap|sell|buy|get|me|i|a|an|from|by|than|rounds?|times"
             "|buys|purchases|chunks|pieces|trades|swaps|slippage|max|up|down|around|about|near|have|do|does|would"
             "|can|what|how|much|many|balance|balances|cost|wallet|she|he|them|half|everything|or")
SYM = rf"(?!(?:{_RESERVED})\b)[a-z][a-z0-9]{{0,19}}\b"
NUM = r"\d+(?:\.\d+)?"
_LEAD = _rx(r"(?:(?:please|pls|plz|kindly|i\s+want\s+to|i\s+would\s+like\s+to|i'd\s+like\s+to|i\s+wanna"
            r"|can\s+you|could\s+you|go\s+ahead\s+and|just|now|also)\s+)*")
_TAIL = _rx(r"\s*,?\s*(?:(?:please|pls|thanks|thx|thank\s+you|right\s+now|now|for\s+me)\s*)*[.!?]*\s*$")

_COND_WORD = _rx(r"\b(?:if|when|once|as\s+soon\s+as|provided)\b")
_COND_LEAD = r"(?:only\s+)?(?:if|when|once|as\s+soon\s+as|provided(?:\s+that)?)\s+"
_SUBJECT = (rf"(?:the\s+)?(?:price\s+of\s+(?P<sa>{SYM})(?:/(?P<sq1>{SYM}))?"
            rf"|(?P<sb>{SYM})/(?P<sq2>{SYM}|usd)(?:\s+(?:price|rate))?"
            rf"|(?P<sc>{SYM})(?:'s)?(?:\s+price)?|(?P<sit>price|it))")
# A price level reached "from below" or "from above" is a direction; "hits 2000" alone is not: the planner
# is offline and cannot know which side of 2000 the price is on, and reading it as ">= 2000" would make a
# condition that already holds when the price is above (a buy at once instead of on a dip).  So a level verb
# without a direction is refused with both readings; "drops/falls/dips to" is <=, "rises/climbs to" is >=.
RISES_TO = (r"(?:rises|climbs|jumps|rallies|recovers|(?:goes|moves|gets|comes|climbs)\s+up|bounces\s+back)"
            r"\s+(?:back\s+)?to")
FALLS_TO = (r"(?:falls|drops|dips|sinks|slides|declines|tumbles|crashes|(?:goes|moves|gets|comes|drops|falls)"
            r"\s+down)\s+(?:back\s+)?to")
LEVEL = (r"reaches|reach|hits|hit|touches|touch|tags|equals|(?:is\s+)?equal\s+to|==?"
         r"|(?:gets|goes|moves|comes|returns|trades|is|sits|stays|lands)\s+(?:back\s+)?(?:to|on)\b")
# a motion verb before the comparison ("falls below", "is over"), never the verb of a level phrase ("drops to")
_MOTION = (r"(?:\s+(?:is|goes|trades|rises|climbs|falls|drops|dips|sinks|gets|moves|stays|sits|jumps|slides|comes)"
           r"(?!\s+(?:(?:back|up|down)\s+)?(?:to|on)\b))*")
_OPS: list[tuple[Op | Literal["level"], str]] = [
    (">=", rf">=|(?:is\s+)?at\s+least|(?:above|over|greater\s+than|more\s+than|higher\s+than)\s+or\s+equal\s+to"
           rf"|{RISES_TO}"),
    ("<=", rf"<=|(?:is\s+)?at\s+most|(?:below|under|less\s+than|lower\s+than)\s+or\s+equal\s+to|{FALLS_TO}"),
    (">", r">|above|over|greater\s+than|more\s+than|higher\s+than|exceeds"),
    ("<", r"<|below|under|less\s+than|lower\s+than"),
    ("level", LEVEL),
]
_OP_RX: list[tuple[Op | Literal["level"], re.Pattern[str]]] = [(op, _rx(rf"(?:{words})\s*")) for op, words in _OPS]
_THR = _rx(rf"(?P<thr>{NUM})(?:\s*usd)?\b")
_SUBJECT_RX = _rx(_SUBJECT + _MOTION + r"\s*")
_BETWEEN = _rx(rf"between\s+(?P<lo>{NUM})(?:\s*usd)?\s+and\s+(?P<hi>{NUM})(?:\s*usd)?\b")


class _Cond:
    """A parsed condition before its 'price'/'it' subject is resolved against the step's tokens."""

    def __init__(self):
        self.terms: list = []  # (base or None, quote, op, threshold)
        self.joins: list[str] = []


def _parse_condition(s: str, pos: int) -> tuple[_Cond, int] | None:
    lead = _rx(_COND_LEAD).match(s, pos)
    if lead is None:
        return None
    cond = _Cond()
    first = _term(s, lead.end(), None, "USD", need_subject=True)
    if first is None:
        return _incomplete_condition(s, lead.end())
    terms, pos, base, quote = first
    cond.terms += terms
    cond.joins += ["and"] * (len(terms) - 1)
    while (j := _JOIN.match(s, pos)) is not None:
        more = _term(s, j.end(), base, quote, need_subject=False)
        if more is None:
            break
        terms, pos, base, quote = more
        cond.joins += [j["j"].lower()] + ["and"] * (len(terms) - 1)
        cond.terms += terms
    return cond, pos


_JOIN = _rx(r"\s*,?\s*(?P<j>and|or)\s+")


def _term(s: str, pos: int, base: str | None, quote: str, need_subject: bool):
    """One comparison ("eth is above 3000", "below 4000", "between 2600 and 3900"), the subject carried over."""
    subj = _SUBJECT_RX.match(s, pos)
    if subj and subj.end() > pos and (subj["sa"] or subj["sb"] or subj["sc"] or subj["sit"]):
        b = subj["sa"] or subj["sb"] or subj["sc"]
        base = b.upper() if b else None
        q = subj["sq1"] or subj["sq2"]
        quote = q.upper() if q else "USD"
        pos = subj.end()
    elif need_subject:
        return None
    else:
        motion = _rx(_MOTION + r"\s*").match(s, pos)
        pos = motion.end() if motion else pos
    if m := _BETWEEN.match(s, pos):
        lo, hi = sorted((Decimal(m["lo"]), Decimal(m["hi"])))
        return [(base, quote, ">=", _threshold(lo)), (base, quote, "<=", _threshold(hi))], m.end(), base, quote
    for op, rx in _OP_RX:
        if om := rx.match(s, pos):
            thr = _THR.match(s, om.end())
            if thr is None:
                if need_subject:
                    raise Refuse(f"the condition {s[pos:].strip()!r} has no price to compare with", "incomplete")
                return None
            if op == "level":
                who, level = base or "the price", thr["thr"]
                raise Refuse(f"'{om.group(0).strip()} {level}' names a level, not a direction: read as a bound it "
                             f"would already hold on one side of {level}", "ambiguous",
                             readings=[f"{who} rises to {level} (>= {level})", f"{who} falls to {level} (<= {level})"])
            return [(base, quote, op, _threshold(Decimal(thr["thr"])))], thr.end(), base, quote
    return None


def _incomplete_condition(s: str, pos: int):
    rest = s[pos:]
    if re.match(r"(?:\S+\s+){0,3}(?:is\s+)?(?:around|about|near|approximately|roughly|close\s+to)\b", rest):
        raise Refuse(f"the condition {rest!r} is not a comparison: 'around' has no exact edge", "ambiguous",
                     readings=["above the price", "below the price"])
    if re.match(r"(?:\S+\s+){0,2}(?:goes\s+up|goes\s+down|moons?|pumps?|dumps?|rises|falls|drops|crashes)\s*$", rest):
        raise Refuse(f"the condition {rest!r} gives no price to compare with", "ambiguous",
                     readings=["above a price you name", "below a price you name"])
    if re.match(r"(?:\S+\s+){0,3}(?:above|below|over|under|>|<)\s*$", rest):
        raise Refuse(f"the condition {rest!r} has no price to compare with", "incomplete")
    raise Refuse(f"could not read the condition {rest!r}", "out_of_scope", final=False)


def _threshold(value: Decimal) -> Decimal:
    if value <= 0:
        raise Refuse(f"a price threshold must be positive, got {plain(value)}", "invalid_amount")
    if value > MAX_AMOUNT:
        raise Refuse(f"the price threshold {plain(value)} is absurdly large", "absurd")
    return value


# amount expressions, tried in order at a position; each returns (Amount | None for "previous", token_in)
_AMOUNTS: list[tuple[str, re.Pattern[str]]] = [
    ("percent", _rx(rf"(?P<v>{NUM})%\s+of\s+(?:my\s+|the\s+)?(?P<t>{SYM})(?:\s+balance)?")),
    ("prev_pct", _rx(rf"(?P<v>{NUM})%\s+of\s+(?:it|that|them)\b")),
    ("all", _rx(rf"(?:all\s+(?:of\s+)?my\s+(?P<t>{SYM})|everything\s+i\s+have\s+in\s+(?P<t2>{SYM})"
                rf"|my\s+(?:whole|entire|full)\s+(?P<t3>{SYM})(?:\s+balance)?)")),
    ("usd", _rx(rf"(?P<v>{NUM})\s*usd\s+(?:worth\s+)?of\s+(?P<t>{SYM})")),
    ("tokens", _rx(rf"(?P<v>{NUM})\s*(?P<t>{SYM})(?:/(?P<pair>{SYM}))?")),
    ("one", _rx(rf"(?:an|a\s+single|a|one)\s+(?P<t>{SYM})")),
    ("prev", _rx(rf"(?:it|that|them|the\s+(?P<t>{SYM}))\b")),
]


def _amount_at(s: str, pos: int) -> tuple[str, re.Match[str]] | None:
    for kind, rx in _AMOUNTS:
        if m := rx.match(s, pos):
            return kind, m
    return None


def _amount(kind: str, m: re.Match[str]) -> tuple[Amount, str | None]:
    token = m.groupdict().get("t") or m.groupdict().get("t2") or m.groupdict().get("t3")
    if kind == "one":
        return Amount(kind="tokens", value=Decimal(1)), token
    if kind in ("prev", "prev_pct"):
        v = _value(m["v"], "percentage", pct=True) if kind == "prev_pct" else None
        return Amount(kind="previous", value=v if v != 100 else None), token
    if kind == "all":
        return Amount(kind="all"), token
    if kind == "percent":
        v = _value(m["v"], "percentage", pct=True)
        return (Amount(kind="all") if v == 100 else Amount(kind="percent", value=v)), token
    return Amount(kind="usd" if kind == "usd" else "tokens", value=_value(m["v"], "amount")), token


def _value(text: str, what: str, pct: bool = False) -> Decimal:
    value = Decimal(text)
    if value <= 0:
        raise Refuse(f"the {what} must be positive, got {text}", "invalid_amount")
    if pct and value > 100:
        raise Refuse(f"{text}% is more than the whole balance", "invalid_amount")
    if value > MAX_AMOUNT:
        raise Refuse(f"the {what} {text} is absurdly large", "absurd")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMALS:
        raise Refuse(f"the {what} {text} has more than {MAX_DECIMALS} decimal places", "absurd")
    return value


_TO = r"\s+(?:to|for|into|->|in)\s+"
_WITH = r"\s+(?:with|using|for)\s+"
_SELL = r"(?:swap|sell|trade|convert|exchange|turn|dca|change)"
_UNIT = r"(?:equal\s+)?(?:parts|pieces|chunks|swaps|trades|tranches|orders|portions|batches|buys|purchases|rounds|sells)\b"


class _Action:
    def __init__(self, token_in: str | None, token_out: str | None, amount: Amount | None, parts: int = 1):
        self.token_in, self.token_out, self.amount, self.parts = token_in, token_out, amount, parts


def _parse_action(s: str, pos: int, symbols: Sequence[str]) -> tuple[_Action, int]:
    """The action of one sub-intent starting at `pos` (its verb, amount and tokens)."""
    # exact output: "buy (exactly) 100 usdc with eth", "get 200 usdc for eth", "receive 500 dai, pay with usdc"
    m = _rx(rf"(?:buy|get|receive)\s+(?:exactly\s+)?(?P<v>{NUM})\s*(?P<out>{SYM})(?:,\s*pay|{_WITH})\s*(?:with\s+)?"
            rf"(?P<in>{SYM})(?!\s*worth)").match(s, pos)
    if m and not re.match(r"\s*worth\b", s[m.end():]):
        return _Action(m["in"], m["out"], Amount(kind="exact_out", value=_value(m["v"], "amount"))), m.end()
    # "swap eth for (exactly) 100 usdc"
    m = _rx(rf"{_SELL}\s+(?P<in>{SYM})\s+(?:to|for|into)\s+(?:exactly\s+)?(?P<v>{NUM})\s*(?P<out>{SYM})").match(s, pos)
    if m:
        return _Action(m["in"], m["out"], Amount(kind="exact_out", value=_value(m["v"], "amount"))), m.end()
    # "buy 800 dai worth of eth": the payer is the token written with the amount
    m = _rx(rf"buy\s+(?P<v>{NUM})\s*(?P<in>{SYM})\s+worth\s+of\s+(?P<out>{SYM})").match(s, pos)
    if m:
        return _Action(m["in"], m["out"], Amount(kind="tokens", value=_value(m["v"], "amount"))), m.end()
    # "buy 250 usd of eth with usdc"
    m = _rx(rf"buy\s+(?P<v>{NUM})\s*usd\s+(?:worth\s+)?of\s+(?P<out>{SYM})(?:{_WITH}(?P<in>{SYM}))?").match(s, pos)
    if m:
        if m["in"] is None:
            raise Refuse(f"the intent does not say which token pays for {m['out'].upper()}", "ambiguous",
                         readings=_pay_readings(symbols, m["out"]))
        return _Action(m["in"], m["out"], Amount(kind="usd", value=_value(m["v"], "amount"))), m.end()
    # "buy eth with 2 usdc", "buy eth with 20% of my usdc"
    m = _rx(rf"buy\s+(?P<out>{SYM})(?:{_WITH})").match(s, pos)
    if m:
        found = _amount_at(s, m.end())
        if found is None:
            raise Refuse(f"could not read the amount in {s[pos:]!r}", "ambiguous",
                         readings=[f"{s[m.end():].split(' ')[0]} of {sym}" for sym in symbols if sym.lower() != m["out"]])
        amount, token = _amount(*found)
        return _Action(token, m["out"], amount), found[1].end()
    # "spend 300 usdc on eth"
    m = _rx(r"spend\s+").match(s, pos)
    if m and (found := _amount_at(s, m.end())):
        on = _rx(rf"\s+on\s+(?P<out>{SYM})").match(s, found[1].end())
        if on:
            amount, token = _amount(*found)
            return _Action(token, on["out"], amount), on.end()
    # "dca into eth with 300 dai over 3 purchases"
    m = _rx(rf"dca\s+into\s+(?P<out>{SYM}){_WITH}").match(s, pos)
    if m and (found := _amount_at(s, m.end())):
        amount, token = _amount(*found)
        return _Action(token, m["out"], amount), found[1].end()
    # "split 1 eth into 4 swaps to usdc"
    m = _rx(r"split\s+").match(s, pos)
    if m and (found := _amount_at(s, m.end())):
        sp = _rx(rf"\s+(?:into|in)\s+(?P<n>\d+)\s+{_UNIT}{_TO}(?P<out>{SYM})").match(s, found[1].end())
        if sp:
            amount, token = _amount(*found)
            return _Action(token, sp["out"], amount, parts=_parts(sp["n"])), sp.end()
    # "swap 2 eth to usdc", "2 eth -> dai", "sell half of my eth for usdc", "sell 1 eth/usdc", "swap it to dai"
    verb = _rx(rf"(?:{_SELL}\s+)?").match(s, pos)
    assert verb is not None
    start = verb.end()
    found = _amount_at(s, start)
    if found is not None:
        kind, am = found
        if kind == "tokens" and am["pair"]:
            return _Action(am["t"], am["pair"], _amount(kind, am)[0]), am.end()
        to = _rx(rf"{_TO}(?P<out>{SYM})").match(s, am.end())
        if to:
            amount, token = _amount(kind, am)
            return _Action(token, to["out"], amount), to.end()
        if verb.end() > pos and _rx(r"\s*(?:,|$|if\b|when\b|in\b|every\b)").match(s, am.end()):
            raise Refuse(f"the intent does not say what to swap {am.group(0).upper()} into", "incomplete")
    # "dai to usdc" in a sequence: the previous step's output
    m = _rx(rf"(?P<in>{SYM}){_TO}(?P<out>{SYM})").match(s, start)
    if m:
        return _Action(m["in"], m["out"], None), m.end()
    # amounts without a token: "swap 100 to eth", "buy eth for 100", "sell half to usdc", "swap 25% to dai"
    m = _rx(rf"(?:{_SELL}\s+)?(?P<what>(?:\d+(?:\.\d+)?\s*(?:usd|%)?)|everything|half){_TO}(?P<out>{SYM})").match(s, pos)
    if m:
        raise Refuse(f"the intent does not say which token {m['what']!r} is", "ambiguous",
                     readings=[f"{m['what']} of {sym}" for sym in symbols if sym.lower() != m["out"]])
    m = _rx(rf"buy\s+(?P<out>{SYM})\s+for\s+(?P<v>{NUM})\b").match(s, pos)
    if m:
        raise Refuse(f"the intent does not say which token {m['v']} is", "ambiguous",
                     readings=[f"{m['v']} {sym}" for sym in symbols if sym.lower() != m["out"]])
    m = _rx(rf"(?:buy|get)\s+(?P<v>{NUM})\s*(?P<out>{SYM})\s*$").match(s, pos)
    if m:
        raise Refuse(f"the intent does not say which token pays for {m['v']} {m['out'].upper()}", "ambiguous",
                     readings=_pay_readings(symbols, m["out"]))
    m = _rx(rf"(?:buy|swap|sell|trade|convert)\s+(?P<t>{SYM})(?:{_TO}(?P<out>{SYM}))?\s*$").match(s, pos)
    if m:
        raise Refuse("the intent does not say how much" + ("" if m["out"] else " or into which token"), "incomplete")
    raise Refuse(f"could not read {s[pos:]!r} as a swap or a question", "out_of_scope", final=False)


def _pay_readings(symbols: Sequence[str], out: str) -> list[str]:
    return [f"pay with {sym}" for sym in symbols if sym.lower() != out.lower()] or ["pay with <token>"]


def _parts(n: str) -> int:
    value = int(n)
    if value < 1:
        raise Refuse(f"the number of parts must be between 1 and {MAX_PARTS}, got {value}", "invalid_amount")
    if value > MAX_PARTS:
        raise Refuse(f"the number of parts must be between 1 and {MAX_PARTS}, got {value}", "absurd")
    return value


_PCT = rf"(?P<sv>{NUM})\s*(?P<su>%|bps\b|bp\b|basis\s+points?\b)"
_CAP = r"(?:max(?:imum)?|at\s+most|up\s+to|cap)"
_SLIPPAGE = [
    _rx(rf"(?:a\s+)?(?:{_CAP}\s+)?{_PCT}\s+(?:{_CAP}\s+)?slippage(?:\s+tolerance)?"),
    _rx(rf"(?:(?:a\s+)?(?:{_CAP}|allowed)\s+)?slippage(?:\s+tolerance)?(?:\s*[:=]|\s+of|\s+at|\s+is)?\s*"
        rf"(?:(?:{_CAP}|below|under|of)\s+)?{_PCT}"),
]
_PARTS = [
    _rx(rf"split(?:\s+it)?\s+(?:into|in)\s+(?P<n>\d+)\s+{_UNIT}"),
    _rx(rf"(?:in|as|over|across)\s+(?P<n>\d+)\s+{_UNIT}"),
    _rx(rf"dca(?:\s+it)?\s+(?:over|in|across|into)\s+(?P<n>\d+)(?:\s+{_UNIT})?"),
]
_SCHEDULE = [_rx(r"(?:(?:one|1)\s+)?every\s+(?P<b>\d+)\s+blocks?")]
# a repetition count ("for 5 rounds", "3 times"), as against a split ("in 3 parts", "over 3 buys")
_ROUNDS = [_rx(r"(?:for\s+)?(?P<r>\d+)\s+times"),
           _rx(r"for\s+(?P<r>\d+)\s+(?:rounds|buys|purchases|swaps|trades|sells|orders|batches)\b")]
# whether an amount with a count is the total or each round's; found anywhere in the sub-intent
_PER_ROUND = _rx(r"\s*,?\s*\b(?:each(?:\s+(?:round|time|buy|purchase|part|swap|trade|sell|chunk|piece|one))?"
                 r"|per\s+(?:round|time|buy|purchase|part|swap|trade|sell|chunk|piece)|every\s+(?:round|time)"
                 r"|at\s+a\s+time|a\s+(?:round|buy|purchase))\b")
_IN_TOTAL = _rx(r"\s*,?\s*\b(?:in\s+(?:all|total)|(?:a\s+|the\s+)?total\s+of|total|altogether|all\s+together"
                r"|overall)\b")
_SEP = _rx(r"(?:\s*,\s*|\s+)(?:(?:and|with|using|at|but|then)\s+)?")


def _clause(s: str, pos: int) -> tuple[str, object, int] | None:
    found = _parse_condition(s, pos)
    if found is not None:
        return "condition", found[0], found[1]
    for name, patterns in (("slippage", _SLIPPAGE), ("parts", _PARTS), ("schedule", _SCHEDULE), ("rounds", _ROUNDS)):
        for pattern in patterns:
            if m := pattern.match(s, pos):
                return name, m, m.end()
    return None


def _slippage(m: re.Match[str]) -> int:
    value = Decimal(m["sv"])
    if m["su"] == "%":
        bps = value * 100
    else:
        bps = value
    if bps != bps.to_integral_value():
        raise Refuse(f"slippage of {m['sv']}{m['su']} is not a whole number of basis points", "invalid_amount")
    if not 1 <= bps <= 10_000:
        raise Refuse(f"slippage must be between 1 bps and 100%, got {m['sv']}{m['su']}", "absurd")
    return int(bps)


_QUERIES: list[tuple[str, re.Pattern[str]]] = [
    ("quote", _rx(rf"how\s+much\s+(?P<out>{SYM})\s+(?:would|will|can|could|do)\s+i\s+get\s+for\s+(?P<v>{NUM})\s*"
                  rf"(?P<in>{SYM})")),
    ("quote", _rx(rf"quote\s+(?:me\s+)?(?P<v>{NUM})\s*(?P<in>{SYM}){_TO}(?P<out>{SYM})")),
    ("quote", _rx(rf"what\s+(?:would|will|does|do)\s+(?P<v>{NUM})\s*(?P<in>{SYM})\s+get\s+me\s+in\s+(?P<out>{SYM})")),
    ("balance", _rx(rf"how\s+much\s+(?P<t>{SYM})\s+(?:do\s+i\s+have|is\s+in\s+my\s+wallet|do\s+i\s+hold|have\s+i\s+got)"
                    r"(?:\s+in\s+my\s+wallet)?")),
    ("balance", _rx(rf"(?:(?:what's|what\s+is|whats|show|check|get|tell\s+me)\s+)?(?:me\s+)?my\s+(?P<t>{SYM})\s+balance")),
    ("balance", _rx(rf"(?:(?:what's|what\s+is|whats|show|check|get)\s+)?(?:me\s+)?(?:the\s+|my\s+)?balance\s+of\s+"
                    rf"(?:my\s+)?(?P<t>{SYM})")),
    ("balance", _rx(r"(?:(?:what\s+are|what's|what\s+is|whats|show|check|get|list)\s+)?(?:me\s+)?(?:all\s+)?my\s+"
                    r"(?P<all>balances|balance|holdings|tokens|portfolio)")),
    ("price", _rx(rf"(?:what|how\s+much)\s+(?:does|do|is|'s)\s+(?:the\s+)?(?P<t>{SYM})\s+(?:cost|trading\s+at|"
                  r"worth|going\s+for|selling\s+for|at)")),
    ("price", _rx(rf"(?:(?:what's|what\s+is|whats|show|check|get|tell\s+me)\s+)?(?:me\s+)?(?:the\s+)?(?:current\s+)?"
                  rf"(?:price|value)\s+(?:of|for)\s+(?P<t>{SYM})(?P<more>(?:\s*(?:,|and)\s*{SYM})*)")),
    ("price", _rx(rf"(?:(?:what's|what\s+is|whats|show|check|get)\s+)?(?:me\s+)?(?:the\s+)?(?:current\s+)?"
                  rf"(?P<t>{SYM})/(?P<q>{SYM}|usd)(?:\s+(?:rate|price))?")),
    ("price", _rx(rf"(?:(?:what's|what\s+is|whats|show|check|get)\s+)?(?:me\s+)?(?:the\s+)?(?:current\s+)?"
                  rf"(?P<t>{SYM})\s+price")),
    ("price", _rx(r"(?:(?:what's|what\s+is|whats|show|check|get)\s+)?(?:me\s+)?(?:the\s+)?(?:current\s+)?"
                  r"(?P<none>price)")),
]
_QUERY_END = _rx(r"\s*(?:(?:right\s+)?now|currently|at\s+the\s+moment|please|in\s+usd)?\s*[?.!]*\s*$")


def _query(s: str) -> list[QueryStep] | None:
    for kind, rx in _QUERIES:
        m = rx.match(s)
        if m is None or not _QUERY_END.match(s, m.end()):
            continue
        g = m.groupdict()
        if kind == "quote":
            return [QueryStep(kind="quote", token=g["in"], token_out=g["out"], amount=_value(g["v"], "amount"))]
        if kind == "balance":
            return [QueryStep(kind="balance", token="*" if g.get("all") else g["t"])]
        if g.get("none"):
            return [QueryStep(kind="price", token="?")]
        tokens = [g["t"], *re.findall(r"[a-z][a-z0-9]*", g.get("more") or "")]
        tokens = [t for t in tokens if t != "and"]
        return [QueryStep(kind="price", token=t, quote=(g.get("q") or "USD").upper()) for t in tokens]
    return None


def parse_step(part: str, previous: Sequence[object] = (), symbols: Sequence[str] = ()
               ) -> list[SwapStep | QueryStep]:
    """One sub-intent (canonical text) -> its steps (a question may ask several prices)."""
    s = part[_LEAD.match(part).end():] if _LEAD.match(part) else part  # type: ignore[union-attr]
    s = s[: _TAIL.search(s).start()] if _TAIL.search(s) else s  # type: ignore[union-attr]
    if (q := _query(s)) is not None:
        return list(q)
    if m := _rx(rf"(?:{_SELL}|buy)?\s*(?P<v>{NUM})\s+on\s+(?P<a>{SYM})/(?P<b>{SYM})").match(s):
        v, a, b = m["v"], m["a"].upper(), m["b"].upper()
        raise Refuse(f"the intent does not say which side of {a}/{b} {v} is", "ambiguous",
                     readings=[f"sell {v} {a} for {b}", f"buy {a} with {v} {b}"])
    if m := _rx(rf"(?:\D*\s)?(?P<a>{NUM})\s+(?:or|to)\s+(?P<b>{NUM})\s*(?P<t>{SYM})").match(s):
        raise Refuse(f"the intent gives two amounts ({m['a']} or {m['b']})", "ambiguous",
                     readings=[f"{m['a']} {m['t'].upper()}", f"{m['b']} {m['t'].upper()}"])
    s, basis = _amount_basis(s)
    clauses: dict[str, object] = {}
    pos = 0
    while True:  # leading clauses: "if eth is above 3000, ...", "every 10 blocks ...", "for 3 rounds ..."
        found = _clause(s, pos)
        if found is None or found[0] not in ("condition", "schedule", "rounds"):
            break
        name, value, end = found
        if name in clauses:
            raise Refuse(f"the intent states the {name} twice", "ambiguous")
        clauses[name] = value
        sep = _rx(r"\s*,?\s*(?:then\s+)?").match(s, end)
        pos = sep.end() if sep else end
    pos = _LEAD.match(s, pos).end()  # type: ignore[union-attr]
    action, pos = _parse_action(s, pos, symbols)
    while pos < len(s):
        sep = _SEP.match(s, pos)
        found = _clause(s, sep.end()) if sep else None
        if found is None:
            rest = s[pos:].strip(" ,")
            out = action.token_out or ""
            if m := _rx(rf"(?:or|and)\s+(?P<alt>{SYM})\s*$").match(rest):
                raise Refuse(f"the intent names two tokens to receive ({out.upper()} and "
                             f"{m['alt'].upper()})", "ambiguous",
                             readings=[f"all into {out.upper()}", f"all into {m['alt'].upper()}",
                                       "split between them (say how)"])
            if (out + rest).upper() in {x.upper() for x in symbols}:
                raise Refuse(f"the token '{out} {rest}' is not one symbol (split by a hidden character?)",
                             "unknown_token")
            if _rx(r"(?:to|for|towards?|into)\b").match(rest):
                raise Refuse(f"the intent names a destination ({rest!r}): money only moves to the wallet itself",
                             "recipient")
            raise Refuse(f"could not read {rest!r}: the planner does not understand it", "out_of_scope", final=False)
        name, value, end = found
        if name in clauses:
            raise Refuse(f"the intent states the {name} twice", "ambiguous")
        clauses[name] = value
        pos = end
    return [_swap_step(action, clauses, previous, basis)]


def _amount_basis(s: str) -> tuple[str, Literal["each", "total"] | None]:
    """The sub-intent without its "each round" / "in all" words, and which of them it says (see `_scheduled`)."""
    each, total = _PER_ROUND.search(s), _IN_TOTAL.search(s)
    if each and total:
        raise Refuse(f"the intent says both {each.group(0).strip(' ,')!r} and {total.group(0).strip(' ,')!r}",
                     "ambiguous", readings=["the amount is the total", "the amount is spent each round"])
    if not (each or total):
        return s, None
    s = (_PER_ROUND if each else _IN_TOTAL).sub(" ", s)
    s = re.sub(r"\s+,", ",", " ".join(s.split())).strip(" ,")
    return s, "each" if each else "total"


def _scheduled(amount: Amount, count: int | None, repeated: bool, basis: Literal["each", "total"] | None,
               token_in: str, token_out: str) -> Amount:
    """THE rule for what an amount with a count means, the same in every clause order.

    - a split ("in 3 parts", "over 3 buys", "split into 3", "DCA ... over 3", with or without "every N
      blocks") divides the amount: it is the TOTAL;
    - "in all" / "in total" / "a total of" make it the total explicitly;
    - "each" / "each round" / "per buy" / "at a time" make it each round's: the total is amount x count
      (token and exact-output amounts only: a dollar amount or a balance share is resolved once, at the start);
    - a repetition without either word ("swap 1 ETH every 10 blocks for 5 rounds", "... 3 times") could be
      either, 1 ETH in all or 5 ETH in all: refused with both readings, never guessed.
    """
    if count is None:
        if basis is not None:
            raise Refuse(f"'{'each' if basis == 'each' else 'in all'}' needs a number of rounds or parts, "
                         "e.g. 'every 10 blocks for 5 rounds'", "incomplete")
        return amount
    if basis == "total" or (basis is None and not repeated):
        return amount
    token_in, token_out = token_in.upper(), token_out.upper()
    desc = amount.describe(token_in, token_out)
    v = amount.value
    fixed = amount.kind in ("tokens", "exact_out", "usd") and v is not None
    if basis is None:
        def say(x: Decimal) -> str:
            return Amount(kind=amount.kind, value=x).describe(token_in, token_out)
        readings = ([f"{desc} in all ({say(_divide(v, Decimal(count)).normalize())} per round)",
                     f"{desc} per round ({say(v * count)} in all)"] if fixed and v is not None else
                    [f"{desc} in all, split into {count} rounds", f"{desc} in each of the {count} rounds"])
        raise Refuse(f"the intent does not say whether {desc} is the total or each round's amount "
                     "(say 'in all' or 'each round')", "ambiguous", readings=readings)
    if amount.kind in ("tokens", "exact_out") and v is not None:
        return Amount(kind=amount.kind, value=v * count)
    raise Refuse(f"{desc} each round cannot be fixed in advance: a dollar amount, a share of a balance or a "
                 "previous step's output is resolved once, at the start", "ambiguous",
                 readings=[f"{desc} in all, split into {count} rounds", "a token amount each round, e.g. '0.1 "
                           f"{token_in} each round'"])


def _swap_step(action: _Action, clauses: dict[str, object], previous: Sequence[object],
               basis: Literal["each", "total"] | None = None) -> SwapStep:
    prev_swap = previous[-1] if previous and isinstance(previous[-1], SwapStep) else None
    amount = action.amount
    token_in = action.token_in
    if amount is None or amount.kind == "previous":
        if prev_swap is None:
            raise Refuse("'it' or a bare token pair needs a previous swap whose output it spends", "incomplete")
        if token_in is not None and token_in.upper() != prev_swap.token_out:
            raise Refuse(f"the step spends {token_in.upper()}, but the previous step receives {prev_swap.token_out}",
                         "ambiguous", readings=[f"spend what the previous step received ({prev_swap.token_out})",
                                                f"spend {token_in.upper()} from the wallet (say how much)"])
        token_in = prev_swap.token_out
        amount = amount or Amount(kind="previous")
    assert token_in is not None and action.token_out is not None
    fields: dict = {"token_in": token_in, "token_out": action.token_out, "amount": amount, "parts": action.parts}
    if "slippage" in clauses:
        fields["max_slippage_bps"] = _slippage(clauses["slippage"])  # type: ignore[arg-type]
    if "parts" in clauses:
        if action.parts != 1:
            raise Refuse("the intent states the number of parts twice", "ambiguous")
        fields["parts"] = _parts(clauses["parts"]["n"])  # type: ignore[index]
    rounds = None
    if "rounds" in clauses:
        rounds = int(clauses["rounds"]["r"])  # type: ignore[index]
        if rounds < 1 or rounds > MAX_PARTS:
            raise Refuse(f"the number of rounds must be between 1 and {MAX_PARTS}, got {rounds}",
                         "absurd" if rounds > MAX_PARTS else "invalid_amount")
        if fields["parts"] != 1:
            raise Refuse("the intent gives both a number of parts and a number of rounds", "ambiguous")
        if "schedule" not in clauses:
            raise Refuse("a number of times needs a schedule, e.g. 'every 10 blocks'", "incomplete")
        fields["parts"] = rounds
    if "schedule" in clauses:
        b = int(clauses["schedule"]["b"])  # type: ignore[index]
        if not 1 <= b <= MAX_EVERY_BLOCKS:
            raise Refuse(f"every {b} blocks is outside 1..{MAX_EVERY_BLOCKS}", "absurd")
        if fields["parts"] == 1:
            raise Refuse("a schedule 'every N blocks' needs a number of rounds, e.g. 'for 5 rounds'", "incomplete")
        fields["every_blocks"] = b
    count = fields["parts"] if fields["parts"] != 1 or "parts" in clauses or rounds else None
    fields["amount"] = amount = _scheduled(amount, count, rounds is not None, basis, token_in, action.token_out)
    if token_in.upper() == action.token_out.upper():
        raise Refuse(f"the intent swaps {token_in.upper()} into itself", "ambiguous",
                     readings=[f"swap {token_in.upper()} into another token (say which)"])
    if "condition" in clauses:
        c = clauses["condition"]
        assert isinstance(c, _Cond)
        joins = set(c.joins)
        if len(joins) > 1:
            raise Refuse("the condition mixes 'and' and 'or' without brackets", "ambiguous",
                         readings=["(A and B) or C", "A and (B or C)"])
        combine = joins.pop() if joins else "and"
        conds = []
        for base, quote, op, thr in c.terms:
            if base is None or base in ("PRICE", "IT"):
                base = _price_base(token_in, action.token_out)
            conds.append(PriceCondition(base=base, quote=quote, op=op, threshold=thr))
        if combine == "and":
            _satisfiable(conds)
        fields["conditions"] = tuple(conds)
        fields["combine"] = combine
    try:
        return SwapStep(**fields)
    except ValidationError as e:
        raise Refuse(f"the intent does not form a valid swap: {e.errors()[0]['msg']}", "invalid_amount") from None


def _price_base(token_in: str, token_out: str) -> str:
    volatile = [t.upper() for t in (token_in, token_out) if t.upper() not in USD_STABLES]
    if len(volatile) != 1:
        raise Refuse("the condition does not say which token's price it means", "ambiguous",
                     readings=[f"the price of {t.upper()}" for t in (token_in, token_out)])
    return volatile[0]


def _satisfiable(conds: list[PriceCondition]) -> None:
    """'ETH > 3000 and ETH < 2000' is never true: a typo, so the intent is refused rather than never run."""
    by_pair: dict[tuple[str, str], list[PriceCondition]] = {}
    for c in conds:
        by_pair.setdefault((c.base, c.quote), []).append(c)
    for (base, _), cs in by_pair.items():
        lows = [c.threshold for c in cs if c.op in (">", ">=")]
        highs = [c.threshold for c in cs if c.op in ("<", "<=")]
        if lows and highs and max(lows) >= min(highs):
            raise Refuse(f"the conditions on {base} can never all hold", "ambiguous",
                         readings=[f"{base} above {max(lows)} or below {min(highs)}",
                                   f"{base} between {min(highs)} and {max(lows)}"])


def combine(steps: list[SwapStep | QueryStep]) -> Request:
    """The steps as one request: a price question without a token takes the token of a later condition."""
    out: list[SwapStep | QueryStep] = []
    for i, step in enumerate(steps):
        if isinstance(step, QueryStep) and step.token == "?":
            later = [c.base for s in steps[i + 1:] if isinstance(s, SwapStep) for c in s.conditions]
            later += [t for s in steps[i + 1:] if isinstance(s, SwapStep) for t in (s.token_in, s.token_out)
                      if t not in USD_STABLES and not later]
            if not later:
                raise Refuse("the question does not say which token's price it asks for", "incomplete")
            step = step.model_copy(update={"token": later[0]})
        out.append(step)
    if len(out) > MAX_STEPS:
        raise Refuse(f"the intent has {len(out)} steps; at most {MAX_STEPS} are planned at once", "absurd")
    return Request(steps=tuple(out))


def parse_request(text: str, symbols: Sequence[str] = ()) -> Request | ParseFailure:
    """A Request for text the language reads completely, else a `ParseFailure` with the reason and class.

    `symbols` (the registry's) only improve the readings listed in a clarification."""
    try:
        intent = Intent(text=text)
    except ValidationError as e:
        msg = "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())
        return ParseFailure(reason="intent rejected: " + msg, refusal_class="absurd" if "limit" in msg else "incomplete")
    try:
        return parse_canonical(intent.text, symbols)
    except Refuse as r:
        return r.failure


def parse_canonical(text: str, symbols: Sequence[str] = ()) -> Request:
    """`parse_request` without the Intent cleaning (raises Refuse)."""
    text = screen_unicode(text)
    screen(text)
    english_only(text)
    s = canonical(text)
    steps: list[SwapStep | QueryStep] = []
    for part in decompose(s):
        steps += parse_step(part, steps, symbols)
    return combine(steps)


def sub_intents(text: str) -> list[str]:
    """The decomposition the Graph of Thoughts branches on (canonical sub-intent texts); raises Refuse."""
    text = screen_unicode(Intent(text=text).text)
    screen(text)
    english_only(text)
    return decompose(canonical(text))


__all__ = ["ALIASES", "FALLS_TO", "LEVEL", "MAX_AMOUNT", "RISES_TO", "ParseFailure", "Refuse", "RefusalClass",
           "USD_STABLES", "canonical", "combine", "decompose", "parse_canonical", "parse_request", "parse_step", "plain", "screen", "screen_unicode",
           "sub_intents"]
