"""WHAT: the market's writes around a sale: a sold or withdrawn listing ends its other negotiations
     (`listing_settle`), a mandate shops and buys once (`mandate_create`, `mandate_settle`, cancel), and
     `listing_withdraw`. The sale itself is the turn commit's conditional update (negotiations/log.py).
WHY: many buyers negotiate one listing and one mandate negotiates many listings; when one deal commits,
     the rest must end promptly, and whatever a crash interrupted must end the same way on restart.
HOW: each step re-reads the database and is idempotent (ending a finished negotiation is a no-op), so
     the engine after a run, the orphan sweep after a restart and the API may all call it. Mandates are
     refilled under the mandate row's lock, so two negotiations ending together cannot over-open it.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from negotiations import log
from negotiations.engine.runners import NegotiationRunner, get_runner
from negotiations.exceptions import (
    ListingNotAvailableError,
    MandateNoMatchError,
    MandateNotActiveError,
    NegotiationCapacityError,
)
from negotiations.models import Listing, Mandate, Negotiation
from negotiations.selectors import OPEN_STATUSES, listing_candidates, listing_candidates_for
from negotiations.services import negotiation_create, negotiation_start
from negotiations.tokens import token_generate, token_hash
from negotiations.validation import Errors, mandate_clean

__all__ = [
    "MandateCreated",
    "listing_settle",
    "listing_withdraw",
    "mandate_cancel",
    "mandate_create",
    "mandate_settle",
    "market_sweep",
    "negotiation_settle",
]

logger = logging.getLogger(__name__)


class MandateCreated(NamedTuple):
    """What `mandate_create` returns; `token` is the plaintext owner token, shown this once only."""

    mandate: Mandate
    token: str


# --- after a negotiation ends ------------------------------------------------------------------------
def negotiation_settle(*, negotiation_id: int, runner: NegotiationRunner | None = None) -> str:
    """What a finished negotiation means for the market: a sale ends the listing's other negotiations and
    the mandate's; a mandate's negotiation that ended without a deal lets the mandate shop on. Returns
    the negotiation's status."""
    negotiation = Negotiation.objects.get(pk=negotiation_id)
    if negotiation.is_finished:
        listing_settle(listing_id=negotiation.listing_id, runner=runner)
        if negotiation.mandate_id is not None:
            mandate_settle(mandate_id=negotiation.mandate_id, runner=runner)
    return negotiation.status


def listing_settle(*, listing_id: int, runner: NegotiationRunner | None = None) -> list[int]:
    """End every open negotiation on a sold (`sold_elsewhere`) or withdrawn (`withdrawn`) listing but
    the winner, and stop their runs; returns the ids it ended. No-op on an available listing."""
    listing = Listing.objects.get(pk=listing_id)
    if listing.status == Listing.Status.AVAILABLE:
        return []
    reason = (
        Negotiation.EndReason.SOLD_ELSEWHERE
        if listing.status == Listing.Status.SOLD
        else Negotiation.EndReason.WITHDRAWN
    )
    open_ones = Negotiation.objects.filter(listing_id=listing_id, status__in=OPEN_STATUSES).exclude(
        pk=listing.sold_negotiation_id
    )
    return _end_all(list(open_ones.values_list("pk", "mandate_id")), reason, runner)


def mandate_settle(*, mandate_id: int, runner: NegotiationRunner | None = None) -> list[int]:
    """A bought mandate ends its other negotiations (`bought_elsewhere`), a cancelled one all of them;
    an active one opens negotiations with matching listings up to `max_open`, and gives up
    (`exhausted`) when none is open and none is left to try. Returns the ids it opened or ended."""
    mandate = Mandate.objects.get(pk=mandate_id)
    open_ones = Negotiation.objects.filter(mandate_id=mandate_id, status__in=OPEN_STATUSES)
    if mandate.status == Mandate.Status.BOUGHT:
        others = open_ones.exclude(pk=mandate.bought_negotiation_id).values_list("pk", "mandate_id")
        return _end_all(list(others), Negotiation.EndReason.BOUGHT_ELSEWHERE, runner, settle_mandates=False)
    if mandate.status == Mandate.Status.CANCELLED:
        return _end_all(list(open_ones.values_list("pk", "mandate_id")), Negotiation.EndReason.CANCELLED, runner, False)
    if mandate.status != Mandate.Status.ACTIVE:
        return []
    return _mandate_refill(mandate_id, runner)


def market_sweep(*, runner: NegotiationRunner | None = None) -> list[int]:
    """End what a crash left open: negotiations on sold or withdrawn listings, and of mandates that no
    longer shop (run at start-up with the orphan sweep). Returns the ids it ended."""
    stale = Negotiation.objects.filter(status__in=OPEN_STATUSES).filter(
        ~Q(listing__status=Listing.Status.AVAILABLE) | Q(mandate__status__in=Mandate.FINISHED_STATUSES)
    )
    ended: list[int] = []
    for listing_id in set(stale.values_list("listing_id", flat=True)):
        ended += listing_settle(listing_id=listing_id, runner=runner)
    for mandate_id in set(stale.exclude(mandate=None).values_list("mandate_id", flat=True)):
        ended += mandate_settle(mandate_id=mandate_id, runner=runner)
    return ended


