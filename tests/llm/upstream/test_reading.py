"""Reading upstream bodies (llm/upstream/reading.py): which deadline each read of a stream has, bodies
bounded in size (an error page cut, an answer refused) and in time, and the drain after [DONE]. The
timeouts against a real stalling server are in test_streaming_hard_cases.py."""

import asyncio
import time

import httpx
import pytest

from llm.exceptions import ProviderResponseError, ProviderTimeoutError
from llm.upstream import reading
from llm.upstream.reading import StreamDeadlines, drain, read_body, read_limited


def test_the_first_read_waits_for_the_first_token_and_later_ones_for_the_idle_gap():
    now = time.monotonic()
    deadlines = StreamDeadlines(first_token=now + 5, total=now + 60, idle_seconds=2)
    assert deadlines.next_read() == ("first_token", now + 5)
    deadlines.got_event = True
    phase, deadline = deadlines.next_read()
    assert phase == "idle" and now + 2 <= deadline <= time.monotonic() + 2


def test_no_read_waits_past_the_total():
    now = time.monotonic()
    deadlines = StreamDeadlines(first_token=now + 5, total=now + 1, idle_seconds=2)
    assert deadlines.next_read() == ("total", now + 1)
    deadlines.got_event = True
    assert deadlines.next_read() == ("total", now + 1)


def test_after_the_finish_reason_reads_get_one_short_grace_that_later_bytes_do_not_extend(monkeypatch):
    monkeypatch.setattr(reading, "AFTER_FINISH_GRACE_SECONDS", 0.5)
    now = time.monotonic()
    deadlines = StreamDeadlines(first_token=now + 5, total=now + 60, idle_seconds=30, got_event=True)
    deadlines.finished()
    grace = deadlines.finish_by
    assert now + 0.5 <= grace <= time.monotonic() + 0.5
    deadlines.finished()
    assert deadlines.finish_by == grace
    assert deadlines.next_read()[1] == grace


def response_of(*pieces: bytes) -> httpx.Response:
    async def body():
        for piece in pieces:
            yield piece

    return httpx.Response(200, content=body())


async def test_an_error_body_is_cut_at_the_limit():
    assert await read_limited(response_of(b"x" * 10, b"y" * 10), 15) == b"x" * 10 + b"y" * 5


async def test_a_strict_read_refuses_a_body_beyond_the_limit():
    with pytest.raises(ProviderResponseError) as info:
        await read_limited(response_of(b"x" * 10, b"y" * 10), 15, provider="p", strict=True)
    assert info.value.details == {"reason": "body_too_large", "limit_bytes": 15, "provider": "p"}


async def test_a_body_that_does_not_arrive_in_time_is_a_total_timeout():
    async def stalling():
        yield b"{"
        await asyncio.sleep(10)

    response = httpx.Response(200, content=stalling())
    with pytest.raises(ProviderTimeoutError) as info:
        await read_body(response, provider="p", deadline=time.monotonic() + 0.1, seconds=0.1)
    assert info.value.details["phase"] == "total"
    assert response.is_closed


async def test_draining_gives_up_quickly_on_a_body_that_does_not_end(monkeypatch):
    monkeypatch.setattr(reading, "DRAIN_SECONDS", 0.05)

    async def endless():
        while True:
            await asyncio.sleep(0.01)
            yield b"\n"

    started = time.monotonic()
    await drain(endless())
    assert time.monotonic() - started < 1
