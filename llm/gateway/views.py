"""WHAT: the LLM gateway endpoints: `GET /api/v1/llm/models[?provider=]` and the OpenAI-compatible
`POST /api/v1/llm/chat/completions` (JSON, or SSE when `stream: true`).
WHY: any OpenAI client (the official SDK with `base_url=.../api/v1/llm`, agents, a web page) reaches
     every configured provider through one endpoint, with one error contract and request limits.
HOW: native async views (`AsyncApiView`, documented by drf-spectacular). The request is validated before
     any upstream call, and a stream's first chunk is pulled before the response starts, so an early
     failure is an ordinary JSON error with its status; a later one is a final error event (relay.py).
     The upstream stream is closed whenever ours ends; `CancelledError` is never caught.
"""

from __future__ import annotations

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers

from llm.exceptions import StreamInterruptedError
from llm.gateway.inputs import ChatCompletionInputSerializer
from llm.gateway.relay import aclose_quietly, sse_body
from llm.gateway.wire import StreamEncoder, completion_body, model_list_body, new_completion_id
from llm.registry import aget_provider
from llm.streaming import apply_stream_settings
from marketplace.async_views import AsyncApiView
from marketplace.fields import read_json_object
from marketplace.schema import error_responses
from marketplace.sse import SSE_HEADERS

__all__ = ["ChatCompletionCreateApi", "ModelListApi"]

CHAT_200_DESCRIPTION = (
    "`stream: false` (application/json): a `chat.completion` object with `usage`. "
    "`stream: true` (text/event-stream): `data: {chat.completion.chunk}` events ending `data: [DONE]`; "
    "with `stream_options.include_usage`, a last chunk with empty `choices` and `usage`. "
    'A failure after the first byte is one final `data: {"error": {...}}` event and no `[DONE]`.'
)


class ModelListApi(AsyncApiView):
    """The models a provider offers, in OpenAI's list format."""

    @extend_schema_serializer(component_name="ModelList")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="Model")
        class ModelSerializer(serializers.Serializer):
            id = serializers.CharField()
            object = serializers.ChoiceField(choices=["model"])
            created = serializers.IntegerField(help_text="Always 0: servers do not tell.")
            owned_by = serializers.CharField()

        object = serializers.ChoiceField(choices=["list"])
        data = ModelSerializer(many=True)

    @extend_schema(
        tags=["llm"],
        operation_id="llm_models_list",
        parameters=[OpenApiParameter("provider", str, description="Provider name (default: LLM_PROVIDER).")],
        responses={200: OutputSerializer, **error_responses(400, 401, 404, 429, 502, 503)},
    )
    async def get(self, request: HttpRequest) -> HttpResponse:
        provider = await aget_provider(request.GET.get("provider") or None)
        models = await provider.list_models()
        return JsonResponse(model_list_body(models, provider=provider.name))


class ChatCompletionCreateApi(AsyncApiView):
    """OpenAI Chat Completions: a `chat.completion` object, or with `stream: true` an SSE stream."""

    InputSerializer = ChatCompletionInputSerializer

    @extend_schema_serializer(component_name="ChatCompletion")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="ChatCompletionChoice")
        class ChoiceSerializer(serializers.Serializer):
            @extend_schema_serializer(component_name="ChatCompletionMessage")
            class MessageSerializer(serializers.Serializer):
                role = serializers.ChoiceField(choices=["assistant"])
                content = serializers.CharField(
                    allow_null=True, help_text="null when the message carries only tool calls or a refusal."
                )
                reasoning_content = serializers.CharField(required=False, help_text="When the model reasons.")
                refusal = serializers.CharField(required=False, help_text="As the upstream sent it.")
                tool_calls = serializers.ListField(
                    child=serializers.JSONField(),
                    required=False,
                    help_text="As the upstream sent them; the gateway runs no tool.",
                )
                function_call = serializers.JSONField(required=False, help_text="Legacy; as the upstream sent it.")

            index = serializers.IntegerField()
            message = MessageSerializer()
            logprobs = serializers.JSONField(allow_null=True, help_text="As the upstream sent them (when asked for).")
            finish_reason = serializers.CharField(allow_null=True, help_text="stop, length, ... as the upstream says.")

        @extend_schema_serializer(component_name="Usage")
        class UsageSerializer(serializers.Serializer):
            prompt_tokens = serializers.IntegerField()
            completion_tokens = serializers.IntegerField()
            total_tokens = serializers.IntegerField()

        id = serializers.CharField()
        object = serializers.ChoiceField(choices=["chat.completion"])
        created = serializers.IntegerField()
        model = serializers.CharField()
        choices = ChoiceSerializer(many=True)
        usage = UsageSerializer(allow_null=True, help_text="As reported by the upstream; null if it reports none.")

    @extend_schema(
        tags=["llm"],
        operation_id="llm_chat_completions_create",
        request=ChatCompletionInputSerializer,
        responses={
            # OpenAPI has one description per status, shared by its media types: both cases say it.
            (200, "application/json"): OpenApiResponse(OutputSerializer, description=CHAT_200_DESCRIPTION),
            (200, "text/event-stream"): OpenApiResponse(OpenApiTypes.STR, description=CHAT_200_DESCRIPTION),
            **error_responses(400, 401, 404, 413, 429, 502, 503),
        },
        examples=[
            OpenApiExample(
                "Streamed",
                request_only=True,
                value={"messages": [{"role": "user", "content": "Hello!"}], "stream": True, "max_tokens": 64},
            ),
        ],
    )
    async def post(self, request: HttpRequest) -> HttpResponse:
        serializer = self.InputSerializer(data=read_json_object(request))
        serializer.is_valid(raise_exception=True)
        chat_request = serializer.chat_request()
        provider = await aget_provider(serializer.validated_data.get("provider"))
        fallback_model = chat_request.model or provider.default_model
        if not serializer.validated_data.get("stream"):
            completion = await provider.complete(chat_request)
            return JsonResponse(completion_body(completion, fallback_model=fallback_model))

        chunks = apply_stream_settings(provider.stream(chat_request))
        try:
            first = await anext(chunks)
        except StopAsyncIteration:  # a provider stream always yields a finish_reason: this one was cut off
            raise StreamInterruptedError(details={"reason": "no_end_of_stream"}) from None
        except BaseException:  # an early failure, or CancelledError when the client left: close upstream
            await aclose_quietly(chunks)
            raise
        encoder = StreamEncoder(
            completion_id=first.id or new_completion_id(),
            model=first.model or fallback_model,
            include_usage=serializer.include_usage,
        )
        body = sse_body(first, chunks, encoder)
        if not isinstance(request, ASGIRequest):
            # Served synchronously (a WSGI server, Django's sync test client): this view's event loop
            # ends when it returns, and closes the upstream stream with it, while Django would read
            # the body on another loop. So the body is produced here, in full (WSGI buffers an async
            # stream anyway).
            body = iter([part async for part in body])
        return StreamingHttpResponse(body, content_type="text/event-stream", headers=SSE_HEADERS)
