"""WHAT: the ASGI entry point (daphne under `runserver`, uvicorn in production).
WHY: streaming views (LLM tokens, negotiation events) need an async server.
HOW: Django's ASGI handler, with one change for async views marked `request_thread = False` (the LLM
     gateway): no per-request sync thread, and the request signals sent on the event loop
     (marketplace/asgi_handler.py). No channels layer is needed.
     The URLconf is loaded at startup and what is loaded then is frozen out of the cyclic GC.
"""

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
django.setup(set_prefix=False)  # what django.core.asgi.get_asgi_application() does first

from django.urls import get_resolver  # noqa: E402

from marketplace.asgi_handler import ASGIHandler  # noqa: E402 - needs the apps loaded

if os.environ.get("DJANGO_ASGI_INLINE_VIEWS", "true") != "false":
    application = ASGIHandler()
else:
    from django.core.handlers.asgi import ASGIHandler as _Stock

    application = _Stock()

# Load every view now, then keep what is loaded (it lives as long as the process) out of the cyclic
# GC's full collections: with hundreds of open streams those otherwise stall the event loop for
# 100-250 ms (bench/stream.py).
get_resolver().urlconf_module  # noqa: B018 - imports the URLconf and every view module
gc.collect()
gc.freeze()
