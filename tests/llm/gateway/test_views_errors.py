"""Every mapped error at the HTTP level, before the first byte (a JSON error with its status) and after
it (HTTP 200, then one final `data: {"error": ...}` event and the end of the stream), for streamed and
non-streamed requests; a stream whose upstream dies mid-way ends promptly."""

import time

import pytest

from llm.exceptions import (
    ContextOverflowError,
    ModelNotFoundError,
    ProviderDisabledError,
    ProviderRateLimitedError,
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    StreamInterruptedError,
    UnknownProviderError,
)
from llm.gateway import views as apis
from llm.types import Chunk, Completion
from tests.support.fake_openai import expected_text
from tests.support.llm_fixtures import point_default_provider_at
from tests.support.sse_client import post_chat

HI = [{"role": "user", "content": "Hi"}]


def chat(live_gateway, model, *, stream=True, **body):
    return post_chat(live_gateway.url, {"model": model, "messages": HI, "stream": stream, **body})


def assert_error_event_ends_stream(result, code):
    assert result.status == 200
    assert result.events[-1] == {"error": result.events[-1]["error"]}
    assert result.events[-1]["error"]["code"] == code
    assert "[DONE]" not in result.events


# --- errors from the real provider layer against the fake upstream ---------------------------------
BEFORE_FIRST_BYTE = [
    ("model-not-found", 404, "LLM_MODEL_NOT_FOUND"),
    ("context-overflow", 400, "LLM_CONTEXT_OVERFLOW"),
    ("context-overflow-llamacpp", 400, "LLM_CONTEXT_OVERFLOW"),
    ("no-models-loaded", 503, "LLM_UNAVAILABLE"),
    ("status:503", 503, "LLM_UNAVAILABLE"),
    ("rate-limit-ms:10", 429, "LLM_RATE_LIMITED"),
    ("bad-request", 502, "LLM_BAD_GATEWAY"),
    ("html:502", 503, "LLM_UNAVAILABLE"),
    ("no-headers", 503, "LLM_TIMEOUT"),
]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("behaviour,status,code", BEFORE_FIRST_BYTE, ids=[b[0] for b in BEFORE_FIRST_BYTE])
def test_upstream_error_before_the_first_byte_is_a_json_error_with_its_status(
    live_gateway, behaviour, status, code, stream
):
    result = chat(live_gateway, behaviour, stream=stream)
    assert (result.status, result.body["error"]["code"]) == (status, code)
    assert result.headers["content-type"] == "application/json"
    assert set(result.body) == {"error"} and result.body["error"]["message"]


def test_rate_limit_passes_retry_after_on(live_gateway, fake_upstream):
    result = chat(live_gateway, "rate-limit:1")
    assert result.status == 429
    assert result.headers["retry-after"] == "1"


def test_a_503_asking_for_longer_than_the_retry_cap_is_passed_on_at_once_with_its_retry_after(
    live_gateway, fake_upstream
):
    # 60 s is beyond LLM_RETRY_MAX_DELAY (30): no retry, and the client learns when to come back
    result = chat(live_gateway, "fail:1:503:60")
    assert (result.status, result.body["error"]["code"]) == (503, "LLM_UNAVAILABLE")
    assert result.headers["retry-after"] == "60"
    assert result.headers["x-should-retry"] == "false"
    assert fake_upstream.attempts("fail:1:503:60") == 1


def test_unreachable_upstream_is_503_llm_unavailable(live_gateway, fake_upstream):
    point_default_provider_at("http://127.0.0.1:9/v1")  # the discard port: nothing listens
    for stream in (True, False):
        result = chat(live_gateway, "fake-model", stream=stream)
        assert (result.status, result.body["error"]["code"]) == (503, "LLM_UNAVAILABLE")


AFTER_FIRST_BYTE = [
    ("error-mid-stream:3", "LLM_BAD_GATEWAY"),
    ("openrouter-error:3", "LLM_BAD_GATEWAY"),
    ("finish-error:3", "LLM_BAD_GATEWAY"),
    ("malformed:3", "LLM_BAD_GATEWAY"),
    ("drop-after:3", "LLM_BAD_GATEWAY"),
    ("stall-after-first", "LLM_TIMEOUT"),
]


