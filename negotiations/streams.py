"""WHAT: `viewer_stream(...)`, the body of `GET /api/v1/negotiations/{id}/stream`: every logged event the
     viewer may see (`id: <seq>`), live deltas it may see, pings, and a final `end` — exactly once each,
     in seq order, resuming after any seq.
WHY: the live stream must never skip or repeat an event, whether items arrive live, late, out of
     order, dropped by a full queue, or not at all (the runner in another process). The log is the
     truth; the broadcaster only makes the common case fast.
HOW: the protocol of negotiations/broadcast.py: subscribe first, then replay the log after the resume
     point, then follow live items. A `cursor` holds the highest seq of the whole log (visible or not)
     already accounted for: a live event at `cursor + 1` is sent (if visible) and advances it; one at
     or below it is a duplicate; one beyond `cursor + 1` (an earlier commit's items not delivered yet),
     a `Gap`, or a log head that the periodic poll saw past the cursor and that has still not come
     live one poll later (the runner is elsewhere) all mean "re-read the log after the cursor". Seqs are allocated under the negotiation's row lock, so when seq N is committed every
     seq below it is too: reading the head first and the events after it never misses one.
     Database reads run in a small shared thread pool with long-lived connections (`db_read`), not in
     the request's thread, so hundreds of idle viewers hold neither threads nor connections; the log
     head is read at most about once per poll interval per negotiation per process, whatever the
     number of viewers. An event's frame is encoded once and shared by every viewer. Cancellation (the
     client left) propagates; the subscription is always released on the way out.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from marketplace.errors import NotFoundError
from negotiations.broadcast import Broadcaster, Gap, TokenDelta, get_broadcaster
from negotiations.models import Event, Negotiation
from negotiations.selectors import event_last_seq
from negotiations.serializers import EventSerializer
from negotiations.sse import PING_FRAME, delta_frame, end_frame, error_frame, json_frame, retry_frame
from negotiations.visibility import Viewer, can_view, event_list_visible_to

__all__ = ["StreamSettings", "db_read", "event_frame", "viewer_stream"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

READ_THREADS = 4  # enough for bursts of reconnects; each holds one database connection
FRAME_CACHE_SIZE = 4096
MAX_BATCH = 256  # live items merged into one write

_read_pool = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="negotiation-stream-db")


# --- database reads --------------------------------------------------------------------------------
async def db_read(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a read-only ORM function in the stream reader pool (see the module docstring)."""
    return await sync_to_async(_read_with_reconnect, thread_sensitive=False, executor=_read_pool)(fn, *args, **kwargs)


