"""`make run` and `make test` as set-up commands: LOCAL_LLM=off in .env (not only on the make command line)
skips installing the bundled model; a failed install of it does not stop `make run` (it warns and serves
without the model) but does stop `make test`, whose end-to-end tests need it.

The Makefile runs for real, in a copy of the project, with a stand-in venv whose `python` passes every
call to the project's venv except pip installs, `migrate`, `runserver_with_local_llm` and pytest, which it
records (and pip fails when the test says so): nothing is installed and no server starts."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

STAND_IN = """#!/bin/sh
case "$1 $2" in
  "manage.py migrate") exit 0 ;;
  "manage.py runserver_with_local_llm") echo "RAN runserver LOCAL_LLM=${LOCAL_LLM-unset}"; exit 0 ;;
  "-m pip") echo "RAN pip install"; exit "${FAKE_PIP_FAILS:-0}" ;;
  "-m pytest") echo "RAN pytest"; exit 0 ;;
  "-m llm.local.server") exit 0 ;;
  "-m ruff") echo "RAN ruff $3"; exit 0 ;;
esac
exec "%(python)s" "$@"
"""


@pytest.fixture
def project(tmp_path):
    """A copy of what the Makefile needs, its venv a stand-in with every install but the local model done."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in (
        "Makefile",
        "manage.py",
        "constraints.txt",
        "requirements.txt",
        "requirements-dev.txt",
        "requirements-local-llm.txt",
    ):
        shutil.copy2(ROOT / name, copy / name)
    for package in ("marketplace", "llm"):
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    venv = copy / ".venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(STAND_IN % {"python": sys.executable})
    python.chmod(0o755)
    for stamp in (".runtime-installed", ".dev-installed"):
        (venv / stamp).touch()
    return copy


def make(project: Path, *args: str, dotenv: str | None = None, **env: str) -> subprocess.CompletedProcess:
    if dotenv is not None:
        (project / ".env").write_text(dotenv)
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LOCAL_LLM", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")
    }
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=project,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_local_llm_off_in_dotenv_skips_the_install(project):
    result = make(project, "run", dotenv="LOCAL_LLM=off\n")
    assert result.returncode == 0, result.stderr
    assert "RAN pip install" not in result.stdout
    assert "LOCAL_LLM=off: not installing" in result.stdout and "RAN runserver" in result.stdout


def test_the_command_line_wins_over_dotenv(project):
    result = make(project, "run", "LOCAL_LLM=off", dotenv="LOCAL_LLM=auto\n")
    assert "RAN pip install" not in result.stdout
    assert "RAN runserver LOCAL_LLM=off" in result.stdout  # and Django gets the same value


def test_by_default_run_installs_the_bundled_model(project):
    result = make(project, "run")
    assert result.returncode == 0, result.stderr
    assert "RAN pip install" in result.stdout and "RAN runserver LOCAL_LLM=unset" in result.stdout


def test_run_serves_without_the_model_when_its_install_fails(project):
    result = make(project, "run", FAKE_PIP_FAILS="1")
    assert result.returncode == 0, result.stderr
    assert "could not be installed" in result.stdout
    assert result.stdout.index("RAN pip install") < result.stdout.index("RAN runserver")


def test_test_stops_when_the_model_cannot_be_installed(project):
    result = make(project, "test", FAKE_PIP_FAILS="1")
    assert result.returncode != 0
    assert "RAN pip install" in result.stdout and "RAN pytest" not in result.stdout


def test_test_lints_before_pytest(project):
    result = make(project, "test")
    assert result.returncode == 0, result.stderr
    assert "RAN ruff check" in result.stdout and "RAN ruff format" in result.stdout
    assert result.stdout.index("RAN ruff format") < result.stdout.index("RAN pytest")
