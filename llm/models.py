"""WHAT: `ProviderConfig`, one row per LLM provider: where it is, which model by default, its timeouts
and retries, whether it is enabled, and the NAME of the environment variable holding its key.
WHY: admins add OpenAI-compatible servers (Ollama, vLLM, llama.cpp) and tune providers without a
     deploy; an edit takes effect on the next request (the registry re-reads rows on save). The key
     itself never enters the database: only its variable's name does, and URLs with credentials in
     them are refused for the same reason.
HOW: `migrate` creates and updates the rows of the env-defined providers (a post_migrate handler, see
     llm/services.py); `to_settings()` gives the frozen `ProviderSettings` the providers run with.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from llm.config import DEFAULT_MAX_RETRIES, DEFAULT_RETRY_BASE_DELAY, ProviderSettings, Timeouts
from llm.providers import PROVIDER_CLASSES

__all__ = ["ProviderConfig", "ProviderKind"]

ENV_VAR_NAME = RegexValidator(
    r"^[A-Z_][A-Z0-9_]*$",
    "Enter the NAME of an environment variable (e.g. OLLAMA_API_KEY), never the key itself.",
)
_TIMEOUT_BOUNDS = [MinValueValidator(0.1), MaxValueValidator(3600)]


# The kinds are the provider classes' (llm/providers/__init__.py); members: LM_STUDIO, OPENROUTER, ...
ProviderKind = models.TextChoices(
    "ProviderKind", [(cls.kind.upper(), (cls.kind, cls.label)) for cls in PROVIDER_CLASSES.values()]
)


# A host name: `localhost`, `lmstudio.lan`, or a bare docker-compose service / LAN name (`ollama`, `my-gpu-box`).
_HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$")


def validate_base_url(value: str) -> None:
    """An http(s) URL with a host, and nothing in it that could carry a secret (user info, query, fragment).

    Django's URLValidator is not used: it refuses single-label host names such as `ollama` or
    `lmstudio`, which is what docker-compose services and LAN machines are called.
    """
    example = "e.g. http://localhost:1234/v1 or http://ollama:11434/v1"
    if not value:
        raise ValidationError(f"Enter the server's API root, {example}.", code="required")
    if any(character.isspace() for character in value):
        raise ValidationError(f"Enter a URL without spaces, {example}.", code="invalid")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0-65535
    except ValueError:
        raise ValidationError(f"Enter a valid URL, {example}.", code="invalid") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(f"Enter an http:// or https:// URL, {example}.", code="invalid")
    if "@" in parts.netloc:
        raise ValidationError(
            "Do not put credentials in the URL; name the key's environment variable instead.", code="credentials"
        )
    if "?" in value or "#" in value:
        raise ValidationError(
            "The base URL takes no query string or fragment (keys belong in the environment).", code="query"
        )
    host = parts.hostname or ""
    if not (_HOST_NAME.match(host) or _is_ip_address(host)):
        raise ValidationError(f"Enter a URL with a valid host name or IP address, {example}.", code="invalid")


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class ProviderConfig(models.Model):
    """One configured LLM provider."""

    name = models.SlugField(max_length=64, unique=True, help_text="Used in requests as `provider`.")
    kind = models.CharField(max_length=32, choices=ProviderKind.choices, default=ProviderKind.OPENAI_COMPATIBLE)
    base_url = models.CharField(
        max_length=500,
        validators=[validate_base_url],
        help_text="The OpenAI-compatible API root, e.g. http://localhost:11434/v1 for Ollama.",
    )
    default_model = models.CharField(max_length=200, help_text="Used when a request names no model.")
    enabled = models.BooleanField(default=True)
    timeout = models.FloatField("total timeout (s)", default=Timeouts.total, validators=_TIMEOUT_BOUNDS)
    connect_timeout = models.FloatField("connect timeout (s)", default=Timeouts.connect, validators=_TIMEOUT_BOUNDS)
    first_token_timeout = models.FloatField(
        "first-token timeout (s)", default=Timeouts.first_token, validators=_TIMEOUT_BOUNDS
    )
    idle_timeout = models.FloatField("idle timeout (s)", default=Timeouts.idle, validators=_TIMEOUT_BOUNDS)
    max_retries = models.PositiveSmallIntegerField(default=DEFAULT_MAX_RETRIES, validators=[MaxValueValidator(10)])
    retry_base_delay = models.FloatField(
        "retry base delay (s)",
        default=DEFAULT_RETRY_BASE_DELAY,
        validators=[MinValueValidator(0.0), MaxValueValidator(60.0)],
    )
    api_key_env = models.CharField(
        "API key environment variable",
        max_length=100,
        blank=True,
        validators=[ENV_VAR_NAME],
        help_text="The NAME of the environment variable that holds the key (the key is never stored).",
    )
    # The environment's values last applied by `migrate`, by field: `migrate` re-applies a field only
    # when its environment value changed since, so an admin's edit of another field survives restarts
    # (and `make run` switching LM_STUDIO_DEFAULT_MODEL between the bundled model and LM Studio).
    env_values = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "LLM provider"

    def __str__(self) -> str:
        return self.name

    @property
    def key_is_set(self) -> bool:
        return self.to_settings().key_is_set

    def to_settings(self) -> ProviderSettings:
        return ProviderSettings(
            name=self.name,
            kind=self.kind,
            base_url=self.base_url.rstrip("/"),
            default_model=self.default_model,
            enabled=self.enabled,
            timeouts=Timeouts(
                total=self.timeout,
                connect=self.connect_timeout,
                first_token=self.first_token_timeout,
                idle=self.idle_timeout,
            ),
            max_retries=self.max_retries,
            retry_base_delay=self.retry_base_delay,
            api_key_env=self.api_key_env,
        )
