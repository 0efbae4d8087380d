"""WHAT: `event_frame(event)` and `delta_frame_of(delta)`: the SSE frames of logged events and live
     deltas, encoded once and shared by every viewer of the stream.
WHY: with hundreds of viewers, encoding the same event (its serializer and JSON) per viewer would be
     most of the fan-out's CPU; a logged event never changes, and every viewer gets the very same
     delta object from the broadcaster.
HOW: a bounded LRU of event frames keyed by the event's identity (thread-safe: frames are also built
     in reader threads' callers), and an `lru_cache` over deltas (frozen dataclasses). The wire format
     itself is negotiations/sse.py.
"""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import Any

from negotiations.broadcast import TokenDelta
from negotiations.models import Event
from negotiations.serializers import EventSerializer
from negotiations.sse import delta_frame, json_frame

__all__ = ["FRAME_CACHE_SIZE", "delta_frame_of", "event_frame"]

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
    return delta_frame(actor=delta.actor, visibility=delta.visibility, turn=delta.turn, attempt=delta.attempt, text=delta.text)
