"""WHAT: the WSGI entry point.
WHY: kept for tools that expect it; streaming endpoints need ASGI (see asgi.py).
HOW: Django's own WSGI handler.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

application = get_wsgi_application()