def _read_with_reconnect(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # Pool threads keep their connection between reads; one the server closed is replaced once (a
    # read is idempotent, so trying again is safe).
    try:
        return fn(*args, **kwargs)
    except (InterfaceError, OperationalError):
        if connection.in_atomic_block:
            raise
        connection.close()
        return fn(*args, **kwargs)


class _LogHeads:
    """The last seq of each watched negotiation's log, shared by this process's viewers for `max_age`.

    Viewers that connected together poll together: concurrent misses share one in-flight read (per
    event loop; a server has one), so a poll tick costs one query, not one per viewer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heads: dict[int, tuple[float, int]] = {}
        self._reads: dict[tuple[int, int], asyncio.Future[int]] = {}

    async def get(self, negotiation_id: int, *, max_age: float) -> int:
        started = time.monotonic()
        with self._lock:
            cached = self._heads.get(negotiation_id)
        if cached is not None and started - cached[0] < max_age:
            return cached[1]
        key = (id(asyncio.get_running_loop()), negotiation_id)
        read = self._reads.get(key)
        if read is None:
            read = asyncio.ensure_future(db_read(event_last_seq, negotiation_id=negotiation_id))
            self._reads[key] = read
            read.add_done_callback(lambda _: self._reads.pop(key, None))
        head = await asyncio.shield(read)
        with self._lock:
            current = self._heads.get(negotiation_id)
            if current is None or current[0] <= started:
                self._heads[negotiation_id] = (started, head)
        return head

    def forget(self, negotiation_id: int) -> None:
        with self._lock:
            self._heads.pop(negotiation_id, None)


_log_heads = _LogHeads()


@dataclass(frozen=True)
class _Replay:
    status: str | None  # None: the negotiation no longer exists
    head: int
    events: list[Event]


def _replay_read(negotiation_id: int, viewer: Viewer, after: int) -> _Replay:
    # Status and head first: whatever they show is committed, so the events read next include it.
    status = Negotiation.objects.filter(pk=negotiation_id).values_list("status", flat=True).first()
    head = event_last_seq(negotiation_id=negotiation_id)
    events = list(event_list_visible_to(negotiation=negotiation_id, viewer=viewer, after_seq=after))
    return _Replay(status, head, events)


# --- frames ----------------------------------------------------------------------------------------
class _FrameCache:
    """Encoded event frames, shared by all viewers (a logged event never changes)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._frames: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()

    def frame(self, event: Event) -> bytes:
        key = (event.pk, event.negotiation_id, event.seq, event.created_at)
        with self._lock:
            frame = self._frames.get(key)
            if frame is not None:
                self._frames.move_to_end(key)
                return frame
        frame = json_frame(EventSerializer(event).data, event=event.type, id=str(event.seq))
        with self._lock:
            self._frames[key] = frame
            while len(self._frames) > self.size:
                self._frames.popitem(last=False)
        return frame


_frames = _FrameCache(FRAME_CACHE_SIZE)


@functools.lru_cache(maxsize=FRAME_CACHE_SIZE)
def _delta_frame(delta: TokenDelta) -> bytes:
    # Every viewer gets the same delta object: encode it once.
    return delta_frame(actor=delta.actor, visibility=delta.visibility, turn=delta.turn, attempt=delta.attempt, text=delta.text)


def event_frame(event: Event) -> bytes:
    """`id: <seq>`, `event: <type>`, `data: <the event as the REST history shows it>`."""
    return _frames.frame(event)


# --- the stream ------------------------------------------------------------------------------------
_TICK = object()  # the viewer's own alarm: time to poll the log or to ping

@dataclass(frozen=True)
class StreamSettings:
    ping_seconds: float
    retry_ms: int
    poll_seconds: float
    queue_size: int

    @classmethod
    def from_settings(cls) -> StreamSettings:
        return cls(
            ping_seconds=settings.NEGOTIATION_STREAM_PING_SECONDS,
            retry_ms=settings.NEGOTIATION_STREAM_RETRY_MS,
            poll_seconds=settings.NEGOTIATION_STREAM_POLL_SECONDS,
            queue_size=settings.NEGOTIATION_STREAM_QUEUE_SIZE,
        )


class _Follower:
    """One viewer's position in the log and the frames owed to it."""

    def __init__(self, negotiation_id: int, viewer: Viewer, after: int) -> None:
        self.negotiation_id = negotiation_id
        self.viewer = viewer
        self.cursor = after  # highest seq of the whole log accounted for
        self.last_turn = 0  # highest turn whose message was sent: later deltas of it are stale
        self.ended_as: str | None = None  # the final status, once the outcome was sent

    async def catch_up(self) -> list[bytes]:
        """Frames for everything visible in the log after the cursor (and the end, if it is over)."""
        replay = await db_read(_replay_read, self.negotiation_id, self.viewer, self.cursor)
        if replay.status is None:
            raise NotFoundError("The negotiation no longer exists.")
        frames = [self._take(event) for event in replay.events]
        self.cursor = max(self.cursor, replay.head)
        if self.ended_as is None and replay.status in Negotiation.FINISHED_STATUSES:
            self.ended_as = replay.status
        return frames

    def live_event(self, event: Event) -> tuple[list[bytes], bool]:
        """Frames for a live event, and whether the log must be re-read first (it skipped ahead)."""
        if event.seq <= self.cursor:
            return [], False  # already sent from the log
        if event.seq > self.cursor + 1:
            return [], True
        if not can_view(self.viewer, event):
            self.cursor = event.seq
            return [], False
        return [self._take(event)], False

    async def take(self, item: Any) -> list[bytes]:
        """Frames for one live item (an Event row, a TokenDelta or a Gap)."""
        if isinstance(item, TokenDelta):
            if item.turn <= self.last_turn or not can_view(self.viewer, item):
                return []
            return [_delta_frame(item)]
        if isinstance(item, Gap):
            return await self.catch_up()
        frames, skipped = self.live_event(item)
        return await self.catch_up() if skipped else frames

    def _take(self, event: Event) -> bytes:
        self.cursor = max(self.cursor, event.seq)
        if event.type == Event.Type.MESSAGE:
            self.last_turn = max(self.last_turn, int(event.data.get("turn", 0)))
        elif event.type == Event.Type.OUTCOME:
            self.ended_as = str(event.data.get("result", "")) or "finished"
        return event_frame(event)


async def viewer_stream(
    *,
    negotiation_id: int,
    viewer: Viewer,
    after: int = 0,
    stream_settings: StreamSettings | None = None,
    broadcaster: Broadcaster | None = None,
) -> AsyncIterator[bytes]:
    """The SSE body for `viewer`, resuming after seq `after`. Ends after the `end` frame, or with an
    `error` frame if reading the log fails; a disconnect cancels it (the subscription is released)."""
    config = stream_settings or StreamSettings.from_settings()
    broadcaster = broadcaster or get_broadcaster()
    follower = _Follower(negotiation_id, viewer, after)
    loop = asyncio.get_running_loop()
    alarm: asyncio.TimerHandle | None = None
    try:
        async with broadcaster.subscribe(negotiation_id, queue_size=config.queue_size) as subscription:
            frames = [retry_frame(config.retry_ms), *await follower.catch_up()]
            next_poll = next_ping = loop.time() + config.poll_seconds
            seen_head = 0  # the log's head at the previous poll
            # One timer per viewer, re-armed when it rings (not one per item): it queues a Tick, so the
            # loop below waits on the queue alone, however fast items come.
            alarm = loop.call_at(next_poll, subscription.offer, _TICK)
            while follower.ended_as is None:
                if frames:
                    yield b"".join(frames)
                    frames = []
                    next_ping = loop.time() + config.ping_seconds
                item = await subscription.get()
                # A burst (a turn's events, a run of deltas) goes out as one write.
                batched = 0
                while item is not None and follower.ended_as is None:
                    if item is not _TICK:
                        frames += await follower.take(item)
                    batched += 1
                    item = subscription.get_nowait() if batched < MAX_BATCH else None
                now = loop.time()
                if follower.ended_as is None and now >= alarm.when():  # rang (its tick may have been dropped)
                    if now >= next_poll:
                        # The runner may be in another process: the log tells what the broadcaster cannot.
                        # Events the log had at the previous poll and that have still not come live are
                        # read from it; newer ones get one interval to arrive live first (a poll landing
                        # between a commit and its publication must not send every viewer to the database).
                        next_poll = now + config.poll_seconds
                        if follower.cursor < seen_head:
                            frames += await follower.catch_up()
                        seen_head = await _log_heads.get(negotiation_id, max_age=config.poll_seconds / 2)
                    if not frames and loop.time() >= next_ping:
                        frames.append(PING_FRAME)
                    alarm = loop.call_at(min(next_poll, next_ping), subscription.offer, _TICK)
            frames.append(end_frame(status=follower.ended_as, last_seq=follower.cursor))
            yield b"".join(frames)
    except Exception as exc:  # noqa: BLE001 - reported in-band; CancelledError (a disconnect) propagates
        logger.warning("negotiation %s stream failed: %s", negotiation_id, exc.__class__.__name__, exc_info=exc)
        yield error_frame(exc)
    finally:
        if alarm is not None:
            alarm.cancel()
        if broadcaster.subscriber_count(negotiation_id) == 0:
            _log_heads.forget(negotiation_id)
