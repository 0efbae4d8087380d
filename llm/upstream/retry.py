"""WHAT: when to retry an upstream call (`should_retry`), how long to wait (`retry_delay`), and the loop
that does it (`call_with_retries`).
WHY: local servers hiccup (model loading, a restart) and cloud ones rate-limit, so transient failures
     deserve a few patient retries; but a retry must never duplicate output the caller already has, and
     never hammer a server over a request that cannot succeed (a 400, an overflowing prompt).
HOW: what is retried, the backoff and Retry-After: docs/gateway.md ("Retries"; RETRYABLE_STATUSES here).
     Callers wrap only the part before the first byte of a response body in the loop, so nothing is ever
     retried once a chunk could have been passed on. Every decision is logged with its reason (never headers).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from llm.exceptions import ContextOverflowError, LLMError, ProviderTimeoutError

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "call_with_retries", "retry_delay", "should_retry"]

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RETRYABLE_REASONS = frozenset({"connect_error", "disconnected_before_response"})
DEFAULT_MAX_DELAY = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries after the first attempt, the backoff base and the cap, in seconds."""

    max_retries: int = 3
    base_delay: float = 2.0
    max_delay: float = DEFAULT_MAX_DELAY


def should_retry(exc: BaseException) -> tuple[bool, str]:
    """Whether a failed attempt may be repeated, and why (for the log)."""
    if not isinstance(exc, LLMError):
        return False, f"{type(exc).__name__} is not an upstream failure"
    if isinstance(exc, ContextOverflowError):
        return False, "context overflow: the same prompt cannot fit next time either"
    if exc.details.get("in_band"):
        return False, "the upstream reported an error inside a 200 response"
    if isinstance(exc, ProviderTimeoutError) and exc.details.get("phase") == "connect":
        return True, "connect timeout"
    reason = exc.details.get("reason")
    if reason in RETRYABLE_REASONS:
        return True, str(reason)
    status = exc.details.get("upstream_status")
    if status in RETRYABLE_STATUSES:
        return True, f"HTTP {status}"
    if status is not None:
        return False, f"HTTP {status} is not retryable"
    return False, f"{type(exc).__name__} ({exc.details.get('phase') or reason or 'no phase'}) is not retryable"


def retry_delay(
    attempt: int,
    retry_after: float | None = None,
    *,
    base_delay: float = 2.0,
    max_delay: float = DEFAULT_MAX_DELAY,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number `attempt` (0 for the first retry)."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), max_delay)
    backoff = min(base_delay * (2**attempt), max_delay)
    # Jitter spreads the retries of many clients that failed together (x0.5..1.0 of the backoff).
    return backoff * (1.0 - 0.5 * rand())


def _retry_after_of(exc: LLMError) -> float | None:
    value = getattr(exc, "retry_after", None)
    if value is None:
        value = exc.details.get("retry_after")
    return float(value) if value is not None else None


async def call_with_retries(
    attempt_once: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    provider: str,
    operation: str,
    deadline: float | None = None,
) -> T:
    """Run `attempt_once` until it succeeds, a failure is not retryable, retries run out, or waiting
    would pass `deadline` (a `time.monotonic()` value). The last failure is raised unchanged."""
    attempt = 0
    while True:
        try:
            return await attempt_once()
        except LLMError as exc:
            retry, reason = should_retry(exc)
            tries = f"attempt {attempt + 1}/{policy.max_retries + 1}"
            if not retry:
                logger.info("%s %s failed, not retrying (%s): %s", provider, operation, reason, exc.code)
                raise
            if attempt >= policy.max_retries:
                logger.warning("%s %s failed, %s, giving up (%s)", provider, operation, tries, reason)
                raise
            retry_after = _retry_after_of(exc)
            if retry_after is not None and retry_after > policy.max_delay:
                logger.warning(
                    "%s %s failed, %s, giving up: the upstream asks for a %.2fs wait, more than the %.2fs cap (%s)",
                    provider,
                    operation,
                    tries,
                    retry_after,
                    policy.max_delay,
                    reason,
                )
                raise
            delay = retry_delay(attempt, retry_after, base_delay=policy.base_delay, max_delay=policy.max_delay)
            if deadline is not None and time.monotonic() + delay >= deadline:
                logger.warning(
                    "%s %s failed, %s, giving up: a %.2fs wait would pass the total timeout (%s)",
                    provider,
                    operation,
                    tries,
                    delay,
                    reason,
                )
                raise
            logger.warning("%s %s failed, %s, retrying in %.2fs (%s)", provider, operation, tries, delay, reason)
            await asyncio.sleep(delay)
            attempt += 1
