"""Tool calls (and the legacy function call), refusals and logprobs are relayed as the upstream sends
them: parsed by the provider layer (streamed and not), never merged or cut by stream shaping. Plain
text streams are unchanged."""
import json

import httpx
import pytest

from llm.exceptions import ProviderResponseError
from llm.registry import build_provider
from llm.streaming import bound, coalesce
from llm.types import ChatMessage, ChatRequest, Chunk
from tests.support.fake_openai import (
    FUNCTION_CALL,
    REFUSAL,
    TOOL_CALLS,
    expected_logprobs,
    expected_text,
    token_logprobs,
)
from tests.support.llm import fake_provider_settings



def request(model):
    return ChatRequest(messages=(ChatMessage("user", "Hi"),), model=model)


async def collect(stream):
    return [c async for c in stream]


def reassemble(deltas):
    """Tool-call fragments put together by `index`, as OpenAI's streaming clients do."""
    calls = {}
    for delta in deltas:
        for piece in delta:
            call = calls.setdefault(piece["index"],
                                    {"id": None, "type": None, "function": {"name": "", "arguments": ""}})
            call["id"] = piece.get("id") or call["id"]
            call["type"] = piece.get("type") or call["type"]
            function = piece.get("function") or {}
            call["function"]["name"] += function.get("name") or ""
            call["function"]["arguments"] += function.get("arguments") or ""
    return [calls[i] for i in sorted(calls)]


# --- provider layer, against the fake server ---------------------------------------------------
async def test_streamed_tool_calls_are_relayed_fragment_by_fragment(fake_openai_provider):
    chunks = await collect(fake_openai_provider.stream(request("tool-calls")))
    calls = [c for c in chunks if c.tool_calls]
    assert calls[0].tool_calls == [{"index": 0, "id": "call_fake_0", "type": "function",
                                    "function": {"name": "get_weather", "arguments": ""}}]
    assert calls[1].tool_calls == [{"index": 0, "function": {"arguments": '{"ci'}}]
    assert reassemble(c.tool_calls for c in calls) == TOOL_CALLS
    assert chunks[-1].finish_reason == "tool_calls"
    assert "".join(c.delta for c in chunks) == ""
    assert all(c.refusal is None for c in chunks)  # the first delta's `"refusal": null` is no refusal


async def test_text_before_tool_calls_keeps_its_place(fake_openai_provider):
    chunks = await collect(fake_openai_provider.stream(request("tool-calls:3")))
    kinds = ["tool" if c.tool_calls else "text" for c in chunks if c.delta or c.tool_calls]
    assert kinds == ["text"] * 3 + ["tool"] * (len(kinds) - 3)
    assert "".join(c.delta for c in chunks) == expected_text(3)


async def test_a_non_streamed_tool_call_answer_carries_the_calls_and_no_text(fake_openai_provider):
    completion = await fake_openai_provider.complete(request("tool-calls"))
    assert completion.tool_calls == TOOL_CALLS
    assert (completion.text, completion.finish_reason, completion.refusal) == ("", "tool_calls", None)


async def test_the_legacy_function_call_is_relayed_streamed_and_not(fake_openai_provider):
    chunks = await collect(fake_openai_provider.stream(request("function-call")))
    pieces = [c.function_call for c in chunks if c.function_call]
    assert pieces[0] == {"name": "get_weather", "arguments": ""}
    assert "".join(p["arguments"] for p in pieces) == FUNCTION_CALL["arguments"]
    assert chunks[-1].finish_reason == "function_call"
    completion = await fake_openai_provider.complete(request("function-call"))
    assert (completion.function_call, completion.finish_reason) == (FUNCTION_CALL, "function_call")


async def test_a_refusal_is_relayed_streamed_and_not(fake_openai_provider):
    chunks = await collect(fake_openai_provider.stream(request("refusal")))
    assert "".join(c.refusal or "" for c in chunks) == REFUSAL
    assert "".join(c.delta for c in chunks) == ""
    completion = await fake_openai_provider.complete(request("refusal"))
    assert (completion.refusal, completion.text) == (REFUSAL, "")


async def test_logprobs_are_relayed_with_their_tokens_streamed_and_not(fake_openai_provider):
    chunks = await collect(fake_openai_provider.stream(request("logprobs")))
    assert [(c.delta, c.logprobs) for c in chunks if c.delta] == [(expected_text(i + 1)[len(expected_text(i)):],
                                                                   token_logprobs(i)) for i in range(8)]
    completion = await fake_openai_provider.complete(request("logprobs"))
    assert completion.logprobs == expected_logprobs(8)


async def test_plain_text_chunks_carry_none_of_them(fake_openai_provider):
    chunks = await collect(fake_openai_provider.stream(request("normal")))
    assert not any(c.has_parts for c in chunks)
    assert {(c.tool_calls, c.function_call, c.refusal, c.logprobs) for c in chunks} == {(None, None, None, None)}
    completion = await fake_openai_provider.complete(request("normal"))
    assert (completion.tool_calls, completion.function_call, completion.refusal, completion.logprobs) == (None,) * 4


# --- provider layer, upstream shapes the fake server does not send -------------------------------
def mock_provider(handler):
    settings = fake_provider_settings("http://upstream.test/v1", max_retries=0)
    return build_provider(settings).__class__(settings, transport_factory=lambda: httpx.MockTransport(handler))


