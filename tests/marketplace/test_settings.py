"""Settings read from the environment: a relative SQLite DATABASE_URL names a file in the project
directory whatever the working directory (the .env.example value must not move the database)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

PRINT_DATABASE_NAME = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'marketplace.settings'; django.setup(); "
    "from django.conf import settings; print(settings.DATABASES['default']['NAME'])"
)


def database_name(url: str, cwd: Path) -> str:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(settings.BASE_DIR)}
    result = subprocess.run(
        [sys.executable, "-c", PRINT_DATABASE_NAME], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    "url,expected",
    [
        ("sqlite:///db.sqlite3", "{base}/db.sqlite3"),
        ("sqlite:///data/other.sqlite3", "{base}/data/other.sqlite3"),
        ("sqlite:////tmp/absolute.sqlite3", "/tmp/absolute.sqlite3"),
        ("sqlite://:memory:", ":memory:"),
    ],
    ids=["relative", "relative-subdir", "absolute", "memory"],
)
def test_sqlite_paths_resolve_against_the_project_directory(tmp_path, url, expected):
    assert database_name(url, cwd=tmp_path) == expected.format(base=settings.BASE_DIR)
