"""Every "Streaming hard case" of DESIGN, against the fake OpenAI-compatible server over real loopback
HTTP: what the provider yields, or the exact exception class and code, and the partial text kept."""

import asyncio

import pytest

from llm.exceptions import (
    ContextOverflowError,
    ModelNotFoundError,
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    StreamInterruptedError,
)
from llm.types import ChatMessage, ChatRequest
from tests.support.fake_openai import expected_text, token


def request(model: str, **kwargs) -> ChatRequest:
    return ChatRequest(messages=(ChatMessage("user", "Hi"),), model=model, **kwargs)


async def collect(provider, model: str, **kwargs):
    return [chunk async for chunk in provider.stream(request(model, **kwargs))]


def text_of(chunks) -> str:
    return "".join(c.delta for c in chunks)


async def stream_error(provider, model: str, expected: type[Exception]):
    with pytest.raises(expected) as info:
        await collect(provider, model)
    return info.value


# --- framing: every one of these is a complete, successful stream ----------------------------------
@pytest.mark.parametrize(
    "behaviour",
    ["normal", "comments", "no-space", "crlf", "cr", "split", "multiline", "done-no-blank"],
    ids=[
        "lf",
        "comment_lines",
        "data_without_space",
        "crlf",
        "cr",
        "split_lines",
        "multi_line_data",
        "done_at_eof_without_blank_line",
    ],
)
async def test_framing_variants_yield_the_exact_text(fake_openai_provider, fake_openai, behaviour):
    chunks = await collect(fake_openai_provider, behaviour)
    assert text_of(chunks) == expected_text(8)
    assert chunks[-1].finish_reason == "stop"
    assert fake_openai.attempts(behaviour) == 1


async def test_multibyte_characters_split_across_tcp_writes_reassemble(fake_openai_provider):
    # split:1 writes one byte per HTTP chunk with a pause between, so "世界" and "🙂" arrive in pieces.
    chunks = await collect(fake_openai_provider, "split:1")
    assert "世界" in text_of(chunks) and "🙂" in text_of(chunks)
    assert text_of(chunks) == expected_text(8)


async def test_openrouter_processing_comments_are_ignored(make_fake_provider):
    provider = make_fake_provider(kind="openrouter", api_key_env="FAKE_TEST_OPENROUTER_KEY")
    import os

    os.environ["FAKE_TEST_OPENROUTER_KEY"] = "sk-or-test-comment-case"
    try:
        chunks = await collect(provider, "comments")
    finally:
        del os.environ["FAKE_TEST_OPENROUTER_KEY"]
    assert text_of(chunks) == expected_text(8)


# --- chunk shapes -----------------------------------------------------------------------------------
async def test_role_only_first_chunk_with_null_content_is_an_empty_delta(fake_openai_provider):
    chunks = await collect(fake_openai_provider, "normal")
    assert (chunks[0].role, chunks[0].delta) == ("assistant", "")


async def test_trailing_usage_chunk_with_empty_choices_is_passed_on(fake_openai_provider):
    chunks = await collect(fake_openai_provider, "usage")
    assert chunks[-2].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 8
    assert chunks[-1].delta == "" and chunks[-1].finish_reason is None


async def test_usage_is_requested_through_stream_options_extra(fake_openai_provider):
    chunks = await collect(fake_openai_provider, "normal", extra={"stream_options": {"include_usage": True}})
    assert chunks[-1].usage.total_tokens == 13


async def test_content_and_finish_reason_in_one_chunk(fake_openai_provider):
    chunks = await collect(fake_openai_provider, "content-and-finish")
    assert (chunks[-1].delta, chunks[-1].finish_reason) == (token(7), "stop")
    assert text_of(chunks) == expected_text(8)


async def test_reasoning_and_reasoning_content_deltas_are_collected(fake_openai_provider):
    chunks = await collect(fake_openai_provider, "reasoning")
    assert "".join(c.reasoning for c in chunks) == "Let me think."
    assert text_of(chunks) == expected_text(8)


