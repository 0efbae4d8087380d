"""WHAT: the provider classes, by kind.
WHY: the registry turns a configuration's `kind` into a class here; adding a kind is one small class
     (as in Simon Willison's `llm`) plus one line in `PROVIDER_CLASSES`, the one list of kinds: the
     model's choices (`ProviderKind`) and the system checks follow it (a new kind needs a migration
     for the new choice).
HOW: every class is a configuration of `OpenAICompatibleProvider`; Ollama, vLLM and llama.cpp servers
     are plain `openai_compatible`.
"""

from __future__ import annotations

from llm.providers.lm_studio import LMStudioProvider
from llm.providers.openai_compatible import OpenAICompatibleProvider
from llm.providers.openrouter import OpenRouterProvider

__all__ = ["PROVIDER_CLASSES", "LMStudioProvider", "OpenAICompatibleProvider", "OpenRouterProvider"]

PROVIDER_CLASSES: dict[str, type[OpenAICompatibleProvider]] = {
    LMStudioProvider.kind: LMStudioProvider,
    OpenRouterProvider.kind: OpenRouterProvider,
    OpenAICompatibleProvider.kind: OpenAICompatibleProvider,
}
