"""WHAT: turn what an upstream said when it failed (an HTTP status and body, or an in-band `{"error":...}`
payload at HTTP 200) into the exception from `llm.exceptions` that names the failure.
WHY: callers branch on the class (ContextOverflowError is the user's fault and never retried, "No models
     loaded" means the server is up but cannot serve, ...). Servers say these things in different words,
     so the words are matched here, once, against the texts real servers send (see the citations on
     each marker), and nowhere else.
HOW: pure functions over status, headers and bytes, no network. Messages are short, safe to show
     (truncated, secrets masked, HTML reduced to its title) and keep the upstream's own words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from llm.config import public_url
from llm.exceptions import (
    ContextOverflowError,
    LLMError,
    ModelNotFoundError,
    ProviderRateLimitedError,
    ProviderResponseError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from marketplace.logging import redact

__all__ = ["error_from_payload", "error_from_response", "parse_retry_after", "upstream_message"]

_MAX_MESSAGE_CHARS = 300

# Lower-case substrings. Each names the server that sends it.
CONTEXT_OVERFLOW_MARKERS: tuple[str, ...] = (
    "context_length_exceeded",  # OpenAI error code
    "maximum context length",  # OpenAI / OpenRouter / vLLM message ("This model's maximum context length is ...")
    "exceeds the available context size",  # llama.cpp server: "request (N tokens) exceeds the available context size"
    "exceed_context_size_error",  # llama.cpp server error type
    "context the overflows",  # LM Studio: "Trying to keep the first N tokens when context the overflows."
    "greater than the context length",  # LM Studio: "The number of tokens to keep ... is greater than the context length"
    "context size has been exceeded",  # LM Studio MLX engine
    "reached context length",  # LM Studio: "Reached context length of N tokens with model ... mid-generation"
)
NO_MODEL_LOADED_MARKERS: tuple[str, ...] = (
    "no models loaded",  # LM Studio: "No models loaded. Please load a model in the developer page ..."
)
MODEL_NOT_FOUND = re.compile(
    r"model_not_found"  # OpenAI error code
    r"|model\b[^.]{0,120}?\bnot found"  # Ollama: 'model "x" not found, try pulling it first'
    r"|does not exist"  # OpenAI: "The model `x` does not exist"
    r"|invalid model identifier"  # LM Studio: 'Invalid model identifier "x"'
    r"|not a valid model id",  # OpenRouter: "x is not a valid model ID"
    re.IGNORECASE,
)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _short(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _MAX_MESSAGE_CHARS:
        text = text[: _MAX_MESSAGE_CHARS - 1] + "…"
    return redact(text)


def upstream_message(error: Any) -> tuple[str, Any]:
    """The message and code inside an OpenAI-style `error` value (an object, or LM Studio's plain string)."""
    if isinstance(error, str):
        return error, None
    if isinstance(error, Mapping):
        message = error.get("message") or error.get("error") or error.get("detail") or ""
        if not isinstance(message, str):
            message = json.dumps(message)[:_MAX_MESSAGE_CHARS]
        return message, error.get("code") or error.get("type")
    return "", None


def _matches(text: str, markers: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in markers)


def _body_message(body: bytes, content_type: str) -> tuple[str, Any, bool]:
    """(message, upstream code, is_html) from an error response body."""
    stripped = body.lstrip()
    if "html" in content_type.lower() or stripped[:1] == b"<":
        title = _TITLE.search(body)
        text = title.group(1).decode("utf-8", "replace") if title else ""
        return text.strip(), None, True
    try:
        parsed = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace"), None, False
    if isinstance(parsed, Mapping):
        if "error" in parsed:
            message, code = upstream_message(parsed["error"])
            return message, code, False
        if isinstance(parsed.get("message"), str):
            return parsed["message"], parsed.get("code"), False
        if isinstance(parsed.get("detail"), str):  # FastAPI-based servers (vLLM, llama-cpp-python)
            return parsed["detail"], None, False
    return body.decode("utf-8", "replace"), None, False


def error_from_response(
    *,
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    provider: str,
    model: str | None = None,
) -> LLMError:
    """The exception for a non-2xx upstream response."""
    message, code, is_html = _body_message(body, headers.get("content-type", ""))
    details: dict[str, Any] = {"upstream_status": status}
    if code is not None and isinstance(code, (str, int)):
        details["upstream_code"] = code
    if model:
        details["model"] = model
    retry_after = parse_retry_after(headers)
    if retry_after is not None and status != 429:  # e.g. a 503 that says when to come back
        details["retry_after"] = retry_after
    said = _short(message) if message else ""
    if is_html:
        said = f"an HTML page{': ' + said if said else ''}"
    if 300 <= status < 400:  # redirects are not followed: a base URL that redirects is a configuration error
        location = public_url(headers.get("location", ""))
        if location:
            details["location"] = location
        said = f"a redirect{' to ' + location if location else ''}; set the provider's base URL to where it points"
    prefix = f"Provider '{provider}' answered HTTP {status}"
    text = f"{prefix}: {said}" if said else prefix
    haystack = f"{message} {code or ''}"
    if _matches(haystack, CONTEXT_OVERFLOW_MARKERS):
        return ContextOverflowError(text, provider=provider, details=details)
    if _matches(haystack, NO_MODEL_LOADED_MARKERS):
        return ProviderUnavailableError(text, provider=provider, details={**details, "reason": "no_model_loaded"})
    if status == 429:
        return ProviderRateLimitedError(text, retry_after=retry_after, provider=provider, details=details)
    if status == 404 or (400 <= status < 500 and MODEL_NOT_FOUND.search(haystack)):
        return ModelNotFoundError(text, provider=provider, details=details)
    if status == 408:
        return ProviderTimeoutError(text, provider=provider, details={**details, "phase": "upstream"})
    if status >= 500:
        return ProviderUnavailableError(text, provider=provider, details=details)
    return ProviderResponseError(text, provider=provider, details=details)


def error_from_payload(error: Any, *, provider: str, partial_text: str = "", model: str | None = None) -> LLMError:
    """The exception for an in-band `{"error": ...}` at HTTP 200 (mid-stream, or a 200 body)."""
    message, code = upstream_message(error)
    details: dict[str, Any] = {"in_band": True}
    if code is not None and isinstance(code, (str, int)):
        details["upstream_code"] = code
    if model:
        details["model"] = model
    said = _short(message) if message else "an error without a message"
    text = f"Provider '{provider}' reported an error: {said}"
    haystack = f"{message} {code or ''}"
    if _matches(haystack, CONTEXT_OVERFLOW_MARKERS):
        return ContextOverflowError(text, provider=provider, details=details, partial_text=partial_text)
    if _matches(haystack, NO_MODEL_LOADED_MARKERS):
        details["reason"] = "no_model_loaded"
        return ProviderUnavailableError(text, provider=provider, details=details, partial_text=partial_text)
    return ProviderResponseError(text, provider=provider, details=details, partial_text=partial_text)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the upstream asked us to wait: `retry-after-ms`, else `Retry-After` (seconds or HTTP-date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            value = float(raw_ms) / 1000
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
        return value if value >= 0 else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
