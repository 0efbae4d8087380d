"""WHAT: `FakeProvider`, a scripted stand-in for an LLM provider that implements llm.protocol.Provider fully.
WHY: negotiation tests need an LLM whose every word is chosen by the test (misbehaviour included) and a
     record of every prompt it was sent; choosing a reply by a marker the test sets (the request's `model`,
     i.e. a side's `model` setting), not by the prompt's wording, means rewording a prompt breaks no test.
HOW: a reply comes from the script registered for `request.model` (`scripts`/`script()`), else from
     `respond(request)`, else from the queue (`enqueue`). A reply may be an exception (raised before the
     first chunk), a `Stall` (sleeps, for timeout/cancel tests) or a `Crash` (a BaseException that
     escapes the engine's error handling, like a process dying mid-turn). Streams are word-sized chunks.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

from llm.types import ChatRequest, Chunk, Completion, ModelInfo, ProviderHealth, Usage

__all__ = ["DEFAULT_MODEL", "DEFAULT_REPLY", "Crash", "FakeProvider", "Reply", "Respond", "Stall", "prompt_of"]

DEFAULT_REPLY = "Let me think about that."
DEFAULT_MODEL = "fake-model"


class Crash(BaseException):
    """Simulates the process dying: not an Exception, so no handler in the engine catches it."""


@dataclass(frozen=True)
class Stall:
    """Sleep `seconds` before answering `then` (stalls past a timeout, or until cancelled)."""

    seconds: float
    then: str = DEFAULT_REPLY


Reply = str | BaseException | Stall
Respond = Callable[[ChatRequest], Reply]


class FakeProvider:
    """A scripted provider: every protocol member, no configuration object, no network."""

    name = "fake"
    kind = "fake"
    can_stream = True
    needs_key = False
    key_is_set = False
    enabled = True
    base_url = ""  # not an HTTP server
    response_formats: frozenset[str] = frozenset()  # replies are plain text

    def __init__(
        self,
        replies: list[Reply] | None = None,
        *,
        respond: Respond | None = None,
        scripts: Mapping[str, Respond] | None = None,
        default_model: str = DEFAULT_MODEL,
    ) -> None:
        self.replies: deque[Reply] = deque(replies or [])
        self.respond = respond
        self.scripts: dict[str, Respond] = dict(scripts or {})
        self.default_model = default_model
        self.requests: list[ChatRequest] = []

    def enqueue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def script(self, model: str, respond: Respond) -> None:
        """Answer every request for `model` (a side's `model` setting) with `respond(request)`."""
        self.scripts[model] = respond

    async def resolve(self, name: str | None) -> FakeProvider:
        """Use as the engine's `provider_resolver`."""
        return self

    def prompts(self) -> list[str]:
        """Every request's messages joined into one string, in order (for assertions on what was sent)."""
        return [prompt_of(r) for r in self.requests]

    async def _reply(self, request: ChatRequest) -> str:
        self.requests.append(request)
        script = self.scripts.get(getattr(request, "model", None) or "")  # some tests pass no request
        if script is not None:
            reply = script(request)
        elif self.respond is not None:
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

    # --- the Provider protocol ----------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> Completion:
        text = await self._reply(request)
        return Completion(text=text, model=request.model or self.default_model, usage=Usage(1, 1, 2))

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        text = await self._reply(request)
        for piece in re.findall(r"\S+\s*|\s+", text):
            yield Chunk(delta=piece)
        yield Chunk(finish_reason="stop", usage=Usage(1, 1, 2))

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(id=self.default_model, owned_by="tests")]

    async def health(self) -> ProviderHealth:
        return ProviderHealth(provider=self.name, available=True, latency_ms=0.0)


def prompt_of(request: ChatRequest) -> str:
    """A request's messages joined into one string: to assert what a prompt holds, not to pick a reply."""
    return "\n".join(m.content or "" for m in request.messages)
