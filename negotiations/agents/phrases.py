"""WHAT: the phrase bank: what a side says when no model wrote a usable message (mode `rule`, and every
     fallback), by role and action, naming the item and, for offers and acceptances, the price.
WHY: one fixed template per move made every fallback transcript read like a form; people vary their
     words, so the bank has many phrasings and never repeats one twice in a row in a negotiation.
HOW: `phrase_for` picks with a seeded RNG among the phrasings not used by the side's own earlier
     messages nor the message just before (recognised by matching each phrasing as a pattern), so a
     replayed turn says the same. `item_name` turns a listing title into a short name with no numbers.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from decimal import Decimal
from functools import cache

from negotiations.prices import format_price

__all__ = ["PHRASES", "item_name", "phrase_for", "phrase_matches"]

# Keys: (role, kind); kind is the action, or "open" for a seller's first ask (no offer to answer yet).
PHRASES: dict[tuple[str, str], tuple[str, ...]] = {
    ("seller", "open"): (
        "Hi! The {item} is still available. I'm asking {price}.",
        "Thanks for your interest in the {item}. I'm asking {price}.",
        "Yes, the {item} is still here. {price} and it's yours to pick up.",
        "Hello! I'd like {price} for the {item}.",
        "The {item} is in good shape. My price is {price}.",
        "Still available! The {item} is {price}.",
        "Hi there, the {item} goes for {price}.",
        "Glad you asked about the {item}. I'm looking to get {price}.",
    ),
    ("seller", "offer"): (
        "I can't go that low, but I could do {price} for the {item}.",
        "How about {price}? The {item} is worth it.",
        "I could come down to {price} for the {item}.",
        "That's a bit low for me. Would {price} work?",
        "Let's meet closer to my price: {price} for the {item}.",
        "I can do {price} if you can pick up the {item} soon.",
        "The best I can do on the {item} right now is {price}.",
        "I'd let the {item} go for {price}.",
        "Could you do {price}? It's a fair price for the {item}.",
        "Meet me at {price} and the {item} is yours.",
        "I can drop to {price}, but that's about as low as I go.",
        "{price} is where I can be on the {item}.",
    ),
    ("buyer", "offer"): (
        "Would you take {price} for the {item}?",
        "I can offer {price} for the {item}.",
        "How about {price}? I can pick it up this week.",
        "I like the {item}, but {price} is what I can pay.",
        "Could you do {price} for the {item}?",
        "I'd pay {price} for the {item} today.",
        "Would {price} work for you?",
        "I can come up to {price} for the {item}.",
        "My offer is {price} for the {item}.",
        "I could do {price} cash for the {item}.",
        "Can we settle on {price} for the {item}?",
        "I'm thinking {price} for the {item}.",
    ),
    ("seller", "accept"): (
        "Deal! {price} for the {item} it is.",
        "You've got it: the {item} for {price}.",
        "{price} works for me. The {item} is yours.",
        "Agreed, {price}. When can you pick up the {item}?",
        "Okay, I accept {price} for the {item}.",
        "Sounds good, {price} it is.",
        "Alright, deal at {price}. Thanks!",
        "I'll accept {price}. Let's set up a time for the {item}.",
    ),
    ("buyer", "accept"): (
        "Deal! I'll take the {item} for {price}.",
        "{price} works for me. Thanks!",
        "Agreed, {price} for the {item}.",
        "Sounds good, I accept {price}.",
        "You've got a deal at {price}. When can I pick up the {item}?",
        "Great, I'll take it at {price}.",
        "Okay, deal: {price} for the {item}.",
        "I accept {price}. Thanks for working with me.",
    ),
    ("seller", "walk_away"): (
        "Sorry, we're too far apart on the {item}. I'll pass.",
        "Thanks for your time, but I can't go that low on the {item}.",
        "I think I'll keep the {item} for now. Good luck with your search.",
        "That's below what I can take for the {item}. Thanks anyway.",
        "I'll have to pass. Thanks for your interest in the {item}.",
        "We're not going to meet on the {item}, sorry. Take care.",
    ),
    ("buyer", "walk_away"): (
        "Sorry, that's more than I can spend on the {item}. I'll pass.",
        "Thanks, but I can't go that high for the {item}.",
        "I'll keep looking. Thanks for your time.",
        "That's out of my range for the {item}. Thanks anyway.",
        "I'll have to pass on the {item}. Good luck with it.",
        "We're too far apart, sorry. Take care.",
    ),
    ("seller", "reject"): (
        "Sorry, that doesn't work for me on the {item}.",
        "I can't take that for the {item}, sorry.",
        "That's too low for the {item}.",
        "No, I can't do that one, sorry.",
    ),
    ("buyer", "reject"): (
        "Sorry, that doesn't work for me.",
        "That's too much for the {item}, sorry.",
        "I can't do that one, sorry.",
        "No, that's more than I want to pay.",
    ),
    ("seller", "say"): (
        "Let me think about it.",
        "Give me a moment to think about the {item}.",
        "I'll think it over.",
        "Let me get back to you on the {item}.",
    ),
    ("buyer", "say"): (
        "Let me think about it.",
        "I'll think it over.",
        "Give me a moment to think about the {item}.",
        "Let me get back to you on that.",
    ),
}

_CATEGORY_NOUNS = {
    "bike": "bike",
    "car": "car",
    "phone": "phone",
    "electronics": "item",
    "furniture": "piece",
    "housing": "place",
}
_HOUSING_NOUNS = ("townhouse", "condo", "studio", "apartment", "cottage", "house", "home", "loft", "duplex", "room")
_FILLER = {
    "a",
    "an",
    "the",
    "and",
    "beautiful",
    "brand",
    "new",
    "great",
    "nice",
    "cute",
    "gorgeous",
    "awesome",
    "excellent",
    "good",
    "condition",
    "mint",
    "reduced",
    "sale",
    "on",
    "cheap",
    "obo",
    "firm",
    "must",
    "see",
    "sell",
    "selling",
    "like",
    "used",
    "only",
    "very",
    "super",
    "amazing",
    "price",
    "priced",
    "lowered",
    "wow",
    "fs",
}
# Nouns that name the thing itself: a title's first one ends the item's name ("light brown desk").
_HEAD_NOUNS = frozenset(
    [
        "desk",
        "table",
        "chair",
        "chairs",
        "sofa",
        "couch",
        "loveseat",
        "seat",
        "bed",
        "mattress",
        "dresser",
        "console",
        "mirror",
        "bookcase",
        "shelf",
        "cabinet",
        "hutch",
        "safe",
        "piano",
        "bike",
        "bicycle",
        "ebike",
        "headphone",
        "headphones",
        "headset",
        "headsets",
        "cable",
        "cables",
        "speaker",
        "speakers",
        "radio",
        "phone",
        "iphone",
        "truck",
        "wagon",
        "motorhome",
        "organizer",
        "lounge",
        "machine",
        "tv",
        "camera",
        "laptop",
    ]
)
_CUT = re.compile(r"\s[-–—|/]\s|[,!:;(\[{*~]|\s(?:w/|with|for|from|in|at|near|and|by|plus|includes?)\s", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'&.]*")
ITEM_WORDS = 3


def item_name(title: str, category: str = "") -> str:
    """A short name for the listing, fit for "the {item}": no numbers (a year or "16gb" would read as a
    price), no marketing words; the category's noun when the title gives nothing usable."""
    fallback = _CATEGORY_NOUNS.get(category.strip().lower(), "item")
    if category.strip().lower() == "housing":
        lowered = title.lower()
        return next((noun for noun in _HOUSING_NOUNS if re.search(rf"\b{noun}\b", lowered)), fallback)
    head = _CUT.split(title.strip().strip("\"'“”*"), maxsplit=1)[0]
    words: list[str] = []
    for raw in head.split():
        if any(ch.isdigit() for ch in raw) or "$" in raw:
            continue
        token = _TOKEN.fullmatch(raw.strip(".'\"“”"))
        if token is None or token.group(0).lower() in _FILLER:
            continue
        word = token.group(0)
        words.append(word.capitalize() if word.isupper() and len(word) > 4 else word)
        if word.lower() in _HEAD_NOUNS:
            return " ".join(words[-ITEM_WORDS:])
    return " ".join(words[:ITEM_WORDS]) if words else fallback


