"""WHAT: a tolerant reader for the move an LLM writes in `llm` mode: a JSON object (`{"action": "offer",
     "price": 123, "message": "..."}`, what a schema-constrained server returns) or the tagged format.
WHY: small models get the format almost right (missing closing tags, "Action: Counter", "$1,200",
     capital letters); reading those generously keeps the model's intent, and anything still unclear
     becomes `None` so the engine falls back to the strategy (with a guardrail event).
HOW: a JSON object first, then tags, then "key: value" lines; action synonyms are normalised; a price
     counts only if it has exactly one reading (see `prices.price_mentions`). Never raises.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal

from negotiations.agents.text import clean_text
from negotiations.prices import price_mentions

_ACTION_SYNONYMS = {
    "offer": "offer",
    "counter": "offer",
    "counteroffer": "offer",
    "counter_offer": "offer",
    "propose": "offer",
    "bid": "offer",
    "ask": "offer",
    "accept": "accept",
    "agree": "accept",
    "deal": "accept",
    "yes": "accept",
    "take": "accept",
    "walk_away": "walk_away",
    "walkaway": "walk_away",
    "walk": "walk_away",
    "leave": "walk_away",
    "quit": "walk_away",
    "no_deal": "walk_away",
    "end": "walk_away",
    "reject": "reject",
    "decline": "reject",
    "refuse": "reject",
    "no": "reject",
    "say": "say",
    "talk": "say",
}


@dataclass(frozen=True)
class Proposal:
    """What the model proposed; `action`/`price` are None when missing or unreadable."""

    action: str | None
    price: Decimal | None
    message: str
    raw_action: str = ""
    raw_price: str = ""


def _field(raw: str, name: str) -> str | None:
    tagged = re.search(rf"<\s*{name}\s*>(.*?)(?:<\s*/\s*{name}\s*>|<\s*\w+\s*>|$)", raw, re.IGNORECASE | re.DOTALL)
    if tagged:
        return tagged.group(1).strip()
    keyed = re.search(rf"^\s*{name}\s*[:=]\s*(.+)$", raw, re.IGNORECASE | re.MULTILINE)
    return keyed.group(1).strip() if keyed else None


def _normalise_action(value: str) -> str | None:
    key = re.sub(r"[\s\-]+", "_", value.strip().lower()).strip("_.!\"'")
    if key in _ACTION_SYNONYMS:
        return _ACTION_SYNONYMS[key]
    first = re.match(r"[a-z]+", key)
    return _ACTION_SYNONYMS.get(first.group(0)) if first else None


def _single_price(value: str) -> Decimal | None:
    readings = {v for mention in price_mentions(value) for v in mention.values}
    if len(readings) != 1:
        return None
    price = readings.pop()
    return price if price > 0 and price == price.quantize(Decimal("0.01")) else None


def _json_fields(raw: str) -> dict[str, str] | None:
    """The action, price and message of the first JSON object in `raw` (None when there is none)."""
    start = raw.find("{")
    if start < 0:
        return None
    try:
        value, _end = json.JSONDecoder().raw_decode(raw[start:])
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    fields = {}
    for name in ("action", "price", "message"):
        item = value.get(name)
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, float):
            item = repr(item)  # the shortest form that reads back as this float (123.5, not 123.500001)
        fields[name] = str(item).strip()
    return fields


def parse_proposal(raw: str) -> Proposal:
    fields = _json_fields(raw)
    if fields is not None:
        raw_action, raw_price, message = fields.get("action", ""), fields.get("price", ""), fields.get("message", "")
        return Proposal(
            action=_normalise_action(raw_action) if raw_action else None,
            price=_single_price(raw_price) if raw_price else None,
            message=clean_text(message),
            raw_action=raw_action[:40],
            raw_price=raw_price[:40],
        )
    raw_action = _field(raw, "action") or ""
    raw_price = _field(raw, "price") or ""
    message = _field(raw, "message")
    if message is None:
        # No message field: whatever prose is left outside the fields.
        rest = re.sub(r"<\s*(action|price)\s*>.*?(<\s*/\s*\1\s*>|$)", " ", raw, flags=re.IGNORECASE | re.DOTALL)
        rest = re.sub(r"^\s*(action|price)\s*[:=].*$", " ", rest, flags=re.IGNORECASE | re.MULTILINE)
        message = rest
    return Proposal(
        action=_normalise_action(raw_action) if raw_action else None,
        price=_single_price(raw_price) if raw_price else None,
        message=clean_text(message),
        raw_action=raw_action[:40],
        raw_price=raw_price[:40],
    )
