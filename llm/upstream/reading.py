"""WHAT: reading upstream bodies: whole bodies bounded in size and time (`read_body`, `read_limited`), a
stream's body as it arrives (`body_chunks`) under its read deadlines (`StreamDeadlines`), and `drain`.
WHY: an upstream may send a huge page, stall before or during an answer, or keep the connection open after
     it; every read is bounded, and each timeout is a ProviderTimeoutError naming its phase.
HOW: `asyncio.timeout_at()` around each read of a stream: the deadline is the first token's until the first
     event, then the idle gap's from that read on (a slow consumer is never the upstream's fault), after
     the finish_reason a short grace, and never past the total.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from llm.exceptions import ProviderResponseError, ProviderTimeoutError
from llm.upstream.transport import translate_transport_errors

__all__ = [
    "AFTER_FINISH_GRACE_SECONDS",
    "MAX_COMPLETION_BODY_BYTES",
    "MAX_ERROR_BODY_BYTES",
    "StreamDeadlines",
    "body_chunks",
    "drain",
    "read_body",
    "read_limited",
    "timeout_error",
]

MAX_ERROR_BODY_BYTES = 64 * 1024  # enough for any real error message; a huge error page is cut here
MAX_COMPLETION_BODY_BYTES = 32 * 1024 * 1024
DRAIN_SECONDS = 0.5
DRAIN_MAX_BYTES = 64 * 1024
# After a finish_reason the answer is complete; only a usage chunk and [DONE] may follow, at once. An
# upstream that keeps the connection open without them would otherwise hold the stream (and the
# gateway's [DONE]) until the idle timeout.
AFTER_FINISH_GRACE_SECONDS = 2.0

_PHASES = {
    "first_token": "did not send a first token in time",
    "idle": "stopped sending in the middle of the answer",
    "total": "did not finish within the total time allowed",
}


def timeout_error(provider: str, phase: str, seconds: float, partial_text: str = "") -> ProviderTimeoutError:
    return ProviderTimeoutError(
        f"Provider '{provider}' {_PHASES.get(phase, 'timed out')} ({phase} timeout, {seconds:g}s).",
        provider=provider,
        details={"phase": phase, "timeout_seconds": seconds},
        partial_text=partial_text,
    )


@dataclass
class StreamDeadlines:
    """The deadline of each read of one stream (`time.monotonic()` values, the event loop's clock)."""

    first_token: float
    total: float
    idle_seconds: float
    got_event: bool = False  # the first data event has arrived
    finish_by: float | None = None  # set once at the finish_reason: bytes after it do not extend it

    def next_read(self) -> tuple[str, float]:
        """(phase, deadline) of the read about to wait."""
        if self.got_event:
            phase, deadline = "idle", time.monotonic() + self.idle_seconds
        else:
            phase, deadline = "first_token", self.first_token
        if self.finish_by is not None:
            deadline = min(deadline, self.finish_by)
        if self.total <= deadline:
            return "total", self.total
        return phase, deadline

    def finished(self) -> None:
        if self.finish_by is None:
            self.finish_by = time.monotonic() + AFTER_FINISH_GRACE_SECONDS


def body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives. Without a Content-Encoding (SSE servers send none) `aiter_raw()` yields
    exactly what `aiter_bytes()` would, through one generator and decoder less per read."""
    if response.headers.get("content-encoding", "identity").strip().lower() in ("", "identity"):
        return response.aiter_raw()
    return response.aiter_bytes()


async def drain(reader: AsyncIterator[bytes]) -> None:
    """Read what follows [DONE] (normally just the end of the chunked body), so the connection goes
    back to the pool instead of being closed; give up quickly, it is only an optimisation."""
    drained = 0
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            async for data in reader:
                drained += len(data)
                if drained > DRAIN_MAX_BYTES:
                    return
    except (TimeoutError, httpx.HTTPError):
        return


async def read_limited(response: httpx.Response, limit: int, *, provider: str = "", strict: bool = False) -> bytes:
    """Read a body up to `limit` bytes; beyond it, cut (error bodies) or refuse (`strict`)."""
    body = bytearray()
    async for data in response.aiter_bytes():
        body += data
        if len(body) > limit:
            if strict:
                raise ProviderResponseError(
                    f"Provider '{provider}' sent a response body that is too large.",
                    provider=provider,
                    details={"reason": "body_too_large", "limit_bytes": limit},
                )
            break
    return bytes(body[:limit])


async def read_body(response: httpx.Response, *, provider: str, deadline: float, seconds: float) -> bytes:
    """A whole (non-streamed) body, bounded in size and by `deadline` (a "total" timeout of `seconds`);
    the response is closed after."""
    try:
        async with asyncio.timeout_at(deadline):
            with translate_transport_errors(provider=provider, phase="body"):
                return await read_limited(response, MAX_COMPLETION_BODY_BYTES, provider=provider, strict=True)
    except TimeoutError as exc:
        raise timeout_error(provider, "total", seconds) from exc
    finally:
        await response.aclose()
