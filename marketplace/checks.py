"""WHAT: system checks of the project's own settings (marketplace.E001).
WHY: a production server must not sign sessions and tokens with the development key everyone can read
     in the repository; `check`, `runserver` and `migrate` should refuse it, not a later audit.
HOW: plain functions registered with `checks.register` (imported by MarketplaceConfig.ready()).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

INSECURE_SECRET_KEY = "dev-insecure-secret-key-change-me"  # the settings' development fallback


@checks.register(checks.Tags.security)
def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.DEBUG or settings.SECRET_KEY != INSECURE_SECRET_KEY:
        return []
    return [
        checks.Error(
            "DJANGO_SECRET_KEY is the development default while DEBUG is off.",
            hint="Set DJANGO_SECRET_KEY to a long random string.",
            id="marketplace.E001",
        )
    ]
