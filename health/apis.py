"""WHAT: the service-level endpoints: `GET /` (where things are), `GET /api/v1/health` (readiness),
`GET /api/v1/health/live` (liveness) and `GET /api/v1/llm/status` (every provider in detail).
WHY: load balancers need a cheap liveness answer and a readiness answer whose status code tells them
     whether to send traffic (503 only when the database is down: without an LLM the API still serves
     listings and history, "degraded", 200); operators need per-provider detail (docs/gateway.md).
HOW: thin DRF views over `health.probes`, whose async LLM probes run through `async_to_sync`. Nothing
     here shows a key; the public health check never shows a base URL, a model list or another provider.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from health.probes import DatabaseHealth, allm_probe, database_probe
from llm.exceptions import LLMError
from llm.protocol import Provider
from llm.registry import aget_provider, alist_providers, default_provider_name
from marketplace.gateway_keys import GatewayKeyAuthentication
from marketplace.schema import error_responses

__all__ = ["HealthCheckApi", "HealthLiveApi", "LlmStatusApi", "RootApi"]

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"


class JsonWhateverTheAcceptHeader(BaseContentNegotiation):
    """Always JSON: a monitor that sends `Accept: text/plain` must get the health answer, not a 406."""

    def select_parser(self, request: Any, parsers: list[Any]) -> Any:
        return parsers[0]

    def select_renderer(self, request: Any, renderers: list[Any], format_suffix: str | None = None) -> tuple[Any, str]:
        return renderers[0], renderers[0].media_type


class _PublicApi(APIView):
    # Probes are public, and must not read a session (a database query) just because a cookie came.
    authentication_classes: list = []
    permission_classes: list = []
    content_negotiation_class = JsonWhateverTheAcceptHeader


class _DatabaseComponentSerializer(serializers.Serializer):
    available = serializers.BooleanField()
    latency_ms = serializers.FloatField()
    error = serializers.CharField(required=False, help_text="Present only when unavailable.")


class _LlmComponentSerializer(serializers.Serializer):
    available = serializers.BooleanField()
    provider = serializers.CharField()
    model = serializers.CharField(
        required=False, help_text="The provider's default model (used when a request names none)."
    )
    latency_ms = serializers.FloatField(allow_null=True)
    error = serializers.CharField(required=False, help_text="Present only when unavailable; URLs in it are removed.")


class _HealthComponentsSerializer(serializers.Serializer):
    llm = _LlmComponentSerializer()
    database = _DatabaseComponentSerializer()


def _database_component(db: DatabaseHealth) -> dict[str, Any]:
    component: dict[str, Any] = {"available": db.available, "latency_ms": db.latency_ms}
    if db.error:
        component["error"] = db.error
    return component


class RootApi(_PublicApi):
    """Where the documentation and the health check are."""

    @extend_schema_serializer(component_name="Root")
    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        version = serializers.CharField()
        docs = serializers.CharField(help_text="Swagger UI path.")
        health = serializers.CharField(help_text="Health check path.")

    @extend_schema(responses=OutputSerializer, tags=["health"], operation_id="root")
    def get(self, request: Request) -> Response:
        return Response(
            {
                "name": settings.APP_NAME,
                "version": settings.VERSION,
                "docs": reverse("swagger-ui"),
                "health": reverse("health"),
            }
        )


class HealthLiveApi(_PublicApi):
    """Liveness: the process answers. Touches no dependency."""

    @extend_schema_serializer(component_name="HealthLive")
    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["alive"])

    @extend_schema(responses=OutputSerializer, tags=["health"], operation_id="health_live")
    def get(self, request: Request) -> Response:
        return Response({"status": "alive"})


class HealthCheckApi(_PublicApi):
    """Readiness: database and default LLM provider. 200 healthy/degraded, 503 unhealthy."""

    @extend_schema_serializer(component_name="HealthCheck")
    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=[HEALTHY, DEGRADED, UNHEALTHY])
        version = serializers.CharField()
        app_name = serializers.CharField()
        components = _HealthComponentsSerializer()

    @extend_schema(
        responses={200: OutputSerializer, 503: OutputSerializer},
        tags=["health"],
        operation_id="health_check",
        description="`healthy` or `degraded` (LLM down) answer 200; `unhealthy` (database down) answers 503. "
        "The LLM probe has its own timeout (HEALTH_LLM_PROBE_TIMEOUT) and is cached for HEALTH_LLM_CACHE_SECONDS.",
    )
    def get(self, request: Request) -> Response:
        db = database_probe()
        llm = async_to_sync(_default_llm_component)()
        status = HEALTHY if llm["available"] else DEGRADED
        if not db.available:
            status = UNHEALTHY
        body = {
            "status": status,
            "version": settings.VERSION,
            "app_name": settings.APP_NAME,
            "components": {"llm": llm, "database": _database_component(db)},
        }
        return Response(body, status=503 if status == UNHEALTHY else 200)


async def _default_llm_component() -> dict[str, Any]:
    name = default_provider_name()
    try:
        provider = await aget_provider(None)
    except LLMError as exc:
        return {"available": False, "provider": name, "latency_ms": None, "error": exc.message}
    health = await allm_probe(provider)
    component: dict[str, Any] = {
        "available": health.available,
        "provider": provider.name,
        "model": provider.default_model,
        "latency_ms": health.latency_ms,
    }
    if not health.available:
        component["error"] = without_urls(health.error or "unavailable")
    return component


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]*?(?=[.,;:)]*(?:[\s'\"<>]|$))")


def without_urls(text: str) -> str:
    """`text` with every URL replaced by "<url>" (the public health check shows no base URLs)."""
    return _URL.sub("<url>", text)


class LlmStatusApi(_PublicApi):
    """Every configured LLM provider: configuration (never keys), reachability and models; plus the database.
    Needs a gateway API key when LLM_GATEWAY_API_KEYS is set."""

    authentication_classes = [GatewayKeyAuthentication]

    @extend_schema_serializer(component_name="LlmStatus")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="ProviderStatus")
        class ProviderStatusSerializer(serializers.Serializer):
            name = serializers.CharField()
            kind = serializers.CharField()
            default = serializers.BooleanField(help_text="Whether this is the default provider.")
            enabled = serializers.BooleanField()
            available = serializers.BooleanField()
            base_url = serializers.CharField(help_text="Without user info or query string.")
            default_model = serializers.CharField()
            key_set = serializers.BooleanField(help_text="Whether an API key is configured. The key is never shown.")
            models = serializers.ListField(
                child=serializers.CharField(),
                allow_null=True,
                help_text="Models the server reports (loaded ones, where it tells); null when not probed.",
            )
            latency_ms = serializers.FloatField(allow_null=True)
            error = serializers.CharField(allow_null=True)

        default_provider = serializers.CharField()
        providers = ProviderStatusSerializer(many=True)
        database = _DatabaseComponentSerializer()

    @extend_schema(responses={200: OutputSerializer, **error_responses(401)}, tags=["llm"], operation_id="llm_status")
    def get(self, request: Request) -> Response:
        db = database_probe()
        providers = async_to_sync(_provider_statuses)()
        return Response(
            {"default_provider": default_provider_name(), "providers": providers, "database": _database_component(db)}
        )


async def _provider_statuses() -> list[dict[str, Any]]:
    providers = await alist_providers()
    default_name = default_provider_name()

    async def status_of(provider: Provider) -> dict[str, Any]:
        status: dict[str, Any] = {
            "name": provider.name,
            "kind": provider.kind,
            "default": provider.name == default_name,
            "enabled": provider.enabled,
            "available": False,
            "base_url": provider.base_url,
            "default_model": provider.default_model,
            "key_set": bool(provider.key_is_set),
            "models": None,
            "latency_ms": None,
            "error": None,
        }
        if not provider.enabled:
            status["error"] = "provider is disabled"
            return status
        health = await allm_probe(provider)
        status.update(
            available=health.available,
            models=list(health.models) if health.available else None,
            latency_ms=health.latency_ms,
            error=None if health.available else (health.error or "unavailable"),
        )
        return status

    return list(await asyncio.gather(*(status_of(p) for p in providers)))