@pytest.mark.parametrize("behaviour,code", AFTER_FIRST_BYTE, ids=[b[0] for b in AFTER_FIRST_BYTE])
def test_upstream_error_after_the_first_byte_is_one_final_error_event(live_gateway, fake_upstream, behaviour, code):
    started = time.monotonic()
    result = chat(live_gateway, behaviour)
    assert time.monotonic() - started < 5  # no hang: the stream ends right after the error event
    assert_error_event_ends_stream(result, code)
    assert result.headers["content-type"] == "text/event-stream"
    tokens = 1 if behaviour == "stall-after-first" else 3
    assert result.text == expected_text(tokens)


def test_stream_ends_promptly_when_the_upstream_connection_dies_mid_stream(live_gateway, fake_upstream):
    started = time.monotonic()
    result = post_chat(live_gateway.url, {"model": "drop-after:5", "messages": HI, "stream": True}, timeout=5)
    assert time.monotonic() - started < 5
    assert result.text == expected_text(5)
    assert result.events[-1]["error"]["code"] == "LLM_BAD_GATEWAY"
    assert fake_upstream.attempts("drop-after:5") == 1  # never retried after the first chunk


# --- every mapped exception class, raised by a scripted provider -----------------------------------
class ScriptedProvider:
    """Yields `chunks_before` chunks, then raises `error`; `complete()` raises it at once."""

    name = "scripted"

    class config:
        default_model = "scripted-model"

    def __init__(self, error, chunks_before):
        self.error, self.chunks_before = error, chunks_before

    async def complete(self, request):
        raise self.error

    async def stream(self, request):
        for i in range(self.chunks_before):
            yield Chunk(delta=f"t{i}")
        raise self.error


MAPPED = [
    (ProviderDisabledError(provider="p"), 400, "LLM_PROVIDER_DISABLED"),
    (UnknownProviderError(), 400, "LLM_UNKNOWN_PROVIDER"),
    (ProviderTimeoutError(details={"phase": "idle"}), 503, "LLM_TIMEOUT"),
    (ProviderUnavailableError(), 503, "LLM_UNAVAILABLE"),
    (ProviderResponseError(), 502, "LLM_BAD_GATEWAY"),
    (StreamInterruptedError(), 502, "LLM_BAD_GATEWAY"),
    (ProviderRateLimitedError(retry_after=3), 429, "LLM_RATE_LIMITED"),
    (ContextOverflowError(), 400, "LLM_CONTEXT_OVERFLOW"),
    (ModelNotFoundError(), 404, "LLM_MODEL_NOT_FOUND"),
    (RuntimeError("internal detail sk-secret-123"), 500, "INTERNAL_ERROR"),
]
MAPPED_IDS = [type(e).__name__ for e, _, _ in MAPPED]


@pytest.fixture
def scripted(monkeypatch):
    def install(error, chunks_before=0):
        async def aget_provider(name=None):
            return ScriptedProvider(error, chunks_before)

        monkeypatch.setattr(apis, "aget_provider", aget_provider)

    return install


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("error,status,code", MAPPED, ids=MAPPED_IDS)
def test_every_mapped_error_before_the_first_byte(live_gateway, scripted, error, status, code, stream):
    scripted(error)
    result = chat(live_gateway, "m", stream=stream)
    assert (result.status, result.body["error"]["code"]) == (status, code)
    assert "sk-secret" not in str(result.body)
    if code == "LLM_RATE_LIMITED":
        assert result.headers["retry-after"] == "3"


@pytest.mark.parametrize("error,status,code", MAPPED, ids=MAPPED_IDS)
def test_every_mapped_error_after_the_first_byte(live_gateway, scripted, error, status, code):
    scripted(error, chunks_before=2)
    result = chat(live_gateway, "m")
    assert_error_event_ends_stream(result, code)
    assert result.text == "t0t1"
    assert "sk-secret" not in str(result.events)


def test_a_completion_without_usage_still_answers(live_gateway, monkeypatch):
    class NoUsage(ScriptedProvider):
        async def complete(self, request):
            return Completion(text="ok", model="")

    async def aget_provider(name=None):
        return NoUsage(None, 0)

    monkeypatch.setattr(apis, "aget_provider", aget_provider)
    result = chat(live_gateway, "m", stream=False)
    assert result.status == 200
    assert result.body["model"] == "m" and result.body["usage"] is None
