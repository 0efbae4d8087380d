"""WHAT: `LMStudioProvider`: LM Studio's local server (OpenAI-compatible, default http://localhost:1234/v1).
WHY: LM Studio can say which models are loaded (its native REST API, /api/v0/models), which status and
     health show; it constrains output to a JSON schema, but takes only `json_schema`, while the llama.cpp
     servers also found at this URL (the bundled model's) take `json_object` with a `schema` instead.
HOW: the generic provider, plus a model list that asks the native API first (falling back to /v1/models),
     and a `response_format` in the dialect of the server found there (native API answers: LM Studio's).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any, ClassVar

from django.conf import settings

from llm.exceptions import LLMError, ProviderTimeoutError, ProviderUnavailableError
from llm.providers.openai_compatible import OpenAICompatibleProvider
from llm.types import ChatRequest, Chunk, Completion, ModelInfo

__all__ = ["LMStudioProvider"]


class LMStudioProvider(OpenAICompatibleProvider):
    """LM Studio; no key needed (one is sent if LM_STUDIO_API_KEY is set, for servers that require it)."""

    kind: ClassVar[str] = "lm_studio"
    label: ClassVar[str] = "LM Studio"
    response_formats: ClassVar[frozenset[str]] = frozenset({"json_object", "json_schema"})
    _native: bool | None = None  # does LM Studio's native API answer here? None: not asked yet

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

    # --- constrained output ---------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> Completion:
        if request.response_format is None:
            return await super().complete(request)
        self.ensure_usable()
        return await self.client.complete(await self._in_dialect(request), model=self.model_for(request))

    def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        if request.response_format is None:
            return super().stream(request)
        self.ensure_usable()
        return self._stream_in_dialect(request, self.model_for(request))

    async def _stream_in_dialect(self, request: ChatRequest, model: str) -> AsyncIterator[Chunk]:
        stream = self.client.stream(await self._in_dialect(request), model=model)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await stream.aclose()  # closing this stream closes the upstream at once

    async def _in_dialect(self, request: ChatRequest) -> ChatRequest:
        """`json_schema` for LM Studio (a `json_object` becomes a schema of any object); for another
        server here, `json_object` with the schema, as llama.cpp's servers take it."""
        request = self.supported(request)
        form = request.response_format
        if form is None:
            return request
        schema: Any = (form.get("json_schema") or {}).get("schema") if form.get("type") == "json_schema" else None
        schema = schema if isinstance(schema, Mapping) else form.get("schema") or {"type": "object"}
        if await self._is_lm_studio():
            if form.get("type") == "json_object":
                form = {"type": "json_schema", "json_schema": {"name": "json_object", "schema": schema}}
        else:
            form = {"type": "json_object", "schema": schema}
        return replace(request, response_format=form)

    async def _is_lm_studio(self) -> bool:
        """Asked once per provider instance (a changed configuration is a new instance); a server that
        does not answer at all is not remembered, and its request will report the failure."""
        if self._native is None:
            try:
                data = await self.client.get_json(
                    self.native_url("models"), timeout=settings.HEALTH_LLM_PROBE_TIMEOUT, retries=False
                )
            except (ProviderUnavailableError, ProviderTimeoutError):
                return True
            except LLMError:
                data = None
            self._native = isinstance(data, Mapping) and isinstance(data.get("data"), list)
        return self._native
