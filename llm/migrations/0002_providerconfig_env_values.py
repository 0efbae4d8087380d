"""Per-field memory of the environment values `migrate` applied (`env_values`), replacing one fingerprint
of all of them: a changed variable now rewrites only its own field, not the admin's edits of the others.

Rows whose fingerprint matches today's environment get today's values as applied (their admin edits
survive); any other row gets {} and so takes every environment value at the next sync, as it would have
before this migration.
"""
import hashlib
import json

from django.conf import settings
from django.db import migrations, models

# The fields the environment set when 0001 was current (frozen here: the migration must not follow code).
_ENV_FIELDS = (
    "kind", "base_url", "default_model", "enabled", "timeout", "connect_timeout", "first_token_timeout",
    "idle_timeout", "max_retries", "retry_base_delay", "api_key_env",
)


def _env_values(name):
    values = getattr(settings, "LLM_PROVIDERS", {}).get(name)
    if values is None:
        return None
    return {field: values[field] for field in _ENV_FIELDS if field in values}


def _fingerprint(values):
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def fingerprint_to_env_values(apps, schema_editor):
    ProviderConfig = apps.get_model("llm", "ProviderConfig")
    for row in ProviderConfig.objects.using(schema_editor.connection.alias).exclude(env_fingerprint=""):
        env = _env_values(row.name)
        if env is not None and _fingerprint(env) == row.env_fingerprint:
            row.env_values = env
            row.save(update_fields=["env_values"])


class Migration(migrations.Migration):

    dependencies = [
        ("llm", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="providerconfig",
            name="env_values",
            field=models.JSONField(blank=True, default=dict, editable=False),
        ),
        migrations.RunPython(fingerprint_to_env_values, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="providerconfig",
            name="env_fingerprint",
        ),
    ]
