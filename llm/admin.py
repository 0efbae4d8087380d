"""WHAT: the admin for `ProviderConfig`: list, edit and add LLM providers.
WHY: operators add OpenAI-compatible servers (Ollama, vLLM, llama.cpp) and tune timeouts without a
     deploy; they need to see whether a provider's key is set, and must never see the key.
HOW: the key's presence is computed from the environment at render time ("yes"/"no"); the form only
     ever holds the NAME of the key's environment variable. Saving invalidates the registry (signals).
"""
from django.contrib import admin

from llm.models import ProviderConfig, ProviderKind


@admin.register(ProviderConfig)
class ProviderConfigAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "base_url", "default_model", "enabled", "key_status", "updated_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "base_url", "default_model")
    readonly_fields = ("key_status", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "base_url", "default_model", "enabled")}),
        ("Key", {"fields": ("api_key_env", "key_status"),
                 "description": "Only the NAME of the environment variable is stored; set the key in the "
                                "server's environment (.env). It is read on each request."}),
        ("Timeouts and retries", {"fields": ("timeout", "connect_timeout", "first_token_timeout", "idle_timeout",
                                             "max_retries", "retry_base_delay")}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="key set?")
    def key_status(self, obj: ProviderConfig) -> str:
        if not obj.api_key_env:
            return "not needed" if obj.kind != ProviderKind.OPENROUTER else "no"
        return "yes" if obj.key_is_set else "no"

    def get_changeform_initial_data(self, request):  # noqa: ANN001, ANN201 - Django signature
        return {"kind": ProviderKind.OPENAI_COMPATIBLE, **super().get_changeform_initial_data(request)}
