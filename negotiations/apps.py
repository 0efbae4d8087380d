from django.apps import AppConfig


class NegotiationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "negotiations"
