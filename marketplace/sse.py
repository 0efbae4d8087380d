"""WHAT: Server-Sent Events framing shared by every stream the project serves: `sse_frame`, `json_frame`,
     the `retry:` hint, the ping comment, and the response headers of an event stream.
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

__all__ = ["PING_FRAME", "SSE_HEADERS", "json_frame", "retry_frame", "sse_frame"]

_FIELD_UNSAFE = re.compile(r"[\r\n\0]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

PING_FRAME = b": ping\n\n"
# No caching, and no buffering by a reverse proxy (nginx honours X-Accel-Buffering): events go out as written.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


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
