"""The post_migrate seeding of provider rows across partial migrations: `migrate auth` on a fresh database,
`migrate llm zero`, and a full `migrate` afterwards, each run as `make run` would run it (a subprocess)."""
import sqlite3

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


def test_unmigrating_llm_and_migrating_it_again(tmp_path):
    database = tmp_path / "db.sqlite3"
    assert run_manage("migrate", "--noinput", database=database).returncode == 0

    result = run_manage("migrate", "llm", "zero", "--noinput", database=database)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr

    result = run_manage("migrate", "--noinput", database=database)
    assert result.returncode == 0, result.stderr
    assert provider_rows(database) == ["lm_studio", "openrouter"]
