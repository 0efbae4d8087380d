"""WHAT: Django settings for the marketplace, read from the environment.
WHY: one codebase runs on a laptop (SQLite, LM Studio on :1234) and in production (Postgres, secrets
     in env) without edits; every knob is listed with a comment in `.env.example`.
HOW: django-environ reads `.env` when present, then the process environment (which wins).
"""

import os
from pathlib import Path

import environ

from llm.config import DEFAULT_MAX_RETRIES, DEFAULT_RETRY_BASE_DELAY, Timeouts  # plain Python: no Django import

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VERSION = "0.1.0"
APP_NAME = env.str("APP_NAME", default="Multi-Agent Marketplace")

# --- Core -------------------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=True)
# A development-only fallback; the system check marketplace.E001 refuses it when DEBUG is off.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-insecure-secret-key-change-me")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",  # first, so `manage.py runserver` serves ASGI
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_filters",
    "marketplace.apps.MarketplaceConfig",  # the project's own system checks
    "llm",
    "health",
    "negotiations",
    "web",  # the server-rendered pages (docs/web.md)
]

# Django's stock middleware. Under ASGI, marketplace/middleware.py's subclasses run their hooks inline on
# the event loop unless a request needs I/O (docs/adr/0002-inline-middleware-hooks.md);
# DJANGO_INLINE_MIDDLEWARE_HOOKS=false uses Django's own classes.
INLINE_MIDDLEWARE_HOOKS = env.bool("DJANGO_INLINE_MIDDLEWARE_HOOKS", default=True)


def _stock(path: str) -> str:
    return f"marketplace.middleware.{path.rsplit('.', 1)[1]}" if INLINE_MIDDLEWARE_HOOKS else path


MIDDLEWARE = [
    _stock("django.middleware.security.SecurityMiddleware"),
    "web.middleware.StaticFilesMiddleware",  # WhiteNoise, inline for every path but /static/
    _stock("django.contrib.sessions.middleware.SessionMiddleware"),
    _stock("django.middleware.common.CommonMiddleware"),
    _stock("django.middleware.csrf.CsrfViewMiddleware"),
    _stock("django.contrib.auth.middleware.AuthenticationMiddleware"),
    _stock("django.contrib.messages.middleware.MessageMiddleware"),
    _stock("django.middleware.clickjacking.XFrameOptionsMiddleware"),
]

ROOT_URLCONF = "marketplace.urls"
ASGI_APPLICATION = "marketplace.asgi.application"
WSGI_APPLICATION = "marketplace.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A relative SQLite path (sqlite:///db.sqlite3) is the project's, not the working directory's: the same
    # .env must not give manage.py run from elsewhere (a test, a cron job) another, empty database.
    _sqlite_name = str(DATABASES["default"]["NAME"])
    if _sqlite_name and _sqlite_name != ":memory:" and not _sqlite_name.startswith("file:"):
        DATABASES["default"]["NAME"] = str(BASE_DIR / _sqlite_name)  # an absolute path stays as it is
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on the busy timeout
        # instead of failing with "database is locked" when a read transaction upgrades to a write.
        "transaction_mode": "IMMEDIATE",
        "timeout": env.float("SQLITE_BUSY_TIMEOUT", default=20.0),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file (not shared-cache memory) so WAL and the busy timeout behave as in production;
    # one per process, so parallel test runs in one checkout do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-dbs" / f"test-{os.getpid()}.sqlite3")}
# Persistent connections are per thread; under ASGI each request may run on another thread.
DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves the web pages' static files from the apps' static/ folders (no collectstatic needed).
WHITENOISE_USE_FINDERS = True

# Request bodies above this size are refused with 413 before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("API_MAX_BODY_BYTES", default=1_048_576)

# --- REST framework and OpenAPI ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "marketplace.api_errors.drf_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": APP_NAME,
    "DESCRIPTION": "LLM provider gateway and buyer/seller agent negotiations.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    # Choice sets whose field names ("status", "role") other components use too.
    "ENUM_NAME_OVERRIDES": {
        "NegotiationStatusEnum": "negotiations.api.serializers.NEGOTIATION_STATUS_CHOICES",
        "NegotiationRoleEnum": "negotiations.models.Role",
    },
}

