"""WHAT: writes of provider configuration: `provider_config_sync_from_settings()` puts the env-defined
providers (settings.LLM_PROVIDERS) into `ProviderConfig` rows.
WHY: `migrate` must leave one row per env-defined provider so the admin lists them, without undoing an
     admin's later edits on every restart (`make run` migrates each time).
HOW: a row is created when missing and overwritten from the environment only when the environment's
     values differ from those applied last time (a fingerprint stored on the row).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import transaction

from llm.models import ProviderConfig

__all__ = ["provider_config_sync_from_settings"]

_FIELDS = {
    "kind": "kind",
    "base_url": "base_url",
    "default_model": "default_model",
    "enabled": "enabled",
    "timeout": "timeout",
    "connect_timeout": "connect_timeout",
    "first_token_timeout": "first_token_timeout",
    "idle_timeout": "idle_timeout",
    "max_retries": "max_retries",
    "retry_base_delay": "retry_base_delay",
    "api_key_env": "api_key_env",
}


def _row_values(values: dict[str, Any]) -> dict[str, Any]:
    return {field: values[key] for key, field in _FIELDS.items() if key in values}


def _fingerprint(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


@transaction.atomic
def provider_config_sync_from_settings(*, using: str = "default") -> list[ProviderConfig]:
    """Create or refresh the rows of the env-defined providers; returns the rows written."""
    written = []
    for name, values in settings.LLM_PROVIDERS.items():
        fields = _row_values(values)
        fingerprint = _fingerprint(fields)
        row = ProviderConfig.objects.using(using).filter(name=name).first()
        if row is not None and row.env_fingerprint == fingerprint:
            continue
        row = row or ProviderConfig(name=name)
        for field, value in fields.items():
            setattr(row, field, value)
        row.env_fingerprint = fingerprint
        row.full_clean()
        row.save(using=using)
        written.append(row)
    return written
