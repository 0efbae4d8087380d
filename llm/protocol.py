"""WHAT: the `Provider` protocol every LLM backend implements, and all that callers may read of one.
WHY: agents, views and health checks depend on this contract only, so adding a backend is one small
     class (as in Simon Willison's `llm`) and tests can swap in a scripted fake; nothing reaches past
     it to a provider's configuration, so a fake needs none and a backend may keep its own.
HOW: async-only. `stream()` is an async generator of `Chunk`s; closing it early (`aclose()`, or a
     cancelled task) closes the upstream connection. Errors are `llm.exceptions.LLMError` subclasses.
     `runtime_checkable`, so tests can check a class with `isinstance` (members' presence only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from llm.types import ChatRequest, Chunk, Completion, ModelInfo, ProviderHealth

__all__ = ["Provider"]


@runtime_checkable
class Provider(Protocol):
    """An LLM backend: what it is (read-only descriptors) and what it does (four async calls)."""

    @property
    def name(self) -> str:
        """The name it is configured and looked up under (`lm_studio`, a `ProviderConfig` row's name)."""
        ...

    @property
    def kind(self) -> str:
        """Its implementation (`lm_studio`, `openrouter`, `openai_compatible`, ...)."""
        ...

    @property
    def can_stream(self) -> bool:
        """Whether it streams tokens as they are generated."""
        ...

    @property
    def needs_key(self) -> bool:
        """Whether it is unusable without an API key."""
        ...

    @property
    def key_is_set(self) -> bool:
        """Whether an API key is configured. The key itself is never exposed."""
        ...

    @property
    def enabled(self) -> bool:
        """Whether it is switched on; a disabled provider raises ProviderDisabledError when used."""
        ...

    @property
    def default_model(self) -> str:
        """The model used when a request names none ("" when there is none)."""
        ...

    @property
    def base_url(self) -> str:
        """The server's URL, safe to show: without user info, query or fragment ("" when not HTTP)."""
        ...

    @property
    def response_formats(self) -> frozenset[str]:
        """The `ChatRequest.response_format` types it passes on (`json_object`, `json_schema`); empty: none."""
        ...

    async def complete(self, request: ChatRequest) -> Completion:
        """Run one non-streamed completion."""
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        """Stream a completion. The chunk with `finish_reason` ends the text; a usage-only chunk may follow.
        Configuration errors (disabled, missing key) raise when called; upstream errors while iterating.
        Never retried after the first chunk."""
        ...

    async def list_models(self) -> list[ModelInfo]:
        """The models the server offers (loaded ones flagged where the server tells)."""
        ...

    async def health(self) -> ProviderHealth:
        """Probe the server cheaply; never raises."""
        ...
