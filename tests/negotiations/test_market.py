"""The market: a listing sells once (also when acceptances race on real connections), the other
negotiations end `sold_elsewhere` at once and after a crash, withdrawal, the seller's outside option,
and buyer mandates that buy once."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connection, connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from negotiations import log, market
from negotiations.engine.engine import NegotiationEngine
from negotiations.engine.recovery import negotiation_resume_orphans
from negotiations.events import message_draft
from negotiations.exceptions import (
    ListingNotAvailableError,
    MandateNoMatchError,
    MandateNotActiveError,
    MarketClosedError,
)
from negotiations.log import TurnOutcome
from negotiations.models import Event, Listing, Mandate, Negotiation
from negotiations.services import negotiation_create, negotiation_start
from tests.support.fake_provider import FakeProvider
from tests.support.market import SELLER, SOLD_ELSEWHERE, accept_commit, buyer
from tests.support.market import recording_runner as runner  # noqa: F401 - the fixture
from tests.support.negotiations import make_listing, make_negotiation


async def play_in_own_thread(negotiation_id: int) -> None:
    """Run the engine with its database calls in a thread (and connection) of its own, so that several
    negotiations really commit concurrently."""
    async with ThreadSensitiveContext():
        await NegotiationEngine(provider_resolver=FakeProvider().resolve).run(negotiation_id)


def seqs_are_exact(negotiation_id: int) -> bool:
    seqs = list(Event.objects.filter(negotiation_id=negotiation_id).order_by("seq").values_list("seq", flat=True))
    return seqs == list(range(1, len(seqs) + 1))


# --- one sale ------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_fifty_buyers_on_one_listing_make_exactly_one_sale(runner):
    listing = await sync_to_async(make_listing)()
    ids = [(await sync_to_async(make_negotiation)(listing=listing, buyer=buyer()))[0].pk for _ in range(50)]

    await asyncio.wait_for(asyncio.gather(*(play_in_own_thread(i) for i in ids)), 240)

    rows = [n async for n in Negotiation.objects.filter(pk__in=ids)]
    agreed = [n for n in rows if n.status == Negotiation.Status.AGREED]
    assert len(agreed) == 1
    assert sorted(n.end_reason for n in rows if n not in agreed) == [SOLD_ELSEWHERE] * 49
    await listing.arefresh_from_db()
    assert listing.status == Listing.Status.SOLD
    assert (listing.sold_negotiation_id, listing.sold_price) == (agreed[0].pk, agreed[0].agreed_price)
    for negotiation_id in ids:
        assert await sync_to_async(seqs_are_exact)(negotiation_id)
        outcomes = await Event.objects.filter(negotiation_id=negotiation_id, type=Event.Type.OUTCOME).acount()
        assert outcomes == 1


@pytest.mark.django_db(transaction=True)
def test_racing_acceptances_on_real_connections_make_one_sale():
    listing = make_listing()
    negotiations = [make_negotiation(listing=listing, buyer=buyer())[0] for _ in range(8)]
    barrier = threading.Barrier(len(negotiations))
    results: dict[int, str] = {}

    def accept(negotiation: Negotiation) -> None:
        try:
            barrier.wait(timeout=10)
            accept_commit(negotiation)
            results[negotiation.pk] = "sold"
        except MarketClosedError as exc:
            results[negotiation.pk] = exc.end_reason
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(n,)) for n in negotiations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results.values()) == ["sold"] + [SOLD_ELSEWHERE] * 7
    winner = next(pk for pk, result in results.items() if result == "sold")
    listing.refresh_from_db()
    assert listing.sold_negotiation_id == winner
    # A refused acceptance wrote nothing: those logs still hold only the start.
    for negotiation in negotiations:
        if negotiation.pk != winner:
            assert list(Event.objects.filter(negotiation=negotiation).values_list("type", flat=True)) == ["status"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=12))
@pytest.mark.django_db
def test_no_interleaving_of_offers_and_acceptances_sells_twice(order, runner):
    listing = make_listing()
    negotiations = [make_negotiation(listing=listing, buyer=buyer())[0] for _ in range(4)]
    turns = dict.fromkeys((n.pk for n in negotiations), 0)
    for index, accepting in order:
        negotiation = negotiations[index]
        negotiation.refresh_from_db()
        if negotiation.is_finished:
            continue
        turn = turns[negotiation.pk] + 1
        actor = "seller" if turn % 2 else "buyer"
        action = "accept" if accepting else "offer"
        drafts = [message_draft(actor=actor, turn=turn, action=action, price=Decimal("400"), text="Well.")]
        outcome = TurnOutcome(Negotiation.Status.AGREED, "accepted", Decimal("400"), 1) if accepting else None
        try:
            log.negotiation_turn_commit(negotiation_id=negotiation.pk, turn=turn, drafts=drafts, outcome=outcome)
            turns[negotiation.pk] = turn
        except MarketClosedError as exc:
            log.negotiation_end(negotiation_id=negotiation.pk, end_reason=exc.end_reason)
        if accepting:
            market.listing_settle(listing_id=listing.pk)
    agreed = Negotiation.objects.filter(listing=listing, status=Negotiation.Status.AGREED)
    assert agreed.count() <= 1
    listing.refresh_from_db()
    assert (listing.status == Listing.Status.SOLD) == (agreed.count() == 1)
    if agreed:
        assert listing.sold_negotiation_id == agreed.get().pk
        assert not Negotiation.objects.filter(listing=listing, status=Negotiation.Status.RUNNING).exists()


@pytest.mark.django_db(transaction=True)
async def test_a_crash_between_the_sale_and_the_others_ending_is_settled_on_restart(runner):
    listing = await sync_to_async(make_listing)()
    won, _ = await sync_to_async(make_negotiation)(listing=listing, buyer=buyer())
    left, _ = await sync_to_async(make_negotiation)(listing=listing, buyer=buyer())
    await sync_to_async(accept_commit)(won)  # the sale committed; the process died before settling

    ended = await sync_to_async(negotiation_resume_orphans)(runner=runner)

    await left.arefresh_from_db()
    assert (left.status, left.end_reason) == (Negotiation.Status.NO_DEAL, SOLD_ELSEWHERE)
    assert left.pk not in runner.submitted and ended == []
    with pytest.raises(Exception):  # noqa: B017 - finished: it can no longer agree, whatever the error
        await sync_to_async(accept_commit)(left)


@pytest.mark.django_db(transaction=True)
async def test_an_engine_that_resumes_on_a_sold_listing_ends_without_playing(runner):
    listing = await sync_to_async(make_listing)()
    won, _ = await sync_to_async(make_negotiation)(listing=listing, buyer=buyer())
    left, _ = await sync_to_async(make_negotiation)(listing=listing, buyer=buyer())
    await sync_to_async(accept_commit)(won)
    provider = FakeProvider()

    result = await NegotiationEngine(provider_resolver=provider.resolve).run(left.pk)

    assert (result.status, result.turns_played) == (Negotiation.Status.NO_DEAL, 0)
    outcome = await Event.objects.aget(negotiation=left, type=Event.Type.OUTCOME)
    assert outcome.data["end_reason"] == SOLD_ELSEWHERE and outcome.data["agreed_price"] is None
    assert outcome.visibility == Event.Visibility.PUBLIC  # every viewer learns it sold, not the price


@pytest.mark.django_db
def test_creating_or_starting_on_a_sold_listing_is_refused_and_writes_nothing(runner):
    listing = make_listing()
    won, _ = make_negotiation(listing=listing, buyer=buyer())
    pending, _ = make_negotiation(listing=listing, buyer=buyer(), start=False)
    accept_commit(won)
    market.listing_settle(listing_id=listing.pk)
    pending.refresh_from_db()
    assert pending.end_reason == SOLD_ELSEWHERE  # pending ones end too
    count = Negotiation.objects.count()
    with pytest.raises(ListingNotAvailableError):
        negotiation_create(listing=listing, buyer=buyer(), seller=SELLER)
    assert Negotiation.objects.count() == count

    other = make_listing()
    fresh, _ = make_negotiation(listing=other, buyer=buyer(), start=False)
    market.listing_withdraw(listing=other)
    fresh.refresh_from_db()
    assert fresh.end_reason == Negotiation.EndReason.WITHDRAWN
    late, _ = make_negotiation(listing=make_listing(), buyer=buyer(), start=False)
    Listing.objects.filter(pk=late.listing_id).update(status=Listing.Status.WITHDRAWN)
    with pytest.raises(ListingNotAvailableError):
        negotiation_start(negotiation=late, launch=False)
    late.refresh_from_db()
    assert late.status == Negotiation.Status.PENDING and not Event.objects.filter(negotiation=late).exists()


@pytest.mark.django_db
def test_withdrawing_ends_open_negotiations_and_a_sold_listing_cannot_be_withdrawn(runner):
    listing = make_listing()
    running, _ = make_negotiation(listing=listing, buyer=buyer())
    market.listing_withdraw(listing=listing)
    running.refresh_from_db()
    assert (running.status, running.end_reason) == (Negotiation.Status.NO_DEAL, Negotiation.EndReason.WITHDRAWN)
    assert runner.cancelled == [running.pk]
    with pytest.raises(ListingNotAvailableError):
        market.listing_withdraw(listing=listing)

    sold = make_listing()
    winner, _ = make_negotiation(listing=sold, buyer=buyer())
    accept_commit(winner)
    with pytest.raises(ListingNotAvailableError):
        market.listing_withdraw(listing=sold)
    sold.refresh_from_db()
    assert sold.status == Listing.Status.SOLD


# --- competition -------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_the_seller_knows_privately_of_a_better_offer_elsewhere_and_never_says_it(runner):
    listing = await sync_to_async(make_listing)()
    rich, _ = await sync_to_async(make_negotiation)(listing=listing, buyer=buyer("480.00"), opens="buyer")
    engine = NegotiationEngine(provider_resolver=FakeProvider().resolve)
    await engine.run(rich.pk, max_turns=1)  # the rich buyer's opening offer stands
    await rich.arefresh_from_db()
    assert rich.buyer_offer is not None
    poor, _ = await sync_to_async(make_negotiation)(listing=listing, buyer=buyer("300.00"), opens="buyer")

    await engine.run(poor.pk, max_turns=2)

    thought = await Event.objects.filter(negotiation=poor, type=Event.Type.THOUGHT, actor="seller").afirst()
    assert thought.visibility == "seller"
    assert thought.data["market"] == {"open_negotiations": 2, "outside_offer": str(rich.buyer_offer)}
    seller_message = await Event.objects.filter(negotiation=poor, type=Event.Type.MESSAGE, actor="seller").afirst()
    assert seller_message.data["action"] == "offer"
    assert Decimal(seller_message.data["price"]) > rich.buyer_offer  # it asks above the better offer
    assert str(rich.buyer_offer) not in seller_message.data["text"]
    buyer_thought = await Event.objects.filter(negotiation=poor, type=Event.Type.THOUGHT, actor="buyer").afirst()
    assert buyer_thought.data["market"]["outside_offer"] is None  # a lone buyer has no outside option


# --- mandates ----------------------------------------------------------------------------------------
def seller_listing(title: str, price: str, category: str = "bikes") -> Listing:
    return make_listing(title=title, list_price=price, category=category, seller=SELLER)


@pytest.mark.django_db(transaction=True)
async def test_a_mandate_shops_several_listings_and_buys_once(runner):
    for title, price in (("Road bike", "420.00"), ("Gravel bike", "440.00"), ("City bike", "400.00")):
        await sync_to_async(seller_listing)(title, price)
    await sync_to_async(make_listing)(title="Oak table", list_price="300.00", category="furniture", seller=SELLER)
    created = await sync_to_async(market.mandate_create)(
        want={"category": "bikes", "max_price": "450.00"}, mode="rule", max_open=3
    )
    ids = runner.submitted[:]
    assert len(ids) == 3  # up to max_open at once, bikes only
    assert {n.listing.category async for n in Negotiation.objects.filter(pk__in=ids).select_related("listing")} == {
        "bikes"
    }

    await asyncio.wait_for(asyncio.gather(*(play_in_own_thread(i) for i in ids)), 120)

    mandate = await Mandate.objects.aget(pk=created.mandate.pk)
    rows = [n async for n in Negotiation.objects.filter(mandate=mandate)]
    agreed = [n for n in rows if n.status == Negotiation.Status.AGREED]
    assert mandate.status == Mandate.Status.BOUGHT and len(agreed) == 1
    assert mandate.bought_negotiation_id == agreed[0].pk
    assert {n.end_reason for n in rows if n not in agreed} <= {Negotiation.EndReason.BOUGHT_ELSEWHERE}
    assert await Listing.objects.filter(status=Listing.Status.SOLD).acount() == 1


@pytest.mark.django_db
def test_a_mandate_with_no_match_is_refused_and_writes_nothing(runner):
    seller_listing("Road bike", "420.00")
    make_listing(title="Mountain bike", list_price="300.00", category="bikes")  # no seller agent
    with pytest.raises(MandateNoMatchError):
        market.mandate_create(want={"category": "boats", "max_price": "450.00"})
    assert not Mandate.objects.exists() and not Negotiation.objects.exists()


@pytest.mark.django_db
def test_a_cancelled_mandate_ends_its_negotiations_and_cannot_be_cancelled_twice(runner):
    seller_listing("Road bike", "420.00")
    mandate, _ = market.mandate_create(want={"q": "bike", "max_price": "450.00"}, mode="rule")
    market.mandate_cancel(mandate=mandate)
    assert set(Negotiation.objects.filter(mandate=mandate).values_list("status", flat=True)) == {"cancelled"}
    with pytest.raises(MandateNotActiveError):
        market.mandate_cancel(mandate=mandate)


@pytest.mark.django_db
def test_a_mandate_that_loses_a_listing_shops_on(runner):
    first = seller_listing("Road bike", "420.00")
    seller_listing("Gravel bike", "440.00")
    mandate, _ = market.mandate_create(want={"q": "bike", "max_price": "450.00"}, mode="rule", max_open=1)
    opened = Negotiation.objects.get(mandate=mandate)
    assert opened.listing_id == first.pk  # cheapest first
    rival, _ = make_negotiation(listing=first, buyer=buyer())
    accept_commit(rival)
    market.listing_settle(listing_id=first.pk)
    opened.refresh_from_db()
    assert opened.end_reason == SOLD_ELSEWHERE
    assert Negotiation.objects.filter(mandate=mandate, status=Negotiation.Status.RUNNING).count() == 1
    market.listing_withdraw(listing=Negotiation.objects.get(mandate=mandate, status="running").listing)
    mandate.refresh_from_db()
    assert mandate.status == Mandate.Status.EXHAUSTED


@pytest.fixture(autouse=True)
def _close_thread_connections():
    yield
    connections.close_all()
