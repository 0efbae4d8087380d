"""WHAT: `UsageMeter`, which counts the LLM calls, failures and tokens of one negotiation by wrapping the
     engine's provider resolver.
WHY: the event log records what was said, not what it cost; the evaluation needs calls and tokens per
     negotiation without touching the engine or the agents, whose only door to a model is the resolver.
HOW: `meter.wrap(resolver)` returns a resolver whose providers are `MeteredProvider`s. Each `stream()` is
     one call; it fails if anything raises or the stream is closed before its end (the agent's timeout).
     Tokens come from the stream's usage report; without one (llama-cpp-python's server when streaming),
     streamed text chunks count as completion tokens (one chunk is one token there), marked estimated.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from llm.protocol import Provider
from llm.types import ChatRequest, Chunk
from negotiations.agents.agent import ProviderResolver
from negotiations.evaluation.metrics import LLMUsage


class UsageMeter:
    def __init__(self) -> None:
        self.calls = 0
        self.failures = 0
        self.prompt_tokens: int | None = None
        self.completion_tokens = 0
        self.estimated_calls = 0

    def wrap(self, resolver: ProviderResolver) -> ProviderResolver:
        async def metered(name: str | None) -> Provider:
            try:
                provider = await resolver(name)
            except BaseException:
                self.calls += 1  # the agent resolves once per call, so this call is lost
                self.failures += 1
                raise
            return MeteredProvider(provider, self)  # type: ignore[return-value]

        return metered

    def record(self, *, ok: bool, prompt_tokens: int | None, completion_tokens: int, estimated: bool) -> None:
        self.calls += 1
        if not ok:
            self.failures += 1
        if prompt_tokens is not None:
            self.prompt_tokens = (self.prompt_tokens or 0) + prompt_tokens
        self.completion_tokens += completion_tokens
        if estimated:
            self.estimated_calls += 1

    def usage(self) -> LLMUsage:
        return LLMUsage(self.calls, self.failures, self.prompt_tokens, self.completion_tokens, self.estimated_calls)


class MeteredProvider:
    """A provider that reports each `stream()` to a meter; everything else is the wrapped provider's."""

    def __init__(self, inner: Provider, meter: UsageMeter) -> None:
        self._inner = inner
        self._meter = meter

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        chunks = 0
        usage = None
        finished = False
        try:
            async with contextlib.aclosing(self._inner.stream(request)) as inner:  # type: ignore[type-var]
                async for chunk in inner:
                    if chunk.delta:
                        chunks += 1
                    if chunk.usage is not None:
                        usage = chunk.usage
                    yield chunk
            finished = True
        finally:
            self._meter.record(
                ok=finished,
                prompt_tokens=usage.prompt_tokens if usage else None,
                completion_tokens=usage.completion_tokens if usage else chunks,
                estimated=usage is None and (finished or chunks > 0),
            )
