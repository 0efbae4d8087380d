"""The shared OpenAI-compatible client: observable retries, non-streamed completions, connection
lifecycle (one pool per event loop, closing upstream on abandon/cancel), and httpx error translation.
Fault cases run against the fake server; request-shape and transport cases use httpx.MockTransport."""

import asyncio
import json
import socket

import httpx
import pytest
from asgiref.sync import async_to_sync

from llm.exceptions import (
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    StreamInterruptedError,
)
from llm.registry import build_provider
from llm.types import ChatMessage, ChatRequest
from tests.support.fake_openai import expected_text
from tests.support.llm import fake_provider_settings


def request(model: str | None = None, **kwargs) -> ChatRequest:
    return ChatRequest(messages=(ChatMessage("user", "Hi"),), model=model, **kwargs)


async def collect(provider, model):
    return [c async for c in provider.stream(request(model))]


# --- retries are observable at the upstream --------------------------------------------------------
async def test_stream_503_then_200_is_retried_and_succeeds(fake_openai_provider, fake_openai):
    chunks = await collect(fake_openai_provider, "fail:1:503")
    assert "".join(c.delta for c in chunks) == expected_text(8)
    assert fake_openai.attempts("fail:1:503") == 2


async def test_completion_503_then_200_is_retried_and_succeeds(fake_openai_provider, fake_openai):
    completion = await fake_openai_provider.complete(request("fail:2:503"))
    assert completion.text == expected_text(8)
    assert fake_openai.attempts("fail:2:503") == 3


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "complete"])
async def test_400_is_tried_once(fake_openai_provider, fake_openai, stream):
    with pytest.raises(ProviderResponseError):
        if stream:
            await collect(fake_openai_provider, "status:400")
        else:
            await fake_openai_provider.complete(request("status:400"))
    assert fake_openai.attempts("status:400") == 1


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "complete"])
@pytest.mark.parametrize("status", [301, 307, 308])
async def test_a_redirect_is_an_error_naming_where_it_points_without_its_credentials(
    fake_openai_provider, fake_openai, stream, status
):
    # httpx does not follow redirects; a 3xx must not be read as a (malformed) success
    model = f"redirect:{status}"
    with pytest.raises(ProviderResponseError) as info:
        if stream:
            await collect(fake_openai_provider, model)
        else:
            await fake_openai_provider.complete(request(model))
    assert info.value.details["upstream_status"] == status
    assert info.value.details["location"] == "https://elsewhere.example/v1"
    assert "redirect to https://elsewhere.example/v1" in str(info.value)
    assert "pw" not in str(info.value) and "key=k" not in str(info.value)
    assert fake_openai.attempts(model) == 1


async def test_stream_broken_after_its_first_chunk_is_not_retried(fake_openai_provider, fake_openai):
    with pytest.raises(StreamInterruptedError) as info:
        await collect(fake_openai_provider, "drop-after:1")
    assert info.value.partial_text == expected_text(1)
    assert fake_openai.attempts("drop-after:1") == 1


async def test_retry_after_seconds_is_honoured(fake_openai_provider, fake_openai):
    # Base delay is 0.01 s, so only the upstream's "Retry-After: 1" explains a pause of about a second.
    chunks = await collect(fake_openai_provider, "fail:1:429:1")
    first, second = fake_openai.matching("fail:1:429:1")
    assert chunks[-1].finish_reason == "stop"
    assert 0.9 <= second.received_at - first.received_at < 5


async def test_retry_after_ms_is_honoured(fake_openai_provider, fake_openai):
    completion = await fake_openai_provider.complete(request("fail:1:503:400ms"))
    first, second = fake_openai.matching("fail:1:503:400ms")
    assert completion.text == expected_text(8)
    assert 0.35 <= second.received_at - first.received_at < 5


