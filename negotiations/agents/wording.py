"""WHAT: the words checks on every public message: an offer names its own price as people write it, no
     role labels, no talk about messages/formats/rules/being an AI, the speaker stays in its role, 3 to 60
     words, an acceptance says so, no repeat of its own earlier words. Each failure has its own kind.
WHY: the price and privacy checks (guardrails.check_text) keep a transcript safe; these keep it a
     negotiation a person would believe, instead of prompt echoes and pleasantries from a small model.
HOW: pure regular-expression and `prices.price_mentions` checks, run by the agent after `check_text`
     (a failing draft is regenerated, then replaced by a phrase from `phrases`) and again by `evaluate`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from negotiations.agents.guardrails import Finding
from negotiations.prices import price_mentions

__all__ = ["MAX_WORDS", "MIN_WORDS", "WORDING_KINDS", "check_wording", "names_price", "word_count"]

MIN_WORDS = 3
MAX_WORDS = 60
# A short counter ("How about $150?") may come back; a longer sentence said again at once with only a
# new price reads as a machine's.
REPEAT_MIN_WORDS = 6
WORDING_KINDS = (
    "missing_own_price",
    "role_label",
    "meta_talk",
    "out_of_role",
    "bad_length",
    "unstated_acceptance",
    "repeated_text",
)

_HALF_CENT = Decimal("0.005")
# A speaker label or a transcript heading: "Buyer:", "Seller :", "Conversation:", "Assistant:".
_ROLE_LABEL = re.compile(
    r"(?<![\w'])(?:buyer|seller|assistant|user|system|conversation|customer|human|ai|bot|me|you|response|answer"
    r"|reply|message|output|note|narrator)\s*:",
    re.IGNORECASE,
)
# Talk about the exchange itself rather than the item and the price.
_META_TALK = re.compile(
    r"\b(?:messages?|format(?:s|ted|ting)?|responses?|respond(?:ing)?|rules?|instructions?|prompts?|json"
    r"|sentences?|word count|(?:an?|as an?) (?:ai|a\.i\.|assistant|language model|chatbot|bot)\b"
    r"|language model|chat ?bot|virtual assistant|ai assistant|artificial intelligence"
    # an assistant's service phrases, not a private seller's or buyer's
    r"|(?:happy|glad|here|able) to (?:help|assist)|assist you|how (?:can|may) i (?:help|assist)"
    r"|help you (?:with|find|out)|let me know if you (?:have|need) any)\b",
    re.IGNORECASE,
)
_I = r"(?:i|i'm|i am|i'd|i would|i'll|i will|we|we're|we are|we'd)"
# A seller wanting to buy, or talking about its budget.
_SELLER_OUT_OF_ROLE = re.compile(
    rf"\b(?:{_I} (?:like|love|want|need|hope|looking|interested|happy|glad|ready|planning)?\s*(?:to )?"
    r"(?:buy|purchase)\b|(?:my|our) budget|(?:i|we) can(?:not|'t)? afford|(?:i|we)(?:'m| am| are) looking for"
    r"|(?:can|could|may) (?:i|we) (?:buy|purchase|get it)|you(?:'re| are) selling|your (?:listing|asking price))",
    re.IGNORECASE,
)
# A buyer talking as if it sold the item.
_BUYER_OUT_OF_ROLE = re.compile(
    rf"\b(?:{_I} (?:like|love|want|need|happy|glad|ready|planning)?\s*(?:to )?sell(?:ing)?\b|(?:my|our) "
    r"(?:listing|asking price|shop|store|customers?)|(?:i|we) (?:can|could) let (?:it|this|them) go"
    r"|(?:buy|purchase) (?:it|this|them|one) from (?:me|us)|(?:i|we) listed|you(?:'re| are) buying"
    r"|your budget|welcome to (?:my|our))",
    re.IGNORECASE,
)
_ACCEPTS = re.compile(
    r"\b(?:accept(?:ed|s|ing)?|agree(?:d|s)?|deal|sold|i'?ll take it|i will take it|works for me|sounds good"
    r"|you(?:'ve)? got it|let'?s do it|it'?s yours|that works|fine by me|ok(?:ay)?,? (?:then|done)|done)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+(?:['’.,-][^\W_]+)*")
_NUMBERS = re.compile(r"[$€£]?\d[\d,.]*")


def word_count(text: str) -> int:
    """Words as a reader counts them: "$1,200" and "don't" are one each."""
    return len(_WORD.findall(text))


def names_price(text: str, price: Decimal) -> bool:
    """Does `text` name `price` in a spelling with no other reading ("$155", "155 dollars", "$1,200",
    "1.2k", "twelve hundred")? "1 2 0 0" or "$1 200" (also 1 and 200) are not how people write it."""
    return any(
        len(m.values) == 1 and abs(m.values[0] - price) < _HALF_CENT and "%" not in m.text
        for m in price_mentions(text)
        if m.values
    )


def _shape(text: str) -> str:
    """A text with its numbers taken out, lower case, single-spaced: what repeats when only prices move."""
    return " ".join(_NUMBERS.sub("#", text.lower()).split()).strip(" .!?")


def check_wording(
    text: str, *, role: str, action: str, price: Decimal | None, earlier: Sequence[str] = ()
) -> list[Finding]:
    """Findings for a public message of `role` voicing `action` (at `price`); empty: it reads well.
    `earlier`: this side's earlier messages; a text of REPEAT_MIN_WORDS or more words may not say its
    last one again with only the numbers changed (not twice in a row, like the phrase bank)."""
    findings: list[Finding] = []
    if action == "offer" and price is not None and not names_price(text, price):
        findings.append(Finding("missing_own_price", f"An offer's text must name its price, {price:.2f}."))
    label = _ROLE_LABEL.search(text)
    if label:
        findings.append(Finding("role_label", "The text carries a role label.", {"label": label.group(0)}))
    meta = _META_TALK.search(text)
    if meta:
        findings.append(Finding("meta_talk", "The text talks about the exchange itself.", {"words": meta.group(0)}))
    out_of_role = (_SELLER_OUT_OF_ROLE if role == "seller" else _BUYER_OUT_OF_ROLE).search(text)
    if out_of_role:
        findings.append(
            Finding("out_of_role", f"The text does not sound like the {role}.", {"words": out_of_role.group(0)})
        )
    words = word_count(text)
    if not MIN_WORDS <= words <= MAX_WORDS:
        findings.append(
            Finding("bad_length", f"The text has {words} words ({MIN_WORDS} to {MAX_WORDS} allowed).", {"words": words})
        )
    if action == "accept" and not _ACCEPTS.search(text):
        findings.append(Finding("unstated_acceptance", "An acceptance must say that it accepts or agrees."))
    if words >= REPEAT_MIN_WORDS and earlier and _shape(text) == _shape(earlier[-1]):
        findings.append(Finding("repeated_text", "The text repeats this side's last message."))
    return findings
