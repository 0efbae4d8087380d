"""WHAT: `sse_body()`, the body of a relayed chat stream: the upstream's chunks as OpenAI SSE events, ending
`data: [DONE]` after a chunk with a finish_reason, else with one final `data: {"error": ...}` event.
WHY: the gateway's per-token hot path: one socket send per token (a syscall, an ASGI message, a trip through
     Django's and the server's response loops) was the largest part of its CPU per stream. And a failure
     after the first byte must never escape (under daphne the client would hang), nor may a disconnect
     leave the upstream running.
HOW: a pump task iterates the upstream into a bounded queue; the body takes every chunk already queued and
     yields their events as ONE bytes object (never merged or reordered: coalescing is llm.streaming's).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from llm.exceptions import StreamInterruptedError
from llm.gateway.wire import StreamEncoder
from llm.types import Chunk
from marketplace.api_errors import sse_error_event

__all__ = ["QUEUE_CHUNKS", "aclose_quietly", "sse_body"]

QUEUE_CHUNKS = 256  # read-ahead bound: a slow client slows the upstream read instead of growing memory
_END = object()


async def aclose_quietly(chunks: AsyncIterator[Chunk]) -> None:
    """Close an upstream chunk iterator if it can be closed (async generators can; closing twice is fine)."""
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


async def _pump(chunks: AsyncIterator[Chunk], queue: asyncio.Queue) -> None:
    try:
        async for chunk in chunks:
            await queue.put(chunk)
    except Exception as exc:
        await aclose_quietly(chunks)
        await queue.put(exc)
        return
    finally:
        await aclose_quietly(chunks)  # also when cancelled: that is what closes the upstream connection
    await queue.put(_END)


async def sse_body(first: Chunk | None, chunks: AsyncIterator[Chunk], encoder: StreamEncoder) -> AsyncIterator[bytes]:
    """SSE bytes for `first` and the rest of `chunks`; owns `chunks` (closes it whatever happens)."""
    queue: asyncio.Queue = asyncio.Queue(QUEUE_CHUNKS)
    pump = asyncio.create_task(_pump(chunks, queue))
    finished = False  # a chunk with a finish_reason has gone out
    try:
        if first is not None:
            finished = first.finish_reason is not None
            yield encoder.encode(first)
        while True:
            # Wait for the next chunk, then take every chunk already queued: with a slow upstream each token
            # still goes out the moment it arrives; with a fast one (a network read often holds many tokens),
            # a burst goes out in one write.
            item = await queue.get()
            parts = []
            while True:
                if item is _END:
                    parts.append(encoder.finish() if finished else sse_error_event(_cut_off()))
                    break
                if isinstance(item, Exception):
                    parts.append(sse_error_event(item))
                    break
                if item.finish_reason is not None:
                    finished = True
                parts.append(encoder.encode(item))
                if queue.empty():
                    break
                item = queue.get_nowait()
            body = b"".join(parts)
            if body:
                yield body
            if item is _END or isinstance(item, Exception):
                return
    finally:
        # Whatever ended the body (done, error, or cancelled by Django because the client left): cancel
        # the pump, which closes the upstream stream. CancelledError always propagates.
        if not pump.done():
            pump.cancel()
        # Wait for the upstream to be closed (the pump's finally) before the response is over;
        # a pump cancelled before it started never ran its finally, hence the explicit close.
        await asyncio.wait([pump])
        await aclose_quietly(chunks)


def _cut_off() -> StreamInterruptedError:
    # Provider streams end normally only after a chunk with a finish_reason (llm/upstream/client.py), so
    # chunks that stop without one were cut off underneath us (an iterator closed by another event loop's
    # shutdown, say): they end in this error event, never in `[DONE]`.
    return StreamInterruptedError(
        "The upstream stream stopped before it was complete (no finish_reason).",
        details={"reason": "no_end_of_stream"},
    )
