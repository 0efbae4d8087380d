"""Retry predicate, backoff delays and the retry loop (no network: the attempts are scripted)."""

import logging

import pytest

from llm.exceptions import (
    ContextOverflowError,
    ModelNotFoundError,
    ProviderRateLimitedError,
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    StreamInterruptedError,
)
from llm.upstream.retry import RetryPolicy, call_with_retries, retry_delay, should_retry


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried(status):
    assert should_retry(ProviderUnavailableError(details={"upstream_status": status}))[0] is True


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
def test_other_statuses_are_not_retried(status):
    retry, reason = should_retry(ProviderResponseError(details={"upstream_status": status}))
    assert retry is False
    assert str(status) in reason


def test_connect_errors_and_connect_timeouts_are_retried():
    assert should_retry(ProviderUnavailableError(details={"reason": "connect_error"}))[0]
    assert should_retry(ProviderUnavailableError(details={"reason": "disconnected_before_response"}))[0]
    assert should_retry(ProviderTimeoutError(details={"phase": "connect"}))[0]


@pytest.mark.parametrize("phase", ["first_token", "idle", "total", "read"])
def test_read_side_timeouts_are_not_retried(phase):
    assert should_retry(ProviderTimeoutError(details={"phase": phase}))[0] is False


def test_context_overflow_is_never_retried_whatever_the_status():
    assert should_retry(ContextOverflowError(details={"upstream_status": 503}))[0] is False


def test_in_band_errors_and_interrupted_streams_are_not_retried():
    assert should_retry(ProviderResponseError(details={"in_band": True, "upstream_status": 500}))[0] is False
    assert should_retry(StreamInterruptedError(details={"reason": "connection_lost"}))[0] is False


def test_foreign_exceptions_are_not_retried():
    assert should_retry(ValueError("x"))[0] is False


def test_backoff_doubles_per_attempt_within_jitter_bounds():
    for attempt, full in [(0, 1.0), (1, 2.0), (2, 4.0)]:
        assert retry_delay(attempt, base_delay=1.0, max_delay=100, rand=lambda: 0.0) == full
        assert retry_delay(attempt, base_delay=1.0, max_delay=100, rand=lambda: 1.0) == full / 2


def test_backoff_is_capped():
    assert retry_delay(10, base_delay=2.0, max_delay=30.0, rand=lambda: 0.0) == 30.0


def test_retry_after_wins_over_backoff_and_is_capped():
    assert retry_delay(0, 7.0, base_delay=0.01, max_delay=30.0) == 7.0
    assert retry_delay(0, 120.0, base_delay=0.01, max_delay=30.0) == 30.0
    assert retry_delay(3, 0.0, base_delay=2.0, max_delay=30.0) == 0.0


class Script:
    """Attempts that fail with the given exceptions in order, then return "ok"."""

    def __init__(self, *failures):
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


FAST = RetryPolicy(max_retries=3, base_delay=0.001, max_delay=0.01)


async def test_loop_retries_transient_failures_then_succeeds(caplog):
    attempt = Script(
        ProviderUnavailableError(details={"upstream_status": 503}),
        ProviderUnavailableError(details={"reason": "connect_error"}),
    )
    with caplog.at_level(logging.WARNING, logger="llm.upstream.retry"):
        assert await call_with_retries(attempt, policy=FAST, provider="p", operation="op") == "ok"
    assert attempt.calls == 3
    reasons = [r.getMessage() for r in caplog.records]
    assert "HTTP 503" in reasons[0] and "connect_error" in reasons[1]


async def test_loop_gives_up_after_max_retries_with_the_last_error():
    last = ProviderUnavailableError("last", details={"upstream_status": 502})
    attempt = Script(*[ProviderUnavailableError(details={"upstream_status": 502})] * 3, last)
    with pytest.raises(ProviderUnavailableError) as info:
        await call_with_retries(attempt, policy=FAST, provider="p", operation="op")
    assert info.value is last
    assert attempt.calls == 4


async def test_loop_does_not_retry_a_permanent_failure():
    attempt = Script(ModelNotFoundError(details={"upstream_status": 404}))
    with pytest.raises(ModelNotFoundError):
        await call_with_retries(attempt, policy=FAST, provider="p", operation="op")
    assert attempt.calls == 1


async def test_loop_stops_when_the_wait_would_pass_the_deadline():
    import time

    attempt = Script(ProviderRateLimitedError(retry_after=5.0, details={"upstream_status": 429}))
    policy = RetryPolicy(max_retries=3, base_delay=0.001, max_delay=30.0)
    with pytest.raises(ProviderRateLimitedError):
        await call_with_retries(attempt, policy=policy, provider="p", operation="op", deadline=time.monotonic() + 1)
    assert attempt.calls == 1


async def test_loop_does_not_retry_when_the_upstream_asks_for_more_than_the_cap(caplog):
    # waiting the capped 30 s and retrying an upstream that said "come back in an hour" only delays the
    # client; it gets the 429 (with its Retry-After) at once instead
    error = ProviderRateLimitedError(retry_after=3600.0, details={"upstream_status": 429})
    attempt = Script(error)
    policy = RetryPolicy(max_retries=3, base_delay=0.001, max_delay=30.0)
    with caplog.at_level(logging.WARNING, logger="llm.upstream.retry"), pytest.raises(ProviderRateLimitedError) as info:
        await call_with_retries(attempt, policy=policy, provider="p", operation="op")
    assert info.value is error and info.value.retry_after == 3600.0
    assert attempt.calls == 1
    assert "more than the 30.00s cap" in caplog.records[-1].getMessage()


async def test_loop_retries_when_the_upstream_asks_for_exactly_the_cap():
    attempt = Script(ProviderUnavailableError(details={"upstream_status": 503, "retry_after": 0.01}))
    policy = RetryPolicy(max_retries=3, base_delay=0.001, max_delay=0.01)
    assert await call_with_retries(attempt, policy=policy, provider="p", operation="op") == "ok"
    assert attempt.calls == 2