async def test_unknown_finish_reason_is_kept_verbatim(fake_openai_provider):
    chunks = await collect(fake_openai_provider, "finish:eos_custom")
    assert chunks[-1].finish_reason == "eos_custom"


# --- failures after the first byte: an error with the partial text, never success --------------------
async def test_connection_dropped_before_done_raises_with_partial_text(fake_openai_provider, fake_openai):
    exc = await stream_error(fake_openai_provider, "drop-after:3", StreamInterruptedError)
    assert exc.code == "LLM_BAD_GATEWAY"
    assert exc.partial_text == expected_text(3)
    assert fake_openai.attempts("drop-after:3") == 1


async def test_stream_ending_without_done_or_finish_reason_raises(fake_openai_provider):
    exc = await stream_error(fake_openai_provider, "empty-stream", StreamInterruptedError)
    assert (exc.code, exc.details["reason"], exc.partial_text) == ("LLM_BAD_GATEWAY", "no_end_of_stream", "")


async def test_drop_after_finish_reason_is_still_a_complete_answer(fake_openai_provider):
    chunks = await collect(fake_openai_provider, "drop-after-finish")
    assert text_of(chunks) == expected_text(8) and chunks[-1].finish_reason == "stop"


async def test_silence_after_the_finish_reason_ends_the_stream_before_the_idle_timeout(
    make_fake_provider, fake_openai, monkeypatch
):
    from dataclasses import replace

    import llm.upstream.reading
    from tests.support.llm import TEST_TIMEOUTS

    monkeypatch.setattr(llm.upstream.reading, "AFTER_FINISH_GRACE_SECONDS", 0.05)
    provider = make_fake_provider(timeouts=replace(TEST_TIMEOUTS, idle=60.0, total=120.0))
    async with asyncio.timeout(10):  # without the grace, this waits for the 60 s idle timeout
        chunks = await collect(provider, "stall-after-finish")
    assert text_of(chunks) == expected_text(8) and chunks[-1].finish_reason == "stop"
    assert await fake_openai.await_close(fake_openai.last, timeout=2)  # the upstream connection is let go


async def test_keepalive_comments_after_the_finish_reason_do_not_extend_the_grace(make_fake_provider, monkeypatch):
    from dataclasses import replace

    import llm.upstream.reading
    from tests.support.llm import TEST_TIMEOUTS

    monkeypatch.setattr(llm.upstream.reading, "AFTER_FINISH_GRACE_SECONDS", 0.2)
    provider = make_fake_provider(timeouts=replace(TEST_TIMEOUTS, idle=60.0, total=120.0))
    async with asyncio.timeout(5):  # the pings go on for 10 s; each one used to restart the grace
        chunks = await collect(provider, "pings-after-finish")
    assert text_of(chunks) == expected_text(8) and chunks[-1].finish_reason == "stop"


async def test_done_without_any_finish_reason_is_complete_and_ends_with_stop(fake_openai_provider):
    chunks = await collect(fake_openai_provider, "no-finish")
    assert text_of(chunks) == expected_text(8)
    assert [c.finish_reason for c in chunks][-1] == "stop"
    assert sum(c.finish_reason is not None for c in chunks) == 1


async def test_error_object_after_tokens_at_http_200_raises(fake_openai_provider):
    exc = await stream_error(fake_openai_provider, "error-mid-stream:2", ProviderResponseError)
    assert type(exc) is ProviderResponseError
    assert exc.code == "LLM_BAD_GATEWAY"
    assert exc.partial_text == expected_text(2)
    assert "Upstream model crashed" in exc.message


async def test_openrouter_mid_stream_error_chunk_raises(fake_openai_provider):
    exc = await stream_error(fake_openai_provider, "openrouter-error:2", ProviderResponseError)
    assert exc.code == "LLM_BAD_GATEWAY"
    assert exc.partial_text == expected_text(2)
    assert "Provider disconnected unexpectedly" in exc.message


