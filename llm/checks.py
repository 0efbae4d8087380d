"""WHAT: Django system checks for the LLM configuration (llm.E001 ... llm.E010).
WHY: a typo in LLM_PROVIDER, a negative retry count, a base URL without http:// or an enabled OpenRouter
     without its key should stop `runserver`/`migrate`/`check` with a clear message, not fail on the
     first user request, nor as a traceback in the middle of `migrate` when it writes the provider rows.
HOW: plain functions registered with `checks.register`; they read settings and, best effort, the
     `ProviderConfig` rows (a provider added in the admin may be the default). Imported in `ready()`.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DatabaseError

from llm.config import provider_settings_from_mapping
from llm.services import provider_config_env_errors

INSECURE_SECRET_KEY = "dev-insecure-secret-key-change-me"


def _configured_names() -> set[str]:
    names = set(settings.LLM_PROVIDERS)
    try:
        from llm.models import ProviderConfig

        names.update(ProviderConfig.objects.values_list("name", flat=True))
    except DatabaseError:
        pass  # before the first migrate: the env-defined providers are all there is
    return names


@checks.register()
def check_default_provider(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.LLM_PROVIDER in settings.LLM_PROVIDERS:
        return []
    if settings.LLM_PROVIDER in _configured_names():
        return []
    return [
        checks.Error(
            f"LLM_PROVIDER names an unknown provider: {settings.LLM_PROVIDER!r}.",
            hint=f"Use one of {sorted(_configured_names())}, or add it in the admin (LLM providers).",
            id="llm.E001",
        )
    ]


# The check id for a refused field of a provider (the admin refuses the same values, with the same rules).
_FIELD_CHECK_IDS = {
    "name": "llm.E002", "kind": "llm.E002",
    "max_retries": "llm.E003", "retry_base_delay": "llm.E003",
    "timeout": "llm.E004", "connect_timeout": "llm.E004", "first_token_timeout": "llm.E004", "idle_timeout": "llm.E004",
    "base_url": "llm.E008", "default_model": "llm.E009", "api_key_env": "llm.E010",
}
_VALUE_NOT_SHOWN = {"base_url", "api_key_env"}  # could hold a secret someone pasted in the wrong place


def _field_errors(name: str, values: dict[str, Any]) -> list[checks.CheckMessage]:
    errors = []
    for field, messages in provider_config_env_errors(name=name, values=values).items():
        shown = "" if field in _VALUE_NOT_SHOWN else f" {values.get(field)!r}"
        errors.append(
            checks.Error(
                f"LLM provider {name!r}: {field}{shown} is refused: {' '.join(messages)}",
                hint=f"It comes from the environment variable {name.upper()}_{field.upper()} "
                f"(settings.LLM_PROVIDERS[{name!r}][{field!r}]).",
                id=_FIELD_CHECK_IDS.get(field, "llm.E002"),
            )
        )
    return errors


@checks.register()
def check_provider_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The env-defined providers, by the rules `migrate` applies when it writes their rows."""
    errors: list[checks.CheckMessage] = []
    for name, values in settings.LLM_PROVIDERS.items():
        try:
            config = provider_settings_from_mapping(name, values)
        except (KeyError, TypeError, ValueError) as exc:
            errors.append(checks.Error(f"LLM provider {name!r} is misconfigured: {exc!r}.", id="llm.E002"))
            continue
        errors.extend(_field_errors(name, values))
        if config.kind == "openrouter" and config.enabled and not config.key_is_set:
            errors.append(
                checks.Error(
                    f"LLM provider {name!r} is enabled but its key is not set.",
                    hint=f"Set the environment variable {config.api_key_env or 'OPENROUTER_API_KEY'}, "
                    "or disable the provider (OPENROUTER_ENABLED=false).",
                    id="llm.E005",
                )
            )
    return errors


@checks.register()
def check_llm_knobs(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    if settings.LLM_RETRY_MAX_DELAY <= 0:
        errors.append(checks.Error("LLM_RETRY_MAX_DELAY must be positive.", id="llm.E003"))
    for knob in ("LLM_STREAM_MAX_TOKENS", "LLM_STREAM_MAX_CHARS", "LLM_STREAM_MAX_SECONDS",
                 "LLM_STREAM_COALESCE_CHARS", "LLM_STREAM_COALESCE_MS", "LLM_CONFIG_CACHE_SECONDS"):
        if getattr(settings, knob, 0) < 0:
            errors.append(checks.Error(f"{knob} must not be negative (0 disables it).", id="llm.E006"))
    if settings.LLM_SSE_MAX_LINE_BYTES < 1024:
        errors.append(checks.Error("LLM_SSE_MAX_LINE_BYTES must be at least 1024.", id="llm.E006"))
    if not settings.DEBUG and settings.SECRET_KEY == INSECURE_SECRET_KEY:
        errors.append(
            checks.Error("DJANGO_SECRET_KEY is the development default while DEBUG is off.",
                         hint="Set DJANGO_SECRET_KEY to a long random string.", id="llm.E007")
        )
    return errors
