"""WHAT: the edge validation of `POST /api/v1/llm/chat/completions` (OpenAI Chat Completions request
body) into a typed `ChatRequest`.
WHY: a bad request must fail with 400 VALIDATION_ERROR before any upstream call, with the same strictness
     as OpenAI's own API (typed fields, unknown top-level fields rejected, so typos do not silently
     vanish) but never stricter than the local servers behind us (all five roles, `max_tokens: -1`).
HOW: DRF serializers with strict JSON-typed fields (marketplace/fields.py). OpenAI's fields and common
     server extensions (PASSTHROUGH_REQUEST_FIELDS) go to the provider untouched in `ChatRequest.extra`;
     anything else is an error naming the field. Limits are read from settings at validation time.
"""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from llm.types import ROLES, ChatMessage, ChatRequest
from marketplace.fields import StrictBooleanField, StrictCharField, StrictNumberField

__all__ = [
    "PASSTHROUGH_MESSAGE_FIELDS",
    "PASSTHROUGH_REQUEST_FIELDS",
    "ChatCompletionInputSerializer",
    "ChatMessageInputSerializer",
]

# OpenAI Chat Completions parameters we do not interpret but forward as sent.
OPENAI_PASSTHROUGH_FIELDS = frozenset(
    {
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "metadata",
        "modalities",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "reasoning_effort",
        "safety_identifier",
        "seed",
        "service_tier",
        "stop",
        "store",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
    }
)
# Sampler and routing extensions accepted by LM Studio, llama.cpp, vLLM, Ollama or OpenRouter
# (sent with the SDK's `extra_body`); forwarded untouched so we are not stricter than those servers.
SERVER_EXTENSION_FIELDS = frozenset(
    {
        "top_k",
        "min_p",
        "top_a",
        "typical_p",
        "repeat_penalty",
        "repetition_penalty",
        "repeat_last_n",
        "mirostat",
        "mirostat_tau",
        "mirostat_eta",
        "tfs_z",
        "penalize_newline",
        "ttl",
        "draft_model",
        "reasoning",
        "include_reasoning",
        "transforms",
        "models",
        "route",
        "usage",
        "grammar",
        "json_schema",
        "cache_prompt",
        "n_probs",
        "min_tokens",
        "ignore_eos",
        "skip_special_tokens",
        "chat_template_kwargs",
    }
)
PASSTHROUGH_REQUEST_FIELDS = OPENAI_PASSTHROUGH_FIELDS | SERVER_EXTENSION_FIELDS
# Message fields forwarded as sent (what OpenAI accepts on input, plus fields that clients echo back
# from a previous response message).
PASSTHROUGH_MESSAGE_FIELDS = frozenset(
    {
        "name",
        "tool_calls",
        "tool_call_id",
        "function_call",
        "refusal",
        "audio",
        "annotations",
        "reasoning",
        "reasoning_content",
    }
)
NO_TOKEN_LIMIT = -1  # LM Studio's documented "no limit"


@extend_schema_field({"type": "integer", "minimum": -1, "description": "-1 (no limit) or 1..LLM_MAX_TOKENS_LIMIT"})
class MaxTokensField(serializers.Field):
    """A JSON integer: -1 (no limit, passed through) or 1..LLM_MAX_TOKENS_LIMIT."""

    default_error_messages = {
        "invalid": "An integer is required.",
        "range": "Must be -1 (no limit) or between 1 and {limit}.",
    }

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        limit = settings.LLM_MAX_TOKENS_LIMIT
        if data != NO_TOKEN_LIMIT and not 1 <= data <= limit:
            self.fail("range", limit=limit)
        return data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field({"type": "integer", "enum": [1]})
class ChoiceCountField(serializers.Field):
    """OpenAI's `n`: the gateway returns one choice, so only the JSON integer 1 is accepted."""

    default_error_messages = {"invalid": "Only n=1 is supported."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or data != 1 or not isinstance(data, int):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")


@extend_schema_field(
    {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"type": "string", "enum": list(RESPONSE_FORMAT_TYPES)},
            "json_schema": {"type": "object", "description": "For json_schema: {name, schema, strict?}."},
        },
        "description": "Passed on to providers that take this type (LM Studio, OpenRouter); dropped otherwise.",
    }
)
class ResponseFormatField(serializers.Field):
    """OpenAI's `response_format`: a JSON object whose `type` is text, json_object or json_schema (with a
    `json_schema` object); its other members are the server's business and go through as sent."""

    default_error_messages = {
        "invalid": "Must be an object whose 'type' is one of: " + ", ".join(RESPONSE_FORMAT_TYPES) + ".",
        "schema": "A json_schema response format needs a 'json_schema' object.",
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict) or data.get("type") not in RESPONSE_FORMAT_TYPES:
            self.fail("invalid")
        if data["type"] == "json_schema" and not isinstance(data.get("json_schema"), dict):
            self.fail("schema")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string"},
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "text"],
                    "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}},
                },
            },
        ],
        "nullable": True,
    }
)
class MessageContentField(serializers.Field):
    """A message's `content`: a string, null, or a list of OpenAI text parts (joined with newlines).

    Non-text parts (images, audio, files) are refused: the gateway's typed request carries text only.
    """

    default_error_messages = {
        "invalid": "Content must be a string, null, or a list of text parts.",
        "part": 'Content parts must be objects {{"type": "text", "text": "..."}}; only text parts are supported.',
    }

    def to_internal_value(self, data: Any) -> str | None:
        if data is None or isinstance(data, str):
            return data
        if not isinstance(data, list):
            self.fail("invalid")
        texts = []
        for part in data:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                self.fail("part")
            texts.append(part["text"])
        return "\n".join(texts)

    def to_representation(self, value: Any) -> Any:
        return value


