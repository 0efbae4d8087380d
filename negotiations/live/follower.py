"""WHAT: `LogFollower`, one viewer's position in a negotiation's log: what of the log and of the live
     items it is owed next, exactly once each, in seq order, resuming after any seq.
WHY: a live view (the SSE stream, `manage.py negotiate`) must never skip or repeat an event, whether
     items arrive live, late, out of order, dropped by a full queue, or not at all (the runner in
     another process). The log is the truth; the broadcaster only makes the common case fast.
HOW: subscribe first, then `catch_up()` (the log after the resume point), then `take(item)` for each live
     item. `cursor` is the highest seq of the whole log (visible or not) accounted for: a live event at
     `cursor + 1` is passed on; one beyond it, or a `Gap`, means "re-read the log after the cursor".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marketplace.errors import NotFoundError
from negotiations.live.broadcast import Gap, TokenDelta
from negotiations.live.reads import db_read
from negotiations.models import Event, Negotiation
from negotiations.selectors import event_last_seq
from negotiations.visibility import Viewer, can_view, event_list_visible_to

__all__ = ["LogFollower"]


@dataclass(frozen=True)
class _Replay:
    status: str | None  # None: the negotiation no longer exists
    head: int
    events: list[Event]


def _replay_read(negotiation_id: int, viewer: Viewer, after: int) -> _Replay:
    # Status and head first: whatever they show is committed, so the events read next include it (seqs are
    # allocated under the negotiation's row lock: when seq N is committed, every seq below it is too).
    status = Negotiation.objects.filter(pk=negotiation_id).values_list("status", flat=True).first()
    head = event_last_seq(negotiation_id=negotiation_id)
    events = list(event_list_visible_to(negotiation=negotiation_id, viewer=viewer, after_seq=after))
    return _Replay(status, head, events)


class LogFollower:
    """One viewer's position in the log and the items owed to it (Event rows and TokenDeltas)."""

    def __init__(self, negotiation_id: int, viewer: Viewer, after: int) -> None:
        self.negotiation_id = negotiation_id
        self.viewer = viewer
        self.cursor = after  # highest seq of the whole log accounted for
        self.last_turn = 0  # highest turn whose message was passed on: later deltas of it are stale
        self.ended_as: str | None = None  # the final status, once the outcome was passed on

    async def catch_up(self) -> list[Event]:
        """Everything visible in the log after the cursor (and whether it is over: `ended_as`)."""
        replay = await db_read(_replay_read, self.negotiation_id, self.viewer, self.cursor)
        if replay.status is None:
            raise NotFoundError("The negotiation no longer exists.")
        events = [self._take(event) for event in replay.events]
        self.cursor = max(self.cursor, replay.head)
        if self.ended_as is None and replay.status in Negotiation.FINISHED_STATUSES:
            self.ended_as = replay.status
        return events

    def live_event(self, event: Event) -> tuple[list[Event], bool]:
        """The live event if it is owed, and whether the log must be re-read first (it skipped ahead)."""
        if event.seq <= self.cursor:
            return [], False  # already passed on from the log
        if event.seq > self.cursor + 1:
            return [], True
        if not can_view(self.viewer, event):
            self.cursor = event.seq
            return [], False
        return [self._take(event)], False

    async def take(self, item: Any) -> list[Event | TokenDelta]:
        """What one live item (an Event row, a TokenDelta or a Gap) makes owed."""
        if isinstance(item, TokenDelta):
            if item.turn <= self.last_turn or not can_view(self.viewer, item):
                return []
            return [item]
        if isinstance(item, Gap):
            return await self.catch_up()
        events, skipped = self.live_event(item)
        return await self.catch_up() if skipped else events  # type: ignore[return-value]

    def _take(self, event: Event) -> Event:
        self.cursor = max(self.cursor, event.seq)
        if event.type == Event.Type.MESSAGE:
            self.last_turn = max(self.last_turn, int(event.data.get("turn", 0)))
        elif event.type == Event.Type.OUTCOME:
            self.ended_as = str(event.data.get("result", "")) or "finished"
        return event
