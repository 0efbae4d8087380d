"""WHAT: the writes that make and steer negotiations: listing_create, negotiation_create,
     negotiation_start (then, after its commit, the hand-over to the runner), negotiation_cancel and
     negotiation_resume. The event log's own writes (turns, appends) are negotiations/log.py.
WHY: views, commands and the evaluation all start negotiations; one place validates their input and
     changes their status, so nothing else can leave a row out of step with its log.
HOW: sync functions with keyword-only arguments (call them with `sync_to_async` from async code). Bad
     input raises RequestValidationError (nothing written); an impossible status change ConflictError;
     a start beyond the runner's capacity NegotiationCapacityError.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, NamedTuple

from django.conf import settings
from django.db import transaction

from marketplace.errors import ConflictError
from negotiations.engine.runners import NegotiationRunner, get_runner
from negotiations.events import outcome_draft, status_draft
from negotiations.exceptions import ListingNotAvailableError, NegotiationCapacityError
from negotiations.log import events_write, market_closed_reason, negotiation_finish, negotiation_lock, rounds_used
from negotiations.models import Listing, Mandate, Negotiation, Participant, Role
from negotiations.tokens import token_generate, token_hash
from negotiations.validation import (
    MAX_CATEGORY_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_TITLE_CHARS,
    Errors,
    currency_clean,
    max_rounds_clean,
    participant_clean,
    participant_settings_json,
    price_clean,
    seed_clean,
    text_clean,
)

logger = logging.getLogger(__name__)


class ListingCreated(NamedTuple):
    """What `listing_publish` returns; `owner_token` is the plaintext token, shown this once only."""

    listing: Listing
    owner_token: str


class NegotiationCreated(NamedTuple):
    """What `negotiation_create` returns; `tokens` holds the plaintext tokens, shown this once only."""

    negotiation: Negotiation
    tokens: dict[str, str]  # {"buyer", "seller", "observer"}


# --- listings --------------------------------------------------------------------------------------
def listing_create(
    *,
    title: str,
    list_price: Any,
    description: str = "",
    category: str = "",
    currency: str = "USD",
    seller: dict[str, Any] | None = None,
    owner_token: str | None = None,
) -> Listing:
    """An available listing. `seller` (a side's settings, its floor included) is the seller agent that
    answers buyers who come by themselves (mandates) and negotiations created without a seller."""
    errors = Errors()
    title = text_clean(title, ("title",), errors, max_chars=MAX_TITLE_CHARS, required=True)
    price = price_clean(list_price, ("list_price",), errors)
    description = text_clean(description, ("description",), errors, max_chars=MAX_DESCRIPTION_CHARS)
    category = text_clean(category, ("category",), errors, max_chars=MAX_CATEGORY_CHARS)
    currency = currency_clean(currency, errors)
    seller_data = None if seller is None else participant_clean(Role.SELLER, seller, errors)
    errors.raise_if_any("The listing is invalid.")
    return Listing.objects.create(
        title=title,
        list_price=price,
        description=description,
        category=category,
        currency=currency,
        seller_settings=None if seller_data is None else participant_settings_json(seller_data),
        owner_token_hash=None if owner_token is None else token_hash(owner_token),
    )


def listing_publish(**fields: Any) -> ListingCreated:
    """`listing_create` with an owner token (returned once, stored hashed) that may withdraw it."""
    token = token_generate()
    return ListingCreated(listing_create(**fields, owner_token=token), token)


# --- negotiations ----------------------------------------------------------------------------------
def negotiation_create(
    *,
    listing: Listing | int,
    buyer: dict[str, Any],
    seller: dict[str, Any] | None = None,
    max_rounds: int | None = None,
    opens: str = Role.SELLER,
    seed: int | None = None,
    mandate: Mandate | None = None,
) -> NegotiationCreated:
    """Create a pending negotiation with its two participants; returns the three tokens once. Without a
    `seller` the listing's seller agent plays (listing_create's `seller`). A sold or withdrawn listing:
    ListingNotAvailableError. Nothing is written on any error."""
    errors = Errors()
    if isinstance(listing, Listing):
        listing = listing.pk  # read it again: its status may have changed since it was loaded
    if isinstance(listing, int) and not isinstance(listing, bool):
        listing_obj = Listing.objects.filter(pk=listing).first()
        if listing_obj is None:
            errors.add(("listing",), "No such listing.")
    else:
        listing_obj = None
        errors.add(("listing",), "Must be a listing id.")
    if seller is None and listing_obj is not None:
        seller = listing_obj.seller_settings
        if seller is None:
            errors.add(("seller",), "This field is required: the listing has no seller agent.")
    participants = {
        role: participant_clean(role, raw, errors) for role, raw in ((Role.BUYER, buyer), (Role.SELLER, seller))
    }
    rounds = max_rounds_clean(max_rounds, errors)
    if opens not in Role.values:
        errors.add(("opens",), "Must be one of: buyer, seller.")
    seed_value = seed_clean(seed, errors)
    errors.raise_if_any("The negotiation is invalid.")
    assert listing_obj is not None  # errors were raised above otherwise
    if listing_obj.status != Listing.Status.AVAILABLE:
        raise ListingNotAvailableError(details={"listing": listing_obj.pk, "status": listing_obj.status})

    tokens = {"buyer": token_generate(), "seller": token_generate(), "observer": token_generate()}
    with transaction.atomic():
        negotiation = Negotiation.objects.create(
            listing=listing_obj,
            max_rounds=rounds,
            opens=opens,
            seed=seed_value if seed_value is not None else secrets.randbelow(2**31),
            observer_token_hash=token_hash(tokens["observer"]),
            mandate=mandate,
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
            locked = negotiation_lock(negotiation.pk)
            if locked.status != Negotiation.Status.PENDING:
                raise ConflictError(
                    f"Only a pending negotiation can be started; this one is {locked.status}.",
                    details={"status": locked.status},
                )
            if market_closed_reason(locked) is not None:
                raise ListingNotAvailableError(details={"listing": locked.listing_id, "status": locked.listing.status})
            locked.status = Negotiation.Status.RUNNING
            locked.save(update_fields=["status", "updated_at"])
            events_write(locked, [status_draft(Negotiation.Status.RUNNING)])
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
        locked = negotiation_lock(negotiation.pk)
        if locked.is_finished:
            raise ConflictError(f"The negotiation is already {locked.status}.", details={"status": locked.status})
        rounds = rounds_used(locked)
        negotiation_finish(locked, Negotiation.Status.CANCELLED, Negotiation.EndReason.CANCELLED, None, rounds)
        events_write(
            locked,
            [
                status_draft(Negotiation.Status.CANCELLED),
                outcome_draft(
                    result="cancelled",
                    end_reason=Negotiation.EndReason.CANCELLED,
                    agreed_price=None,
                    rounds_used=rounds,
                ),
            ],
        )
        transaction.on_commit(lambda: _runner(runner).cancel(locked.pk))
    _refresh(negotiation, locked)
    return negotiation


def negotiation_resume(*, negotiation: Negotiation, runner: NegotiationRunner | None = None) -> Negotiation:
    """Hand a running negotiation whose task is gone (e.g. after a restart) back to the runner.

    Writes nothing: the engine rebuilds its state from the log and plays on from the next turn."""
    negotiation.refresh_from_db()
    if negotiation.status != Negotiation.Status.RUNNING:
        raise ConflictError(
            f"Only a running negotiation can be resumed; this one is {negotiation.status}.",
            details={"status": negotiation.status},
        )
    _runner(runner).submit(negotiation.pk)
    return negotiation


# --- internals -------------------------------------------------------------------------------------
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
    return get_runner()
