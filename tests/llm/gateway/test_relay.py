"""The relayed SSE body (llm/gateway/relay.py): a burst of ready chunks goes out as one write, a slow upstream's
tokens go out one by one without waiting, a failure becomes one final error event, chunks that stop
without a finish_reason end in an error event (never [DONE]), and ending the body early (a client that
left) closes the upstream and lets CancelledError through."""

import asyncio
import json

import pytest

from llm.exceptions import ProviderTimeoutError
from llm.gateway.relay import QUEUE_CHUNKS, sse_body
from llm.gateway.wire import DONE_EVENT, StreamEncoder
from llm.types import Chunk


class Upstream:
    """A scripted upstream stream that records how far it got and whether it was closed."""

    def __init__(self, count, *, delay=0.0, error=None, block_after=None, finish=True):
        self.count, self.delay, self.error, self.block_after = count, delay, error, block_after
        self.finish = finish
        self.produced = 0
        self.closed = False

    async def chunks(self):
        try:
            for i in range(self.count):
                if self.block_after is not None and i >= self.block_after:
                    await asyncio.sleep(3600)
                if self.delay:
                    await asyncio.sleep(self.delay)
                self.produced += 1
                yield Chunk(delta=f"t{i}")
            if self.error is not None:
                raise self.error
            if self.finish:
                yield Chunk(finish_reason="stop")
        finally:
            self.closed = True


def encoder():
    return StreamEncoder(completion_id="c", model="m", include_usage=False)


def events(bodies):
    data = b"".join(bodies).decode()
    return [block[6:] for block in data.split("\n\n") if block]


def text(bodies):
    return "".join(
        json.loads(e)["choices"][0]["delta"].get("content") or ""
        for e in events(bodies)
        if e.startswith("{") and "choices" in e
    )


async def test_a_burst_of_ready_chunks_goes_out_in_one_write():
    upstream = Upstream(20)
    stream = upstream.chunks()
    first = await anext(stream)
    bodies = [body async for body in sse_body(first, stream, encoder())]
    assert len(bodies) == 2  # the first event, then everything that was ready, in one piece
    assert bodies[-1].endswith(DONE_EVENT)
    assert text(bodies) == "".join(f"t{i}" for i in range(20))
    assert upstream.closed


async def test_a_slow_upstreams_tokens_go_out_one_by_one():
    upstream = Upstream(5, delay=0.02)
    stream = upstream.chunks()
    first = await anext(stream)
    bodies = [body async for body in sse_body(first, stream, encoder())]
    assert len(bodies) >= 5
    assert text(bodies) == "t0t1t2t3t4"


async def test_a_failure_after_the_first_byte_is_one_final_error_event():
    upstream = Upstream(3, error=ProviderTimeoutError(details={"phase": "idle"}))
    stream = upstream.chunks()
    first = await anext(stream)
    bodies = [body async for body in sse_body(first, stream, encoder())]
    last = json.loads(events(bodies)[-1])
    assert last["error"]["code"] == "LLM_TIMEOUT"
    assert "[DONE]" not in events(bodies)
    assert text(bodies) == "t0t1t2"
    assert upstream.closed


async def test_closing_the_body_early_closes_the_upstream():
    upstream = Upstream(10, block_after=2)
    stream = upstream.chunks()
    first = await anext(stream)
    body = sse_body(first, stream, encoder())
    await anext(body)
    await anext(body)
    await body.aclose()  # what Django's aclosing() does when the response ends early
    assert upstream.closed


async def test_cancelling_the_response_task_cancels_the_upstream_and_propagates():
    upstream = Upstream(10, block_after=2)
    stream = upstream.chunks()
    first = await anext(stream)
    received = []

    async def respond():
        async for body in sse_body(first, stream, encoder()):
            received.append(body)

    task = asyncio.create_task(respond())
    while len(received) < 2:
        await asyncio.sleep(0.01)
    task.cancel()  # Django cancels the response task on http.disconnect
    with pytest.raises(asyncio.CancelledError):
        await task
    assert upstream.closed


async def test_read_ahead_is_bounded_when_the_client_is_slow():
    upstream = Upstream(QUEUE_CHUNKS * 4)
    stream = upstream.chunks()
    first = await anext(stream)
    body = sse_body(first, stream, encoder())
    await anext(body)
    await asyncio.sleep(0.05)  # the client does not read; the pump fills the queue and waits
    assert upstream.produced <= QUEUE_CHUNKS + 2
    await body.aclose()
    assert upstream.closed


async def test_chunks_that_stop_without_a_finish_reason_end_in_an_error_event_not_done():
    upstream = Upstream(3, finish=False)
    stream = upstream.chunks()
    first = await anext(stream)
    bodies = [body async for body in sse_body(first, stream, encoder())]
    last = json.loads(events(bodies)[-1])
    assert last["error"]["code"] == "LLM_BAD_GATEWAY"
    assert last["error"]["details"]["reason"] == "no_end_of_stream"
    assert "[DONE]" not in events(bodies)
    assert text(bodies) == "t0t1t2"


async def test_an_iterator_closed_underneath_ends_in_an_error_event_not_done():
    # What another event loop's shutdown does to a stream it started (Django's sync test client).
    upstream = Upstream(10)
    stream = upstream.chunks()
    first = await anext(stream)
    await stream.aclose()
    bodies = [body async for body in sse_body(first, stream, encoder())]
    assert json.loads(events(bodies)[-1])["error"]["code"] == "LLM_BAD_GATEWAY"
    assert "[DONE]" not in events(bodies)


async def test_a_first_chunk_with_the_finish_reason_is_a_complete_stream():
    async def nothing_more():
        return
        yield

    bodies = [body async for body in sse_body(Chunk(delta="all", finish_reason="stop"), nothing_more(), encoder())]
    assert bodies[-1].endswith(DONE_EVENT)
    assert text(bodies) == "all"
