"""WHAT: the event log's writes: `event_append`, `negotiation_turn_commit` (one turn, one transaction),
     `negotiation_fail`, and the primitives the services build on (`negotiation_lock`, `events_write`...).
WHY: the engine writes turns and the services write starts and cancels; both allocate `seq` one way and
     keep the Negotiation row in step with the log, yet the engine must not import the services.
HOW: each write locks the negotiation row (`select_for_update`; SQLite's IMMEDIATE transaction) and takes
     `seq = max(seq) + 1`; the unique (negotiation, seq) constraint is the backstop. A turn commits only
     while the negotiation runs and the log holds exactly the turns before it, so two runners never both
     write one turn. New events are published to live subscribers after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from marketplace.errors import ConflictError, RequestValidationError
from negotiations.events import EventDraft, outcome_draft, price_from, status_draft
from negotiations.exceptions import MarketClosedError, NegotiationNotRunningError, TurnConflictError
from negotiations.live.broadcast import get_broadcaster
from negotiations.models import Event, Listing, Mandate, Negotiation

__all__ = [
    "LogPosition",
    "TurnOutcome",
    "event_append",
    "events_write",
    "log_position",
    "market_closed_reason",
    "negotiation_end",
    "negotiation_fail",
    "negotiation_finish",
    "negotiation_lock",
    "negotiation_turn_commit",
    "rounds_used",
    "sale_commit",
]


@dataclass(frozen=True)
class TurnOutcome:
    """How a turn ended the negotiation, if it did."""

    status: str
    end_reason: str
    agreed_price: Decimal | None
    rounds_used: int


def event_append(
    *, negotiation: Negotiation | int, type: str, actor: str, visibility: str, data: dict[str, Any]
) -> Event:
    """Append one event (a system or staff note) under the negotiation's lock, through the same seq
    allocation as every other write, and publish it after the commit."""
    if type not in Event.Type.values or actor not in Event.Actor.values or visibility not in Event.Visibility.values:
        raise RequestValidationError("Unknown event type, actor or visibility.")
    negotiation_id = negotiation if isinstance(negotiation, int) else negotiation.pk
    try:
        with transaction.atomic():
            locked = negotiation_lock(negotiation_id)
            return events_write(locked, [EventDraft(type=type, actor=actor, visibility=visibility, data=data)])[0]
    except IntegrityError as exc:  # only if a writer bypassed the row lock; the constraint kept the log intact
        raise ConflictError("Could not append to the negotiation log; please retry.") from exc


def negotiation_turn_commit(
    *, negotiation_id: int, turn: int, drafts: Sequence[EventDraft], outcome: TurnOutcome | None
) -> list[Event]:
    """Write one turn's events (and the outcome, if the turn ended it) in one transaction.

    Raises NegotiationNotRunningError if it was cancelled/finished meanwhile, TurnConflictError if the
    log does not hold exactly `turn - 1` turns (someone else already wrote this turn), and
    MarketClosedError if the listing is no longer available to it or its mandate bought elsewhere
    (an acceptance that finds the listing sold is refused here: nothing is written)."""
    try:
        with transaction.atomic():
            locked = negotiation_lock(negotiation_id)
            if locked.status != Negotiation.Status.RUNNING:
                raise NegotiationNotRunningError(locked.status)
            closed = market_closed_reason(locked)
            if closed is not None:
                raise MarketClosedError(closed)
            position = log_position(negotiation_id)
            if position.turns != turn - 1:
                raise TurnConflictError(f"turn {turn} after {position.turns} turns")
            offer = _standing_offer_update(locked, drafts)
            if outcome is None:
                locked.rounds_used = (turn + 1) // 2
                locked.save(update_fields=["rounds_used", "updated_at", *offer])
            else:
                if outcome.status == Negotiation.Status.AGREED:
                    sale_commit(locked, price=outcome.agreed_price)
                negotiation_finish(
                    locked, outcome.status, outcome.end_reason, outcome.agreed_price, outcome.rounds_used, offer
                )
            return events_write(locked, drafts, last_seq=position.last_seq)
    except IntegrityError as exc:  # a writer that bypassed the lock took these seqs: same as a conflict
        raise TurnConflictError(f"seq clash at turn {turn}") from exc


def negotiation_fail(*, negotiation_id: int, error_code: str = "INTERNAL_ERROR") -> bool:
    """Mark a running negotiation failed (an engine bug or lost database); False if it was not running."""
    with transaction.atomic():
        locked = negotiation_lock(negotiation_id)
        if locked.status != Negotiation.Status.RUNNING:
            return False
        rounds = rounds_used(locked)
        negotiation_finish(locked, Negotiation.Status.FAILED, Negotiation.EndReason.ERROR, None, rounds)
        events_write(
            locked,
            [
                status_draft(Negotiation.Status.FAILED, reason=error_code),
                outcome_draft(
                    result="failed", end_reason=Negotiation.EndReason.ERROR, agreed_price=None, rounds_used=rounds
                ),
            ],
        )
    return True


def negotiation_end(*, negotiation_id: int, end_reason: str) -> bool:
    """End a pending or running negotiation for a market reason (sold_elsewhere, bought_elsewhere,
    withdrawn: no_deal; cancelled: cancelled), logging `status` + `outcome`; False if already over."""
    status = (
        Negotiation.Status.CANCELLED if end_reason == Negotiation.EndReason.CANCELLED else Negotiation.Status.NO_DEAL
    )
    with transaction.atomic():
        locked = negotiation_lock(negotiation_id)
        if locked.is_finished:
            return False
        rounds = rounds_used(locked)
        negotiation_finish(locked, status, end_reason, None, rounds)
        result = "cancelled" if status == Negotiation.Status.CANCELLED else "no_deal"
        events_write(
            locked,
            [
                status_draft(status),
                outcome_draft(result=result, end_reason=end_reason, agreed_price=None, rounds_used=rounds),
            ],
        )
    return True


# --- the market: one sale per listing, one purchase per mandate ---------------------------------------
def market_closed_reason(negotiation: Negotiation) -> str | None:
    """Why this negotiation can no longer trade (an end reason), or None. Reads the listing and mandate
    loaded with the locked row."""
    listing = negotiation.listing
    if listing.status == Listing.Status.WITHDRAWN:
        return Negotiation.EndReason.WITHDRAWN
    if listing.status == Listing.Status.SOLD and listing.sold_negotiation_id != negotiation.pk:
        return Negotiation.EndReason.SOLD_ELSEWHERE
    mandate = negotiation.mandate
    if (
        mandate is not None
        and mandate.status != Mandate.Status.ACTIVE
        and mandate.bought_negotiation_id != negotiation.pk
    ):
        if mandate.status == Mandate.Status.CANCELLED:
            return Negotiation.EndReason.CANCELLED
        return Negotiation.EndReason.BOUGHT_ELSEWHERE
    return None


def sale_commit(negotiation: Negotiation, *, price: Decimal | None) -> None:
    """Sell the listing to this negotiation (and, for a mandate, make it the mandate's one purchase) by
    conditional updates: `available -> sold` only where still available. Must run inside the turn's
    transaction, so a refused sale (MarketClosedError) rolls the whole turn back."""
    now = timezone.now()
    sold = Listing.objects.filter(pk=negotiation.listing_id, status=Listing.Status.AVAILABLE).update(
        status=Listing.Status.SOLD, sold_negotiation_id=negotiation.pk, sold_price=price, sold_at=now
    )
    if not sold:
        raise MarketClosedError(Negotiation.EndReason.SOLD_ELSEWHERE)
    if negotiation.mandate_id is not None:
        bought = Mandate.objects.filter(pk=negotiation.mandate_id, status=Mandate.Status.ACTIVE).update(
            status=Mandate.Status.BOUGHT, bought_negotiation_id=negotiation.pk, finished_at=now
        )
        if not bought:
            raise MarketClosedError(Negotiation.EndReason.BOUGHT_ELSEWHERE)


def _standing_offer_update(negotiation: Negotiation, drafts: Sequence[EventDraft]) -> list[str]:
    """Keep the row's standing-offer projection in step with the turn's offer; the fields changed."""
    for draft in drafts:
        if draft.type == Event.Type.MESSAGE and draft.data.get("action") == "offer":
            field = "buyer_offer" if draft.actor == Event.Actor.BUYER else "seller_offer"
            setattr(negotiation, field, price_from(draft.data.get("price")))
            return [field]
    return []


# --- primitives (call inside a transaction that holds the negotiation's lock) ---------------------
class LogPosition(NamedTuple):
    last_seq: int
    turns: int


def negotiation_lock(negotiation_id: int) -> Negotiation:
    """The negotiation row, locked until the surrounding transaction ends, with its listing and mandate
    read in the same query (not locked: they change only by conditional updates)."""
    return (
        Negotiation.objects.select_for_update(of=("self",)).select_related("listing", "mandate").get(pk=negotiation_id)
    )


def log_position(negotiation_id: int) -> LogPosition:
    """The last seq and the number of turns (message events) in the log, in one query."""
    row = Event.objects.filter(negotiation_id=negotiation_id).aggregate(
        last=Max("seq"), turns=Count("pk", filter=Q(type=Event.Type.MESSAGE))
    )
    return LogPosition(row["last"] or 0, row["turns"])


def events_write(negotiation: Negotiation, drafts: Sequence[EventDraft], *, last_seq: int | None = None) -> list[Event]:
    """Insert drafts with the next seqs. Must run inside the transaction that locked `negotiation`."""
    if last_seq is None:
        last_seq = log_position(negotiation.pk).last_seq
    rows = [
        Event(
            negotiation_id=negotiation.pk,
            seq=last_seq + i,
            type=d.type,
            actor=d.actor,
            visibility=d.visibility,
            data=d.data,
        )
        for i, d in enumerate(drafts, start=1)
    ]
    created = Event.objects.bulk_create(rows)
    negotiation_id = negotiation.pk
    transaction.on_commit(lambda: get_broadcaster().publish_events(negotiation_id, created))
    return created


def negotiation_finish(
    negotiation: Negotiation,
    status: str,
    end_reason: str,
    agreed_price: Decimal | None,
    rounds: int,
    extra_fields: Sequence[str] = (),
) -> None:
    negotiation.status = status
    negotiation.end_reason = end_reason
    negotiation.agreed_price = agreed_price
    negotiation.rounds_used = rounds
    negotiation.finished_at = timezone.now()
    fields = ["status", "end_reason", "agreed_price", "rounds_used", "finished_at", "updated_at", *extra_fields]
    negotiation.save(update_fields=fields)


def rounds_used(negotiation: Negotiation) -> int:
    return (log_position(negotiation.pk).turns + 1) // 2
