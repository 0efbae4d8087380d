"""The post_migrate seeding of provider rows across partial migrations: `migrate auth` on a fresh database,
`migrate llm zero` or back to an older state, a full `migrate` afterwards, and the upgrade of rows synced by
older code, each run as `make run` would run it (a subprocess)."""

import hashlib
import json
import sqlite3

import pytest

from llm.services import ENV_FIELDS
from tests.support.manage import run_manage


def provider_rows(database) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [name for (name,) in connection.execute("SELECT name FROM llm_providerconfig ORDER BY name")]


def test_migrating_another_app_first_on_a_fresh_database_seeds_nothing_and_does_not_fail(tmp_path):
    database = tmp_path / "fresh.sqlite3"
    result = run_manage("migrate", "auth", "--noinput", database=database)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr

    result = run_manage("migrate", "--noinput", database=database)
    assert result.returncode == 0, result.stderr
    assert provider_rows(database) == ["lm_studio", "openrouter"]


# "zero": the table is dropped and made again; "0001": the current model's columns are not there, so
# the seeding must not run against them.
@pytest.mark.parametrize("target", ["zero", "0001"])
def test_migrating_llm_back_and_forward_again_reseeds_the_providers(tmp_path, target):
    database = tmp_path / "db.sqlite3"
    assert run_manage("migrate", "--noinput", database=database).returncode == 0

    result = run_manage("migrate", "llm", target, "--noinput", database=database)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr

    result = run_manage("migrate", "--noinput", database=database)
    assert result.returncode == 0, result.stderr
    assert provider_rows(database) == ["lm_studio", "openrouter"]


def test_upgrading_from_the_fingerprint_keeps_admin_edits(tmp_path, settings):
    """A database synced by 0001's code (one fingerprint of all values), then edited in the admin."""
    database = tmp_path / "db.sqlite3"
    assert run_manage("migrate", "llm", "0001", "--noinput", database=database).returncode == 0
    env = {f: settings.LLM_PROVIDERS["lm_studio"][f] for f in ENV_FIELDS}
    fingerprint = hashlib.sha256(json.dumps(env, sort_keys=True, default=str).encode()).hexdigest()
    row = {**env, "timeout": 123.0, "name": "lm_studio", "env_fingerprint": fingerprint}  # timeout edited
    with sqlite3.connect(database) as connection:
        connection.execute(
            f"INSERT INTO llm_providerconfig ({', '.join(row)}, created_at, updated_at) "
            f"VALUES ({', '.join('?' * len(row))}, '2026-01-01', '2026-01-01')",
            list(row.values()),
        )

    result = run_manage("migrate", "--noinput", database=database)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(database) as connection:
        timeout, env_values = connection.execute(
            "SELECT timeout, env_values FROM llm_providerconfig WHERE name = 'lm_studio'"
        ).fetchone()
    assert timeout == 123.0
    assert json.loads(env_values) == env
