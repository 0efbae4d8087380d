"""WHAT: writes of provider configuration: `provider_config_sync_from_settings()` puts the env-defined
providers (settings.LLM_PROVIDERS) into `ProviderConfig` rows.
WHY: `migrate` must leave one row per env-defined provider so the admin lists them, without undoing an
     admin's later edits on every restart (`make run` migrates each time).
HOW: a row is created when missing; afterwards a field is overwritten from the environment only when
     its environment value differs from the one applied last time (`env_values` on the row), so an
     admin's edit of one field survives a change of another field's variable. Values the row's validation
     refuses are never written: llm/checks.py reports them first, by the same rules.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, transaction

from llm.models import ProviderConfig

__all__ = ["ENV_FIELDS", "SYNCED_FIELDS", "provider_config_env_errors", "provider_config_sync_from_settings"]

logger = logging.getLogger(__name__)

# The row fields an entry of settings.LLM_PROVIDERS sets.
ENV_FIELDS = (
    "kind",
    "base_url",
    "default_model",
    "enabled",
    "timeout",
    "connect_timeout",
    "first_token_timeout",
    "idle_timeout",
    "max_retries",
    "retry_base_delay",
    "api_key_env",
)
# Every field the sync reads or writes: a model (state) without one of them cannot be synced.
SYNCED_FIELDS = frozenset({"name", "env_values", *ENV_FIELDS})


def _row_values(values: dict[str, Any]) -> dict[str, Any]:
    return {field: values[field] for field in ENV_FIELDS if field in values}


def provider_config_env_errors(*, name: str, values: dict[str, Any]) -> dict[str, list[str]]:
    """What the row's validation says of one entry of settings.LLM_PROVIDERS, by field ({}: valid)."""
    row = ProviderConfig(name=name, **_row_values(values))
    try:
        row.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        return exc.message_dict
    return {}


def provider_config_sync_from_settings(
    *, using: str = DEFAULT_DB_ALIAS, model: type[ProviderConfig] = ProviderConfig
) -> list[ProviderConfig]:
    """Create or refresh the rows of the env-defined providers; returns the rows written.

    `model` is the current class by default; the post_migrate handler passes the migration state's.
    """
    written = []
    with transaction.atomic(using=using):
        for name, values in settings.LLM_PROVIDERS.items():
            env_values = _row_values(values)
            row = model._default_manager.using(using).filter(name=name).first()
            if row is None:
                row, changed = model(name=name), env_values
            else:
                applied = row.env_values or {}
                changed = {f: v for f, v in env_values.items() if f not in applied or applied[f] != v}
                if not changed:
                    continue
            for field, value in changed.items():
                setattr(row, field, value)
            row.env_values = env_values
            try:
                row.full_clean(validate_unique=False, validate_constraints=False)
            except ValidationError as exc:
                # Only reachable with --skip-checks: the system checks refuse these values first.
                logger.warning(
                    "LLM provider %r: invalid environment values for %s; row not written (see `manage.py check`)",
                    name,
                    ", ".join(sorted(exc.message_dict)),
                )
                continue
            row.save(using=using)
            written.append(row)
    return written
