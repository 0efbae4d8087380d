"""WHAT: `evaluation_database(target)`: run a block against a throwaway SQLite database (the default of
     `manage.py evaluate`), a named SQLite file that is kept, or the configured database.
WHY: evaluation negotiations are real negotiations — created, run and logged by the same services and
     engine — but a full run with baselines writes hundreds of negotiations, which would bury a
     developer's own data; a fresh database also makes a run reproducible (ids start at 1).
HOW: the way Django's test runner switches to a test database: close the connections, point the
     `default` alias at a new SQLite file (configured as in settings.py), `migrate` it (provider rows
     included), and put everything back afterwards. A temporary file is deleted at the end.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from asgiref.sync import SyncToAsync, sync_to_async
from django.core.management import call_command
from django.db import connections

from llm import registry

TEMPORARY = "temp"
CONFIGURED = "configured"
SQLITE_ENGINE = "django.db.backends.sqlite3"
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20.0,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}


@contextlib.contextmanager
def evaluation_database(target: str = TEMPORARY) -> Iterator[str]:
    """Use `target` ("temp", "configured" or a SQLite file path) as the default database in the block.

    Yields a description of the database used (for the report)."""
    if target == CONFIGURED:
        yield CONFIGURED
        return
    with contextlib.ExitStack() as stack:
        if target == TEMPORARY:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="evaluate-"))
            path = Path(directory) / "evaluation.sqlite3"
        else:
            path = Path(target).expanduser().resolve()
            path.parent.mkdir(parents=True, exist_ok=True)
        stack.enter_context(_default_database_at(path))
        yield TEMPORARY if target == TEMPORARY else str(path)


@contextlib.contextmanager
def _default_database_at(path: Path) -> Iterator[None]:
    settings_dict = connections["default"].settings_dict  # the same dict connections.settings hands out
    saved = dict(settings_dict)
    _connections_forget()
    options = dict(saved.get("OPTIONS", {})) if saved.get("ENGINE") == SQLITE_ENGINE else dict(SQLITE_OPTIONS)
    settings_dict.update(ENGINE=SQLITE_ENGINE, NAME=str(path), USER="", PASSWORD="", HOST="", PORT="", OPTIONS=options)
    registry.invalidate()  # provider rows are read from the database in use
    try:
        call_command("migrate", verbosity=0, interactive=False)
        yield
    finally:
        _connections_forget()
        settings_dict.clear()
        settings_dict.update(saved)
        registry.invalidate()


def _connections_forget() -> None:
    """Close and drop the `default` connection objects of this thread and of asgiref's sync thread (where
    the engine's calls run): a connection keeps its backend class, so another ENGINE needs new ones."""

    def forget() -> None:
        connections.close_all()
        with contextlib.suppress(AttributeError):
            del connections["default"]

    forget()
    SyncToAsync.single_thread_executor.submit(forget).result()


async def close_thread_connections() -> None:
    """Close the connection of the thread that runs the engine's database calls (sync_to_async)."""
    await sync_to_async(connections.close_all)()


__all__ = ["CONFIGURED", "TEMPORARY", "close_thread_connections", "evaluation_database"]