@cache
def _pattern(phrase: str) -> re.Pattern[str]:
    parts = re.split(r"(\{price\}|\{item\})", phrase)
    body = "".join(".+?" if part in ("{price}", "{item}") else re.escape(part) for part in parts)
    return re.compile(rf"^{body}$", re.IGNORECASE | re.DOTALL)


def phrase_matches(phrase: str, text: str) -> bool:
    """Is `text` this phrasing (with some item and price)?"""
    return bool(_pattern(phrase).match(text.strip()))


def phrase_for(
    *,
    role: str,
    action: str,
    price: Decimal | None,
    item: str,
    currency: str,
    seed: int,
    turn: int,
    own_texts: Sequence[str] = (),
    previous_text: str = "",
) -> str:
    """A phrasing for the move, unused by `own_texts` (this side's earlier messages) and by
    `previous_text` (the message just before); seeded by (seed, turn), so a replay says the same."""
    kind = "open" if role == "seller" and action == "offer" and not previous_text else action
    options = PHRASES[(role, kind)]
    recent = [t for t in (*own_texts, previous_text) if t]
    fresh = [p for p in options if not any(phrase_matches(p, t) for t in recent)]
    if not fresh:  # a long negotiation used them all: at least never the last two messages' phrasings
        last_two = [t for t in (*own_texts[-1:], previous_text) if t]
        fresh = [p for p in options if not any(phrase_matches(p, t) for t in last_two)] or list(options)
    phrase = random.Random(f"{seed}:{turn}:phrase").choice(fresh)
    money = format_price(price, currency) if price is not None else ""
    text = phrase.replace("{price}", money).replace("{item}", item)
    return text[:1].upper() + text[1:]
