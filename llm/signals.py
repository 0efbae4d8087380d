"""WHAT: signal handlers of the `llm` app: seed provider rows after `migrate`, and drop the registry's
cached configuration whenever a `ProviderConfig` row changes.
WHY: `migrate` must leave the env-defined providers in the admin, and an admin's edit must apply on the
     next request without a restart.
HOW: connected in `LlmConfig.ready()` with dispatch_uids; the handlers only call a service or the
     registry, no logic of their own.
"""
from __future__ import annotations

from typing import Any

from llm import registry
from llm.services import provider_config_sync_from_settings


def seed_provider_configs(sender: Any, *, using: str = "default", **kwargs: Any) -> None:
    provider_config_sync_from_settings(using=using)


def provider_config_changed(sender: Any, **kwargs: Any) -> None:
    registry.invalidate()