class ChatMessageInputSerializer(serializers.Serializer):
    """One input message. `content` may be null (or absent) only on an assistant message that carries
    `tool_calls` or `function_call`: OpenAI refuses it otherwise ("Invalid value for 'content':
    expected a string, got null"), and so do llama.cpp (when absent) and Mistral."""

    role = serializers.ChoiceField(choices=ROLES)
    content = MessageContentField(required=False, allow_null=True)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Each message must be a JSON object."]})
        unknown = sorted(set(data) - {"role", "content"} - PASSTHROUGH_MESSAGE_FIELDS)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown message field."] for name in unknown})
        value = super().to_internal_value(data)
        if value.get("content") is None:
            if value["role"] != "assistant":
                raise serializers.ValidationError({"content": [f"Required (a string) for role '{value['role']}'."]})
            if not (data.get("tool_calls") or data.get("function_call")):
                raise serializers.ValidationError(
                    {"content": ["Required (a string) for an assistant message without tool_calls or function_call."]}
                )
        value["extra"] = {k: data[k] for k in data.keys() & PASSTHROUGH_MESSAGE_FIELDS}
        return value


class StreamOptionsSerializer(serializers.Serializer):
    include_usage = StrictBooleanField(required=False, default=False)


class ChatCompletionInputSerializer(serializers.Serializer):
    """OpenAI Chat Completions request, plus the optional extension field `provider`.

    Interpreted: messages, model, provider, temperature, max_tokens / max_completion_tokens, stream,
    stream_options, n (1 only), response_format (passed to providers that take its type). Forwarded
    untouched: the other OpenAI parameters and common server extensions (see PASSTHROUGH_REQUEST_FIELDS).
    Anything else: 400 VALIDATION_ERROR.
    """

    messages = ChatMessageInputSerializer(many=True, allow_empty=False)
    model = StrictCharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=256,
        help_text="Defaults to the provider's default model.",
    )
    provider = StrictCharField(
        required=False,
        allow_null=True,
        max_length=64,
        help_text="Extension: the provider to use (default: LLM_PROVIDER).",
    )
    temperature = StrictNumberField(min_value=0, max_value=2, required=False, allow_null=True)
    max_tokens = MaxTokensField(
        required=False, allow_null=True, help_text="-1 means no limit (LM Studio); otherwise 1..LLM_MAX_TOKENS_LIMIT."
    )
    max_completion_tokens = MaxTokensField(
        required=False, allow_null=True, help_text="Newer OpenAI name of max_tokens; used when max_tokens is absent."
    )
    stream = StrictBooleanField(required=False, default=False)
    stream_options = StreamOptionsSerializer(required=False, allow_null=True)
    n = ChoiceCountField(required=False, allow_null=True, help_text="Only 1 is supported (one choice per request).")
    response_format = ResponseFormatField(required=False, allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        # DRF deep-copies every declared field for every instance, so that an instance may change its
        # fields; this one never does, and the deep copy (which re-runs every field's __init__) was half
        # of the validation time of each gateway request. So: one deep copy per class, and per instance
        # a shallow copy of each field, which binding then gives its own name and parent. (The message
        # serializer inside `messages` is one for all, as DRF has it for all the items of a list.)
        prototypes = type(self).__dict__.get("_field_prototypes")
        if prototypes is None:
            prototypes = copy.deepcopy(self._declared_fields)
            type(self)._field_prototypes = prototypes
        return {name: copy.copy(field) for name, field in prototypes.items()}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["The request body must be a JSON object."]})
        unknown = sorted(set(data) - set(self.fields) - PASSTHROUGH_REQUEST_FIELDS)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        messages = data.get("messages")
        if isinstance(messages, list) and len(messages) > settings.LLM_MAX_MESSAGES:
            # Checked before field validation so a huge list is not validated message by message.
            raise serializers.ValidationError(
                {"messages": [f"At most {settings.LLM_MAX_MESSAGES} messages are allowed."]}
            )
        value = super().to_internal_value(data)
        if data.get("stream_options") is not None and not value.get("stream"):
            raise serializers.ValidationError({"stream_options": ["Only allowed when 'stream' is true."]})
        value["passthrough"] = {k: data[k] for k in data.keys() & PASSTHROUGH_REQUEST_FIELDS}
        if value.get("stream_options") is not None:
            # Forwarded so the upstream sends usage (OpenAI, vLLM and llama.cpp only do when asked).
            value["passthrough"]["stream_options"] = data["stream_options"]
        return value

    def chat_request(self) -> ChatRequest:
        """The validated body as the provider layer's typed request."""
        data = self.validated_data
        max_tokens = data.get("max_tokens")
        if max_tokens is None:
            max_tokens = data.get("max_completion_tokens")
        return ChatRequest(
            messages=tuple(ChatMessage(m["role"], m.get("content"), m["extra"]) for m in data["messages"]),
            model=data.get("model") or None,
            temperature=data.get("temperature"),
            max_tokens=max_tokens,
            extra=data["passthrough"],
            response_format=data.get("response_format"),
        )

    @property
    def include_usage(self) -> bool:
        options = self.validated_data.get("stream_options") or {}
        return bool(options.get("include_usage"))