# --- LLM providers ----------------------------------------------------------------------------------
# These seed the `ProviderConfig` rows on `migrate`; the rows (editable in the admin) are what runs.
# Their defaults are llm.config's (the provider layer's one set), except OpenRouter's longer timeouts.
LLM_PROVIDER = env.str("LLM_PROVIDER", default="lm_studio")
LLM_PROVIDERS = {
    "lm_studio": {
        "kind": "lm_studio",
        "base_url": env.str("LM_STUDIO_BASE_URL", default="http://localhost:1234/v1"),
        "default_model": env.str("LM_STUDIO_DEFAULT_MODEL", default="llama-3-8b-instruct"),
        "enabled": env.bool("LM_STUDIO_ENABLED", default=True),
        "api_key_env": "LM_STUDIO_API_KEY",
        "timeout": env.float("LM_STUDIO_TIMEOUT", default=Timeouts.total),
        "connect_timeout": env.float("LM_STUDIO_CONNECT_TIMEOUT", default=Timeouts.connect),
        "first_token_timeout": env.float("LM_STUDIO_FIRST_TOKEN_TIMEOUT", default=Timeouts.first_token),
        "idle_timeout": env.float("LM_STUDIO_IDLE_TIMEOUT", default=Timeouts.idle),
        "max_retries": env.int("LM_STUDIO_MAX_RETRIES", default=DEFAULT_MAX_RETRIES),
        "retry_base_delay": env.float("LM_STUDIO_RETRY_BASE_DELAY", default=DEFAULT_RETRY_BASE_DELAY),
    },
    "openrouter": {
        "kind": "openrouter",
        "base_url": env.str("OPENROUTER_BASE_URL", default="https://openrouter.ai/api/v1"),
        "default_model": env.str("OPENROUTER_DEFAULT_MODEL", default="meta-llama/llama-3.1-8b-instruct"),
        "enabled": env.bool("OPENROUTER_ENABLED", default=False),
        "api_key_env": "OPENROUTER_API_KEY",
        "timeout": env.float("OPENROUTER_TIMEOUT", default=60.0),
        "connect_timeout": env.float("OPENROUTER_CONNECT_TIMEOUT", default=10.0),
        "first_token_timeout": env.float("OPENROUTER_FIRST_TOKEN_TIMEOUT", default=60.0),
        "idle_timeout": env.float("OPENROUTER_IDLE_TIMEOUT", default=60.0),
        "max_retries": env.int("OPENROUTER_MAX_RETRIES", default=DEFAULT_MAX_RETRIES),
        "retry_base_delay": env.float("OPENROUTER_RETRY_BASE_DELAY", default=DEFAULT_RETRY_BASE_DELAY),
    },
}
# API keys of the gateway itself (comma-separated). Empty: /api/v1/llm/* is open (development). Set: it
# needs `Authorization: Bearer <one of them>` (marketplace/gateway_keys.py); health and liveness stay open.
LLM_GATEWAY_API_KEYS = env.list("LLM_GATEWAY_API_KEYS", default=[])
OPENROUTER_APP_URL = env.str("OPENROUTER_APP_URL", default="")  # sent as HTTP-Referer
OPENROUTER_APP_TITLE = env.str("OPENROUTER_APP_TITLE", default=APP_NAME)  # sent as X-Title
LLM_RETRY_MAX_DELAY = env.float("LLM_RETRY_MAX_DELAY", default=30.0)  # cap on backoff and Retry-After
# Seconds another process may keep using provider config after an admin edit (this process: at once).
LLM_CONFIG_CACHE_SECONDS = env.float("LLM_CONFIG_CACHE_SECONDS", default=2.0)

