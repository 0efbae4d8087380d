"""WHAT: a logging filter that masks secrets in every log record.
WHY: API keys must never reach logs, even when a library or a careless message includes them
     (an Authorization header in a debug line, a URL with a key in it).
HOW: masks `Bearer <token>` patterns, `?token=` URL parameters (negotiation streams), the user info of
     URLs (`http://user:pass@host`, a base URL with credentials in a library's message) and the current
     values of environment variables whose names look secret (…KEY, …SECRET, …TOKEN, …PASSWORD), in the
     message and its arguments, before formatting.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

_SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD)$", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# A negotiation token in a URL (`?token=`, used by browsers' EventSource), e.g. in runserver's access log.
_QUERY_TOKEN = re.compile(r"([?&](?:token|access_token)=)[^&\s\"'#]+", re.IGNORECASE)
# user[:password]@ after a URL scheme.
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^\s/?#@]+@", re.IGNORECASE)
_MASK = "[REDACTED]"
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words


# Names of environment variables that hold a provider's key whatever they are called (an admin may name
# any variable, e.g. VLLM_AUTH): the registry adds every configured `api_key_env` (remember_key_variables).
_key_variables: frozenset[str] = frozenset()


def remember_key_variables(names: set[str] | frozenset[str]) -> None:
    """Mask the values of these environment variables from now on (names only; values are read per record)."""
    global _key_variables
    new = frozenset(name for name in names if name) - _key_variables
    if new:
        _key_variables = _key_variables | new


def secret_values() -> list[str]:
    """The secret-looking environment values, the configured providers' keys and the gateway's keys,
    longest first so overlapping secrets mask fully."""
    environ = os.environ
    values = {v for k, v in environ.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LENGTH}
    values.update(v for v in (environ.get(name, "") for name in _key_variables) if len(v) >= _MIN_SECRET_LENGTH)
    values.update(key for key in _gateway_keys() if len(key) >= _MIN_SECRET_LENGTH)
    return sorted(values, key=len, reverse=True)


def _gateway_keys() -> list[str]:
    """settings.LLM_GATEWAY_API_KEYS: their variable's value is a list, which the name rule cannot mask."""
    from django.conf import settings

    if not settings.configured:
        return []
    return [key.strip() for key in getattr(settings, "LLM_GATEWAY_API_KEYS", ()) if key]


def redact_structure(value: Any) -> Any:
    """`value` (str, or dicts/lists/tuples of them, e.g. an error's `details`) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_structure(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_structure(item) for item in value]
    return value


def redact(text: str) -> str:
    for value in secret_values():
        if value in text:
            text = text.replace(value, _MASK)
    text = _URL_USERINFO.sub(r"\1" + _MASK + "@", text)
    return _QUERY_TOKEN.sub(r"\1" + _MASK, _BEARER.sub(r"\1" + _MASK, text))


class RedactSecretsFilter(logging.Filter):
    """Attach to handlers; rewrites the record's final message with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        cleaned = redact(message)
        record.msg, record.args = cleaned, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
