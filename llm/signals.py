"""WHAT: signal handlers of the `llm` app: seed provider rows after `migrate`, and drop the registry's
cached configuration whenever a `ProviderConfig` row changes.
WHY: `migrate` must leave the env-defined providers in the admin, and an admin's edit must apply on the
     next request without a restart.
HOW: connected in `LlmConfig.ready()` with dispatch_uids. The seeding handler works on the model as the
     migration state that was just reached has it (the signal's `apps`), never the current class: after
     `migrate auth` on a fresh database, `migrate llm zero` or `migrate llm <older>`, the table is
     absent or has other columns, and there is nothing to seed until `llm` is fully migrated.
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS, connections

from llm import registry
from llm.services import SYNCED_FIELDS, provider_config_sync_from_settings

logger = logging.getLogger(__name__)


def seed_provider_configs(
    sender: Any, *, using: str = DEFAULT_DB_ALIAS, apps: Any = global_apps, **kwargs: Any
) -> None:
    try:
        model = apps.get_model("llm", "ProviderConfig")
    except LookupError:
        return  # `llm` is not migrated in this database (yet, or any more)
    columns = {field.name for field in model._meta.get_fields()}
    if not columns >= SYNCED_FIELDS:
        logger.info("llm is migrated to an older state; provider rows are synced after a full migrate")
        return
    connection = connections[using]
    with connection.cursor() as cursor:
        if model._meta.db_table not in connection.introspection.table_names(cursor):
            return
    provider_config_sync_from_settings(using=using, model=model)


def provider_config_changed(sender: Any, **kwargs: Any) -> None:
    registry.invalidate()
