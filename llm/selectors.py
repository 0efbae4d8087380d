"""WHAT: reads of provider configuration: the env-defined providers and the `ProviderConfig` rows.
WHY: the registry needs one answer to "which providers exist, configured how", in sync and async code,
     and it must work before `migrate` has created the table (management commands, first start).
HOW: start from settings.LLM_PROVIDERS, then let each row override (or add) the provider of its name.
     Without the table (the database answers, the table is not there) the env-defined providers are the
     whole answer. Any other database error is raised: the registry then keeps the configuration it
     read last, because falling back to the environment would silently undo the admin's configuration
     (a disabled provider enabled again, an added one gone) for as long as the error lasts.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, connections

from llm.config import ProviderSettings, provider_settings_from_mapping
from llm.models import ProviderConfig

__all__ = ["aprovider_settings_all", "env_provider_settings", "provider_settings_all"]

logger = logging.getLogger(__name__)
_warned_no_table = False


def env_provider_settings() -> dict[str, ProviderSettings]:
    """The providers defined by the environment (settings.LLM_PROVIDERS), by name."""
    return {name: provider_settings_from_mapping(name, values) for name, values in settings.LLM_PROVIDERS.items()}


def _table_missing() -> bool:
    """True only when the database answers and has no provider table (before the first `migrate`)."""
    connection = connections[ProviderConfig.objects.db]
    try:
        with connection.cursor() as cursor:
            return ProviderConfig._meta.db_table not in connection.introspection.table_names(cursor)
    except DatabaseError:
        return False  # the database itself does not answer: that is an error, not a missing table


def _env_only() -> dict[str, ProviderSettings]:
    global _warned_no_table
    if not _warned_no_table:
        _warned_no_table = True
        logger.warning("No LLM provider table yet (run `manage.py migrate`); using the env-defined providers")
    return env_provider_settings()


def provider_settings_all() -> dict[str, ProviderSettings]:
    """Every configured provider, enabled or not, by name (sync code only).

    Raises DatabaseError when the rows cannot be read, except when their table does not exist."""
    try:
        rows = list(ProviderConfig.objects.all())
    except DatabaseError:
        if _table_missing():
            return _env_only()
        raise
    result = env_provider_settings()
    result.update({row.name: row.to_settings() for row in rows})
    return result


def _rows_on_a_clean_connection() -> list[ProviderConfig]:
    # Async callers run this in asgiref's shared sync thread, whose connection no request cycle looks
    # after (the registry is also read outside requests: the engine, health probes). So, as Django does
    # around a request, drop the connection before the
    # read if it broke or aged, and after it if it should not outlive it (CONN_MAX_AGE), except inside a
    # transaction, whose connection belongs to whoever opened it (a test's, say).
    rows = ProviderConfig.objects.all()
    connection = connections[rows.db]
    own = not connection.in_atomic_block
    if own:
        connection.close_if_unusable_or_obsolete()
    try:
        return list(rows)
    finally:
        if own:
            connection.close_if_unusable_or_obsolete()


async def aprovider_settings_all() -> dict[str, ProviderSettings]:
    """Async twin of `provider_settings_all`."""
    try:
        rows = await sync_to_async(_rows_on_a_clean_connection)()
    except DatabaseError:
        if await sync_to_async(_table_missing)():
            return _env_only()
        raise
    result = env_provider_settings()
    result.update({row.name: row.to_settings() for row in rows})
    return result
