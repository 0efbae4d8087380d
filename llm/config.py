"""WHAT: `ProviderSettings`, the typed, frozen configuration one provider instance runs with.
WHY: providers must not read settings or database rows themselves: the registry builds one of these
     from a `ProviderConfig` row (or from settings.LLM_PROVIDERS before the table exists), and a
     changed value means a changed object, so the registry can tell when to replace a provider.
HOW: the key is never stored here, only the NAME of its environment variable; `api_key` reads the
     environment at call time, so rotating a key needs no restart and no database write. A base URL
     may still carry credentials (`http://user:pass@host/v1`, `?key=`): whatever shows one (error
     messages, logs, status, reprs) shows `public_url()` of it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_BASE_DELAY",
    "ProviderSettings",
    "Timeouts",
    "provider_settings_from_mapping",
    "public_url",
]

# The seed's retry defaults; with `Timeouts`' defaults, the one place every default of a provider lives
# (settings, the ProviderConfig model and the mapping below all read them from here).
DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_BASE_DELAY = 2.0


def public_url(url: str) -> str:
    """`url` without user info, query or fragment, which may hold credentials ("" if unparseable)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return ""
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass(frozen=True)
class Timeouts:
    """Seconds. `total` bounds a whole request including retries and, for streams, the whole stream."""

    total: float = 30.0
    connect: float = 5.0
    first_token: float = 30.0
    idle: float = 30.0


@dataclass(frozen=True)
class ProviderSettings:
    """Everything a provider needs, except the key itself."""

    name: str
    kind: str
    base_url: str
    default_model: str
    enabled: bool = True
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_base_delay: float = DEFAULT_RETRY_BASE_DELAY
    api_key_env: str = ""

    @property
    def api_key(self) -> str:
        """The key, read from the environment now; "" when unset. Never log or store it."""
        return os.environ.get(self.api_key_env, "") if self.api_key_env else ""

    @property
    def key_is_set(self) -> bool:
        return bool(self.api_key)

    @property
    def public_base_url(self) -> str:
        """The base URL to show: without credentials (see `public_url`)."""
        return public_url(self.base_url)

    def __repr__(self) -> str:  # short, and without credentials a base URL may carry
        return f"ProviderSettings(name={self.name!r}, kind={self.kind!r}, base_url={self.public_base_url!r})"


def provider_settings_from_mapping(name: str, values: Mapping[str, Any]) -> ProviderSettings:
    """Build settings from one entry of settings.LLM_PROVIDERS (the env-defined providers)."""
    return ProviderSettings(
        name=name,
        kind=values.get("kind", "openai_compatible"),
        base_url=str(values["base_url"]).rstrip("/"),
        default_model=values.get("default_model", ""),
        enabled=bool(values.get("enabled", True)),
        timeouts=Timeouts(
            total=float(values.get("timeout", Timeouts.total)),
            connect=float(values.get("connect_timeout", Timeouts.connect)),
            first_token=float(values.get("first_token_timeout", Timeouts.first_token)),
            idle=float(values.get("idle_timeout", Timeouts.idle)),
        ),
        max_retries=int(values.get("max_retries", DEFAULT_MAX_RETRIES)),
        retry_base_delay=float(values.get("retry_base_delay", DEFAULT_RETRY_BASE_DELAY)),
        api_key_env=values.get("api_key_env", "") or "",
    )
