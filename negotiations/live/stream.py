"""WHAT: `viewer_stream(...)`, the body of `GET /api/v1/negotiations/{id}/stream`: every logged event the
     viewer may see (`id: <seq>`), live deltas it may see, pings, and a final `end` — exactly once each,
     in seq order, resuming after any seq.
WHY: the live stream must never skip or repeat an event, and must stay cheap with hundreds of viewers:
     idle viewers hold no thread and no connection, and a poll costs one query per negotiation.
HOW: a `LogFollower` decides what is owed; this loop subscribes to the broadcaster, replays the log, then
     follows live items, writing each burst as one chunk. One timer per viewer rings for the log poll (the
     runner may be in another process) and the ping. Cancellation propagates; the subscription is released.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from marketplace.sse import PING_FRAME, retry_frame
from negotiations.live.broadcast import Broadcaster, TokenDelta, get_broadcaster
from negotiations.live.follower import LogFollower
from negotiations.live.frames import delta_frame_of, end_frame, error_frame, event_frame
from negotiations.live.reads import log_heads
from negotiations.visibility import Viewer

__all__ = ["StreamSettings", "viewer_stream"]

logger = logging.getLogger(__name__)

MAX_BATCH = 256  # live items merged into one write


def _frame(item: Any) -> bytes:
    return delta_frame_of(item) if isinstance(item, TokenDelta) else event_frame(item)


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
    follower = LogFollower(negotiation_id, viewer, after)
    loop = asyncio.get_running_loop()
    alarm: asyncio.TimerHandle | None = None
    try:
        async with broadcaster.subscribe(negotiation_id, queue_size=config.queue_size) as subscription:
            frames = [retry_frame(config.retry_ms), *map(_frame, await follower.catch_up())]
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
                        frames += map(_frame, await follower.take(item))
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
                            frames += map(_frame, await follower.catch_up())
                        seen_head = await log_heads.get(negotiation_id, max_age=config.poll_seconds / 2)
                    if not frames and loop.time() >= next_ping:
                        frames.append(PING_FRAME)
                    alarm = loop.call_at(min(next_poll, next_ping), subscription.offer, _TICK)
            frames.append(end_frame(status=follower.ended_as, last_seq=follower.cursor))
            yield b"".join(frames)
    except Exception as exc:
        logger.warning("negotiation %s stream failed: %s", negotiation_id, exc.__class__.__name__, exc_info=exc)
        yield error_frame(exc)
    finally:
        if alarm is not None:
            alarm.cancel()
        if broadcaster.subscriber_count(negotiation_id) == 0:
            log_heads.forget(negotiation_id)
