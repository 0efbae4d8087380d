"""WHAT: URL routes of the `llm` app, mounted under /api/v1/llm/ (`llm/status` is the health app's).
HOW: both gateway endpoints require a gateway API key when LLM_GATEWAY_API_KEYS is set (marketplace/gateway_keys.py).
"""

from django.urls import path

from llm.gateway.views import ChatCompletionCreateApi, ModelListApi
from marketplace.gateway_keys import GatewayKeyAuthentication

GATEWAY_AUTHENTICATION = [GatewayKeyAuthentication]

urlpatterns = [
    path("models", ModelListApi.as_view(authentication_classes=GATEWAY_AUTHENTICATION), name="llm-models"),
    path(
        "chat/completions",
        ChatCompletionCreateApi.as_view(authentication_classes=GATEWAY_AUTHENTICATION),
        name="llm-chat-completions",
    ),
]
