"""WHAT: the typed values that cross the provider boundary: requests, chunks, completions, models, health.
WHY: providers never see raw dicts and callers never see provider JSON; streaming and non-streaming
     share one vocabulary (a Completion is what the Chunks of a stream add up to).
HOW: frozen dataclasses, built at the API edge (after validation) or by agents, consumed by providers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

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
    `response_format` is OpenAI's (`{"type": "json_object"}`, `{"type": "json_schema", "json_schema":
    {...}}`); a provider whose class does not list the type in `response_formats` sends no such field.
    `extra` holds further OpenAI parameters (top_p, stop, seed, ...) that were validated at the edge.
    """

    messages: tuple[ChatMessage, ...]
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    response_format: dict[str, Any] | None = None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, init=False)
class Chunk:
    """One streamed piece: text `delta`, optional `reasoning` delta, and on the last one `finish_reason`.

    `usage` arrives on its own trailing chunk when the upstream sends it. Unknown finish reasons are kept
    verbatim; only "error" is turned into an exception.

    `tool_calls` (the delta's list of tool-call fragments, each with its `index`), `function_call`
    (the legacy form), `refusal` (a refusal text fragment) and `logprobs` (the choice's object) are the
    JSON values the upstream sent, relayed as they are: the gateway neither validates nor executes tool
    calls. None when absent, which is nearly always; `has_parts` says whether any of the four is set.
    """

    delta: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    role: str | None = None
    model: str | None = None
    id: str | None = None
    tool_calls: list[Any] | None = None
    function_call: dict[str, Any] | None = None
    refusal: str | None = None
    logprobs: dict[str, Any] | None = None
    has_parts: ClassVar[bool] = False  # not a field: derived from the four above, set by __init__

    # Written out because a chunk is built once per token and read at every stage: the generated
    # __init__ of a frozen dataclass sets every field through object.__setattr__ (about 55 ns each),
    # and the stages would test four fields per chunk. Here the four rare fields and `has_parts` are
    # set only when a part is given; otherwise the class attributes (None, False) answer, so a text
    # chunk costs what it did before they existed. Equality, repr and dataclasses.replace() are the
    # dataclass's own.
    def __init__(
        self,
        delta: str = "",
        reasoning: str = "",
        finish_reason: str | None = None,
        usage: Usage | None = None,
        role: str | None = None,
        model: str | None = None,
        id: str | None = None,
        tool_calls: list[Any] | None = None,
        function_call: dict[str, Any] | None = None,
        refusal: str | None = None,
        logprobs: dict[str, Any] | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "delta", delta)
        set_(self, "reasoning", reasoning)
        set_(self, "finish_reason", finish_reason)
        set_(self, "usage", usage)
        set_(self, "role", role)
        set_(self, "model", model)
        set_(self, "id", id)
        if tool_calls is not None or function_call is not None or refusal is not None or logprobs is not None:
            set_(self, "tool_calls", tool_calls)
            set_(self, "function_call", function_call)
            set_(self, "refusal", refusal)
            set_(self, "logprobs", logprobs)
            set_(self, "has_parts", True)


@dataclass(frozen=True)
class Completion:
    """A finished, non-streamed answer. `tool_calls`, `function_call` and `refusal` are the message's,
    `logprobs` the choice's, as the upstream sent them (None when absent)."""

    text: str
    model: str
    finish_reason: str | None = "stop"
    usage: Usage | None = None
    reasoning: str = ""
    id: str | None = None
    tool_calls: list[Any] | None = None
    function_call: dict[str, Any] | None = None
    refusal: str | None = None
    logprobs: dict[str, Any] | None = None


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
