"""WHAT: the ASGI entry point (daphne under `runserver`, uvicorn in production).
WHY: streaming views (LLM tokens, negotiation events) need an async server; no channels layer is needed.
HOW: Django's own ASGI handler. The URLconf is loaded at startup, and what is loaded then is frozen out
     of the cyclic GC, whose full collections otherwise stall the event loop with hundreds of open
     streams (bench/stream.py).
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
application = get_asgi_application()

from django.urls import get_resolver  # noqa: E402 - after the apps are loaded

# Load every view now, then keep what is loaded (it lives as long as the process) out of the GC's
# full collections.
get_resolver().urlconf_module  # noqa: B018 - imports the URLconf and every view module
gc.collect()
gc.freeze()
