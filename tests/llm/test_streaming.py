"""Stream shaping: coalescing, bounding, both combined; that the upstream is closed, and that the end of
an answer and failures are never delayed or lost. Scripted upstreams, plus one real one (fake server)."""

import asyncio

import pytest

from llm.exceptions import StreamInterruptedError
from llm.streaming import apply_stream_settings, bound, coalesce, shape_stream
from llm.types import ChatMessage, ChatRequest, Chunk, Usage


class Upstream:
    """A scripted upstream generator that records whether it was closed; items may be delays (float)
    or exceptions to raise."""

    def __init__(self, *items):
        self.items = items
        self.closed = False
        self.yielded = 0

    async def __call__(self):
        try:
            for item in self.items:
                if isinstance(item, float):
                    await asyncio.sleep(item)
                elif isinstance(item, Exception):
                    raise item
                else:
                    self.yielded += 1
                    yield item
        finally:
            self.closed = True


def words(n, finish="stop"):
    chunks = [Chunk(role="assistant")] + [Chunk(delta=f"w{i} ") for i in range(n)]
    return chunks + [Chunk(finish_reason=finish)]


async def collect(stream):
    return [c async for c in stream]


def text(chunks):
    return "".join(c.delta for c in chunks)


# --- coalesce ---------------------------------------------------------------------------------
async def test_coalesce_disabled_returns_the_same_iterator():
    upstream = Upstream()()
    assert coalesce(upstream) is upstream
    assert bound(upstream) is upstream
    assert shape_stream(upstream) is upstream


async def test_coalesce_by_characters_merges_until_the_size_is_reached():
    out = await collect(coalesce(Upstream(*words(7))(), max_chars=6))
    assert text(out) == "w0 w1 w2 w3 w4 w5 w6 "
    # role chunk + "w0 " + "w1 " reach 6 chars, then "w2 w3 ", "w4 w5 ", and "w6 " goes out with the finish.
    assert [c.delta for c in out] == ["w0 w1 ", "w2 w3 ", "w4 w5 ", "w6 "]
    assert out[0].role == "assistant" and out[-1].finish_reason == "stop"


async def test_coalesce_never_holds_back_the_finish_chunk_or_usage():
    chunks = [Chunk(delta="a"), Chunk(finish_reason="stop"), Chunk(usage=Usage(1, 2, 3))]
    out = await collect(coalesce(Upstream(*chunks)(), max_chars=1000, max_ms=10_000))
    assert [(c.delta, c.finish_reason, c.usage) for c in out] == [("a", "stop", None), ("", None, Usage(1, 2, 3))]


async def test_coalesce_by_time_flushes_while_the_upstream_is_quiet():
    # "a" and "b" arrive together, then the upstream is silent for 0.5 s: the 50 ms window must
    # release "ab" during the silence, not when "c" finally comes.
    upstream = Upstream(Chunk(delta="a"), Chunk(delta="b"), 0.5, Chunk(delta="c"), Chunk(finish_reason="stop"))
    loop = asyncio.get_running_loop()
    start = loop.time()
    arrivals = []
    async for chunk in coalesce(upstream(), max_ms=50):
        arrivals.append((chunk.delta, loop.time() - start))
    assert [d for d, _ in arrivals] == ["ab", "c"]
    assert arrivals[0][1] < 0.4  # well before the silence ended


async def test_coalesce_yields_gathered_text_before_re_raising_an_upstream_failure():
    failure = StreamInterruptedError(partial_text="ab")
    for kwargs in ({"max_chars": 100}, {"max_chars": 100, "max_ms": 10_000}):
        received = []
        with pytest.raises(StreamInterruptedError):
            async for chunk in coalesce(Upstream(Chunk(delta="a"), Chunk(delta="b"), failure)(), **kwargs):
                received.append(chunk.delta)
        assert received == ["ab"], kwargs


@pytest.mark.parametrize("kwargs", [{"max_chars": 100}, {"max_ms": 10_000}], ids=["by_size", "timed"])
async def test_abandoning_a_coalesced_stream_closes_the_upstream(kwargs):
    upstream = Upstream(Chunk(delta="a"), Chunk(finish_reason="stop"), 10.0, Chunk(delta="never"))
    stream = coalesce(upstream(), **kwargs)
    assert (await anext(stream)).finish_reason == "stop"
    await stream.aclose()
    assert upstream.closed


# --- bound ------------------------------------------------------------------------------------
async def test_bound_by_tokens_stops_closes_upstream_and_says_length():
    upstream = Upstream(*words(10))
    out = await collect(bound(upstream(), max_tokens=3))
    assert text(out) == "w0 w1 w2 "
    assert out[-1].finish_reason == "length"
    assert upstream.closed and upstream.yielded == 4  # role + 3 words, nothing more was pulled


async def test_bound_by_characters_cuts_inside_a_chunk():
    out = await collect(bound(Upstream(*words(10))(), max_chars=7))
    assert text(out) == "w0 w1 w"
    assert out[-1].finish_reason == "length"


async def test_bound_by_seconds_stops_a_stalled_upstream():
    upstream = Upstream(Chunk(delta="a"), 10.0, Chunk(delta="late"))
    out = await asyncio.wait_for(collect(bound(upstream(), max_seconds=0.2)), 5)
    assert text(out) == "a" and out[-1].finish_reason == "length"
    assert upstream.closed


async def test_bound_not_reached_passes_the_stream_through_unchanged():
    chunks = words(3) + [Chunk(usage=Usage(1, 3, 4))]
    out = await collect(bound(Upstream(*chunks)(), max_tokens=4, max_chars=100, max_seconds=10))
    assert out == chunks  # the upstream finished first: its own finish and usage, no "length" chunk


async def test_bound_reached_exactly_reports_length_like_openai_max_tokens():
    out = await collect(bound(Upstream(*words(3))(), max_tokens=3))
    assert text(out) == "w0 w1 w2 " and out[-1].finish_reason == "length"


# --- combined ------------------------------------------------------------------------------------
async def test_shape_stream_bounds_then_coalesces():
    out = await collect(shape_stream(Upstream(*words(10))(), max_tokens=4, coalesce_chars=100))
    assert [(c.delta, c.finish_reason) for c in out] == [("w0 w1 w2 w3 ", "length")]


async def test_apply_stream_settings_reads_the_knobs(settings):
    settings.LLM_STREAM_MAX_TOKENS = 2
    settings.LLM_STREAM_MAX_CHARS = 0
    settings.LLM_STREAM_MAX_SECONDS = 0
    settings.LLM_STREAM_COALESCE_CHARS = 0
    settings.LLM_STREAM_COALESCE_MS = 0
    out = await collect(apply_stream_settings(Upstream(*words(5))()))
    assert text(out) == "w0 w1 " and out[-1].finish_reason == "length"


async def test_bounding_a_real_stream_closes_the_upstream_connection(fake_openai_provider, fake_openai):
    stream = fake_openai_provider.stream(ChatRequest(messages=(ChatMessage("user", "Hi"),), model="slow:50"))
    out = await collect(shape_stream(stream, max_tokens=2, coalesce_chars=5, coalesce_ms=20))
    assert out[-1].finish_reason == "length"
    assert await fake_openai.await_close(fake_openai.last, timeout=1.0)
