"""WHAT: Django system checks for the LLM configuration (llm.E001 ... llm.E010 but E007, llm.W001; each
      is listed in docs/configuration.md).
WHY: a typo in LLM_PROVIDER, a negative retry count, a base URL without http:// or an enabled OpenRouter
     without its key should stop `runserver`/`migrate`/`check` with a clear message, not fail on the
     first user request, nor as a traceback in the middle of `migrate` when it writes the provider rows.
HOW: plain functions registered with `checks.register`. The env-defined providers are checked with the
     rules the `ProviderConfig` row applies (llm/services.py); what needs the provider rows is tagged
     `database`, so `migrate` and `check --database` run it, never `runserver`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DatabaseError

from llm.config import ProviderSettings, provider_settings_from_mapping
from llm.models import ProviderConfig
from llm.providers import PROVIDER_CLASSES, OpenAICompatibleProvider
from llm.services import provider_config_env_errors
from marketplace.gateway_keys import gateway_keys

# The check id for a refused field of a provider (the admin refuses the same values, with the same rules).
_FIELD_CHECK_IDS = {
    "name": "llm.E002",
    "kind": "llm.E002",
    "max_retries": "llm.E003",
    "retry_base_delay": "llm.E003",
    "timeout": "llm.E004",
    "connect_timeout": "llm.E004",
    "first_token_timeout": "llm.E004",
    "idle_timeout": "llm.E004",
    "base_url": "llm.E008",
    "default_model": "llm.E009",
    "api_key_env": "llm.E010",
}
_VALUE_NOT_SHOWN = {"base_url", "api_key_env"}  # could hold a secret someone pasted in the wrong place


def _provider_rows(databases: Any) -> list[Any] | None:
    """The `ProviderConfig` rows of the given databases; None when no database is given or readable."""
    if not databases:
        return None
    rows: list[Any] = []
    readable = False
    for alias in databases:
        try:
            rows.extend(ProviderConfig.objects.using(alias).all())
            readable = True
        except DatabaseError:
            continue  # before the first migrate: nothing to check there yet
    return rows if readable else None


@checks.register(checks.Tags.database)
def check_default_provider(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """LLM_PROVIDER names an env-defined provider, or (with databases) a row's."""
    if settings.LLM_PROVIDER in settings.LLM_PROVIDERS:
        return []
    rows = _provider_rows(databases)
    if rows is None:
        return []  # it may be a provider added in the admin; only the rows can tell
    names = set(settings.LLM_PROVIDERS) | {row.name for row in rows}
    if settings.LLM_PROVIDER in names:
        return []
    return [
        checks.Error(
            f"LLM_PROVIDER names an unknown provider: {settings.LLM_PROVIDER!r}.",
            hint=f"Use one of {sorted(names)}, or add it in the admin (LLM providers).",
            id="llm.E001",
        )
    ]


def _field_errors(
    name: str, errors_by_field: dict[str, list[str]], values: dict[str, Any], *, source: str
) -> list[checks.CheckMessage]:
    errors = []
    for field, messages in errors_by_field.items():
        shown = "" if field in _VALUE_NOT_SHOWN else f" {values.get(field)!r}"
        errors.append(
            checks.Error(
                f"LLM provider {name!r}: {field}{shown} is refused: {' '.join(messages)}",
                hint=source.format(name=name, field=field, NAME=name.upper(), FIELD=field.upper()),
                id=_FIELD_CHECK_IDS.get(field, "llm.E002"),
            )
        )
    return errors


def _missing_key_error(config: ProviderSettings, *, hint: str) -> list[checks.CheckMessage]:
    needs_key = PROVIDER_CLASSES.get(config.kind, OpenAICompatibleProvider).needs_key
    if not (needs_key and config.enabled and not config.key_is_set):
        return []
    return [
        checks.Error(
            f"LLM provider {config.name!r} is enabled but its key is not set.",
            hint=f"Set the environment variable {config.api_key_env or '(none named)'}, or {hint}.",
            id="llm.E005",
        )
    ]


_ENV_SOURCE = "It comes from the environment variable {NAME}_{FIELD} (settings.LLM_PROVIDERS[{name!r}][{field!r}])."
_ROW_SOURCE = "Edit the provider {name!r} in the admin (LLM providers)."


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
        errors.extend(
            _field_errors(name, provider_config_env_errors(name=name, values=values), values, source=_ENV_SOURCE)
        )
        errors.extend(_missing_key_error(config, hint=f"disable the provider ({name.upper()}_ENABLED=false)"))
    return errors


@checks.register(checks.Tags.database)
def check_provider_rows(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The rows that differ from the environment (added or edited in the admin): values and keys."""
    from django.core.exceptions import ValidationError

    rows = _provider_rows(databases) or []
    env = {}
    for name, values in settings.LLM_PROVIDERS.items():
        try:
            env[name] = provider_settings_from_mapping(name, values)
        except (KeyError, TypeError, ValueError):
            continue  # reported by check_provider_settings
    errors: list[checks.CheckMessage] = []
    for row in rows:
        config = row.to_settings()
        if env.get(row.name) == config:
            continue  # exactly the environment's values: check_provider_settings covers them
        try:
            row.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            values = {field: getattr(row, field, None) for field in exc.message_dict}
            errors.extend(_field_errors(row.name, exc.message_dict, values, source=_ROW_SOURCE))
        errors.extend(_missing_key_error(config, hint=f"disable the provider {row.name!r} in the admin"))
    return errors


@checks.register(checks.Tags.security)
def check_gateway_keys(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W001: DEBUG off, no LLM_GATEWAY_API_KEYS, and an enabled provider whose key is set."""
    if settings.DEBUG or gateway_keys():
        return []
    configs: dict[str, ProviderSettings] = {}
    for name, values in settings.LLM_PROVIDERS.items():
        try:
            configs[name] = provider_settings_from_mapping(name, values)
        except (KeyError, TypeError, ValueError):
            continue  # reported by check_provider_settings
    configs.update({row.name: row.to_settings() for row in _provider_rows(databases) or []})
    spending = sorted(name for name, config in configs.items() if config.enabled and config.key_is_set)
    if not spending:
        return []
    return [
        checks.Warning(
            f"The LLM gateway is open while provider(s) {', '.join(spending)} have an API key: anyone who "
            "reaches this server can spend it through /api/v1/llm/chat/completions.",
            hint="Set LLM_GATEWAY_API_KEYS to one or more keys of your own; clients then send "
            "`Authorization: Bearer <key>` (the OpenAI SDK's api_key).",
            id="llm.W001",
        )
    ]


@checks.register()
def check_llm_knobs(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    if settings.LLM_RETRY_MAX_DELAY <= 0:
        errors.append(checks.Error("LLM_RETRY_MAX_DELAY must be positive.", id="llm.E003"))
    for knob in (
        "LLM_STREAM_MAX_TOKENS",
        "LLM_STREAM_MAX_CHARS",
        "LLM_STREAM_MAX_SECONDS",
        "LLM_STREAM_COALESCE_CHARS",
        "LLM_STREAM_COALESCE_MS",
        "LLM_CONFIG_CACHE_SECONDS",
    ):
        if getattr(settings, knob, 0) < 0:
            errors.append(checks.Error(f"{knob} must not be negative (0 disables it).", id="llm.E006"))
    if settings.LLM_SSE_MAX_LINE_BYTES < 1024:
        errors.append(checks.Error("LLM_SSE_MAX_LINE_BYTES must be at least 1024.", id="llm.E006"))
    return errors
