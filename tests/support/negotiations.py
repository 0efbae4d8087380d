"""WHAT: helpers for the negotiation tests: factories for listings and negotiations through the real
     services, `play` to run one negotiation to its end, `reload`, and filters over a log.
WHY: tests import helpers from here, never from a conftest (pytest owns conftest modules; importing
     them by path breaks when a conftest moves or is loaded twice); going through the services means
     the tests exercise the validation and the event log exactly as production does.
HOW: sync factories; async tests call them through `sync_to_async`, as the engine itself does.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async

from negotiations.engine.engine import NegotiationEngine
from negotiations.models import Event, Negotiation
from negotiations.services import listing_create, negotiation_create, negotiation_start
from tests.support.fake_provider import FakeProvider

__all__ = [
    "NARRATE_RETRY",
    "guardrails",
    "make_listing",
    "make_negotiation",
    "messages",
    "narrated_move",
    "play",
    "price",
    "reload",
]

# What a regenerated narrate request says (negotiations/agents/prompts.py, narrate_messages).
NARRATE_RETRY = "Say it differently"
_MONEY = r"(\$[\d,]*\d(?:\.\d\d)?)"


def make_listing(**overrides: Any):
    fields = {
        "title": "Oak dining table",
        "list_price": "500.00",
        "description": "Solid oak, seats six.",
        "category": "furniture",
    }
    fields.update(overrides)
    return listing_create(**fields)


def make_negotiation(
    *, buyer: dict | None = None, seller: dict | None = None, listing=None, start: bool = True, **kwargs: Any
):
    """A negotiation over a 500.00 listing (buyer limit 450, seller floor 350 unless overridden)."""
    listing = listing or make_listing()
    buyer = {"limit_price": "450.00", "mode": "rule", **(buyer or {})}
    seller = {"limit_price": "350.00", "mode": "rule", **(seller or {})}
    kwargs.setdefault("seed", 7)
    negotiation, tokens = negotiation_create(listing=listing, buyer=buyer, seller=seller, **kwargs)
    if start:
        negotiation_start(negotiation=negotiation, launch=False)
    return negotiation, tokens


async def play(provider: FakeProvider | None = None, **kwargs: Any) -> tuple[Negotiation, list[Event]]:
    """Create, start and run a negotiation to its end; returns the refreshed row and its whole log."""
    negotiation, _ = await sync_to_async(make_negotiation)(**kwargs)
    engine = NegotiationEngine(provider_resolver=(provider or FakeProvider()).resolve)
    await engine.run(negotiation.pk)
    return await reload(negotiation.pk)


async def reload(negotiation_id: int) -> tuple[Negotiation, list[Event]]:
    negotiation = await Negotiation.objects.aget(pk=negotiation_id)
    events = [e async for e in Event.objects.filter(negotiation_id=negotiation_id).order_by("seq")]
    return negotiation, events


def messages(events: list[Event]) -> list[Event]:
    return [e for e in events if e.type == Event.Type.MESSAGE]


def guardrails(events: list[Event], kind: str | None = None) -> list[Event]:
    return [e for e in events if e.type == Event.Type.GUARDRAIL and (kind is None or e.data["kind"] == kind)]


def price(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def narrated_move(request: Any) -> tuple[str, str | None] | None:
    """The move a `narrate` request asks to voice, read from its last line (prompts.instruction):
    ("offer" | "accept", the price as written) or (the action, None); None for any other request."""
    if not getattr(request, "messages", None) or "Write one or two short sentences" not in (
        request.messages[0].content or ""
    ):
        return None
    ask = request.messages[-1].content or ""
    if move := re.search(rf"(?:Offer|Ask) {_MONEY} for", ask):
        return "offer", move.group(1)
    if move := re.search(rf"They (?:asked|offered) {_MONEY}\. Accept it", ask):
        return "accept", move.group(1)
    if ask.startswith("Say no to their price"):
        return "walk_away", None
    if ask.startswith("Decline their price"):
        return "reject", None
    return "say", None
