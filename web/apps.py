"""WHAT: the Django app config of the web pages.
WHY: templates and static files are found through the app registry (APP_DIRS, WhiteNoise's finders).
HOW: a plain AppConfig; nothing runs at start-up.
"""

from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "web"
    verbose_name = "Web pages"
