"""WHAT: the ASGI entry point (daphne under `runserver`, uvicorn in production).
WHY: streaming views (LLM tokens, negotiation events) need an async server.
HOW: Django's ASGI handler, with one change for async views marked `request_thread = False` (the LLM
     gateway): no per-request sync thread (marketplace/asgi_handler.py). No channels layer is needed.
"""
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
django.setup(set_prefix=False)  # what django.core.asgi.get_asgi_application() does first

from marketplace.asgi_handler import ASGIHandler  # noqa: E402 - needs the apps loaded

application = ASGIHandler()
