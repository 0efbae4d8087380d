"""WHAT: URL routes of the `health` app, mounted under /api/v1/ (`GET /` lives in marketplace/urls.py)."""

from django.urls import path

from health.apis import HealthCheckApi, HealthLiveApi, LlmStatusApi

urlpatterns = [
    path("health", HealthCheckApi.as_view(), name="health"),
    path("health/live", HealthLiveApi.as_view(), name="health-live"),
    path("llm/status", LlmStatusApi.as_view(), name="llm-status"),
]