async def test_finish_reason_error_raises(fake_openai_provider):
    exc = await stream_error(fake_openai_provider, "finish-error:3", ProviderResponseError)
    assert exc.code == "LLM_BAD_GATEWAY"
    assert exc.details["finish_reason"] == "error"
    assert exc.partial_text == expected_text(3)


async def test_malformed_json_in_a_data_line_raises_loudly(fake_openai_provider):
    exc = await stream_error(fake_openai_provider, "malformed:2", ProviderResponseError)
    assert (exc.code, exc.details["reason"]) == ("LLM_BAD_GATEWAY", "malformed_json")
    assert exc.partial_text == expected_text(2)


async def test_stall_after_first_token_hits_the_idle_timeout(make_fake_provider, fake_openai):
    from dataclasses import replace

    from tests.support.llm import TEST_TIMEOUTS

    provider = make_fake_provider(timeouts=replace(TEST_TIMEOUTS, idle=0.3))
    exc = await stream_error(provider, "stall-after-first", ProviderTimeoutError)
    assert (exc.code, exc.details["phase"]) == ("LLM_TIMEOUT", "idle")
    assert exc.partial_text == token(0)
    assert await fake_openai.await_close(fake_openai.last, timeout=2)


async def test_a_consumer_slower_than_the_idle_timeout_is_not_a_timeout(make_fake_provider):
    # The idle deadline bounds each wait for the upstream, never the time the consumer takes between reads.
    from dataclasses import replace

    from tests.support.llm import TEST_TIMEOUTS

    provider = make_fake_provider(timeouts=replace(TEST_TIMEOUTS, idle=0.1, first_token=0.1))
    text = ""
    async for chunk in provider.stream(request("slow:20")):
        text += chunk.delta
        await asyncio.sleep(0.15)
    assert text == expected_text(8)


async def test_the_idle_timeout_counts_from_the_read_that_waits_not_from_earlier_reads(make_fake_provider, fake_openai):
    # After reads that each took far less than the deadline, a stall is still caught at the idle
    # deadline of the read that waits for it.
    from dataclasses import replace

    from tests.support.llm import TEST_TIMEOUTS

    provider = make_fake_provider(timeouts=replace(TEST_TIMEOUTS, idle=0.3))
    stream = provider.stream(request("stall-after-first"))
    loop = asyncio.get_running_loop()
    started = None
    with pytest.raises(ProviderTimeoutError) as info:
        async for _ in stream:
            started = loop.time()
    assert info.value.details["phase"] == "idle"
    assert 0.25 <= loop.time() - started < 5


async def test_upstream_that_never_sends_headers_hits_the_first_token_timeout(make_fake_provider, fake_openai):
    from dataclasses import replace

    from tests.support.llm import TEST_TIMEOUTS

    provider = make_fake_provider(timeouts=replace(TEST_TIMEOUTS, first_token=0.3))
    exc = await stream_error(provider, "no-headers", ProviderTimeoutError)
    assert (exc.code, exc.details["phase"], exc.partial_text) == ("LLM_TIMEOUT", "first_token", "")
    assert fake_openai.attempts("no-headers") == 1  # a read timeout is not retried
    assert await fake_openai.await_close(fake_openai.last, timeout=2)


async def test_slow_stream_hits_the_total_timeout_with_partial_text(make_fake_provider):
    from dataclasses import replace

    from tests.support.llm import TEST_TIMEOUTS

    provider = make_fake_provider(timeouts=replace(TEST_TIMEOUTS, total=0.5))
    exc = await stream_error(provider, "slow:150", ProviderTimeoutError)
    assert exc.details["phase"] == "total"
    assert exc.partial_text and expected_text(8).startswith(exc.partial_text)


