"""WHAT: stream shaping between a provider and its consumer: `coalesce` (merge small deltas until N
characters or T milliseconds), `bound` (stop after N tokens, N characters or N seconds, with
finish_reason "length"), `shape_stream` (both), and `apply_stream_settings` (both, from settings).
WHY: a local model emits one token per chunk; relaying each one as its own SSE event costs more than it
     carries, so the gateway may merge them (without delaying the end of the answer). Bounds protect
     the gateway and its clients from runaway generations, and must free the upstream at once.
HOW: each returns its input unchanged when disabled, else an async generator that closes the upstream in
     `finally`. A chunk with tool calls, a refusal or logprobs is never merged, counted or cut.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

from django.conf import settings

from llm.gateway.relay import aclose_quietly
from llm.types import Chunk

__all__ = ["apply_stream_settings", "bound", "coalesce", "merge_chunks", "shape_stream"]


def merge_chunks(chunks: list[Chunk]) -> Chunk:
    """One chunk carrying the text of all; role/model/id of the first, finish and usage of the last.
    Only for text chunks: tool calls, refusals and logprobs are not merged (`Chunk.has_parts`): that would
    splice JSON fragments whose boundaries clients rely on. Such a chunk goes out as it came, after the text."""
    if len(chunks) == 1:
        return chunks[0]
    first = chunks[0]
    return Chunk(
        delta="".join(c.delta for c in chunks),
        reasoning="".join(c.reasoning for c in chunks),
        finish_reason=next((c.finish_reason for c in reversed(chunks) if c.finish_reason), None),
        usage=next((c.usage for c in reversed(chunks) if c.usage), None),
        role=next((c.role for c in chunks if c.role), None),
        model=first.model,
        id=first.id,
    )


def coalesce(chunks: AsyncIterator[Chunk], *, max_chars: int = 0, max_ms: float = 0) -> AsyncIterator[Chunk]:
    """Merge consecutive chunks until `max_chars` characters have gathered or `max_ms` milliseconds
    passed since the first of them (0 disables that limit; both 0: `chunks` unchanged)."""
    if max_chars <= 0 and max_ms <= 0:
        return chunks
    if max_ms <= 0:
        return _coalesce_by_size(chunks, max_chars)
    return _coalesce_timed(chunks, max_chars, max_ms / 1000)


async def _coalesce_by_size(chunks: AsyncIterator[Chunk], max_chars: int) -> AsyncIterator[Chunk]:
    pending: list[Chunk] = []
    size = 0
    try:
        try:
            async for chunk in chunks:
                if chunk.has_parts:  # goes out alone, after the text before it
                    if pending:
                        yield merge_chunks(pending)
                        pending, size = [], 0
                    yield chunk
                    continue
                pending.append(chunk)
                size += len(chunk.delta) + len(chunk.reasoning)
                if chunk.finish_reason or chunk.usage or size >= max_chars:
                    yield merge_chunks(pending)
                    pending, size = [], 0
        except Exception:
            if pending:  # what arrived before the failure still reaches the consumer
                yield merge_chunks(pending)
            raise
        if pending:
            yield merge_chunks(pending)
    finally:
        await aclose_quietly(chunks)


async def _coalesce_timed(chunks: AsyncIterator[Chunk], max_chars: int, max_seconds: float) -> AsyncIterator[Chunk]:
    # The next upstream chunk is awaited in its own task so that a quiet upstream cannot hold gathered
    # text beyond `max_seconds`: the wait times out, the text goes out, and the same task is kept.
    loop = asyncio.get_running_loop()
    iterator = aiter(chunks)
    pending: list[Chunk] = []
    size = 0
    first_at = 0.0
    next_chunk: asyncio.Future[Chunk] | None = None
    try:
        while True:
            if next_chunk is None:
                next_chunk = asyncio.ensure_future(anext(iterator))
            timeout = (first_at + max_seconds - loop.time()) if pending else None
            if timeout is None or timeout > 0:
                await asyncio.wait({next_chunk}, timeout=timeout)
            if not next_chunk.done():
                yield merge_chunks(pending)
                pending, size = [], 0
                continue
            done, next_chunk = next_chunk, None
            try:
                chunk = done.result()
            except StopAsyncIteration:
                break
            except Exception:
                if pending:
                    yield merge_chunks(pending)
                    pending = []
                raise
            if chunk.has_parts:  # goes out alone, after the text before it
                if pending:
                    yield merge_chunks(pending)
                    pending, size = [], 0
                yield chunk
                continue
            if not pending:
                first_at = loop.time()
            pending.append(chunk)
            size += len(chunk.delta) + len(chunk.reasoning)
            if (
                chunk.finish_reason
                or chunk.usage
                or (max_chars > 0 and size >= max_chars)
                or (loop.time() - first_at >= max_seconds)
            ):
                yield merge_chunks(pending)
                pending, size = [], 0
        if pending:
            yield merge_chunks(pending)
    finally:
        if next_chunk is not None:
            if not next_chunk.done():
                next_chunk.cancel()  # runs the upstream's own cleanup (it closes its response)
                await asyncio.wait({next_chunk})
            if not next_chunk.cancelled():
                next_chunk.exception()  # retrieved, so asyncio does not log it as unhandled
        await aclose_quietly(iterator)


def bound(
    chunks: AsyncIterator[Chunk], *, max_tokens: int = 0, max_chars: int = 0, max_seconds: float = 0
) -> AsyncIterator[Chunk]:
    """Stop after `max_tokens` text chunks, `max_chars` characters of text, or `max_seconds` seconds,
    close the upstream, and end with a chunk whose finish_reason is "length" (0 disables a bound).
    Tool calls, refusals and logprobs are not counted and never cut (`max_seconds` still ends a runaway one)."""
    if max_tokens <= 0 and max_chars <= 0 and max_seconds <= 0:
        return chunks
    return _bound(chunks, max_tokens, max_chars, max_seconds)


async def _bound(
    chunks: AsyncIterator[Chunk], max_tokens: int, max_chars: int, max_seconds: float
) -> AsyncIterator[Chunk]:
    loop = asyncio.get_running_loop()
    iterator = aiter(chunks)
    deadline = loop.time() + max_seconds if max_seconds > 0 else None
    tokens = chars = 0
    finished = False
    last: Chunk | None = None

    def length() -> Chunk:
        return Chunk(finish_reason="length", model=last.model if last else None, id=last.id if last else None)

    try:
        while True:
            try:
                if deadline is None or finished:
                    chunk = await anext(iterator)
                else:
                    async with asyncio.timeout_at(deadline):
                        chunk = await anext(iterator)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if deadline is not None and loop.time() >= deadline:
                    yield length()
                    return
                raise
            last = chunk
            if finished:  # after the upstream's own end (a usage chunk, ...): pass through
                yield chunk
                continue
            if chunk.delta or chunk.reasoning:
                tokens += 1
            if max_chars > 0 and chars + len(chunk.delta) > max_chars:
                cut = replace(chunk, delta=chunk.delta[: max_chars - chars], finish_reason=None, usage=None)
                if cut.delta or cut.reasoning or cut.role or cut.has_parts:  # tool calls etc. go whole
                    yield cut
                yield length()
                return
            chars += len(chunk.delta)
            yield chunk
            if chunk.finish_reason:
                finished = True
                continue
            if (
                (max_tokens > 0 and tokens >= max_tokens)
                or (max_chars > 0 and chars >= max_chars)
                or (deadline is not None and loop.time() >= deadline)
            ):
                yield length()
                return
    finally:
        await aclose_quietly(iterator)


def shape_stream(
    chunks: AsyncIterator[Chunk],
    *,
    max_tokens: int = 0,
    max_chars: int = 0,
    max_seconds: float = 0,
    coalesce_chars: int = 0,
    coalesce_ms: float = 0,
) -> AsyncIterator[Chunk]:
    """Bound, then coalesce: bounds count upstream tokens, coalescing shapes what goes out."""
    bounded = bound(chunks, max_tokens=max_tokens, max_chars=max_chars, max_seconds=max_seconds)
    return coalesce(bounded, max_chars=coalesce_chars, max_ms=coalesce_ms)


def apply_stream_settings(chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    """`shape_stream` with the gateway's settings (LLM_STREAM_MAX_* and LLM_STREAM_COALESCE_*)."""
    return shape_stream(
        chunks,
        max_tokens=settings.LLM_STREAM_MAX_TOKENS,
        max_chars=settings.LLM_STREAM_MAX_CHARS,
        max_seconds=settings.LLM_STREAM_MAX_SECONDS,
        coalesce_chars=settings.LLM_STREAM_COALESCE_CHARS,
        coalesce_ms=settings.LLM_STREAM_COALESCE_MS,
    )
