"""WHAT: the in-process publish hook: committed events and live token deltas, fanned out to subscribers.
WHY: the live stream (SSE) should show a turn the moment it commits and a message while it is being
     written, without polling; but the database stays the truth, so a slow or late subscriber loses
     nothing — it re-reads the log.
HOW: services publish a turn's events from `transaction.on_commit`, the engine its deltas as tokens arrive.
     Each subscriber has a bounded asyncio.Queue on its own event loop, fed thread-safely, once per loop;
     a full queue is emptied and a `Gap` queued. Consumers follow `Broadcaster.subscribe`'s protocol; a
     cross-process bus would implement the same `publish_events` / `publish_delta` / `subscribe` methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from negotiations.engine.loops import running_loop

logger = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 256


@dataclass(frozen=True)
class TokenDelta:
    """A piece of a message being written (not logged; the `message` event replaces it).

    `attempt` changes when a text is regenerated: clients drop the draft of an older attempt."""

    negotiation_id: int
    actor: str
    visibility: str
    turn: int
    attempt: int
    text: str


@dataclass(frozen=True)
class Gap:
    """Items were dropped for this subscriber (its queue was full): re-read the log after your last seq."""


class Subscription:
    """One subscriber's bounded queue; iterate it (async) to receive items."""

    def __init__(self, negotiation_id: int, *, queue_size: int, loop: asyncio.AbstractEventLoop) -> None:
        self.negotiation_id = negotiation_id
        self.loop = loop
        self.queue_size = queue_size
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=max(2, queue_size))  # room for Gap + item
        self.dropped = 0

    def _offer(self, item: Any) -> None:
        """Runs on the subscriber's loop."""
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            while not self._queue.empty():
                self._queue.get_nowait()
                self.dropped += 1
            self._queue.put_nowait(Gap())
            self._queue.put_nowait(item)

    async def get(self, timeout: float | None = None) -> Any | None:
        """The next item, or None after `timeout` seconds (lets a caller send heartbeats)."""
        if timeout is None:
            return await self._queue.get()
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None

    def offer(self, item: Any) -> None:
        """Queue an item of the subscriber's own (e.g. a timer tick) in order with the published ones;
        call on the subscriber's loop."""
        self._offer(item)

    def get_nowait(self) -> Any | None:
        """The next item if one is waiting, else None (lets a consumer batch a burst into one write)."""
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        return await self._queue.get()


