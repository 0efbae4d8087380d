"""WHAT: prices as Decimal cents — parsing input, formatting for text, and finding every number a text
     names, in the spellings people (and small LLMs) use: "$1,200", "1200.00", "1.2k", "1k2",
     "1.200,00", "1 200", "12 hundred", "twelve hundred", "three fifty", and digit by digit ("1-2-0-0",
     "1 2 0 0", "one two zero zero"). A spelling no pattern here knows is a gap: this list is what is covered.
WHY: limits are enforced on Decimal values (never floats), and the leak guardrail must recognise a
     private price however it is written; missing one spelling is a leak.
HOW: `parse_price` validates one input value; `price_mentions` returns each number-like span with all the
     values it could mean ("1.200" is 1.2 and 1200), every ambiguity resolved towards "it might be a price".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from negotiations.exceptions import PriceError

CENT = Decimal("0.01")
MAX_PRICE = Decimal("9999999999.99")  # fits Decimal(12, 2)
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


# What the API documents (OpenAPI pattern ^\d+(\.\d{1,2})?$): ASCII digits, an optional point and
# decimals; nothing else (no sign, exponent, spaces, thousands separators or non-ASCII digits).
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def parse_price(value: object) -> Decimal:
    """A positive amount with at most two decimals. A string must be a plain decimal ("450", "450.5",
    "450.00"); a number is taken by value (a JSON 450.5 or 1e3 is fine), an int or Decimal likewise;
    "450.000", " 12 ", "1e3" (as a string) and "١٢" are refused."""
    if isinstance(value, bool) or value is None:
        raise PriceError("must be a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PriceError("must be a finite number")
        text = format(Decimal(repr(value)), "f")  # repr: the shortest form that reads back as this float
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise PriceError("must be a finite number")
        text = format(value, "f")
    elif isinstance(value, int):
        if value <= 0:
            raise PriceError("must be greater than zero")
        if value > MAX_PRICE:  # before str(): a 5000-digit int cannot even be printed
            raise PriceError(f"must be at most {MAX_PRICE}")
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise PriceError("must be a number")
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise PriceError("must be a plain decimal number such as 450 or 450.00")
    amount = Decimal(text)
    if amount <= 0:
        raise PriceError("must be greater than zero")
    if "." in text and len(text.partition(".")[2]) > 2:
        raise PriceError("must have at most two decimal places")
    if amount > MAX_PRICE:
        raise PriceError(f"must be at most {MAX_PRICE}")
    return amount.quantize(CENT)


def round_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_price(value: Decimal, currency: str = "USD") -> str:
    """How prices appear in public text: "$1,250" or "$1,250.50"; other currencies as "1,250 CHF"."""
    value = round_cents(value)
    number = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    return f"{symbol}{number}" if symbol else f"{number} {currency.upper()}"


@dataclass(frozen=True)
class PriceMention:
    """A number-like span of text. `values` are its possible readings; `marked` means it carries a
    currency sign/word, a thousands suffix or cents, so it is a price even when small."""

    text: str
    values: tuple[Decimal, ...]
    marked: bool


_WORD_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_WORD_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_WORD_SCALES = {"hundred": 100, "thousand": 1000, "grand": 1000, "k": 1000, "million": 1_000_000}

_SUFFIX = r"(?P<suffix>\s?(?:k|K|thousand|grand|hundred|million|m|M)\b)?"
_CURRENCY_BEFORE = r"(?P<cur>\$|€|£|\b(?:usd|eur|gbp|us\$)\s?)?"
_CURRENCY_AFTER = r"(?P<curafter>\s?(?:\$|€|£|dollars?|bucks|usd|eur|gbp|euros?|pounds?|quid)\b)?"
_DIGITS = (
    r"(?P<num>"
    r"\d{1,3}k\d{1,3}(?![0-9])"  # 1k2 = 1200, 1k25 = 1250
    r"|(?<![0-9])\d(?:-\d){2,}(?![0-9])"  # 1-2-0-0 (digit by digit)
    r"|(?<![0-9])\d(?: \d){2,}(?![0-9])"  # 1 2 0 0
    r"|\d{1,3}(?:,\d{3})+(?:\.\d+)?"  # 1,200 / 1,200.50
    r"|\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?"  # 1.200 / 1.200,50 (European)
    r"|\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?"  # 1 200 (spaced thousands)
    r"|\d+(?:[.,]\d+)?"  # 1200 / 1200.00 / 1200,50
    r"|[.,]\d+"  # .5
    r")"
)
# A percent sign is swallowed (so "50 %k" is no thousands) but changes nothing: "50%" is read as 50.
_NUMBER_RE = re.compile(_CURRENCY_BEFORE + _DIGITS + r"(?:\s?%)?" + _SUFFIX + _CURRENCY_AFTER, re.IGNORECASE)
_WORD_RE = re.compile(r"[A-Za-z]+")


def price_mentions(text: str) -> list[PriceMention]:
    """Every number-like span in `text`, digits and English number words alike, with every value it could
    mean ("1 200" is 1200, or 1 and 200). The guardrail passes a mention only if EVERY reading is allowed:
    over-matching only costs a regenerated message, under-matching could leak a limit."""
    mentions = [_digit_mention(m) for m in _NUMBER_RE.finditer(text)]
    mentions.extend(_word_mentions(text))
    return [m for m in mentions if m.values]


def _digit_mention(match: re.Match[str]) -> PriceMention:
    raw = match.group("num")
    readings = _digit_readings(raw)
    scale = _scale_of(match.group("suffix"))
    if scale != 1:
        readings = {r * scale for r in readings}
    marked = bool(
        match.group("cur") or match.group("curafter") or match.group("suffix") or re.search(r"[.,]\d{2}$|[kK]", raw)
    )
    return PriceMention(match.group(0).strip(), tuple(sorted(readings)), marked)


def _scale_of(suffix: str | None) -> int:
    if not suffix:
        return 1
    word = suffix.strip().lower()
    return _WORD_SCALES.get(word, 1_000_000 if word == "m" else 1)


def _digit_readings(raw: str) -> set[Decimal]:
    """All plausible values of a digit string: separators may be thousands or decimal marks."""
    text = re.sub(r"[ \u00a0\u202f]", " ", raw)
    readings: list[str] = []
    if re.fullmatch(r"\d{1,3}[kK]\d{1,3}", text):
        whole, _, fraction = text.lower().partition("k")
        return {Decimal(f"{whole}.{fraction}") * 1000}
    if re.fullmatch(r"\d(?:[- ]\d){2,}", text):
        digits = re.sub(r"[- ]", "", text)
        return {Decimal(digits), *(Decimal(d) for d in digits)}  # 1200, or a list of single digits
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", text):
        readings.append(text.replace(",", ""))
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?", text):
        readings.append(text.replace(".", "").replace(",", "."))
        if text.count(".") == 1 and "," not in text:
            readings.append(text)  # "1.200" may also be 1.2
    elif re.fullmatch(r"\d{1,3}(?: \d{3})+(?:[.,]\d{1,2})?", text):
        readings.append(text.replace(" ", "").replace(",", "."))
        readings.extend(re.split(r"[ ]", re.sub(r"[.,]\d{1,2}$", "", text)))  # or several numbers
    elif re.fullmatch(r"\d+,\d+", text):
        readings.append(text.replace(",", "."))
        if re.fullmatch(r"\d+,\d{3}", text):
            readings.append(text.replace(",", ""))
    else:
        readings.append(text)
    values: set[Decimal] = set()
    for reading in readings:
        try:
            value = Decimal(reading)
        except InvalidOperation:
            continue
        if value.is_finite():
            values.add(value)
    return values


def _word_mentions(text: str) -> list[PriceMention]:
    """Runs of English number words ("twelve hundred and fifty", "three fifty", "a grand")."""
    mentions: list[PriceMention] = []
    run: list[tuple[str, int, int]] = []
    for word_match in _WORD_RE.finditer(text):
        word = word_match.group(0).lower()
        is_number_word = word in _WORD_UNITS or word in _WORD_TENS or (word in _WORD_SCALES and word != "k")
        connector = word in ("and", "a") and bool(run)
        if is_number_word or connector or (word == "a" and _next_word_is_scale(text, word_match.end())):
            run.append((word, word_match.start(), word_match.end()))
            continue
        _flush_word_run(text, run, mentions)
        run = []
    _flush_word_run(text, run, mentions)
    return mentions


def _next_word_is_scale(text: str, position: int) -> bool:
    following = _WORD_RE.search(text, position)
    return bool(following) and following.group(0).lower() in ("hundred", "thousand", "grand")  # type: ignore[union-attr]


def _flush_word_run(text: str, run: list[tuple[str, int, int]], mentions: list[PriceMention]) -> None:
    while run and run[-1][0] in ("and", "a"):
        run = run[:-1]
    words = [w for w, _, _ in run if w not in ("and", "a")]
    if run and run[0][0] == "a":
        words.insert(0, "one")  # "a grand", "a thousand"
    if not words or all(w in _WORD_SCALES for w in words):
        return
    readings = {Decimal(_words_value(words))}
    # Digit by digit: "one two zero zero" = 1200.
    if len(words) >= 3 and all(_WORD_UNITS.get(w, 10) < 10 for w in words):
        readings.add(Decimal("".join(str(_WORD_UNITS[w]) for w in words)))
    # Colloquial prices: "three fifty" = 350, "twelve fifty" = 1250.
    groups = _small_groups(words)
    if len(groups) == 2 and all(0 < g < 100 for g in groups):
        readings.add(Decimal(groups[0] * 100 + groups[1]))
    span = text[run[0][1] : run[-1][2]]
    marked = any(w in ("grand", "thousand") for w in words)
    mentions.append(PriceMention(span, tuple(sorted(readings)), marked))


def _words_value(words: list[str]) -> int:
    total, current = 0, 0
    for word in words:
        if word in _WORD_UNITS:
            current += _WORD_UNITS[word]
        elif word in _WORD_TENS:
            current += _WORD_TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        else:  # thousand, grand, million
            total += max(current, 1) * _WORD_SCALES[word]
            current = 0
    return total + current


def _small_groups(words: list[str]) -> list[int]:
    """Split scale-free word runs into number groups: "three fifty" -> [3, 50]; "twenty five" -> [25]."""
    if any(w in _WORD_SCALES for w in words):
        return []
    groups: list[int] = []
    for word in words:
        value = _WORD_UNITS.get(word, _WORD_TENS.get(word, 0))
        if groups and word in _WORD_UNITS and groups[-1] in _WORD_TENS.values() and value < 10:
            groups[-1] += value
        else:
            groups.append(value)
    return groups
