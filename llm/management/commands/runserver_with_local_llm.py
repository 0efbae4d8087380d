"""WHAT: `python manage.py runserver_with_local_llm [addrport]`, what `make run` runs: the bundled local
      model when no LLM server answers at LM_STUDIO_BASE_URL, then `runserver`; Ctrl-C stops both.
WHY: `make run` on a machine without LM Studio should end with a working LLM, and with LM Studio running
     it must start nothing; LOCAL_LLM=off turns the local model off.
HOW: a thin wrapper over `llm.local.devserver`; the model server's output goes to local-llm.log.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management.base import BaseCommand

from llm.local.devserver import devserver_plan, devserver_run


class Command(BaseCommand):
    requires_system_checks: list = []  # runserver runs them; a broken check must not block the model server
    help = "Start the bundled local model when no LLM server answers at LM_STUDIO_BASE_URL, then runserver."

    def add_arguments(self, parser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000", help="Passed on to runserver.")
        parser.add_argument("--noreload", action="store_true", help="Passed on to runserver.")

    def handle(self, *args, **options) -> None:
        lm_studio = settings.LLM_PROVIDERS["lm_studio"]
        plan = devserver_plan(
            local_llm=settings.LOCAL_LLM, base_url=lm_studio["base_url"], provider_enabled=lm_studio["enabled"]
        )
        runserver_args = [options["addrport"], *(["--noreload"] if options["noreload"] else [])]
        code = devserver_run(
            runserver_args=runserver_args,
            plan=plan,
            base_url=lm_studio["base_url"],
            manage_py=settings.BASE_DIR / "manage.py",
            environ=dict(os.environ),
            log_path=settings.BASE_DIR / "local-llm.log",
            echo=self.echo,
        )
        if code:
            raise SystemExit(code)

    def echo(self, line: str) -> None:
        # Flushed at once: when stdout is a pipe (CI, `make run > log`) it is block-buffered otherwise.
        self.stdout.write(line)
        self.stdout.flush()
