"""WHAT: the `health` app: readiness, liveness and provider status endpoints, and the probes behind them."""

from django.apps import AppConfig


class HealthConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "health"
