"""Tool calls (and the legacy function call), refusals and logprobs are relayed as the upstream sends
them: parsed by the provider layer (streamed and not), never merged or cut by stream shaping, written
in OpenAI's format, and put back together by the official SDK through a live gateway. Plain text
streams are unchanged."""

import json

import httpx
import openai
import pytest

from llm.exceptions import ProviderResponseError
from llm.gateway.wire import DONE_EVENT, StreamEncoder, completion_body
from llm.registry import build_provider
from llm.streaming import bound, coalesce
from llm.types import ChatMessage, ChatRequest, Chunk, Completion, Usage
from tests.support.fake_openai import (
    FUNCTION_CALL,
    REFUSAL,
    TOOL_CALLS,
    expected_logprobs,
    expected_text,
    token_logprobs,
)
from tests.support.llm import fake_provider_settings
from tests.support.sse_client import post_chat

HI = [{"role": "user", "content": "What is the weather in Zürich?"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def request(model):
    return ChatRequest(messages=(ChatMessage("user", "Hi"),), model=model)


async def collect(stream):
    return [c async for c in stream]


def reassemble(deltas):
    """Tool-call fragments put together by `index`, as OpenAI's streaming clients do."""
    calls = {}
    for delta in deltas:
        for piece in delta:
            call = calls.setdefault(
                piece["index"], {"id": None, "type": None, "function": {"name": "", "arguments": ""}}
            )
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
    assert calls[0].tool_calls == [
        {"index": 0, "id": "call_fake_0", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    ]
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
    assert [(c.delta, c.logprobs) for c in chunks if c.delta] == [
        (expected_text(i + 1)[len(expected_text(i)) :], token_logprobs(i)) for i in range(8)
    ]
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
    return {
        "id": "x",
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls", **choice}],
    }


async def test_a_whole_answer_to_a_stream_request_gives_its_tool_calls_their_index():
    # A server that ignores stream=true sends a message; a delta's tool calls need `index`.
    provider = mock_provider(
        lambda req: httpx.Response(200, json=answer({"role": "assistant", "content": None, "tool_calls": TOOL_CALLS}))
    )
    [chunk] = await collect(provider.stream(request("m")))
    assert chunk.tool_calls == [{"index": i, **call} for i, call in enumerate(TOOL_CALLS)]
    assert chunk.finish_reason == "tool_calls"


async def test_empty_tool_calls_count_as_absent():
    # vLLM sends `"tool_calls": []` with plain text
    provider = mock_provider(
        lambda req: sse(delta({"role": "assistant", "content": "Hi", "tool_calls": []}), delta({}, "stop"))
    )
    chunks = await collect(provider.stream(request("m")))
    assert [c.delta for c in chunks] == ["Hi", ""] and not any(c.has_parts for c in chunks)
    provider = mock_provider(
        lambda req: httpx.Response(200, json=answer({"role": "assistant", "content": "Hi", "tool_calls": []}))
    )
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
    chunks = [
        Chunk(role="assistant"),
        Chunk(delta="a"),
        Chunk(delta="b"),
        CALL_START,
        CALL_ARGS,
        Chunk(delta="c"),
        Chunk(finish_reason="tool_calls"),
    ]
    out = await collect(coalesce(upstream(*chunks), max_chars=100, max_ms=max_ms))
    assert out == [
        Chunk(delta="ab", role="assistant"),
        CALL_START,
        CALL_ARGS,
        Chunk(delta="c", finish_reason="tool_calls"),
    ]


async def test_coalescing_never_merges_logprobs_or_refusals():
    chunks = [
        Chunk(delta="a", logprobs={"content": []}),
        Chunk(delta="b", logprobs={"content": []}),
        Chunk(refusal="no"),
        Chunk(refusal="pe"),
        Chunk(finish_reason="stop"),
    ]
    assert await collect(coalesce(upstream(*chunks), max_chars=100)) == chunks


async def test_bounds_count_text_only_and_never_cut_a_tool_call():
    chunks = [Chunk(delta="a"), CALL_START, CALL_ARGS, Chunk(delta="b"), Chunk(delta="c"), Chunk(finish_reason="stop")]
    out = await collect(bound(upstream(*chunks), max_tokens=2))
    assert out == chunks[:4] + [Chunk(finish_reason="length")]
    both = Chunk(delta="abcd", tool_calls=CALL_START.tool_calls)
    out = await collect(bound(upstream(both, Chunk(finish_reason="stop")), max_chars=2))
    assert out == [Chunk(delta="ab", tool_calls=CALL_START.tool_calls), Chunk(finish_reason="length")]


# --- OpenAI wire format ------------------------------------------------------------------------------
def payload(event: bytes) -> dict:
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    return json.loads(event[6:-2])


def test_plain_events_and_answers_are_byte_for_byte_what_they_were():
    encoder = StreamEncoder(completion_id="chatcmpl-1", model="m-1", include_usage=True, created=123)
    events = b"".join(
        encoder.encode(c)
        for c in (
            Chunk(role="assistant"),
            Chunk(delta='Hé "x"'),
            Chunk(reasoning="r"),
            Chunk(finish_reason="stop"),
            Chunk(usage=Usage(1, 2, 3)),
        )
    )
    head = b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":123,"model":"m-1","system_fingerprint":null,'
    assert events + encoder.finish() == (
        head
        + b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n'
        + head
        + b'"choices":[{"index":0,"delta":{"content":"H\xc3\xa9 \\"x\\""},"logprobs":null,"finish_reason":null}]}\n\n'
        + head
        + b'"choices":[{"index":0,"delta":{"reasoning_content":"r"},"logprobs":null,"finish_reason":null}]}\n\n'
        + head
        + b'"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n'
        + head
        + b'"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\n'
        + DONE_EVENT
    )
    body = completion_body(Completion(text="hi", model="m", usage=Usage(1, 2, 3), id="x"), fallback_model="d")
    assert body["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "logprobs": None, "finish_reason": "stop"}
    ]


def test_tool_call_chunks_are_sdk_chunks_whose_delta_is_what_the_upstream_sent():
    from openai.types.chat import ChatCompletionChunk

    encoder = StreamEncoder(completion_id="c", model="m", include_usage=False, created=1)
    encoder.encode(Chunk(role="assistant"))
    body = payload(encoder.encode(CALL_START))
    assert body["choices"][0]["delta"] == {"tool_calls": CALL_START.tool_calls}
    chunk = ChatCompletionChunk.model_validate(body)
    assert chunk.choices[0].delta.tool_calls[0].function.name == "f"
    ending = payload(encoder.encode(Chunk(tool_calls=CALL_ARGS.tool_calls, finish_reason="tool_calls")))
    assert ending["choices"][0] == {
        "index": 0,
        "delta": {"tool_calls": CALL_ARGS.tool_calls},
        "logprobs": None,
        "finish_reason": "tool_calls",
    }


def test_a_stream_that_opens_with_a_tool_call_has_null_content_as_openai_sends_it():
    encoder = StreamEncoder(completion_id="c", model="m", include_usage=False, created=1)
    body = payload(encoder.encode(CALL_START))
    assert body["choices"][0]["delta"] == {"role": "assistant", "content": None, "tool_calls": CALL_START.tool_calls}
    text = StreamEncoder(completion_id="c", model="m", include_usage=False, created=1)
    assert payload(text.encode(Chunk(role="assistant")))["choices"][0]["delta"] == {"role": "assistant", "content": ""}


def test_refusal_function_call_and_logprobs_go_where_openai_puts_them():
    encoder = StreamEncoder(completion_id="c", model="m", include_usage=False, created=1)
    first = payload(encoder.encode(Chunk(role="assistant", refusal="I can\u2019t \ud83d")))  # a lone surrogate too
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": None, "refusal": "I can\u2019t \ud83d"}
    call = payload(encoder.encode(Chunk(function_call={"arguments": '{"a": 1}'})))
    assert call["choices"][0]["delta"] == {"function_call": {"arguments": '{"a": 1}'}}
    scored = payload(encoder.encode(Chunk(delta="x", logprobs=token_logprobs(0))))
    assert scored["choices"][0]["delta"] == {"content": "x"} and scored["choices"][0]["logprobs"] == token_logprobs(0)
    assert encoder.encode(Chunk(logprobs={"content": []})) != b""  # no text, but something to send


def test_an_answer_with_tool_calls_or_a_refusal_has_null_content():
    from openai.types.chat import ChatCompletion

    body = completion_body(
        Completion(
            text="",
            model="m",
            finish_reason="tool_calls",
            tool_calls=TOOL_CALLS,
            logprobs={"content": None, "refusal": None},
        ),
        fallback_model="d",
    )
    assert body["choices"][0]["message"] == {"role": "assistant", "content": None, "tool_calls": TOOL_CALLS}
    assert body["choices"][0]["logprobs"] == {"content": None, "refusal": None}
    assert ChatCompletion.model_validate(body).choices[0].message.tool_calls[1].function.name == "get_time"
    body = completion_body(Completion(text="", model="m", refusal=REFUSAL), fallback_model="d")
    assert body["choices"][0]["message"] == {"role": "assistant", "content": None, "refusal": REFUSAL}
    body = completion_body(Completion(text="Sure.", model="m", function_call=FUNCTION_CALL), fallback_model="d")
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Sure.", "function_call": FUNCTION_CALL}


# --- through the gateway ---------------------------------------------------------------------------
@pytest.fixture
def client(live_gateway):
    return openai.OpenAI(base_url=f"{live_gateway.url}/api/v1/llm", api_key="unused", max_retries=0, timeout=10)


def sdk_calls(tool_calls):
    return [
        {"id": c.id, "type": c.type, "function": {"name": c.function.name, "arguments": c.function.arguments}}
        for c in tool_calls
    ]


def test_sdk_reassembles_a_streamed_tool_call_into_the_upstreams(client, fake_upstream):
    stream = client.chat.completions.create(model="tool-calls", messages=HI, tools=TOOLS, stream=True)
    chunks = list(stream)
    deltas = [
        [c.model_dump(exclude_none=True) for c in chunk.choices[0].delta.tool_calls]
        for chunk in chunks
        if chunk.choices and chunk.choices[0].delta.tool_calls
    ]
    assert reassemble(deltas) == TOOL_CALLS
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert fake_upstream.last.body["tools"] == TOOLS


def test_sdk_stream_helper_gets_the_tool_calls_in_its_final_completion(client, fake_upstream):
    with client.chat.completions.stream(model="tool-calls:2", messages=HI, tools=TOOLS) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert sdk_calls(message.tool_calls) == TOOL_CALLS
    assert message.content == expected_text(2)
    assert final.choices[0].finish_reason == "tool_calls"


def test_sdk_gets_a_non_streamed_tool_call_and_can_answer_it(client, fake_upstream):
    completion = client.chat.completions.create(model="tool-calls", messages=HI, tools=TOOLS)
    message = completion.choices[0].message
    assert sdk_calls(message.tool_calls) == TOOL_CALLS
    assert (message.content, completion.choices[0].finish_reason) == (None, "tool_calls")
    # the next turn: the assistant's message as the SDK returned it, and the tool's answer
    turn = [
        *HI,
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": "call_fake_0", "content": "12 °C"},
    ]
    reply = client.chat.completions.create(model="fake-model", messages=turn, tools=TOOLS)
    assert reply.choices[0].message.content == expected_text(8)
    forwarded = fake_upstream.last.body["messages"]
    assert forwarded[1]["tool_calls"] == TOOL_CALLS and forwarded[2]["tool_call_id"] == "call_fake_0"


def test_sdk_gets_a_refusal_streamed_and_not(client, fake_upstream):
    completion = client.chat.completions.create(model="refusal", messages=HI)
    assert (completion.choices[0].message.refusal, completion.choices[0].message.content) == (REFUSAL, None)
    stream = client.chat.completions.create(model="refusal", messages=HI, stream=True)
    assert "".join(c.choices[0].delta.refusal or "" for c in stream if c.choices) == REFUSAL


def test_sdk_gets_logprobs_streamed_and_not(client, fake_upstream):
    completion = client.chat.completions.create(model="logprobs", messages=HI, logprobs=True, top_logprobs=1)
    assert completion.choices[0].logprobs.model_dump() == expected_logprobs(8)
    assert fake_upstream.last.body["logprobs"] is True
    stream = client.chat.completions.create(model="logprobs", messages=HI, logprobs=True, stream=True)
    scored = [c.choices[0].logprobs.model_dump() for c in stream if c.choices and c.choices[0].logprobs]
    assert scored == [token_logprobs(i) for i in range(8)]


def test_coalesced_streams_keep_tool_call_events_whole_and_in_order(live_gateway, fake_upstream, settings):
    settings.LLM_STREAM_COALESCE_CHARS = 1000
    result = post_chat(live_gateway.url, {"model": "tool-calls:3", "messages": HI, "stream": True})
    deltas = [e["choices"][0]["delta"] for e in result.events[:-1]]
    assert deltas[0] == {"role": "assistant", "content": expected_text(3)}  # the text, merged, first
    assert reassemble(d["tool_calls"] for d in deltas[1:] if "tool_calls" in d) == TOOL_CALLS
    assert all(set(d) == {"tool_calls"} for d in deltas[1:-1])  # one upstream fragment per event
    assert result.events[-2]["choices"][0]["finish_reason"] == "tool_calls" and result.events[-1] == "[DONE]"
