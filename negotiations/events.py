"""WHAT: the event log's vocabulary — `EventDraft` (an event before it has a seq), the JSON payload of
     each event type (listed in docs/negotiations.md, "The event log"), and `NegotiationState`, the
     state a negotiation is in after a prefix of its log.
WHY: the log is the source of truth. Rebuilding state by folding the log (and nothing else) is what
     makes a negotiation resumable at any point and lets every reader agree on what happened.
HOW: `state_from_events(events, opens=..., max_rounds=...)` folds Event rows (or anything with
     `type`/`actor`/`data`) in seq order. Turn k (1-based) belongs to the opener when k is odd; a round
     is the opener's turn plus the responder's reply, so the final turn is 2 * max_rounds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from negotiations.models import Event


@dataclass(frozen=True)
class EventDraft:
    """An event to append; `seq` and `created_at` are assigned when it is written."""

    type: str
    actor: str
    visibility: str
    data: dict[str, Any]


class LoggedEvent(Protocol):
    type: str
    actor: str
    data: dict[str, Any]


def price_str(price: Decimal | None) -> str | None:
    return None if price is None else f"{price:.2f}"


def price_from(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def other_role(role: str) -> str:
    return "seller" if role == "buyer" else "buyer"


@dataclass(frozen=True)
class TurnRecord:
    turn: int
    actor: str
    action: str
    price: Decimal | None


@dataclass(frozen=True)
class MarketView:
    """What a side knows of the market around its negotiation this turn. `open_negotiations` (on the
    listing, this one included) is public; `outside_offer` is private to the side: for a seller the best
    standing buyer offer in its listing's other negotiations, for a mandate's buyer the lowest standing
    ask in the mandate's other negotiations. It comes from other negotiations, so it is never said."""

    open_negotiations: int = 1
    outside_offer: Decimal | None = None


@dataclass
class NegotiationState:
    """What the log says so far: the turns played, the offers on the table, and whether it is over."""

    opens: str
    max_rounds: int
    turns: list[TurnRecord] = field(default_factory=list)
    finished: bool = False
    result: str | None = None

    @property
    def turns_done(self) -> int:
        return len(self.turns)

    @property
    def next_turn(self) -> int:
        return self.turns_done + 1

    @property
    def final_turn(self) -> int:
        return 2 * self.max_rounds

    def actor_of(self, turn: int) -> str:
        return self.opens if turn % 2 == 1 else other_role(self.opens)

    @staticmethod
    def round_of(turn: int) -> int:
        """Round r holds turns 2r-1 (opener) and 2r (responder); also each side's own turn index."""
        return (turn + 1) // 2

    def standing_offer(self, role: str) -> Decimal | None:
        """The latest price `role` has offered (it stands until replaced or the negotiation ends)."""
        for record in reversed(self.turns):
            if record.actor == role and record.action == "offer":
                return record.price
        return None

    def public_prices(self) -> set[Decimal]:
        return {r.price for r in self.turns if r.price is not None}

    def apply(self, event: LoggedEvent) -> None:
        if event.type == Event.Type.MESSAGE:
            data = event.data
            self.turns.append(TurnRecord(int(data["turn"]), event.actor, data["action"], price_from(data.get("price"))))
        elif event.type == Event.Type.OUTCOME:
            self.finished = True
            self.result = event.data.get("result")


def state_from_events(events: Iterable[LoggedEvent], *, opens: str, max_rounds: int) -> NegotiationState:
    state = NegotiationState(opens=opens, max_rounds=max_rounds)
    for event in events:
        state.apply(event)
    return state


def message_draft(*, actor: str, turn: int, action: str, price: Decimal | None, text: str) -> EventDraft:
    data = {
        "turn": turn,
        "round": NegotiationState.round_of(turn),
        "action": action,
        "price": price_str(price),
        "text": text,
    }
    return EventDraft(Event.Type.MESSAGE, actor, Event.Visibility.PUBLIC, data)


def private_draft(*, type: str, actor: str, turn: int, data: dict[str, Any]) -> EventDraft:
    """A thought or guardrail event, visible to `actor`'s side (and staff) only."""
    payload = {"turn": turn, "round": NegotiationState.round_of(turn), **data}
    return EventDraft(type, actor, actor, payload)


def status_draft(status: str, *, reason: str = "") -> EventDraft:
    data: dict[str, Any] = {"status": status}
    if reason:
        data["reason"] = reason
    return EventDraft(Event.Type.STATUS, Event.Actor.SYSTEM, Event.Visibility.PUBLIC, data)


def outcome_draft(*, result: str, end_reason: str, agreed_price: Decimal | None, rounds_used: int) -> EventDraft:
    data = {
        "result": result,
        "end_reason": end_reason,
        "agreed_price": price_str(agreed_price),
        "rounds_used": rounds_used,
    }
    return EventDraft(Event.Type.OUTCOME, Event.Actor.SYSTEM, Event.Visibility.PUBLIC, data)
