"""WHAT: the Django project (settings, URLs, ASGI/WSGI entry points) and the plumbing every app shares."""