async def test_retry_after_beyond_the_cap_is_not_retried_and_is_passed_on(settings, make_fake_provider, fake_openai):
    # the upstream asks for 60 s, the cap is 0.2 s: retrying sooner than asked only earns another refusal
    settings.LLM_RETRY_MAX_DELAY = 0.2
    provider = make_fake_provider()
    with pytest.raises(ProviderUnavailableError) as info:
        await provider.complete(request("fail:1:503:60"))
    assert fake_openai.attempts("fail:1:503:60") == 1
    assert info.value.details["retry_after"] == 60


async def test_connection_refused_is_retried_then_unavailable():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = build_provider(fake_provider_settings(f"http://127.0.0.1:{port}/v1", max_retries=2))
    with pytest.raises(ProviderUnavailableError) as info:
        await provider.complete(request())
    assert info.value.details["reason"] == "connect_error"
    assert f"127.0.0.1:{port}" in info.value.message


def _mock_provider(handler, **overrides):
    return build_provider(
        fake_provider_settings("http://upstream.test/v1", **overrides),
    ).__class__(
        fake_provider_settings("http://upstream.test/v1", **overrides),
        transport_factory=lambda: httpx.MockTransport(handler),
    )


async def test_connect_timeout_is_retried_then_a_connect_phase_timeout():
    calls = []

    def handler(req):
        calls.append(req)
        raise httpx.ConnectTimeout("timed out", request=req)

    with pytest.raises(ProviderTimeoutError) as info:
        await _mock_provider(handler, max_retries=2).complete(request())
    assert info.value.details["phase"] == "connect"
    assert len(calls) == 3


async def test_server_closing_before_any_response_is_retried():
    calls = []

    def handler(req):
        calls.append(req)
        if len(calls) == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=req)
        return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]})

    completion = await _mock_provider(handler).complete(request())
    assert completion.text == "ok" and len(calls) == 2