# --- listings ----------------------------------------------------------------------------------------
def listing_withdraw(*, listing: Listing, runner: NegotiationRunner | None = None) -> Listing:
    """available -> withdrawn (a conditional update), then end its open negotiations (`withdrawn`).
    A sold or already withdrawn listing: ListingNotAvailableError, nothing written."""
    withdrawn = Listing.objects.filter(pk=listing.pk, status=Listing.Status.AVAILABLE).update(
        status=Listing.Status.WITHDRAWN
    )
    listing.refresh_from_db()
    if not withdrawn:
        raise ListingNotAvailableError(details={"status": listing.status})
    listing_settle(listing_id=listing.pk, runner=runner)
    return listing


# --- mandates ----------------------------------------------------------------------------------------
def mandate_create(*, runner: NegotiationRunner | None = None, **fields: Any) -> MandateCreated:
    """Create a shopping buyer and open its first negotiations (started, handed to the runner after the
    commit). Bad input: RequestValidationError; no available listing matches: MandateNoMatchError.
    Nothing is written in either case."""
    errors = Errors()
    cleaned = mandate_clean(fields, errors)
    errors.raise_if_any("The mandate is invalid.")
    if not listing_candidates(q=cleaned["want_q"], category=cleaned["want_category"]).exists():
        raise MandateNoMatchError(details={"want": {"q": cleaned["want_q"], "category": cleaned["want_category"]}})
    token = token_generate()
    with transaction.atomic():
        mandate = Mandate.objects.create(token_hash=token_hash(token), **cleaned)
        _mandate_refill(mandate.pk, runner)
    mandate.refresh_from_db()
    return MandateCreated(mandate, token)


def mandate_cancel(*, mandate: Mandate, runner: NegotiationRunner | None = None) -> Mandate:
    """active -> cancelled, then end its open negotiations (`cancelled`); MandateNotActiveError if it
    already bought, gave up or was cancelled (nothing written)."""
    cancelled = Mandate.objects.filter(pk=mandate.pk, status=Mandate.Status.ACTIVE).update(
        status=Mandate.Status.CANCELLED, finished_at=timezone.now()
    )
    mandate.refresh_from_db()
    if not cancelled:
        raise MandateNotActiveError(details={"status": mandate.status})
    mandate_settle(mandate_id=mandate.pk, runner=runner)
    return mandate


# --- internals -----------------------------------------------------------------------------------
def _end_all(
    targets: list[tuple[int, int | None]],
    reason: str,
    runner: NegotiationRunner | None,
    settle_mandates: bool = True,
) -> list[int]:
    ended = []
    for negotiation_id, _mandate in targets:
        if log.negotiation_end(negotiation_id=negotiation_id, end_reason=reason):
            ended.append(negotiation_id)
            (runner or get_runner()).cancel(negotiation_id)
    if settle_mandates:  # a buyer that lost this listing shops on elsewhere
        for mandate_id in {m for _, m in targets if m is not None}:
            ended += mandate_settle(mandate_id=mandate_id, runner=runner)
    return ended


def _mandate_refill(mandate_id: int, runner: NegotiationRunner | None) -> list[int]:
    opened: list[int] = []
    with transaction.atomic():
        mandate = Mandate.objects.select_for_update().get(pk=mandate_id)
        if mandate.status != Mandate.Status.ACTIVE:
            return opened
        room = mandate.max_open - Negotiation.objects.filter(mandate=mandate, status__in=OPEN_STATUSES).count()
        for listing in listing_candidates_for(mandate=mandate)[: max(room, 0)]:
            buyer = {**mandate.buyer_settings, "limit_price": str(mandate.max_price)}
            created = negotiation_create(
                listing=listing,
                buyer=buyer,
                seller=listing.seller_settings,
                max_rounds=mandate.max_rounds,
                mandate=mandate,
            )
            opened.append(created.negotiation.pk)
            try:
                negotiation_start(negotiation=created.negotiation, runner=runner)
            except NegotiationCapacityError:  # this process is full: it stays pending (docs/market.md)
                logger.warning("mandate %s: no room to start negotiation %s", mandate_id, created.negotiation.pk)
                break
        if not opened and not Negotiation.objects.filter(mandate=mandate, status__in=OPEN_STATUSES).exists():
            mandate.status, mandate.finished_at = Mandate.Status.EXHAUSTED, timezone.now()
            mandate.save(update_fields=["status", "finished_at"])
    return opened
