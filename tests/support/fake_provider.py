"""WHAT: `FakeProvider`, a scripted stand-in for an LLM provider (implements llm.protocol.Provider).
WHY: negotiation tests need an LLM whose every word is chosen by the test — including misbehaviour
     (leaking a floor, accepting a price never offered) — and a record of every prompt it was sent, to
     prove an agent's prompt holds only what its side may see.
HOW: replies come from a queue (`enqueue`) or from `respond(request) -> str` (a function of the request
     is deterministic, which resume tests need). A reply may be an exception (raised before the first
     chunk), a `Stall` (sleeps, for timeout/cancel tests) or a `Crash` (a BaseException that escapes the
     engine's error handling, simulating a process dying mid-turn). Streams are word-sized chunks.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import SimpleNamespace

from llm.types import ChatRequest, Chunk, Completion, ModelInfo, ProviderHealth, Usage

DEFAULT_REPLY = "Let me think about that."


class Crash(BaseException):
    """Simulates the process dying: not an Exception, so no handler in the engine catches it."""


@dataclass(frozen=True)
class Stall:
    """Sleep `seconds` before answering `then` (stalls past a timeout, or until cancelled)."""

    seconds: float
    then: str = DEFAULT_REPLY


Reply = str | BaseException | Stall


class FakeProvider:
    name = "fake"
    can_stream = True
    needs_key = False

    def __init__(
        self, replies: list[Reply] | None = None, *, respond: Callable[[ChatRequest], Reply] | None = None
    ) -> None:
        self.replies: deque[Reply] = deque(replies or [])
        self.respond = respond
        self.requests: list[ChatRequest] = []
        self.config = SimpleNamespace(default_model="fake-model", name="fake")

    def enqueue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def resolve(self, name: str | None) -> FakeProvider:
        """Use as the engine's `provider_resolver`."""
        return self

    def prompts(self) -> list[str]:
        """Every request's messages joined into one string, in order."""
        return ["\n".join(m.content or "" for m in r.messages) for r in self.requests]

    async def _reply(self, request: ChatRequest) -> str:
        self.requests.append(request)
        if self.respond is not None:
            reply = self.respond(request)
        elif self.replies:
            reply = self.replies.popleft()
        else:
            reply = DEFAULT_REPLY
        if isinstance(reply, Stall):
            await asyncio.sleep(reply.seconds)
            reply = reply.then
        if isinstance(reply, BaseException):
            raise reply
        return reply

    async def complete(self, request: ChatRequest) -> Completion:
        text = await self._reply(request)
        return Completion(text=text, model=request.model or "fake-model", usage=Usage(1, 1, 2))

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        text = await self._reply(request)
        for piece in re.findall(r"\S+\s*|\s+", text):
            yield Chunk(delta=piece)
        yield Chunk(finish_reason="stop", usage=Usage(1, 1, 2))

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(id="fake-model", owned_by="tests")]

    async def health(self) -> ProviderHealth:
        return ProviderHealth(provider=self.name, available=True, latency_ms=0.0)


def prompt_of(request: ChatRequest) -> str:
    return "\n".join(m.content or "" for m in request.messages)
