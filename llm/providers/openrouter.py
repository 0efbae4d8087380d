"""WHAT: `OpenRouterProvider`: the OpenRouter cloud API (disabled by default; needs a key).
WHY: OpenRouter is OpenAI-compatible with quirks: a Bearer key, attribution headers (HTTP-Referer,
     X-Title), `: OPENROUTER PROCESSING` keep-alive comments, and errors reported at HTTP 200 as an
     `error` object with finish_reason "error". Comments and in-band errors are handled by the shared
     client (llm/upstream/sse.py, llm/upstream/client.py) for every provider, so only the headers and probe live here.
HOW: the key comes from the env var named in the configuration (default OPENROUTER_API_KEY), read per
     request; the health probe is GET /key, which checks reachability and the key in one small call.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings

from llm.providers.openai_compatible import OpenAICompatibleProvider

__all__ = ["OpenRouterProvider"]


class OpenRouterProvider(OpenAICompatibleProvider):
    """OpenRouter (https://openrouter.ai); unusable without its key."""

    kind: ClassVar[str] = "openrouter"
    label: ClassVar[str] = "OpenRouter"
    needs_key: ClassVar[bool] = True
    response_formats: ClassVar[frozenset[str]] = frozenset({"json_object", "json_schema"})

    def extra_headers(self) -> dict[str, str]:
        headers = {}
        if settings.OPENROUTER_APP_URL:
            headers["HTTP-Referer"] = settings.OPENROUTER_APP_URL
        if settings.OPENROUTER_APP_TITLE:
            headers["X-Title"] = settings.OPENROUTER_APP_TITLE
        return headers

    async def probe(self, *, timeout: float) -> list[str]:
        # The full model list is large; /key is tiny and also proves the key works.
        await self.client.get_json(self.client.url("key"), timeout=timeout, retries=False)
        return []
