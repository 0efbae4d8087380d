"""WHAT: the provider layer's error tree: `LLMError` (a marketplace.errors.ApplicationError) and one
      subclass per way an upstream fails (disabled, unknown, timeout, unavailable, bad response,
      interrupted stream, rate limited, context overflow, unknown model); docs/gateway.md has the codes.
WHY: callers (HTTP views, SSE streams, negotiation agents) handle upstream failure by kind, never by
     parsing messages; code and status sit on the class so the error table lives in exactly one place.
HOW: the shared OpenAI-compatible client translates httpx errors and upstream bodies into these at one
     boundary (`raise ... from exc`). Messages are safe to show to clients: no keys, no tracebacks.
     `response_headers` adds `x-should-retry: false` to a 5xx and passes an upstream's Retry-After on.
"""

from __future__ import annotations

from typing import Any

from marketplace.errors import ApplicationError

__all__ = [
    "ContextOverflowError",
    "LLMError",
    "ModelNotFoundError",
    "ProviderDisabledError",
    "ProviderRateLimitedError",
    "ProviderResponseError",
    "ProviderTimeoutError",
    "ProviderUnavailableError",
    "StreamInterruptedError",
    "UnknownProviderError",
]


class LLMError(ApplicationError):
    """Base of every provider-layer failure; `provider` names the provider involved, if any."""

    code = "LLM_ERROR"
    http_status = 500
    default_message = "The language model request failed."

    def __init__(
        self,
        message: str | None = None,
        *,
        provider: str | None = None,
        details: dict[str, Any] | None = None,
        partial_text: str = "",
    ) -> None:
        details = dict(details or {})
        if provider:
            details.setdefault("provider", provider)
        super().__init__(message, details=details)
        self.provider = provider
        # Text already received when a stream failed; kept so callers can show or log it.
        self.partial_text = partial_text

    @property
    def response_headers(self) -> dict[str, str]:
        headers = {}
        # By the time a 5xx leaves the gateway it has retried what its policy allows; OpenAI's SDKs
        # retry 5xx twice more on their own unless told not to, which would triple the upstream load.
        if self.http_status >= 500:
            headers["x-should-retry"] = "false"
        # An upstream's Retry-After (e.g. on a 503, passed on at once when beyond our retry cap) is the
        # client's to honour.
        retry_after = self.details.get("retry_after")
        if isinstance(retry_after, (int, float)):
            headers["Retry-After"] = str(max(1, round(retry_after)))
        return headers


class ProviderDisabledError(LLMError):
    """Raised when a provider that is switched off (e.g. OpenRouter by default) is asked to work."""

    code = "LLM_PROVIDER_DISABLED"
    http_status = 400
    default_message = "This LLM provider is disabled."


class UnknownProviderError(LLMError):
    """Raised by the registry when no provider has the requested name."""

    code = "LLM_UNKNOWN_PROVIDER"
    http_status = 400
    default_message = "Unknown LLM provider."


class ProviderTimeoutError(LLMError):
    """Raised when connect, time-to-first-token, idle-gap or total time runs out (`details.phase`)."""

    code = "LLM_TIMEOUT"
    http_status = 503
    default_message = "The LLM provider timed out."


class ProviderUnavailableError(LLMError):
    """Raised when the provider cannot be reached, or reports that it cannot serve (no model loaded, 5xx)."""

    code = "LLM_UNAVAILABLE"
    http_status = 503
    default_message = "The LLM provider is unavailable."


class ProviderResponseError(LLMError):
    """Raised when the provider answers with something that is not a valid answer (bad JSON, 4xx, in-band error)."""

    code = "LLM_BAD_GATEWAY"
    http_status = 502
    default_message = "The LLM provider returned an invalid response."


class StreamInterruptedError(ProviderResponseError):
    """Raised when a stream ends without `[DONE]` or a finish reason; `partial_text` holds what arrived."""

    default_message = "The LLM stream ended before it was complete."


class ProviderRateLimitedError(LLMError):
    """Raised on HTTP 429 after retries; `retry_after` (seconds) is passed on to our client."""

    code = "LLM_RATE_LIMITED"
    http_status = 429
    default_message = "The LLM provider is rate limiting requests."

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        if retry_after is not None:
            self.details.setdefault("retry_after", retry_after)


class ContextOverflowError(LLMError):
    """Raised when the prompt does not fit the model's context window; never retried."""

    code = "LLM_CONTEXT_OVERFLOW"
    http_status = 400
    default_message = "The prompt is too long for the model's context window."


class ModelNotFoundError(LLMError):
    """Raised when the provider does not know the requested model."""

    code = "LLM_MODEL_NOT_FOUND"
    http_status = 404
    default_message = "The requested model was not found."
