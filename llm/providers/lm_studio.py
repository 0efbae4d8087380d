"""WHAT: `LMStudioProvider`: LM Studio's local server (OpenAI-compatible, default http://localhost:1234/v1).
WHY: LM Studio can say which models are loaded (its native REST API, /api/v0/models), which the status
     endpoint and health check show; its error texts ("No models loaded", context overflow) are
     classified in llm/upstream/errors.py like every other server's.
HOW: the generic provider, plus a model list that asks the native API first and falls back to /v1/models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from llm.exceptions import LLMError, ProviderTimeoutError, ProviderUnavailableError
from llm.providers.openai_compatible import OpenAICompatibleProvider
from llm.types import ModelInfo

__all__ = ["LMStudioProvider"]


class LMStudioProvider(OpenAICompatibleProvider):
    """LM Studio; no key needed (one is sent if LM_STUDIO_API_KEY is set, for servers that require it)."""

    kind: ClassVar[str] = "lm_studio"
    label: ClassVar[str] = "LM Studio"

    def native_url(self, path: str) -> str:
        root = self.client.base_url
        if root.endswith("/v1"):
            root = root[: -len("/v1")]
        return f"{root}/api/v0/{path.lstrip('/')}"

    async def _models(self, *, timeout: float | None, retries: bool) -> list[ModelInfo]:
        try:
            data = await self.client.get_json(self.native_url("models"), timeout=timeout, retries=retries)
        except (ProviderUnavailableError, ProviderTimeoutError):
            raise  # the server itself is not there; /v1/models would fail the same way
        except LLMError:
            data = None  # an older LM Studio, or another server behind this URL: use the OpenAI list
        items = data.get("data") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            return await self.client.list_models(timeout=timeout, retries=retries)
        return [
            ModelInfo(id=item["id"], owned_by=str(item.get("publisher") or ""), loaded=item.get("state") == "loaded")
            for item in items
            if isinstance(item, Mapping) and isinstance(item.get("id"), str)
        ]

    async def list_models(self) -> list[ModelInfo]:
        self.ensure_usable()
        return await self._models(timeout=None, retries=True)

    async def probe(self, *, timeout: float) -> list[str]:
        models = await self._models(timeout=timeout, retries=False)
        return [m.id for m in models if m.loaded is not False]