async def test_huge_line_is_bounded(settings, make_fake_provider):
    settings.LLM_SSE_MAX_LINE_BYTES = 64 * 1024
    provider = make_fake_provider()
    exc = await stream_error(provider, "huge-line:300000", ProviderResponseError)
    assert (exc.code, exc.details["reason"]) == ("LLM_BAD_GATEWAY", "sse_line_too_long")


# --- errors before the first byte on a streaming request ---------------------------------------------
@pytest.mark.parametrize(
    "behaviour,expected,code,attempts",
    [
        ("status:400", ProviderResponseError, "LLM_BAD_GATEWAY", 1),
        ("html:400", ProviderResponseError, "LLM_BAD_GATEWAY", 1),
        ("status:401", ProviderResponseError, "LLM_BAD_GATEWAY", 1),
        ("model-not-found", ModelNotFoundError, "LLM_MODEL_NOT_FOUND", 1),
        ("html:404", ModelNotFoundError, "LLM_MODEL_NOT_FOUND", 1),
        ("status:500", ProviderUnavailableError, "LLM_UNAVAILABLE", 4),
        ("html:502", ProviderUnavailableError, "LLM_UNAVAILABLE", 4),
        ("status:503", ProviderUnavailableError, "LLM_UNAVAILABLE", 4),
        ("no-models-loaded", ProviderUnavailableError, "LLM_UNAVAILABLE", 1),
        ("context-overflow", ContextOverflowError, "LLM_CONTEXT_OVERFLOW", 1),
        ("context-overflow-llamacpp", ContextOverflowError, "LLM_CONTEXT_OVERFLOW", 1),
        ("context-overflow-openai", ContextOverflowError, "LLM_CONTEXT_OVERFLOW", 1),
    ],
)
async def test_error_status_on_a_streaming_request(
    fake_openai_provider, fake_openai, behaviour, expected, code, attempts
):
    exc = await stream_error(fake_openai_provider, behaviour, expected)
    assert type(exc) is expected
    assert exc.code == code
    assert exc.partial_text == ""
    assert fake_openai.attempts(behaviour) == attempts  # max_retries=3: 5xx tried 4 times, others once


async def test_html_body_never_reaches_the_message(fake_openai_provider):
    exc = await stream_error(fake_openai_provider, "html:400", ProviderResponseError)
    assert "<" not in exc.message and "400 Bad Request" in exc.message


async def test_no_models_loaded_message_tells_the_user_what_to_do(make_fake_provider):
    provider = make_fake_provider(kind="lm_studio")
    exc = await stream_error(provider, "no-models-loaded", ProviderUnavailableError)
    assert "No models loaded" in exc.message
    assert exc.details["reason"] == "no_model_loaded"


async def test_rate_limit_after_retries_passes_retry_after_on(make_fake_provider, fake_openai):
    provider = make_fake_provider(max_retries=1)
    exc = await stream_error(provider, "rate-limit-ms:50", Exception)
    assert exc.code == "LLM_RATE_LIMITED" and exc.http_status == 429
    assert exc.retry_after == pytest.approx(0.05)
    assert fake_openai.attempts("rate-limit-ms:50") == 2


# --- a 200 that is not a stream -----------------------------------------------------------------
async def test_server_ignoring_stream_true_still_yields_the_whole_answer(fake_openai_provider):
    chunks = await collect(fake_openai_provider, "ignore-stream")
    assert text_of(chunks) == expected_text(8)
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage.completion_tokens == 8


async def test_json_error_at_http_200_on_a_stream_request_raises(fake_openai_provider):
    exc = await stream_error(fake_openai_provider, "json-error-200", ProviderResponseError)
    assert exc.code == "LLM_BAD_GATEWAY" and "Unexpected endpoint" in exc.message


async def test_html_page_at_http_200_on_a_stream_request_raises(fake_openai_provider):
    exc = await stream_error(fake_openai_provider, "html-200", ProviderResponseError)
    assert exc.details["reason"] == "unexpected_content_type" and "<" not in exc.message
