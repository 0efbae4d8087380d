"""WHAT: the SSE frames of the negotiation stream: logged events (`event_frame`, with `id: <seq>`), live
     token deltas (`delta_frame_of`, no id), the final `end` event and the in-band `error` event.
WHY: with hundreds of viewers, encoding the same event (its serializer and JSON) per viewer would be
     most of the fan-out's CPU; a logged event never changes, and every viewer gets the very same
     delta object from the broadcaster.
HOW: a bounded LRU of event frames keyed by the event's identity (thread-safe: frames are also built
     in reader threads' callers), and an `lru_cache` over deltas (frozen dataclasses). The wire format
     framing is marketplace/sse.py; logged events and deltas are encoded once, shared by every viewer.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import Any

from marketplace.api_errors import sse_error_event
from marketplace.sse import json_frame
from negotiations.api.serializers import EventSerializer
from negotiations.live.broadcast import TokenDelta
from negotiations.models import Event

__all__ = ["FRAME_CACHE_SIZE", "delta_frame", "delta_frame_of", "end_frame", "error_frame", "event_frame"]

FRAME_CACHE_SIZE = 4096


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


def event_frame(event: Event) -> bytes:
    """`id: <seq>`, `event: <type>`, `data: <the event as the REST history shows it>`."""
    return _frames.frame(event)


@functools.lru_cache(maxsize=FRAME_CACHE_SIZE)
def delta_frame_of(delta: TokenDelta) -> bytes:
    """`event: delta` for a piece of a message being written (no id: never logged, never replayed)."""
    return delta_frame(
        actor=delta.actor, visibility=delta.visibility, turn=delta.turn, attempt=delta.attempt, text=delta.text
    )


def delta_frame(*, actor: str, visibility: str, turn: int, attempt: int, text: str) -> bytes:
    """A piece of a message being written. No id: deltas are not logged and are never replayed."""
    payload = {"actor": actor, "visibility": visibility, "turn": turn, "attempt": attempt, "text": text}
    return json_frame(payload, event="delta")


def end_frame(*, status: str, last_seq: int) -> bytes:
    """The last frame of a stream whose negotiation is over; clients should close (EventSource would
    otherwise reconnect, get the same `end` again, and loop)."""
    return json_frame({"status": status, "last_seq": last_seq}, event="end")


def error_frame(exc: BaseException) -> bytes:
    """`event: error` with the API's error envelope, for a failure after the stream has started."""
    return b"event: error\n" + sse_error_event(exc)
