"""WHAT: `run_manage()`, which runs `python manage.py ...` in a subprocess against a database of its own.
WHY: what `migrate` does on a fresh database, or with bad environment values, is only visible from outside:
     the test session's database is migrated already, and settings are read once per process.
HOW: the test's environment plus the given variables, DATABASE_URL pointing at a SQLite file the caller
     chooses; returns the completed process (text output) for the caller to assert on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

__all__ = ["run_manage"]

MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"


def run_manage(*args: str, database: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """`manage.py *args` with DATABASE_URL=sqlite:///<database> and `env` added to this environment."""
    environ = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", **env}
    return subprocess.run(
        [sys.executable, str(MANAGE_PY), *args], env=environ, capture_output=True, text=True, timeout=timeout
    )
