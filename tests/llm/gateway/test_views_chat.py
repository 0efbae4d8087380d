"""`POST /api/v1/llm/chat/completions` over a live ASGI server: the JSON and SSE answers, the SSE headers,
tokens relayed as they come, the request forwarded faithfully, and every bad input refused with
VALIDATION_ERROR (413 for an oversized body) before any upstream call."""

import json

import httpx
import pytest

from tests.support.fake_openai import expected_text
from tests.support.sse_client import post_chat

HI = [{"role": "user", "content": "Hi"}]


def test_non_streamed_answer_is_a_chat_completion_with_usage(live_gateway, fake_upstream):
    result = post_chat(live_gateway.url, {"model": "fake-model", "messages": HI})
    assert result.status == 200
    body = result.body
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": expected_text(8)}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 8, "total_tokens": 13}


def test_streamed_answer_is_openai_chunks_ending_with_done(live_gateway, fake_upstream):
    result = post_chat(live_gateway.url, {"model": "fake-model", "messages": HI, "stream": True})
    assert result.status == 200
    assert result.headers["content-type"] == "text/event-stream"
    assert result.headers["cache-control"] == "no-cache"
    assert result.headers["x-accel-buffering"] == "no"
    events = result.events
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert result.text == expected_text(8)
    assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == "stop"
    assert all("usage" not in c for c in chunks)  # not asked for


def test_usage_is_streamed_only_when_asked_for(live_gateway, fake_upstream):
    result = post_chat(
        live_gateway.url,
        {"model": "fake-model", "messages": HI, "stream": True, "stream_options": {"include_usage": True}},
    )
    usage_chunk = result.events[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 5, "completion_tokens": 8, "total_tokens": 13}
    assert fake_upstream.last.body["stream_options"] == {"include_usage": True}


def test_tokens_are_relayed_as_they_arrive_not_buffered(live_gateway, fake_upstream):
    body = {"model": "slow:150", "messages": HI, "stream": True}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", f"{live_gateway.url}/api/v1/llm/chat/completions", json=body) as response,
    ):
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        upstream = fake_upstream.last
        assert json.loads(first[6:])["choices"][0]["delta"]["role"] == "assistant"
        assert upstream.completed_at is None  # the upstream is still writing: we did not wait for it
        rest = [line for line in lines if line.startswith("data: ")]
    assert rest[-1] == "data: [DONE]"


def test_request_fields_are_forwarded_to_the_upstream(live_gateway, fake_upstream):
    body = {
        "model": "fake-model",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "developer", "content": "x"}, *HI],
        "temperature": 0.3,
        "max_tokens": -1,
        "top_p": 0.5,
        "stop": ["\n"],
        "top_k": 20,
    }
    assert post_chat(live_gateway.url, body).status == 200
    sent = fake_upstream.last.body
    assert sent["messages"] == body["messages"]
    assert (sent["temperature"], sent["max_tokens"], sent["top_p"], sent["stop"], sent["top_k"]) == (
        0.3,
        -1,
        0.5,
        ["\n"],
        20,
    )
    assert "provider" not in sent


def test_model_defaults_to_the_providers_default(live_gateway, fake_upstream):
    result = post_chat(live_gateway.url, {"messages": HI, "provider": "lm_studio"})
    assert result.status == 200
    assert fake_upstream.last.model == "fake-model"


