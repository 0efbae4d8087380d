"""WHAT: the `llm` app: provider layer, streaming, ProviderConfig model and admin, LLM HTTP views.
HOW: `ready()` connects the signal handlers (llm/signals.py) and registers the system checks (llm/checks.py).
"""

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


class LlmConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "llm"
    verbose_name = "LLM providers"

    def ready(self) -> None:
        from llm import checks  # noqa: F401  (registers the checks)
        from llm.models import ProviderConfig
        from llm.signals import provider_config_changed, seed_provider_configs

        post_migrate.connect(seed_provider_configs, sender=self, dispatch_uid="llm.seed_provider_configs")
        post_save.connect(provider_config_changed, sender=ProviderConfig, dispatch_uid="llm.provider_config_saved")
        post_delete.connect(provider_config_changed, sender=ProviderConfig, dispatch_uid="llm.provider_config_deleted")