class Body(httpx.AsyncByteStream):
    """A body read as it streams (httpx reads a `content=` body at once, which a stream read refuses)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self):
        yield self.data


def sse(*payloads):
    body = b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads) + b"data: [DONE]\n\n"
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Body(body))


def delta(fields, finish=None, **choice):
    return {"id": "x", "model": "m", "choices": [{"index": 0, "delta": fields, "finish_reason": finish, **choice}]}


def answer(message, **choice):
    return {"id": "x", "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls", **choice}]}


async def test_a_whole_answer_to_a_stream_request_gives_its_tool_calls_their_index():
    # A server that ignores stream=true sends a message; a delta's tool calls need `index`.
    provider = mock_provider(lambda req: httpx.Response(200, json=answer({"role": "assistant", "content": None,
                                                                          "tool_calls": TOOL_CALLS})))
    [chunk] = await collect(provider.stream(request("m")))
    assert chunk.tool_calls == [{"index": i, **call} for i, call in enumerate(TOOL_CALLS)]
    assert chunk.finish_reason == "tool_calls"


async def test_empty_tool_calls_count_as_absent():
    # vLLM sends `"tool_calls": []` with plain text
    provider = mock_provider(lambda req: sse(delta({"role": "assistant", "content": "Hi", "tool_calls": []}),
                                             delta({}, "stop")))
    chunks = await collect(provider.stream(request("m")))
    assert [c.delta for c in chunks] == ["Hi", ""] and not any(c.has_parts for c in chunks)
    provider = mock_provider(lambda req: httpx.Response(200, json=answer({"role": "assistant", "content": "Hi",
                                                                          "tool_calls": []})))
    assert (await provider.complete(request("m"))).tool_calls is None


WRONG_TYPES = [("tool_calls", {"index": 0}), ("function_call", "get_weather"), ("refusal", 5), ("logprobs", [1])]


@pytest.mark.parametrize(("field", "value"), WRONG_TYPES, ids=[f for f, _ in WRONG_TYPES])
async def test_a_part_of_the_wrong_type_in_a_stream_is_a_bad_gateway_error_keeping_the_text(field, value):
    bad = delta({}, logprobs=value) if field == "logprobs" else delta({field: value})
    provider = mock_provider(lambda req: sse(delta({"role": "assistant", "content": "Hi"}), bad, delta({}, "stop")))
    with pytest.raises(ProviderResponseError) as info:
        await collect(provider.stream(request("m")))
    assert info.value.details["reason"] == "unexpected_shape" and info.value.details["field"] == field
    assert info.value.partial_text == "Hi"


@pytest.mark.parametrize(("field", "value"), WRONG_TYPES, ids=[f for f, _ in WRONG_TYPES])
async def test_a_part_of_the_wrong_type_in_an_answer_is_a_bad_gateway_error(field, value):
    message = {"role": "assistant", "content": "Hi"}
    body = answer(message, logprobs=value) if field == "logprobs" else answer({**message, field: value})
    provider = mock_provider(lambda req: httpx.Response(200, json=body))
    with pytest.raises(ProviderResponseError) as info:
        await provider.complete(request("m"))
    assert info.value.code == "LLM_BAD_GATEWAY" and info.value.details["field"] == field


# --- stream shaping ------------------------------------------------------------------------------
def upstream(*chunks):
    async def generate():
        for chunk in chunks:
            yield chunk
    return generate()


CALL_START = Chunk(tool_calls=[{"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}])
CALL_ARGS = Chunk(tool_calls=[{"index": 0, "function": {"arguments": "{}"}}])


@pytest.mark.parametrize("max_ms", [0, 1000], ids=["by-size", "timed"])
async def test_coalescing_sends_tool_call_chunks_alone_after_the_text_before_them(max_ms):
    chunks = [Chunk(role="assistant"), Chunk(delta="a"), Chunk(delta="b"), CALL_START, CALL_ARGS,
              Chunk(delta="c"), Chunk(finish_reason="tool_calls")]
    out = await collect(coalesce(upstream(*chunks), max_chars=100, max_ms=max_ms))
    assert out == [Chunk(delta="ab", role="assistant"), CALL_START, CALL_ARGS,
                   Chunk(delta="c", finish_reason="tool_calls")]


async def test_coalescing_never_merges_logprobs_or_refusals():
    chunks = [Chunk(delta="a", logprobs={"content": []}), Chunk(delta="b", logprobs={"content": []}),
              Chunk(refusal="no"), Chunk(refusal="pe"), Chunk(finish_reason="stop")]
    assert await collect(coalesce(upstream(*chunks), max_chars=100)) == chunks


async def test_bounds_count_text_only_and_never_cut_a_tool_call():
    chunks = [Chunk(delta="a"), CALL_START, CALL_ARGS, Chunk(delta="b"), Chunk(delta="c"), Chunk(finish_reason="stop")]
    out = await collect(bound(upstream(*chunks), max_tokens=2))
    assert out == chunks[:4] + [Chunk(finish_reason="length")]
    both = Chunk(delta="abcd", tool_calls=CALL_START.tool_calls)
    out = await collect(bound(upstream(both, Chunk(finish_reason="stop")), max_chars=2))
    assert out == [Chunk(delta="ab", tool_calls=CALL_START.tool_calls), Chunk(finish_reason="length")]
