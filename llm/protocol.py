"""WHAT: the `Provider` protocol every LLM backend implements.
WHY: agents, views and health checks depend on this contract only, so adding a backend is one small
     class (as in Simon Willison's `llm`) and tests can swap in a scripted fake.
HOW: async-only. `stream()` is an async generator of `Chunk`s; closing it early (`aclose()`, or a
     cancelled task) closes the upstream connection. Errors are `llm.exceptions.LLMError` subclasses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from llm.types import ChatRequest, Chunk, Completion, ModelInfo, ProviderHealth


@runtime_checkable
class Provider(Protocol):
    name: str
    can_stream: bool
    needs_key: bool

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
