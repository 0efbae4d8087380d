"""WHAT: fixtures and helpers for the negotiation tests: a scripted FakeProvider, factories for listings
     and negotiations through the real services, and `play` to run one negotiation to its end.
WHY: every engine test needs the same setup; going through the services (not ORM shortcuts) means the
     tests exercise the validation and the event log exactly as production does.
HOW: async tests use `@pytest.mark.django_db(transaction=True)`; sync services are called through
     `sync_to_async`, as the engine itself does.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from django.db import connections

from negotiations.engine.engine import NegotiationEngine
from negotiations.live.reads import reader_pool_close
from negotiations.models import Event, Negotiation
from negotiations.services import listing_create, negotiation_create, negotiation_start
from tests.support.fake_provider import FakeProvider


@pytest.fixture(scope="session", autouse=True)
def _background_connections_closed(django_db_setup, django_db_blocker):
    """Close the connections of the threads the negotiations code reads and writes from (the stream's
    reader threads, asgiref's shared sync thread) before the test database is dropped: PostgreSQL
    refuses to drop a database that still has sessions."""
    yield
    reader_pool_close()
    with django_db_blocker.unblock():
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture
def scripted_llm() -> FakeProvider:
    return FakeProvider()


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
