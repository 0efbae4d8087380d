"""WHAT: the `negotiations` app: listings, buyer and seller agents, the engine, its API and live stream.
HOW: `ready()` registers the system checks of its settings (negotiations/checks.py).
"""

from django.apps import AppConfig


class NegotiationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "negotiations"

    def ready(self) -> None:
        from negotiations import checks  # noqa: F401  (registers the checks)
