"""WHAT: `OpenAICompatibleProvider`, the generic provider: any server that speaks the OpenAI Chat
     Completions API (llama.cpp's server, Ollama, vLLM, ...), and the base of LM Studio and OpenRouter.
WHY: the `Provider` protocol (llm/protocol.py) is what agents, views and health checks use; this class maps
     it onto the shared HTTP client and adds provider policy: enabled or not, whether a key is needed,
     the default model, and a health probe that never raises.
HOW: one instance per configuration (the registry caches it); `config`, a frozen `ProviderSettings`, is read
     here and by the registry only (callers read the protocol's properties). Configuration problems raise
     as soon as `stream()` is called, upstream ones while iterating. Subclasses override the headers/probes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import ClassVar

import httpx
from django.conf import settings

from llm.config import ProviderSettings
from llm.exceptions import LLMError, ModelNotFoundError, ProviderDisabledError
from llm.types import ChatRequest, Chunk, Completion, ModelInfo, ProviderHealth
from llm.upstream.client import OpenAICompatibleClient

__all__ = ["OpenAICompatibleProvider"]

logger = logging.getLogger(__name__)


class OpenAICompatibleProvider:
    """A provider for any OpenAI-compatible server; a Bearer key is sent when its env var is set."""

    kind: ClassVar[str] = "openai_compatible"
    label: ClassVar[str] = "OpenAI-compatible (Ollama, vLLM, llama.cpp, ...)"
    can_stream: ClassVar[bool] = True
    needs_key: ClassVar[bool] = False
    # Constrained-output types passed on upstream (a request's other types are dropped); the generic
    # server's support is unknown (some reject the field), so none.
    response_formats: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        config: ProviderSettings,
        *,
        transport_factory: Callable[[], httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self.config = config
        self.client = OpenAICompatibleClient(
            config,
            headers=self.request_headers,
            transport_factory=transport_factory,
            max_line_bytes=settings.LLM_SSE_MAX_LINE_BYTES,
            retry_max_delay=settings.LLM_RETRY_MAX_DELAY,
            linear_pool=settings.LLM_LINEAR_POOL,
        )

    # --- what callers may read (the Provider protocol); `config` itself stays inside llm ------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    @property
    def default_model(self) -> str:
        return self.config.default_model

    @property
    def base_url(self) -> str:
        return self.config.public_base_url

    @property
    def key_is_set(self) -> bool:
        return self.config.key_is_set

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.config.public_base_url}>"

    # --- policy ---------------------------------------------------------------------------------
    def request_headers(self) -> dict[str, str]:
        """Headers for every upstream request, built per request so a rotated key applies at once."""
        headers = self.extra_headers()
        key = self.config.api_key
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def extra_headers(self) -> dict[str, str]:
        return {}

    def ensure_usable(self) -> None:
        """Raise ProviderDisabledError when this provider is switched off or lacks its key."""
        if not self.config.enabled:
            raise ProviderDisabledError(f"LLM provider '{self.name}' is disabled.", provider=self.name)
        if self.needs_key and not self.config.key_is_set:
            raise ProviderDisabledError(
                f"LLM provider '{self.name}' needs an API key: set the environment variable "
                f"{self.config.api_key_env or '(none configured)'}.",
                provider=self.name,
                details={"reason": "missing_api_key", "api_key_env": self.config.api_key_env},
            )

    def model_for(self, request: ChatRequest) -> str:
        model = request.model or self.config.default_model
        if not model:
            raise ModelNotFoundError(
                f"No model was requested and provider '{self.name}' has no default model.", provider=self.name
            )
        return model

    # --- the Provider protocol ------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> Completion:
        self.ensure_usable()
        return await self.client.complete(self.supported(request), model=self.model_for(request))

    def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        self.ensure_usable()
        return self.client.stream(self.supported(request), model=self.model_for(request))

    def supported(self, request: ChatRequest) -> ChatRequest:
        """`request` without a `response_format` this server does not take (see `response_formats`)."""
        kind = (request.response_format or {}).get("type")
        if request.response_format is None or kind in self.response_formats:
            return request
        return replace(request, response_format=None)

    async def list_models(self) -> list[ModelInfo]:
        self.ensure_usable()
        return await self.client.list_models()

    async def health(self) -> ProviderHealth:
        """A short probe (settings.HEALTH_LLM_PROBE_TIMEOUT, no retries). Never raises."""
        try:
            self.ensure_usable()
        except ProviderDisabledError as exc:
            return ProviderHealth(provider=self.name, available=False, error=exc.message)
        started = time.monotonic()
        try:
            models = await self.probe(timeout=settings.HEALTH_LLM_PROBE_TIMEOUT)
        except LLMError as exc:
            return ProviderHealth(self.name, False, _ms_since(started), error=exc.message)
        except Exception as exc:  # a health check reports; it must not take the caller down
            logger.exception("%s health probe failed unexpectedly", self.name)
            return ProviderHealth(self.name, False, _ms_since(started), error=f"Unexpected error: {type(exc).__name__}")
        return ProviderHealth(self.name, True, _ms_since(started), models=tuple(models))

    async def probe(self, *, timeout: float) -> list[str]:
        """Cheapest request that proves the server serves; returns model ids (loaded ones where known)."""
        models = await self.client.list_models(timeout=timeout, retries=False)
        return [m.id for m in models if m.loaded is not False]

    async def aclose(self) -> None:
        await self.client.aclose()


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
