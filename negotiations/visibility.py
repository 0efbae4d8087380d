"""WHAT: who may see what — the one decision (`can_view`) and the history selector built on it.
WHY: the REST history, the SSE stream (replay and live token deltas) and the context given to each
     agent's LLM must agree exactly; one function means a buyer can never be shown a seller-private
     event through one path that another path would have hidden.
HOW: `can_view(viewer, item)` looks only at `item.visibility` (Event rows, live deltas, ...): staff see
     everything, `public` every viewer, `buyer`/`seller` that side only, `staff` staff only. The database
     filter of `event_list_visible_to` is derived from `can_view` by asking it about every visibility
     value, so the SQL and the per-item check cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from django.db.models import QuerySet

from negotiations.models import Event, Negotiation

__all__ = [
    "Viewer",
    "ViewerRole",
    "can_view",
    "can_view_visibility",
    "event_list_visible_to",
    "filter_visible",
    "visibilities_for",
]

ViewerRole = Literal["buyer", "seller", "observer", "staff"]
VIEWER_ROLES: tuple[str, ...] = ("buyer", "seller", "observer", "staff")


@dataclass(frozen=True)
class Viewer:
    """Who is looking: one side of the negotiation, a read-only observer, or staff."""

    role: ViewerRole

    def __post_init__(self) -> None:
        if self.role not in VIEWER_ROLES:
            raise ValueError(f"unknown viewer role {self.role!r}")

    @classmethod
    def buyer(cls) -> Viewer:
        return cls("buyer")

    @classmethod
    def seller(cls) -> Viewer:
        return cls("seller")

    @classmethod
    def observer(cls) -> Viewer:
        return cls("observer")

    @classmethod
    def staff(cls) -> Viewer:
        return cls("staff")


class HasVisibility(Protocol):
    visibility: str


T = TypeVar("T", bound=HasVisibility)


def can_view(viewer: Viewer, item: HasVisibility) -> bool:
    """THE visibility rule: may `viewer` see `item` (an Event, a live delta, ...)?"""
    visibility = item.visibility
    if viewer.role == "staff":
        return True
    if visibility == Event.Visibility.PUBLIC:
        return True
    if visibility == Event.Visibility.BUYER:
        return viewer.role == "buyer"
    if visibility == Event.Visibility.SELLER:
        return viewer.role == "seller"
    return False  # staff-only, or a value this code does not know: hide it


@dataclass(frozen=True)
class _Probe:
    visibility: str


def can_view_visibility(viewer: Viewer, visibility: str) -> bool:
    """`can_view` for anything with this visibility: a side's private settings are visibility "buyer"
    or "seller" (as its private events), the staff-only fields "staff"."""
    return can_view(viewer, _Probe(visibility))


def visibilities_for(viewer: Viewer) -> frozenset[str]:
    """The visibility values `viewer` may see, derived from `can_view` (used for SQL filtering)."""
    return frozenset(v for v in Event.Visibility.values if can_view(viewer, _Probe(v)))


def filter_visible(viewer: Viewer, items: Iterable[T]) -> list[T]:
    """In-memory twin of the selector below, for events already loaded (the engine's agent context)."""
    return [item for item in items if can_view(viewer, item)]


def event_list_visible_to(
    *, negotiation: Negotiation | int, viewer: Viewer, after_seq: int | None = None
) -> QuerySet[Event]:
    """The negotiation's events `viewer` may see, in `seq` order; `after_seq` gives exact replay (`seq > after_seq`)."""
    negotiation_id = negotiation if isinstance(negotiation, int) else negotiation.pk
    events = Event.objects.filter(negotiation_id=negotiation_id, visibility__in=visibilities_for(viewer))
    if after_seq is not None:
        events = events.filter(seq__gt=after_seq)
    return events.order_by("seq")
