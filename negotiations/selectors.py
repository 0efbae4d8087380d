"""WHAT: the reads of the negotiations app: listings, negotiations, what a token grants, the visible
     history, and the engine's view of one negotiation (settings + full log).
WHY: views and the engine share these instead of building querysets inline (HackSoft's selectors), so
     a rule like "a token of another negotiation is 404, not 401" lives in one place.
HOW: plain sync functions with keyword-only arguments; `event_list_visible_to` is defined next to the
     visibility rule (negotiations/visibility.py) and re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet

from negotiations.events import MarketView
from negotiations.models import Event, Listing, Mandate, Negotiation, Participant, Role
from negotiations.tokens import token_hash, token_matches
from negotiations.validation import PARTICIPANT_FIELDS
from negotiations.visibility import Viewer, can_view_visibility, event_list_visible_to

__all__ = [
    "NegotiationSetup",
    "event_last_seq",
    "event_list_visible_to",
    "listing_bodies",
    "listing_candidates",
    "listing_candidates_for",
    "listing_get",
    "listing_list",
    "listing_open_counts",
    "mandate_body",
    "mandate_id_for_token",
    "market_view_get",
    "negotiation_get",
    "negotiation_id_for_token",
    "negotiation_setup_get",
    "negotiation_view_get",
    "viewer_for_token",
]


def listing_list() -> QuerySet[Listing]:
    return Listing.objects.all().order_by("-id")


def listing_get(*, listing_id: int) -> Listing | None:
    return Listing.objects.filter(pk=listing_id).first()


def negotiation_get(*, negotiation_id: int) -> Negotiation | None:
    return Negotiation.objects.select_related("listing").filter(pk=negotiation_id).first()


def event_last_seq(*, negotiation_id: int) -> int:
    """The seq of the newest event in the log (0 if empty). Seqs are allocated under the negotiation's
    row lock, so every seq up to this one is committed too (the stream's replay relies on it)."""
    return Event.objects.filter(negotiation_id=negotiation_id).aggregate(last=Max("seq"))["last"] or 0


def viewer_for_token(*, negotiation: Negotiation, token: str) -> Viewer | None:
    """The viewer a token stands for in this negotiation, or None. Compares in constant time against
    all three digests (no early exit), so timing does not tell which role a guess came close to."""
    participants = {p.role: p.token_hash for p in Participant.objects.filter(negotiation=negotiation)}
    matches = {
        "buyer": token_matches(token, participants.get("buyer", "")),
        "seller": token_matches(token, participants.get("seller", "")),
        "observer": token_matches(token, negotiation.observer_token_hash),
    }
    for role, matched in matches.items():
        if matched:
            return Viewer(role)  # type: ignore[arg-type]
    return None


def negotiation_id_for_token(*, token: str) -> int | None:
    """Which negotiation a token belongs to (None: no such token). Lets the API answer 404 for a valid
    token of another negotiation and 401 for a token that matches nothing."""
    digest = token_hash(token)
    participant = Participant.objects.filter(token_hash=digest).values_list("negotiation_id", flat=True).first()
    if participant is not None:
        return participant
    return Negotiation.objects.filter(observer_token_hash=digest).values_list("pk", flat=True).first()


def negotiation_view_get(*, negotiation: Negotiation, viewer: Viewer) -> dict[str, Any]:
    """The negotiation as `viewer` may see it (the shape of NegotiationSerializer): its public fields;
    each side's private settings only if `viewer` may see that side's private things; the seed (with
    it the strategy's noise and margins could be recomputed) for staff only. One rule decides:
    `visibility.can_view`."""
    participants = {p.role: p for p in Participant.objects.filter(negotiation=negotiation)}
    sides = []
    for role in (Role.BUYER, Role.SELLER):
        side: dict[str, Any] = {"role": role.value}
        participant = participants.get(role.value)
        if participant is not None and can_view_visibility(viewer, role.value):
            side["private"] = {name: getattr(participant, name) for name in PARTICIPANT_FIELDS}
        sides.append(side)
    body: dict[str, Any] = {
        name: getattr(negotiation, name)
        for name in (
            "id",
            "listing",
            "status",
            "max_rounds",
            "opens",
            "agreed_price",
            "end_reason",
            "rounds_used",
            "created_at",
            "updated_at",
            "finished_at",
        )
    }
    body["listing"] = listing_bodies([negotiation.listing])[0]
    if can_view_visibility(viewer, Event.Visibility.STAFF):
        body["seed"] = negotiation.seed
    body.update(viewer=viewer.role, participants=sides)
    return body


@dataclass(frozen=True)
class NegotiationSetup:
    """Everything the engine needs to (re)build a negotiation: settings, both sides, the whole log."""

    negotiation: Negotiation
    listing: Listing
    participants: dict[str, Participant]
    events: list[Event]


def negotiation_setup_get(*, negotiation_id: int) -> NegotiationSetup:
    negotiation = Negotiation.objects.select_related("listing", "mandate").get(pk=negotiation_id)
    participants = {p.role: p for p in Participant.objects.filter(negotiation=negotiation)}
    events = list(Event.objects.filter(negotiation=negotiation).order_by("seq"))
    return NegotiationSetup(negotiation, negotiation.listing, participants, events)


OPEN_STATUSES = (Negotiation.Status.PENDING, Negotiation.Status.RUNNING)


def market_view_get(*, negotiation: Negotiation, role: str) -> MarketView:
    """What `role` knows of the market around `negotiation` this turn (events.MarketView), in one query
    per side: the open negotiations on its listing and, privately, the best standing offer elsewhere."""
    open_on_listing = Negotiation.objects.filter(listing_id=negotiation.listing_id, status__in=OPEN_STATUSES)
    others = ~Q(pk=negotiation.pk) & Q(status=Negotiation.Status.RUNNING)
    if role == Role.SELLER:
        row = open_on_listing.aggregate(open=Count("pk"), best=Max("buyer_offer", filter=others))
        return MarketView(open_negotiations=row["open"], outside_offer=row["best"])
    if negotiation.mandate_id is None:
        return MarketView(open_negotiations=open_on_listing.count())
    row = Negotiation.objects.filter(
        Q(listing_id=negotiation.listing_id, status__in=OPEN_STATUSES) | Q(mandate_id=negotiation.mandate_id)
    ).aggregate(
        open=Count("pk", filter=Q(listing_id=negotiation.listing_id, status__in=OPEN_STATUSES)),
        best=Min("seller_offer", filter=others & Q(mandate_id=negotiation.mandate_id)),
    )
    return MarketView(open_negotiations=row["open"], outside_offer=row["best"])


def listing_open_counts(*, listing_ids: list[int]) -> dict[int, int]:
    """Open (pending or running) negotiations per listing, for the public listing views."""
    rows = (
        Negotiation.objects.filter(listing_id__in=listing_ids, status__in=OPEN_STATUSES)
        .values("listing_id")
        .annotate(open=Count("pk"))
    )
    return {row["listing_id"]: row["open"] for row in rows}


def listing_candidates(*, q: str = "", category: str = "") -> QuerySet[Listing]:
    """Available listings a shopping buyer may negotiate: those with a seller agent, matching the want
    (text in the title or description, the category), cheapest first."""
    listings = Listing.objects.filter(status=Listing.Status.AVAILABLE, seller_settings__isnull=False)
    if q:
        listings = listings.filter(Q(title__icontains=q) | Q(description__icontains=q))
    if category:
        listings = listings.filter(category__iexact=category)
    return listings.order_by("list_price", "pk")


def listing_candidates_for(*, mandate: Mandate) -> QuerySet[Listing]:
    """The candidates of a mandate's want that it has not negotiated yet."""
    tried = Negotiation.objects.filter(mandate=mandate).values("listing_id")
    return listing_candidates(q=mandate.want_q, category=mandate.want_category).exclude(pk__in=tried)


def listing_bodies(listings: list[Listing], *, sale_for: set[int] = frozenset()) -> list[dict[str, Any]]:
    """The listings as the API shows them (ListingSerializer's shape): public fields, the open count, and
    the sale only for ids in `sale_for` (listings whose owner or staff is asking)."""
    counts = listing_open_counts(listing_ids=[listing.pk for listing in listings])
    bodies = []
    for listing in listings:
        body = {
            name: getattr(listing, name)
            for name in ("id", "title", "description", "category", "list_price", "currency", "created_at", "status")
        }
        body.update(
            sold_at=listing.sold_at,
            open_negotiations=counts.get(listing.pk, 0),
            has_seller_agent=listing.seller_settings is not None,
        )
        if listing.pk in sale_for:
            sold = listing.status == Listing.Status.SOLD
            body["sale"] = (
                {"negotiation": listing.sold_negotiation_id, "price": listing.sold_price, "sold_at": listing.sold_at}
                if sold
                else None
            )
        bodies.append(body)
    return bodies


def mandate_id_for_token(*, token: str) -> int | None:
    return Mandate.objects.filter(token_hash=token_hash(token)).values_list("pk", flat=True).first()


def mandate_body(*, mandate: Mandate) -> dict[str, Any]:
    """The mandate as its owner sees it (MandateSerializer's shape), with its negotiations."""
    negotiations = list(Negotiation.objects.filter(mandate=mandate).order_by("pk"))
    bought = next((n for n in negotiations if n.pk == mandate.bought_negotiation_id), None)
    return {
        "id": mandate.pk,
        "status": mandate.status,
        "want": {"q": mandate.want_q, "category": mandate.want_category, "max_price": str(mandate.max_price)},
        "buyer": mandate.buyer_settings,
        "max_open": mandate.max_open,
        "max_rounds": mandate.max_rounds,
        "negotiations": negotiations,
        "bought": bought,
        "created_at": mandate.created_at,
        "finished_at": mandate.finished_at,
    }