# Streaming bounds and coalescing (0 disables a bound).
LLM_STREAM_MAX_TOKENS = env.int("LLM_STREAM_MAX_TOKENS", default=0)
LLM_STREAM_MAX_CHARS = env.int("LLM_STREAM_MAX_CHARS", default=0)
LLM_STREAM_MAX_SECONDS = env.float("LLM_STREAM_MAX_SECONDS", default=0.0)
LLM_STREAM_COALESCE_CHARS = env.int("LLM_STREAM_COALESCE_CHARS", default=0)
LLM_STREAM_COALESCE_MS = env.float("LLM_STREAM_COALESCE_MS", default=0.0)
LLM_SSE_MAX_LINE_BYTES = env.int("LLM_SSE_MAX_LINE_BYTES", default=1_048_576)
# The provider client's httpcore pool with linear bookkeeping (docs/adr/0001); false: httpcore's own.
LLM_LINEAR_POOL = env.bool("LLM_LINEAR_POOL", default=True)

# Gateway request limits (validated before any upstream call).
LLM_MAX_MESSAGES = env.int("LLM_MAX_MESSAGES", default=256)
LLM_MAX_TOKENS_LIMIT = env.int("LLM_MAX_TOKENS_LIMIT", default=32_768)

# The bundled local model (SmolLM2 on llama-cpp-python's server, see llm/local/server.py): "auto" lets
# `make run` start it at LM_STUDIO_BASE_URL when nothing answers there and the URL is local; "off" never.
LOCAL_LLM = env.str("LOCAL_LLM", default="auto")

# Health: the LLM probe's own timeout and cache lifetime.
HEALTH_LLM_PROBE_TIMEOUT = env.float("HEALTH_LLM_PROBE_TIMEOUT", default=2.0)
HEALTH_LLM_CACHE_SECONDS = env.float("HEALTH_LLM_CACHE_SECONDS", default=5.0)

# --- Negotiations -----------------------------------------------------------------------------------
NEGOTIATION_MAX_ROUNDS_CAP = 50
NEGOTIATION_DEFAULT_MAX_ROUNDS = env.int("NEGOTIATION_DEFAULT_MAX_ROUNDS", default=10)
NEGOTIATION_STREAM_PING_SECONDS = env.float("NEGOTIATION_STREAM_PING_SECONDS", default=15.0)
NEGOTIATION_STREAM_RETRY_MS = env.int("NEGOTIATION_STREAM_RETRY_MS", default=3000)
NEGOTIATION_STREAM_POLL_SECONDS = env.float("NEGOTIATION_STREAM_POLL_SECONDS", default=1.0)
NEGOTIATION_STREAM_QUEUE_SIZE = env.int("NEGOTIATION_STREAM_QUEUE_SIZE", default=256)
NEGOTIATION_STREAM_DELTA_COALESCE_MS = env.float("NEGOTIATION_STREAM_DELTA_COALESCE_MS", default=50.0)
NEGOTIATION_RESUME_ORPHANS = env.bool("NEGOTIATION_RESUME_ORPHANS", default=True)
NEGOTIATION_LLM_TIMEOUT = env.float("NEGOTIATION_LLM_TIMEOUT", default=60.0)
NEGOTIATION_MAX_ACTIVE = env.int("NEGOTIATION_MAX_ACTIVE", default=50)

# --- Logging ----------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
_DJANGO_LOG_LEVEL = "INFO" if LOG_LEVEL.upper() == "DEBUG" else LOG_LEVEL  # DEBUG: every SQL query, as Django's default
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "marketplace.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Loggers that Django (DEFAULT_LOGGING: `django` with DEBUG on, `django.server`) or uvicorn (its CLI
    # configures logging before it loads this app) give handlers of their own: those handlers have no
    # redaction filter, so every record they print would print secrets (`?token=` in an access log line)
    # unmasked. Naming the loggers here replaces their handlers with the filtered console.
    "loggers": {
        "django": {"handlers": ["console"], "level": _DJANGO_LOG_LEVEL, "propagate": False},
        "django.server": {"handlers": ["console"], "level": _DJANGO_LOG_LEVEL, "propagate": False},
        "uvicorn": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "uvicorn.access": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}
