"""WHAT: reads of provider configuration: the env-defined providers and the `ProviderConfig` rows.
WHY: the registry needs one answer to "which providers exist, configured how", in sync and async code,
     and it must work before `migrate` has created the table (management commands, first start).
HOW: start from settings.LLM_PROVIDERS, then let each row override (or add) the provider of its name.
     A missing table or unreachable database leaves the env-defined providers (logged once).
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError

from llm.config import ProviderSettings, provider_settings_from_mapping
from llm.models import ProviderConfig

__all__ = ["aprovider_settings_all", "env_provider_settings", "provider_settings_all"]

logger = logging.getLogger(__name__)
_warned = False


def env_provider_settings() -> dict[str, ProviderSettings]:
    """The providers defined by the environment (settings.LLM_PROVIDERS), by name."""
    return {name: provider_settings_from_mapping(name, values) for name, values in settings.LLM_PROVIDERS.items()}


def _database_unavailable(exc: DatabaseError) -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning("LLM provider rows unreadable (%s); using the env-defined providers", type(exc).__name__)


def provider_settings_all() -> dict[str, ProviderSettings]:
    """Every configured provider, enabled or not, by name (sync code only)."""
    result = env_provider_settings()
    try:
        rows = list(ProviderConfig.objects.all())
    except DatabaseError as exc:
        _database_unavailable(exc)
        return result
    result.update({row.name: row.to_settings() for row in rows})
    return result


async def aprovider_settings_all() -> dict[str, ProviderSettings]:
    """Async twin of `provider_settings_all`."""
    result = env_provider_settings()
    try:
        rows = [row async for row in ProviderConfig.objects.all()]
    except DatabaseError as exc:
        _database_unavailable(exc)
        return result
    result.update({row.name: row.to_settings() for row in rows})
    return result
