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

from django.db.models import Max, QuerySet

from negotiations.models import Event, Listing, Negotiation, Participant, Role
from negotiations.tokens import token_hash, token_matches
from negotiations.validation import PARTICIPANT_FIELDS
from negotiations.visibility import Viewer, can_view_visibility, event_list_visible_to

__all__ = [
    "NegotiationSetup",
    "event_last_seq",
    "event_list_visible_to",
    "listing_get",
    "listing_list",
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
    negotiation = Negotiation.objects.select_related("listing").get(pk=negotiation_id)
    participants = {p.role: p for p in Participant.objects.filter(negotiation=negotiation)}
    events = list(Event.objects.filter(negotiation=negotiation).order_by("seq"))
    return NegotiationSetup(negotiation, negotiation.listing, participants, events)
