"""WHAT: our typed results (`Completion`, `Chunk`, `ModelInfo`) written back out in OpenAI's wire format:
the `chat.completion` object, `chat.completion.chunk` SSE events ending `data: [DONE]`, the model list.
WHY: the gateway must look exactly like OpenAI to every OpenAI client; and the stream encoder is the
     per-token hot path of the gateway, so it must cost a few microseconds per chunk, not a JSON dump
     of a whole nested dict.
HOW: `StreamEncoder` pre-renders each event's constant bytes (id, created, model, the JSON around the
     delta) once per stream; per chunk only the delta strings are JSON-escaped (C `encode_basestring`).
     Tool calls, refusals and logprobs go where OpenAI puts them; only a chunk with them pays `json.dumps`.
"""

from __future__ import annotations

import json
import time
import uuid
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

from llm.types import Chunk, Completion, ModelInfo, Usage

__all__ = ["DONE_EVENT", "StreamEncoder", "completion_body", "model_list_body", "new_completion_id", "usage_body"]

DONE_EVENT = b"data: [DONE]\n\n"


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage_body(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def completion_body(completion: Completion, *, fallback_model: str) -> dict[str, Any]:
    """A `chat.completion` object for a non-streamed answer. A message that carries tool calls or a
    refusal and no text has `content: null`, as OpenAI sends it."""
    message: dict[str, Any] = {"role": "assistant", "content": completion.text}
    if completion.reasoning:
        message["reasoning_content"] = completion.reasoning
    if completion.refusal is not None:
        message["refusal"] = completion.refusal
    if completion.tool_calls is not None:
        message["tool_calls"] = completion.tool_calls
    if completion.function_call is not None:
        message["function_call"] = completion.function_call
    if not completion.text and (
        completion.tool_calls is not None or completion.function_call is not None or completion.refusal is not None
    ):
        message["content"] = None
    return {
        "id": completion.id or new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": completion.model or fallback_model,
        "choices": [
            {"index": 0, "message": message, "logprobs": completion.logprobs, "finish_reason": completion.finish_reason}
        ],
        "usage": usage_body(completion.usage) if completion.usage is not None else None,
    }


def model_list_body(models: list[ModelInfo], *, provider: str) -> dict[str, Any]:
    """OpenAI's model list; `owned_by` falls back to the provider's name."""
    return {
        "object": "list",
        "data": [{"id": m.id, "object": "model", "created": 0, "owned_by": m.owned_by or provider} for m in models],
    }


def _json(value: Any) -> bytes:
    # ASCII-escaped: a lone surrogate (which json.loads accepts in a string) cannot be UTF-8 encoded.
    return json.dumps(value, separators=(",", ":")).encode()


def _string(value: str) -> bytes:
    """A JSON string, UTF-8. A lone surrogate (json.loads accepts "\\ud83d" from an upstream) cannot be
    UTF-8 encoded; such a string goes out ASCII-escaped instead, as the upstream sent it."""
    try:
        return encode_basestring(value).encode()
    except UnicodeEncodeError:
        return encode_basestring_ascii(value).encode()


class StreamEncoder:
    """Encodes one stream's chunks as `chat.completion.chunk` SSE events.

    The first event carries `"role": "assistant"`; a chunk with only `usage` is held back and sent,
    if `include_usage`, as OpenAI's trailing usage chunk (`choices: []`) just before `[DONE]`.
    A chunk's tool calls, function call and refusal join its delta, its logprobs replace the choice's
    `null`; each such chunk is its own event (llm/streaming.py never merges them).
    """

    __slots__ = ("_first", "_first_head", "_head", "_tail_open", "_usage_head", "include_usage", "usage")

    def __init__(self, *, completion_id: str, model: str, include_usage: bool, created: int | None = None) -> None:
        created = int(time.time()) if created is None else created
        envelope = b'{"id":%s,"object":"chat.completion.chunk","created":%d,"model":%s,"system_fingerprint":null,' % (
            _string(completion_id),
            created,
            _string(model),
        )
        self._head = b"data: " + envelope + b'"choices":[{"index":0,"delta":{'
        self._first_head = self._head + b'"role":"assistant",'
        self._usage_head = b"data: " + envelope + b'"choices":[],"usage":'
        self._tail_open = b'},"logprobs":null,"finish_reason":'
        self._first = True
        self.include_usage = include_usage
        self.usage: Usage | None = None

    def encode(self, chunk: Chunk) -> bytes:
        """The SSE event for `chunk`; b"" for a chunk that carries nothing to send now."""
        if chunk.usage is not None:
            self.usage = chunk.usage
        first = self._first
        if not (first or chunk.delta or chunk.reasoning or chunk.finish_reason is not None or chunk.has_parts):
            return b""
        self._first = False
        fields = []
        if chunk.delta:
            fields.append(b'"content":' + _string(chunk.delta))
        elif first:  # OpenAI opens with content "" for text, null for a call or refusal without text
            calls = chunk.has_parts and (chunk.tool_calls or chunk.function_call or chunk.refusal is not None)
            fields.append(b'"content":null' if calls else b'"content":""')
        if chunk.reasoning:
            fields.append(b'"reasoning_content":' + _string(chunk.reasoning))
        finish = b"null" if chunk.finish_reason is None else _string(chunk.finish_reason)
        head = self._first_head if first else self._head
        if not chunk.has_parts:
            return head + b",".join(fields) + self._tail_open + finish + b"}]}\n\n"
        # Rare (tool calls, refusals, logprobs): the delta's other fields in OpenAI's order, after the text.
        if chunk.refusal is not None:
            fields.append(b'"refusal":' + _json(chunk.refusal))
        if chunk.tool_calls is not None:
            fields.append(b'"tool_calls":' + _json(chunk.tool_calls))
        if chunk.function_call is not None:
            fields.append(b'"function_call":' + _json(chunk.function_call))
        logprobs = b"null" if chunk.logprobs is None else _json(chunk.logprobs)
        return head + b",".join(fields) + b'},"logprobs":' + logprobs + b',"finish_reason":' + finish + b"}]}\n\n"

    def finish(self) -> bytes:
        """The trailing usage event (when asked for and known) and `[DONE]`."""
        if self.include_usage and self.usage is not None:
            usage = self.usage
            body = b'{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}' % (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens,
            )
            return self._usage_head + body + b"}\n\n" + DONE_EVENT
        return DONE_EVENT
