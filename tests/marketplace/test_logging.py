"""Logging as the servers configure it: with DEBUG on (the development default) and under uvicorn, whose CLI
configures logging before it loads the app, every record of Django's and the servers' own loggers is
printed once, with secrets masked (Django's and uvicorn's own handlers have no redaction filter)."""

import subprocess
import sys

import pytest
from django.conf import settings

SECRET = "abcdefSECRETTOKEN0123"

# Run as `runserver`/uvicorn would: the server's logging first (uvicorn), then django.setup().
SCRIPT = f"""
import logging, logging.config, sys
import uvicorn.config
logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
import django
django.setup()
for name in sys.argv[1:]:
    logging.getLogger(name).warning('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                                    "/api/v1/negotiations/1/stream?token={SECRET}", "1.1", 200)
"""

LOGGERS = [
    "django.request",
    "django.channels.server",
    "django.server",
    "uvicorn.access",
    "uvicorn.error",
    "negotiations.live.views",
]


@pytest.mark.parametrize("debug", ["true", "false"])
def test_every_logger_prints_once_and_masked(debug):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *LOGGERS],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "marketplace.settings",
            "DJANGO_DEBUG": debug,
            "LOG_LEVEL": "INFO",
        },
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert SECRET not in output
    for name in LOGGERS:
        lines = [line for line in output.splitlines() if "/stream?token=" in line and f" {name}:" in line]
        assert len(lines) == 1, (name, output)
        assert "?token=[REDACTED]" in lines[0]
    assert output.count("/stream?token=") == len(LOGGERS)  # no second, unfiltered copy anywhere