class Broadcaster:
    """Fans items out to the subscribers of each negotiation.

    `delta_coalesce_seconds` > 0 merges the deltas of one draft published within that window into one
    (text concatenated), published when the window ends or a different draft starts: a model writing
    50 tokens a second then costs each of hundreds of viewers 1 / window writes a second, not 50."""

    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE, delta_coalesce_seconds: float = 0.0) -> None:
        self.queue_size = queue_size
        self.delta_coalesce_seconds = delta_coalesce_seconds
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[Subscription]] = {}
        self._drafts: dict[int, _PendingDraft] = {}  # per negotiation; touched on the publishing loop only

    @contextlib.asynccontextmanager
    async def subscribe(self, negotiation_id: int, *, queue_size: int | None = None) -> AsyncIterator[Subscription]:
        """Receive what is published for `negotiation_id` while the block runs; always unsubscribes.

        Consumer protocol (what the SSE view does, through negotiations/live/follower.py):

            async with get_broadcaster().subscribe(negotiation_id) as subscription:
                last = replay_from_db(after=last_event_id)        # 1. subscribe first, then replay the log
                async for item in subscription:                   # 2. then follow live items
                    if isinstance(item, Gap): last = replay_from_db(after=last)  # dropped items: re-read the log
                    elif isinstance(item, TokenDelta): send if can_view(viewer, item)  # no seq, never logged
                    elif item.seq > last and can_view(viewer, item): send; last = item.seq  # Event rows

        Events can arrive twice (once replayed, once live): skip `seq <= last`.
        """
        subscription = Subscription(
            negotiation_id, queue_size=queue_size or self.queue_size, loop=asyncio.get_running_loop()
        )
        with self._lock:
            self._subscribers.setdefault(negotiation_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                subscribers = self._subscribers.get(negotiation_id)
                if subscribers is not None:
                    subscribers.discard(subscription)
                    if not subscribers:
                        del self._subscribers[negotiation_id]

    def subscriber_count(self, negotiation_id: int) -> int:
        with self._lock:
            return len(self._subscribers.get(negotiation_id, ()))

    def publish_events(self, negotiation_id: int, events: Sequence[Any]) -> None:
        """Publish committed Event rows (call after the commit; safe from any thread)."""
        pending = self._drafts.get(negotiation_id)
        if pending is not None:  # a draft's held-back text goes out before the events that end it
            if pending.loop is running_loop():
                self._flush_draft(negotiation_id)
            else:
                with contextlib.suppress(RuntimeError):
                    pending.loop.call_soon_threadsafe(self._flush_draft, negotiation_id)
        for event in events:
            self._publish(negotiation_id, event)

    def publish_delta(self, delta: TokenDelta) -> None:
        """Publish a piece of a draft. With coalescing, the first piece goes out at once and the pieces
        that follow within the window go out together at its end."""
        loop = running_loop()
        if self.delta_coalesce_seconds <= 0 or loop is None:
            self._publish(delta.negotiation_id, delta)
            return
        key = delta.negotiation_id
        pending = self._drafts.get(key)
        if pending is not None and pending.loop is loop and pending.continues(delta):
            pending.texts.append(delta.text)
            return
        if pending is not None:
            self._flush_draft(key)  # another draft (turn, side or attempt): keep the order
        self._publish(key, delta)
        timer = loop.call_later(self.delta_coalesce_seconds, self._flush_draft, key)
        self._drafts[key] = _PendingDraft(delta, [], loop, timer)

    def _flush_draft(self, negotiation_id: int) -> None:
        pending = self._drafts.pop(negotiation_id, None)
        if pending is not None:
            pending.timer.cancel()
            if pending.texts:
                first = pending.first
                merged = TokenDelta(
                    first.negotiation_id,
                    first.actor,
                    first.visibility,
                    first.turn,
                    first.attempt,
                    "".join(pending.texts),
                )
                self._publish(negotiation_id, merged)

    def _publish(self, negotiation_id: int, item: Any) -> None:
        with self._lock:
            subscribers = list(self._subscribers.get(negotiation_id, ()))
        if not subscribers:
            return
        current = running_loop()
        by_loop: dict[asyncio.AbstractEventLoop, list[Subscription]] = {}
        for subscription in subscribers:
            by_loop.setdefault(subscription.loop, []).append(subscription)
        for loop, group in by_loop.items():
            if loop is current:
                _offer_all(group, item)
                continue
            try:  # one wake-up per loop, however many subscribers it serves
                loop.call_soon_threadsafe(_offer_all, group, item)
            except RuntimeError:  # its loop is closed: the subscribers are gone
                logger.debug("dropping subscribers of negotiation %s whose loop closed", negotiation_id)


@dataclass
class _PendingDraft:
    first: TokenDelta
    texts: list[str]
    loop: asyncio.AbstractEventLoop
    timer: asyncio.TimerHandle

    def continues(self, delta: TokenDelta) -> bool:
        first = self.first
        return (delta.actor, delta.visibility, delta.turn, delta.attempt) == (
            first.actor,
            first.visibility,
            first.turn,
            first.attempt,
        )


def _offer_all(subscriptions: list[Subscription], item: Any) -> None:
    for subscription in subscriptions:
        subscription._offer(item)


_broadcaster: Broadcaster | None = None
_broadcaster_lock = threading.Lock()


def get_broadcaster() -> Broadcaster:
    """The process-wide broadcaster (NEGOTIATION_STREAM_DELTA_COALESCE_MS sets its delta window)."""
    global _broadcaster
    if _broadcaster is None:
        from django.conf import settings

        with _broadcaster_lock:
            if _broadcaster is None:
                window = getattr(settings, "NEGOTIATION_STREAM_DELTA_COALESCE_MS", 0) / 1000
                _broadcaster = Broadcaster(delta_coalesce_seconds=window)
    return _broadcaster
