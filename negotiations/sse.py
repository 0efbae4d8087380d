"""WHAT: the wire format of the negotiation stream: Server-Sent Events frames for logged events (with
     `id: <seq>`), live token deltas (no id), pings, the `retry:` hint, the final `end` event and
     the in-band `error` event.
WHY: a frame is the one place where text from an LLM meets a line-based protocol. A CR or LF in an
     `event:` or `id:` field would let text forge fields or whole events, and a raw newline in `data:`
     would cut an event in two; so every frame is built here, and nothing else writes SSE.
HOW: `sse_frame(data=, event=, id=)` drops CR, LF and NUL from `event`/`id` and splits `data` on any
     line break into several `data:` lines (the client joins them with "\\n"). Payloads are compact
     JSON, which never holds a raw line break anyway. Pure functions, no I/O.
"""
from __future__ import annotations

import json
import re
from typing import Any

from marketplace.api_errors import sse_error_event

__all__ = [
    "PING_FRAME",
    "delta_frame",
    "end_frame",
    "error_frame",
    "json_frame",
    "retry_frame",
    "sse_frame",
]

_FIELD_UNSAFE = re.compile(r"[\r\n\0]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

PING_FRAME = b": ping\n\n"


def sse_frame(*, data: str, event: str | None = None, id: str | None = None) -> bytes:
    """One event. `event` and `id` lose any CR/LF/NUL; `data` becomes one `data:` line per line."""
    lines = []
    if id is not None:
        lines.append(f"id: {_FIELD_UNSAFE.sub('', id)}")
    if event is not None:
        lines.append(f"event: {_FIELD_UNSAFE.sub('', event)}")
    lines.extend(f"data: {line}" for line in _LINE_BREAK.split(data))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def json_frame(payload: Any, *, event: str | None = None, id: str | None = None) -> bytes:
    return sse_frame(data=json.dumps(payload, separators=(",", ":"), ensure_ascii=False), event=event, id=id)


def retry_frame(milliseconds: int) -> bytes:
    """The reconnection delay hint, sent first (EventSource waits this long before reconnecting)."""
    return f"retry: {int(milliseconds)}\n\n".encode()


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
