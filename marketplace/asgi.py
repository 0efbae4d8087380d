"""WHAT: the ASGI entry point (daphne under `runserver`, uvicorn in production).
WHY: streaming views (LLM tokens, negotiation events) need an async server.
HOW: Django's own ASGI handler; no channels layer is needed for HTTP streaming.
"""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

application = get_asgi_application()
