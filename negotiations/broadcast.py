"""WHAT: the in-process publish hook: committed events and live token deltas, fanned out to subscribers.
WHY: the live stream (SSE) should show a turn the moment it commits and a message while it is being
     written, without polling; but the database stays the truth, so a slow or late subscriber loses
     nothing — it re-reads the log.
HOW: `services` publish a turn's events from `transaction.on_commit`; the engine publishes deltas as
     tokens arrive. Each subscriber has a bounded asyncio.Queue on its own event loop; publishing is
     thread-safe (`call_soon_threadsafe`) because commits happen in sync worker threads. When a queue
     is full it is emptied and a `Gap` is queued before the new item.

Consumer protocol (what the SSE view does):

    async with get_broadcaster().subscribe(negotiation_id) as subscription:
        last = replay_from_db(after=last_event_id)           # 1. subscribe first, then replay the log
        async for item in subscription:                      # 2. then follow live items
            if isinstance(item, Gap): last = replay_from_db(after=last)   # dropped items: re-read the log
            elif isinstance(item, TokenDelta): send if can_view(viewer, item)   # no seq, never logged
            elif item.seq > last and can_view(viewer, item): send; last = item.seq  # Event rows

Events can arrive twice (once replayed, once live): skip `seq <= last`. A cross-process bus would
implement the same `publish_events` / `publish_delta` / `subscribe` methods.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

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
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None

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
    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[Subscription]] = {}

    @contextlib.asynccontextmanager
    async def subscribe(self, negotiation_id: int, *, queue_size: int | None = None) -> AsyncIterator[Subscription]:
        """Receive what is published for `negotiation_id` while the block runs; always unsubscribes."""
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
        for event in events:
            self._publish(negotiation_id, event)

    def publish_delta(self, delta: TokenDelta) -> None:
        self._publish(delta.negotiation_id, delta)

    def _publish(self, negotiation_id: int, item: Any) -> None:
        with self._lock:
            subscribers = list(self._subscribers.get(negotiation_id, ()))
        if not subscribers:
            return
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for subscription in subscribers:
            if subscription.loop is current:
                subscription._offer(item)
                continue
            try:
                subscription.loop.call_soon_threadsafe(subscription._offer, item)
            except RuntimeError:  # its loop is closed: the subscriber is gone
                logger.debug("dropping a subscriber of negotiation %s whose loop closed", negotiation_id)


_broadcaster = Broadcaster()


def get_broadcaster() -> Broadcaster:
    """The process-wide broadcaster."""
    return _broadcaster
