"""WHAT: `python manage.py serve_local_llm`: serve the bundled SmolLM2 model in the foreground until Ctrl-C.
WHY: to run the local model on its own (e.g. beside a plain `manage.py runserver`, or for other tools) at
     the URL the project is configured to call, without LM Studio.
HOW: `llm.local.server.LocalModelServer` at LM_STUDIO_BASE_URL's host and port (or --host/--port); stops
     the server's whole process group on exit. Installs nothing: a missing install names its make target.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from llm.local.server import (
    DEFAULT_CONTEXT_TOKENS,
    DEFAULT_MODEL_ALIAS,
    LocalModelServer,
    LocalModelServerError,
    ignore_stop_signals,
    interrupt_on_stop_signals,
    local_address,
)


class Command(BaseCommand):
    requires_system_checks: list = []  # uses no database or URL; a failing check elsewhere must not block it
    help = "Serve the bundled SmolLM2-135M-Instruct model (llama-cpp-python's OpenAI-compatible server)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", help="Address to bind (default: the host of LM_STUDIO_BASE_URL).")
        parser.add_argument("--port", type=int, help="Port (default: the port of LM_STUDIO_BASE_URL).")
        parser.add_argument(
            "--alias",
            default=DEFAULT_MODEL_ALIAS,
            help=f"Model id the server reports (default {DEFAULT_MODEL_ALIAS}). Set LM_STUDIO_DEFAULT_MODEL to "
            "the same id so health and status name it; requests for any model id get this model.",
        )
        parser.add_argument("--context-tokens", type=int, default=DEFAULT_CONTEXT_TOKENS, help="Context window.")
        parser.add_argument("--threads", type=int, help="CPU threads (default: llama.cpp's choice).")

    def handle(self, *args, **options) -> None:
        try:
            host, port = local_address(settings.LLM_PROVIDERS["lm_studio"]["base_url"])
        except LocalModelServerError:
            host, port = "127.0.0.1", 1234  # LM_STUDIO_BASE_URL points elsewhere: LM Studio's usual address
        server = LocalModelServer(
            host=options["host"] or host,
            port=options["port"] or port,
            alias=options["alias"],
            context_tokens=options["context_tokens"],
            threads=options["threads"],
        )
        with interrupt_on_stop_signals():  # Ctrl-C, SIGTERM, SIGHUP
            try:
                server.start().wait_ready()
                self.stdout.write(f"Serving {server.alias} at {server.base_url}; Ctrl-C stops it.")
                self.stdout.flush()  # a pipe (CI, a log file) is block-buffered: the line must go out now
                while server.running:
                    time.sleep(0.5)
                raise CommandError(f"The local model server exited with code {server.process.returncode}.")
            except LocalModelServerError as exc:
                raise CommandError(str(exc)) from exc
            except KeyboardInterrupt:
                pass
            finally:
                ignore_stop_signals()
                server.stop()
