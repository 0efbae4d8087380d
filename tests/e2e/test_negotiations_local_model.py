"""End to end: `narrate` and `llm` negotiations on the real local model (SmolLM2-135M-Instruct on
llama-cpp-python's server) through the provider layer, checking the same invariants as the property
test: deals within both limits, no private price in any public text, an end within max_rounds."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from negotiations.engine.engine import NegotiationEngine
from negotiations.models import Event
from negotiations.prices import price_mentions
from tests.support.negotiations import guardrails, make_listing, make_negotiation, messages, price, reload

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIMITS = {"buyer": Decimal("180.00"), "seller": Decimal("150.00")}
TARGETS = {"buyer": Decimal("120.00"), "seller": Decimal("240.00")}


@pytest.mark.parametrize("mode", ["narrate", "llm"])
async def test_a_negotiation_on_the_real_model_keeps_its_invariants(local_provider, mode):
    listing = await sync_to_async(make_listing)(
        title="Blue mountain bike", list_price="220.00", description="Aluminium frame, 21 gears, new tyres."
    )
    sides = {
        role: {"mode": mode, "limit_price": str(LIMITS[role]), "target_price": str(TARGETS[role]), "temperature": 0.7}
        for role in LIMITS
    }
    negotiation, _ = await sync_to_async(make_negotiation)(
        listing=listing, buyer=sides["buyer"], seller=sides["seller"], max_rounds=3, seed=5
    )
    async with asyncio.timeout(600):  # only a hang fails: a CPU model on a shared machine
        await NegotiationEngine().run(negotiation.pk)
    negotiation, events = await reload(negotiation.pk)

    assert negotiation.status in ("agreed", "no_deal")
    assert len(messages(events)) <= 2 * negotiation.max_rounds
    if negotiation.status == "agreed":
        assert LIMITS["seller"] <= negotiation.agreed_price <= LIMITS["buyer"]
    assert not guardrails(events, "llm_unavailable"), "the model answered every call"
    # A side's limit or target appears in none of its messages, as its price or in its text, unless
    # it was public before (the list price) or the other side said it first.
    said_first = {"buyer": {Decimal("220.00")}, "seller": {Decimal("220.00")}}
    for event in events:
        if event.type in (Event.Type.THOUGHT, Event.Type.GUARDRAIL):
            assert event.visibility == event.actor
        if event.type != Event.Type.MESSAGE:
            continue
        assert event.data["text"].strip()
        named = {v for mention in price_mentions(event.data["text"]) for v in mention.values}
        if event.data["price"]:
            named.add(price(event.data["price"]))
        secrets = {LIMITS[event.actor], TARGETS[event.actor]} - said_first[event.actor]
        assert not secrets & named, f"{event.actor} leaked in {event.data!r}"
        said_first["seller" if event.actor == "buyer" else "buyer"] |= named
