"""WHAT: every write of the negotiations app: listing_create, negotiation_create, negotiation_start
     (and, after its commit, the hand-over to the runner), negotiation_cancel, negotiation_resume,
     negotiation_fail, event_append and negotiation_turn_commit.
WHY: the event log is the source of truth, so all appends go through one place that allocates `seq`
     safely, keeps the Negotiation row (status/outcome projection) in step with the log in the same
     transaction, and publishes the new events to live subscribers only after the commit.
HOW: sync functions with keyword-only arguments (call them with `sync_to_async` from async code).
     Appends lock the negotiation row (`select_for_update`; on SQLite the IMMEDIATE transaction holds the
     write lock) and take `seq = max(seq) + 1` (one allocation path, `_events_write`); the unique
     (negotiation, seq) constraint is the backstop (a clash, possible only for a writer that bypassed
     the lock, rolls the whole transaction back: a turn then counts as a conflict, an append is a
     ConflictError).
     A turn is committed only if the negotiation is still running and the log holds exactly the turns
     before it — so a cancelled negotiation gets no further turn, and two runners can never both write
     the same turn. Bad input raises RequestValidationError (nothing written); an impossible state
     change raises ConflictError; a start beyond the runner's capacity NegotiationCapacityError.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from marketplace.errors import ConflictError, RequestValidationError
from negotiations.broadcast import get_broadcaster
from negotiations.events import EventDraft, outcome_draft, status_draft
from negotiations.exceptions import NegotiationCapacityError, NegotiationNotRunningError, TurnConflictError
from negotiations.models import Event, Listing, Negotiation, Participant, Role
from negotiations.tokens import token_generate, token_hash
from negotiations.validation import (
    MAX_CATEGORY_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_TITLE_CHARS,
    Errors,
    currency_clean,
    max_rounds_clean,
    participant_clean,
    price_clean,
    seed_clean,
    text_clean,
)

if TYPE_CHECKING:
    from negotiations.runner import NegotiationRunner

logger = logging.getLogger(__name__)


class NegotiationCreated(NamedTuple):
    """What `negotiation_create` returns; `tokens` holds the plaintext tokens, shown this once only."""

    negotiation: Negotiation
    tokens: dict[str, str]  # {"buyer", "seller", "observer"}


@dataclass(frozen=True)
class TurnOutcome:
    """How a turn ended the negotiation, if it did."""

    status: str
    end_reason: str
    agreed_price: Decimal | None
    rounds_used: int


# --- listings --------------------------------------------------------------------------------------
def listing_create(
    *, title: str, list_price: Any, description: str = "", category: str = "", currency: str = "USD"
) -> Listing:
    errors = Errors()
    title = text_clean(title, ("title",), errors, max_chars=MAX_TITLE_CHARS, required=True)
    price = price_clean(list_price, ("list_price",), errors)
    description = text_clean(description, ("description",), errors, max_chars=MAX_DESCRIPTION_CHARS)
    category = text_clean(category, ("category",), errors, max_chars=MAX_CATEGORY_CHARS)
    currency = currency_clean(currency, errors)
    errors.raise_if_any("The listing is invalid.")
    return Listing.objects.create(
        title=title, list_price=price, description=description, category=category, currency=currency
    )


# --- negotiations ----------------------------------------------------------------------------------
def negotiation_create(
    *,
    listing: Listing | int,
    buyer: dict[str, Any],
    seller: dict[str, Any],
    max_rounds: int | None = None,
    opens: str = Role.SELLER,
    seed: int | None = None,
) -> NegotiationCreated:
    """Create a pending negotiation with its two participants; returns the three tokens once."""
    errors = Errors()
    if isinstance(listing, int) and not isinstance(listing, bool):
        listing_obj = Listing.objects.filter(pk=listing).first()
        if listing_obj is None:
            errors.add(("listing",), "No such listing.")
    elif isinstance(listing, Listing):
        listing_obj = listing
    else:
        listing_obj = None
        errors.add(("listing",), "Must be a listing id.")
    participants = {role: participant_clean(role, raw, errors) for role, raw in ((Role.BUYER, buyer), (Role.SELLER, seller))}
    rounds = max_rounds_clean(max_rounds, errors)
    if opens not in Role.values:
        errors.add(("opens",), "Must be one of: buyer, seller.")
    seed_value = seed_clean(seed, errors)
    errors.raise_if_any("The negotiation is invalid.")

    tokens = {"buyer": token_generate(), "seller": token_generate(), "observer": token_generate()}
    with transaction.atomic():
        negotiation = Negotiation.objects.create(
            listing=listing_obj,
            max_rounds=rounds,
            opens=opens,
            seed=seed_value if seed_value is not None else secrets.randbelow(2**31),
            observer_token_hash=token_hash(tokens["observer"]),
        )
        for role, data in participants.items():
            assert data is not None  # errors were raised above otherwise
            Participant.objects.create(
                negotiation=negotiation,
                role=role,
                persona=data.persona,
                limit_price=data.limit_price,
                target_price=data.target_price,
                strategy=data.strategy,
                mode=data.mode,
                provider=data.provider,
                model=data.model,
                temperature=data.temperature,
                token_hash=token_hash(tokens[role]),
            )
    return NegotiationCreated(negotiation, tokens)


def negotiation_start(
    *, negotiation: Negotiation, launch: bool = True, runner: NegotiationRunner | None = None
) -> Negotiation:
    """pending -> running (logs a `status` event); then, after the commit, hands it to the runner.

    `launch=False` leaves playing it to the caller, in the foreground (`manage.py negotiate`,
    `manage.py evaluate`, tests). A runner that cannot take it here (the in-process one needs the ASGI
    server's event loop: under WSGI or the sync test client there is none) is logged, not raised: the
    start is committed, and the caller must not lose what it got with it (the creator's tokens); the
    negotiation stays `running` until an ASGI process resumes it (`negotiation_resume`, orphan sweep)."""
    target = _runner(runner) if launch else None
    if target is not None and not _reserve(target, negotiation.pk):
        raise NegotiationCapacityError(details={"max_active": settings.NEGOTIATION_MAX_ACTIVE})
    try:
        with transaction.atomic():
            locked = _lock(negotiation.pk)
            if locked.status != Negotiation.Status.PENDING:
                raise ConflictError(f"Only a pending negotiation can be started; this one is {locked.status}.",
                                    details={"status": locked.status})
            locked.status = Negotiation.Status.RUNNING
            locked.save(update_fields=["status", "updated_at"])
            _events_write(locked, [status_draft(Negotiation.Status.RUNNING)])
            if target is not None:
                transaction.on_commit(lambda: _launch(target, locked.pk))
    except BaseException:
        if target is not None:
            _release(target, negotiation.pk)
        raise
    _refresh(negotiation, locked)
    return negotiation


def negotiation_cancel(*, negotiation: Negotiation, runner: NegotiationRunner | None = None) -> Negotiation:
    """Cancel a pending or running negotiation: logs `status` + `outcome`, then stops its task."""
    with transaction.atomic():
        locked = _lock(negotiation.pk)
        if locked.is_finished:
            raise ConflictError(f"The negotiation is already {locked.status}.", details={"status": locked.status})
        rounds = _rounds_used(locked)
        _finish(locked, Negotiation.Status.CANCELLED, Negotiation.EndReason.CANCELLED, None, rounds)
        _events_write(locked, [
            status_draft(Negotiation.Status.CANCELLED),
            outcome_draft(result="cancelled", end_reason=Negotiation.EndReason.CANCELLED, agreed_price=None, rounds_used=rounds),
        ])
        transaction.on_commit(lambda: _runner(runner).cancel(locked.pk))
    _refresh(negotiation, locked)
    return negotiation


def negotiation_resume(*, negotiation: Negotiation, runner: NegotiationRunner | None = None) -> Negotiation:
    """Hand a running negotiation whose task is gone (e.g. after a restart) back to the runner.

    Writes nothing: the engine rebuilds its state from the log and plays on from the next turn."""
    negotiation.refresh_from_db()
    if negotiation.status != Negotiation.Status.RUNNING:
        raise ConflictError(f"Only a running negotiation can be resumed; this one is {negotiation.status}.",
                            details={"status": negotiation.status})
    _runner(runner).submit(negotiation.pk)
    return negotiation


def negotiation_fail(*, negotiation_id: int, error_code: str = "INTERNAL_ERROR") -> bool:
    """Mark a running negotiation failed (an engine bug or lost database); False if it was not running."""
    with transaction.atomic():
        locked = _lock(negotiation_id)
        if locked.status != Negotiation.Status.RUNNING:
            return False
        rounds = _rounds_used(locked)
        _finish(locked, Negotiation.Status.FAILED, Negotiation.EndReason.ERROR, None, rounds)
        _events_write(locked, [
            status_draft(Negotiation.Status.FAILED, reason=error_code),
            outcome_draft(result="failed", end_reason=Negotiation.EndReason.ERROR, agreed_price=None, rounds_used=rounds),
        ])
    return True


# --- the event log ---------------------------------------------------------------------------------
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
            locked = _lock(negotiation_id)
            return _events_write(locked, [EventDraft(type=type, actor=actor, visibility=visibility, data=data)])[0]
    except IntegrityError as exc:  # only if a writer bypassed the row lock; the constraint kept the log intact
        raise ConflictError("Could not append to the negotiation log; please retry.") from exc


def negotiation_turn_commit(
    *, negotiation_id: int, turn: int, drafts: Sequence[EventDraft], outcome: TurnOutcome | None
) -> list[Event]:
    """Write one turn's events (and the outcome, if the turn ended it) in one transaction.

    Raises NegotiationNotRunningError if it was cancelled/finished meanwhile, and TurnConflictError if
    the log does not hold exactly `turn - 1` turns (someone else already wrote this turn)."""
    try:
        with transaction.atomic():
            locked = _lock(negotiation_id)
            if locked.status != Negotiation.Status.RUNNING:
                raise NegotiationNotRunningError(locked.status)
            position = _log_position(negotiation_id)
            if position.turns != turn - 1:
                raise TurnConflictError(f"turn {turn} after {position.turns} turns")
            if outcome is None:
                locked.rounds_used = (turn + 1) // 2
                locked.save(update_fields=["rounds_used", "updated_at"])
            else:
                _finish(locked, outcome.status, outcome.end_reason, outcome.agreed_price, outcome.rounds_used)
            return _events_write(locked, drafts, last_seq=position.last_seq)
    except IntegrityError as exc:  # a writer that bypassed the lock took these seqs: same as a conflict
        raise TurnConflictError(f"seq clash at turn {turn}") from exc


# --- internals -------------------------------------------------------------------------------------
class _LogPosition(NamedTuple):
    last_seq: int
    turns: int


def _lock(negotiation_id: int) -> Negotiation:
    return Negotiation.objects.select_for_update().get(pk=negotiation_id)


def _log_position(negotiation_id: int) -> _LogPosition:
    """The last seq and the number of turns (message events) in the log, in one query."""
    row = Event.objects.filter(negotiation_id=negotiation_id).aggregate(
        last=Max("seq"), turns=Count("pk", filter=Q(type=Event.Type.MESSAGE))
    )
    return _LogPosition(row["last"] or 0, row["turns"])


def _events_write(negotiation: Negotiation, drafts: Sequence[EventDraft], *, last_seq: int | None = None) -> list[Event]:
    """Insert drafts with the next seqs. Must run inside the transaction that locked `negotiation`."""
    if last_seq is None:
        last_seq = _log_position(negotiation.pk).last_seq
    rows = [
        Event(negotiation_id=negotiation.pk, seq=last_seq + i, type=d.type, actor=d.actor, visibility=d.visibility, data=d.data)
        for i, d in enumerate(drafts, start=1)
    ]
    created = Event.objects.bulk_create(rows)
    negotiation_id = negotiation.pk
    transaction.on_commit(lambda: get_broadcaster().publish_events(negotiation_id, created))
    return created


def _finish(negotiation: Negotiation, status: str, end_reason: str, agreed_price: Decimal | None, rounds: int) -> None:
    negotiation.status = status
    negotiation.end_reason = end_reason
    negotiation.agreed_price = agreed_price
    negotiation.rounds_used = rounds
    negotiation.finished_at = timezone.now()
    negotiation.save(update_fields=["status", "end_reason", "agreed_price", "rounds_used", "finished_at", "updated_at"])


def _rounds_used(negotiation: Negotiation) -> int:
    return (_log_position(negotiation.pk).turns + 1) // 2


def _refresh(target: Negotiation, source: Negotiation) -> None:
    for name in ("status", "end_reason", "agreed_price", "rounds_used", "finished_at", "updated_at"):
        setattr(target, name, getattr(source, name))


def _launch(runner: NegotiationRunner, negotiation_id: int) -> None:
    try:
        runner.submit(negotiation_id)
    except RuntimeError as exc:  # no event loop to run on (see negotiation_start)
        _release(runner, negotiation_id)
        logger.error("negotiation %s started but not launched: %s", negotiation_id, exc)


def _reserve(runner: NegotiationRunner, negotiation_id: int) -> bool:
    reserve = getattr(runner, "reserve", None)  # capacity is optional for a runner (a task queue has its own)
    return True if reserve is None else bool(reserve(negotiation_id))


def _release(runner: NegotiationRunner, negotiation_id: int) -> None:
    release = getattr(runner, "release", None)
    if release is not None:
        release(negotiation_id)


def _runner(runner: NegotiationRunner | None) -> NegotiationRunner:
    if runner is not None:
        return runner
    from negotiations.runner import get_runner

    return get_runner()