# --- bad input: 400/413 VALIDATION_ERROR (or the provider codes), and the upstream never called -----
BAD_BODIES = {
    "missing-messages": {"model": "m"},
    "empty-messages": {"messages": []},
    "messages-not-a-list": {"messages": "Hi"},
    "unknown-role": {"messages": [{"role": "wizard", "content": "Hi"}]},
    "content-number": {"messages": [{"role": "user", "content": 42}]},
    "content-object": {"messages": [{"role": "user", "content": {"text": "Hi"}}]},
    "content-missing": {"messages": [{"role": "user"}]},
    "assistant-without-content-or-tool-calls": {"messages": [*HI, {"role": "assistant", "content": None}, *HI]},
    "temperature-string": {"messages": HI, "temperature": "hot"},
    "temperature-numeric-string": {"messages": HI, "temperature": "0.5"},
    "temperature-above-2": {"messages": HI, "temperature": 2.5},
    "temperature-negative": {"messages": HI, "temperature": -1},
    "max-tokens-zero": {"messages": HI, "max_tokens": 0},
    "max-tokens-negative": {"messages": HI, "max_tokens": -5},
    "max-tokens-above-limit": {"messages": HI, "max_tokens": 10**9},
    "max-tokens-string": {"messages": HI, "max_tokens": "10"},
    "unknown-field": {"messages": HI, "temprature": 1},
    "body-is-a-list": [HI],
}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_bad_input_is_refused_before_any_upstream_call(live_gateway, fake_upstream, name, stream):
    body = BAD_BODIES[name]
    if isinstance(body, dict):
        body = {**body, "stream": stream}
    result = post_chat(live_gateway.url, body)
    assert (result.status, result.body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert fake_upstream.records == []


@pytest.mark.parametrize(
    "raw", [b"{not json", b"", '"caf\xe9"'.encode("latin-1"), b"null"], ids=["broken", "empty", "not-utf8", "null"]
)
def test_body_that_is_not_a_json_object_is_refused(live_gateway, fake_upstream, raw):
    result = post_chat(live_gateway.url, None, raw=raw)
    assert (result.status, result.body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert fake_upstream.records == []


def test_too_many_messages_are_refused(live_gateway, fake_upstream, settings):
    settings.LLM_MAX_MESSAGES = 4
    result = post_chat(live_gateway.url, {"messages": HI * 5})
    assert (result.status, result.body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert "messages" in result.body["error"]["details"]["fields"]
    assert fake_upstream.records == []


def test_an_assistant_message_without_content_or_tool_calls_is_refused_naming_the_field(live_gateway, fake_upstream):
    # as OpenAI refuses it ("Invalid value for 'content': expected a string, got null")
    result = post_chat(live_gateway.url, {"messages": [*HI, {"role": "assistant"}, *HI]})
    assert (result.status, result.body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert result.body["error"]["details"]["fields"]["messages"][1] == {
        "content": ["Required (a string) for an assistant message without tool_calls or function_call."]
    }
    assert fake_upstream.records == []


def test_oversized_body_is_413_validation_error(live_gateway, fake_upstream, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    body = json.dumps({"messages": [{"role": "user", "content": "x" * 5_000}]}).encode()
    result = post_chat(live_gateway.url, None, raw=body)
    assert (result.status, result.body["error"]["code"]) == (413, "VALIDATION_ERROR")
    assert fake_upstream.records == []


def test_oversized_chunked_body_without_content_length_is_413(live_gateway, fake_upstream, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    payload = json.dumps({"messages": [{"role": "user", "content": "x" * 5_000}]}).encode()

    def chunks():
        for i in range(0, len(payload), 1000):
            yield payload[i : i + 1000]

    with httpx.Client(timeout=10) as client:
        response = client.post(
            f"{live_gateway.url}/api/v1/llm/chat/completions",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
    assert "content-length" not in response.request.headers
    assert (response.status_code, response.json()["error"]["code"]) == (413, "VALIDATION_ERROR")
    assert fake_upstream.records == []


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
def test_unknown_provider_is_refused(live_gateway, fake_upstream, stream):
    result = post_chat(live_gateway.url, {"messages": HI, "provider": "nope", "stream": stream})
    assert (result.status, result.body["error"]["code"]) == (400, "LLM_UNKNOWN_PROVIDER")
    assert fake_upstream.records == []


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
def test_disabled_provider_is_refused(live_gateway, fake_upstream, stream):
    result = post_chat(live_gateway.url, {"messages": HI, "provider": "openrouter", "stream": stream})
    assert (result.status, result.body["error"]["code"]) == (400, "LLM_PROVIDER_DISABLED")
    assert fake_upstream.records == []


def test_wrong_method_is_405_in_the_envelope(live_gateway, fake_upstream):
    response = httpx.get(f"{live_gateway.url}/api/v1/llm/chat/completions", timeout=5)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "POST" in response.headers["allow"]


def test_options_lists_the_allowed_methods(live_gateway):
    response = httpx.options(f"{live_gateway.url}/api/v1/llm/chat/completions", timeout=5)
    assert response.status_code == 200
    assert "POST" in response.headers["allow"] and "GET" not in response.headers["allow"]


def test_stream_bounds_from_settings_end_the_stream_with_finish_reason_length(live_gateway, fake_upstream, settings):
    settings.LLM_STREAM_MAX_TOKENS = 3
    result = post_chat(live_gateway.url, {"model": "slow:50", "messages": HI, "stream": True})
    assert result.events[-1] == "[DONE]"
    assert result.text == expected_text(3)
    assert [e["choices"][0]["finish_reason"] for e in result.events[:-1]][-1] == "length"
    upstream = fake_upstream.last
    assert fake_upstream.wait_for_close(upstream, timeout=1.0)  # the rest of the answer is not waited for


def test_coalescing_from_settings_merges_tokens_into_fewer_events(live_gateway, fake_upstream, settings):
    settings.LLM_STREAM_COALESCE_CHARS = 1000
    result = post_chat(live_gateway.url, {"model": "fake-model", "messages": HI, "stream": True})
    assert result.text == expected_text(8)
    assert len(result.events) < 8


def sse_events(body: bytes) -> list:
    return [json.loads(b[6:]) if b[6:7] == b"{" else b[6:].decode() for b in body.split(b"\n\n") if b]


def test_streams_through_the_sync_test_client_complete_one_after_the_other(client, fake_upstream):
    # Django's sync client runs the view on one event loop and reads the body on another; the view
    # must not leave the upstream stream to the first loop's shutdown (which used to cut it short).
    for _ in range(2):
        response = client.post(
            "/api/v1/llm/chat/completions",
            {"model": "fake-model", "messages": HI, "stream": True},
            content_type="application/json",
        )
        assert response.status_code == 200
        assert response["Content-Type"] == "text/event-stream"
        events = sse_events(b"".join(response))  # how WSGI and the test client read a body
        assert events[-1] == "[DONE]"
        assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1]) == expected_text(8)
    assert len(fake_upstream.records) == 2


def test_a_failure_mid_stream_through_the_sync_test_client_is_the_final_error_event(client, fake_upstream):
    response = client.post(
        "/api/v1/llm/chat/completions",
        {"model": "drop-after:3", "messages": HI, "stream": True},
        content_type="application/json",
    )
    events = sse_events(b"".join(response))  # how WSGI and the test client read a body
    assert events[-1]["error"]["code"] == "LLM_BAD_GATEWAY"
    assert "[DONE]" not in events
