"""WHAT: the typed values that cross the provider boundary: requests, chunks, completions, models, health.
WHY: providers never see raw dicts and callers never see provider JSON; streaming and non-streaming
     share one vocabulary (a Completion is what the Chunks of a stream add up to).
HOW: frozen dataclasses, built at the API edge (after validation) or by agents, consumed by providers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "developer", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "developer", "user", "assistant", "tool")


@dataclass(frozen=True)
class ChatMessage:
    """One chat message. `extra` carries OpenAI fields we pass through untouched (tool_calls, name...)."""

    role: Role
    content: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_openai(self) -> dict[str, Any]:
        return {**self.extra, "role": self.role, "content": self.content}


@dataclass(frozen=True)
class ChatRequest:
    """A chat completion request. `model=None` means the provider's default model.

    `max_tokens=-1` is LM Studio's documented "no limit" and is passed through as is.
    `extra` holds further OpenAI parameters (top_p, stop, seed, ...) that were validated at the edge.
    """

    messages: tuple[ChatMessage, ...]
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class Chunk:
    """One streamed piece: text `delta`, optional `reasoning` delta, and on the last one `finish_reason`.

    `usage` arrives on its own trailing chunk when the upstream sends it. Unknown finish reasons are kept
    verbatim; only "error" is turned into an exception.
    """

    delta: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    role: str | None = None
    model: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class Completion:
    """A finished, non-streamed answer."""

    text: str
    model: str
    finish_reason: str | None = "stop"
    usage: Usage | None = None
    reasoning: str = ""
    id: str | None = None


@dataclass(frozen=True)
class ModelInfo:
    id: str
    owned_by: str = ""
    loaded: bool | None = None  # None: the server does not say


@dataclass(frozen=True)
class ProviderHealth:
    provider: str
    available: bool
    latency_ms: float | None = None
    error: str | None = None
    models: tuple[str, ...] = ()
