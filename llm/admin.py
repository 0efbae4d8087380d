"""WHAT: the admin for `ProviderConfig`: list, edit and add LLM providers.
WHY: operators add OpenAI-compatible servers (Ollama, vLLM, llama.cpp) and tune timeouts without a
     deploy; they need to see whether a provider's key is set, and must never see the key.
HOW: the key's presence is computed from the environment at render time ("yes", "no" when the kind
     needs one, else "not needed"); the form only ever holds the NAME of the key's environment
     variable. Saving invalidates the registry (signals).
"""

from django.contrib import admin

from llm.models import ProviderConfig, ProviderKind
from llm.providers import PROVIDER_CLASSES, OpenAICompatibleProvider


@admin.register(ProviderConfig)
class ProviderConfigAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "base_url", "default_model", "enabled", "key_status", "updated_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "base_url", "default_model")
    readonly_fields = ("key_status", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "base_url", "default_model", "enabled")}),
        (
            "Key",
            {
                "fields": ("api_key_env", "key_status"),
                "description": "Only the NAME of the environment variable is stored; set the key in the "
                "server's environment (.env). It is read on each request.",
            },
        ),
        (
            "Timeouts and retries",
            {
                "fields": (
                    "timeout",
                    "connect_timeout",
                    "first_token_timeout",
                    "idle_timeout",
                    "max_retries",
                    "retry_base_delay",
                )
            },
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="key set?")
    def key_status(self, obj: ProviderConfig) -> str:
        if obj.key_is_set:
            return "yes"
        # Whether a key is needed is the provider class's policy (OpenRouter's), not whether a variable
        # is named: lm_studio names LM_STUDIO_API_KEY for servers that want one, yet LM Studio needs none.
        return "no" if PROVIDER_CLASSES.get(obj.kind, OpenAICompatibleProvider).needs_key else "not needed"

    def get_changeform_initial_data(self, request):
        return {"kind": ProviderKind.OPENAI_COMPATIBLE, **super().get_changeform_initial_data(request)}
