"""WHAT: the Chat Completions wire format on the client side: the request body (`chat_payload`) and the answers
read into our types (`parse_json`, `parse_completion`, `parse_chunk`, `completion_chunk`, `parse_models`).
WHY: servers differ in what they omit or send as null; tool calls, `refusal` and `logprobs` are relayed as
     sent (a relay, not a validator), but one of the wrong JSON type is a ProviderResponseError (502,
     "unexpected_shape"): dropping it would change the answer, relaying it would break clients' parsers.
HOW: pure functions; `parts` (the text so far) is joined only when an error needs it. `parse_chunk` runs
     once per token and checks only what json.loads can make; an empty list or object counts as absent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from llm.exceptions import ProviderResponseError
from llm.types import ChatRequest, Chunk, Completion, ModelInfo, Usage
from llm.upstream.errors import error_from_payload

__all__ = ["chat_payload", "completion_chunk", "parse_chunk", "parse_completion", "parse_json", "parse_models"]

_EXCERPT_CHARS = 80
# The answer parts relayed as sent, and the JSON type each must have.
_PART_TYPES: dict[str, type] = {"tool_calls": list, "function_call": dict, "refusal": str, "logprobs": dict}


def chat_payload(request: ChatRequest, *, model: str, stream: bool) -> dict[str, Any]:
    """The OpenAI Chat Completions request body."""
    payload: dict[str, Any] = dict(request.extra)
    payload["model"] = model
    payload["messages"] = [m.to_openai() for m in request.messages]
    payload["stream"] = stream
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    if request.max_tokens is not None:
        payload["max_tokens"] = request.max_tokens
    if request.response_format is not None:  # only what the provider found the server takes
        payload["response_format"] = request.response_format
    return payload


def parse_json(raw: bytes | str, *, provider: str, partial_text: str = "") -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        raise ProviderResponseError(
            f"Provider '{provider}' sent malformed JSON.",
            provider=provider,
            details={"reason": "malformed_json", "excerpt": text[:_EXCERPT_CHARS]},
            partial_text=partial_text,
        ) from exc


def _unexpected_shape(provider: str, what: str) -> ProviderResponseError:
    return ProviderResponseError(
        f"Provider '{provider}' sent {what}.", provider=provider, details={"reason": "unexpected_shape"}
    )


def _finish_error(provider: str, partial_text: str) -> ProviderResponseError:
    return ProviderResponseError(
        f"Provider '{provider}' reported finish_reason 'error'.",
        provider=provider,
        details={"in_band": True, "finish_reason": "error"},
        partial_text=partial_text,
    )


def _usage(value: Any) -> Usage | None:
    if not isinstance(value, Mapping):
        return None

    def number(key: str) -> int:
        item = value.get(key)
        return int(item) if isinstance(item, (int, float)) else 0

    return Usage(number("prompt_tokens"), number("completion_tokens"), number("total_tokens"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _part(container: Mapping[str, Any], key: str, *, provider: str, parts: list[str], tail: str = "") -> Any:
    """`container[key]` as sent, None when absent, null or empty; of a wrong type, an error (whose partial
    text is `parts` and `tail`, joined only then)."""
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, _PART_TYPES[key]):
        raise ProviderResponseError(
            f"Provider '{provider}' sent `{key}` as {type(value).__name__}, not {_PART_TYPES[key].__name__}.",
            provider=provider,
            details={"reason": "unexpected_shape", "field": key},
            partial_text="".join(parts) + tail,
        )
    return value or None


def parse_completion(data: Any, *, provider: str, model: str) -> Completion:
    """A non-streamed answer (`model`: the one asked for, when the answer names none)."""
    if not isinstance(data, Mapping):
        raise _unexpected_shape(provider, "an answer that is not a JSON object")
    if data.get("error") is not None:
        raise error_from_payload(data["error"], provider=provider, model=model)
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise _unexpected_shape(provider, "an answer without choices")
    choice = choices[0]
    message = choice.get("message") if isinstance(choice.get("message"), Mapping) else {}
    text = _text(message.get("content"))
    finish = choice.get("finish_reason")
    if finish == "error":
        raise _finish_error(provider, text)
    parts = [text]
    return Completion(
        text=text,
        model=_text(data.get("model")) or model,
        finish_reason=finish if isinstance(finish, str) else None,
        usage=_usage(data.get("usage")),
        reasoning=_text(message.get("reasoning_content")) or _text(message.get("reasoning")),
        id=_text(data.get("id")) or None,
        tool_calls=_part(message, "tool_calls", provider=provider, parts=parts),
        function_call=_part(message, "function_call", provider=provider, parts=parts),
        refusal=_part(message, "refusal", provider=provider, parts=parts),
        logprobs=_part(choice, "logprobs", provider=provider, parts=parts),
    )


def completion_chunk(completion: Completion) -> Chunk:
    """A whole answer as one stream chunk (for a server that ignored `stream: true`)."""
    tool_calls = completion.tool_calls
    if tool_calls is not None:  # a stream delta's calls carry their `index`, by which clients join fragments
        tool_calls = [
            {"index": i, **call} if isinstance(call, dict) and "index" not in call else call
            for i, call in enumerate(tool_calls)
        ]
    return Chunk(
        delta=completion.text,
        reasoning=completion.reasoning,
        role="assistant",
        finish_reason=completion.finish_reason or "stop",
        usage=completion.usage,
        model=completion.model,
        id=completion.id,
        tool_calls=tool_calls,
        function_call=completion.function_call,
        refusal=completion.refusal,
        logprobs=completion.logprobs,
    )


def parse_chunk(payload: Any, *, provider: str, parts: list[str], model: str) -> Chunk | None:
    """One stream event's chunk, or None when it carries nothing (`parts`: the text so far)."""
    # Once per token: `payload` comes from json.loads, so dict and str are the only mapping and string
    # types to expect, and what is missing or of another type counts as absent.
    if not isinstance(payload, dict):
        raise _unexpected_shape(provider, "a stream event that is not a JSON object")
    get = payload.get
    if get("error") is not None:
        raise error_from_payload(payload["error"], provider=provider, partial_text="".join(parts), model=model)
    usage = get("usage")
    if usage is not None:
        usage = _usage(usage)
    choices = get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
    if choice is None:
        if usage is None:
            return None
        return Chunk(usage=usage, model=_text(get("model")) or None, id=_text(get("id")) or None)
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        delta = {}
    content = delta.get("content")
    if not isinstance(content, str):
        content = ""
    finish = choice.get("finish_reason")
    if finish is not None and not isinstance(finish, str):
        finish = None
    if finish == "error":
        raise _finish_error(provider, "".join(parts) + content)
    reasoning = role = tool_calls = function_call = refusal = None
    if len(delta) > 1 or "content" not in delta:  # anything besides the text: look further
        reasoning = _text(delta.get("reasoning_content")) or _text(delta.get("reasoning"))
        role = _text(delta.get("role")) or None
        if "tool_calls" in delta or "function_call" in delta or "refusal" in delta:
            tool_calls = _part(delta, "tool_calls", provider=provider, parts=parts, tail=content)
            function_call = _part(delta, "function_call", provider=provider, parts=parts, tail=content)
            refusal = _part(delta, "refusal", provider=provider, parts=parts, tail=content)
    logprobs = choice.get("logprobs")  # a choice's, not the delta's; most servers send null
    if logprobs is not None:
        logprobs = _part(choice, "logprobs", provider=provider, parts=parts, tail=content)
    has_parts = tool_calls or function_call or refusal or logprobs
    if not (content or reasoning or role or finish or usage or has_parts):
        return None
    model_name = get("model")
    chunk_id = get("id")
    chunk = Chunk(
        delta=content,
        reasoning=reasoning or "",
        finish_reason=finish,
        usage=usage,
        role=role,
        model=model_name if isinstance(model_name, str) and model_name else None,
        id=chunk_id if isinstance(chunk_id, str) and chunk_id else None,
    )
    if has_parts:  # rare: a text chunk does not pay for passing them
        chunk = replace(chunk, tool_calls=tool_calls, function_call=function_call, refusal=refusal, logprobs=logprobs)
    return chunk


def parse_models(data: Any, *, provider: str) -> list[ModelInfo]:
    """An OpenAI model list (`GET /models`); entries without a string `id` are skipped."""
    items = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        raise _unexpected_shape(provider, "a model list without `data`")
    return [
        ModelInfo(id=item["id"], owned_by=_text(item.get("owned_by")))
        for item in items
        if isinstance(item, Mapping) and isinstance(item.get("id"), str)
    ]
