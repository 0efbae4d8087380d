"""WHAT: the project package as an app, so that project-wide system checks have a home.
HOW: `ready()` registers the checks of marketplace/checks.py.
"""

from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Marketplace project"

    def ready(self) -> None:
        from marketplace import checks  # noqa: F401  (registers the checks)