# --- requests as sent ----------------------------------------------------------------------------
async def test_request_body_carries_model_messages_and_parameters():
    seen = {}

    def handler(req):
        seen.update(json.loads(req.content), auth=req.headers.get("authorization"))
        return httpx.Response(
            200, json={"model": "m", "choices": [{"message": {"content": "x"}, "finish_reason": "stop"}]}
        )

    chat = ChatRequest(
        messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")),
        temperature=0.2,
        max_tokens=-1,
        extra={"top_p": 0.9, "stop": ["\n"]},
    )
    await _mock_provider(handler).complete(chat)
    assert seen["model"] == "fake-model"  # the configured default
    assert seen["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert (seen["temperature"], seen["max_tokens"], seen["top_p"], seen["stop"]) == (0.2, -1, 0.9, ["\n"])
    assert seen["stream"] is False
    assert seen["auth"] is None  # no key configured, no Authorization header


async def test_bearer_key_is_read_from_the_named_env_var_per_request(monkeypatch):
    seen = []

    def handler(req):
        seen.append(req.headers.get("authorization"))
        return httpx.Response(200, json={"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}]})

    provider = _mock_provider(handler, api_key_env="TEST_CLIENT_KEY")
    monkeypatch.setenv("TEST_CLIENT_KEY", "sk-first-key-123")
    await provider.complete(request())
    monkeypatch.setenv("TEST_CLIENT_KEY", "sk-rotated-key-456")
    await provider.complete(request())
    assert seen == ["Bearer sk-first-key-123", "Bearer sk-rotated-key-456"]


# --- non-streamed completions ----------------------------------------------------------------------
async def test_completion_returns_text_usage_and_model(fake_openai_provider):
    completion = await fake_openai_provider.complete(request())
    assert completion.text == expected_text(8)
    assert (completion.finish_reason, completion.model) == ("stop", "fake-model")
    assert completion.usage.completion_tokens == 8


async def test_completion_keeps_reasoning_and_unknown_finish_reason(fake_openai_provider):
    assert (await fake_openai_provider.complete(request("reasoning"))).reasoning == "Let me think."
    assert (await fake_openai_provider.complete(request("finish:odd"))).finish_reason == "odd"


async def test_completion_tolerates_leading_keepalive_whitespace(fake_openai_provider):
    assert (await fake_openai_provider.complete(request("comments"))).text == expected_text(8)


@pytest.mark.parametrize(
    "behaviour,expected,detail",
    [
        ("malformed", ProviderResponseError, ("reason", "malformed_json")),
        ("error-mid-stream", ProviderResponseError, ("in_band", True)),
        ("finish-error", ProviderResponseError, ("finish_reason", "error")),
        ("drop-after", StreamInterruptedError, ("reason", "connection_lost")),
    ],
)
async def test_completion_failures(fake_openai_provider, fake_openai, behaviour, expected, detail):
    with pytest.raises(expected) as info:
        await fake_openai_provider.complete(request(behaviour))
    assert info.value.details[detail[0]] == detail[1]
    assert fake_openai.attempts(behaviour) == 1


async def test_completion_without_headers_hits_the_total_timeout(make_fake_provider, fake_openai):
    from dataclasses import replace

    from tests.support.llm import TEST_TIMEOUTS

    provider = make_fake_provider(timeouts=replace(TEST_TIMEOUTS, total=0.4))
    with pytest.raises(ProviderTimeoutError) as info:
        await provider.complete(request("no-headers"))
    assert info.value.details["phase"] == "total"
    assert await fake_openai.await_close(fake_openai.last, timeout=2)


# --- connection lifecycle -------------------------------------------------------------------------
def test_two_calls_on_two_event_loops_both_succeed(fake_openai_provider, fake_openai):
    # async_to_sync (like Django's sync test client) runs each call on a new event loop; a pooled
    # client reused across loops would fail with "Event loop is closed".
    first = async_to_sync(fake_openai_provider.complete)(request())
    second = async_to_sync(fake_openai_provider.complete)(request())
    assert first.text == second.text == expected_text(8)
    assert fake_openai.attempts() == 2
    # Each loop's pooled client was closed when its loop shut down.
    assert len(fake_openai_provider.client.clients) == 0


def test_two_streams_on_two_event_loops_both_succeed(fake_openai_provider):
    async def text():
        return "".join([c.delta async for c in fake_openai_provider.stream(request())])

    assert async_to_sync(text)() == async_to_sync(text)() == expected_text(8)


async def test_one_pooled_client_per_loop_reuses_its_connection(fake_openai_provider, fake_openai):
    await fake_openai_provider.complete(request())
    await fake_openai_provider.complete(request())
    assert len({r.connection_id for r in fake_openai.records}) == 1


async def test_abandoning_a_stream_closes_the_upstream_connection(fake_openai_provider, fake_openai):
    stream = fake_openai_provider.stream(request("slow:50"))
    await anext(stream)
    await anext(stream)
    record = fake_openai.last
    await stream.aclose()
    assert await fake_openai.await_close(record, timeout=1.0)


async def test_cancelling_the_consuming_task_closes_upstream_and_propagates(fake_openai_provider, fake_openai):
    started = asyncio.Event()

    async def consume():
        async for _ in fake_openai_provider.stream(request("slow:50")):
            started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert await fake_openai.await_close(fake_openai.last, timeout=1.0)


async def test_a_finished_stream_leaves_its_connection_reusable(fake_openai_provider, fake_openai):
    for _ in range(3):
        await collect(fake_openai_provider, "normal")
    assert len({r.connection_id for r in fake_openai.records}) == 1
    # The server marks a response complete once its last write returns, which may be just after the
    # client has read it: give the last one a moment.
    for _ in range(100):
        if fake_openai.records[-1].completed_at is not None:
            break
        await asyncio.sleep(0.01)
    assert all(r.completed_at is not None and r.disconnected_at is None for r in fake_openai.records)
