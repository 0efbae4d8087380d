"""WHAT: URL routes of the `llm` app, mounted under /api/v1/llm/ (`llm/status` is the health app's)."""
from django.urls import path

from llm.apis import ChatCompletionCreateApi, ModelListApi

urlpatterns = [
    path("models", ModelListApi.as_view(), name="llm-models"),
    path("chat/completions", ChatCompletionCreateApi.as_view(), name="llm-chat-completions"),
]
