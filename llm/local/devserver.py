"""WHAT: the development server that `make run` starts: the bundled local model first when no LLM server
      answers at LM_STUDIO_BASE_URL, then Django's `runserver`; stopping it stops both.
WHY: a newcomer without LM Studio gets a marketplace whose LLM works, while someone with LM Studio (or any
     server on that URL) keeps using it untouched; and Ctrl-C or SIGTERM must never leave a model server
     behind holding the port.
HOW: `devserver_plan()` decides (LOCAL_LLM, provider enabled, URL local, something answers, installed);
     `devserver_run()` starts the model with `llm.local.server`, makes it the default model, runs
     `manage.py runserver` in its own process group, and on exit, signal or error stops both groups.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llm.config import public_url
from llm.local.server import (
    DEFAULT_MODEL_ALIAS,
    INSTALL_COMMAND,
    LocalModelServer,
    LocalModelServerError,
    ignore_stop_signals,
    interrupt_on_stop_signals,
    is_local_url,
    missing_modules,
    own_process_group_kwargs,
    server_answers,
    stop_process_group,
)

__all__ = ["DevserverPlan", "devserver_plan", "devserver_run"]

LOCAL_LLM_OFF_VALUES = {"off", "false", "0", "no"}
MODEL_READY_TIMEOUT = 120.0  # seconds; loading takes a few on a laptop, more when the machine is busy
DJANGO_STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class DevserverPlan:
    """Whether to start the local model, and the sentence that tells the user why."""

    start_local_model: bool
    reason: str


def devserver_plan(*, local_llm: str, base_url: str, provider_enabled: bool) -> DevserverPlan:
    """Decide whether the bundled local model should be started at `base_url`."""
    shown = public_url(base_url)  # the reason is printed: no credentials a URL may carry
    if local_llm.strip().lower() in LOCAL_LLM_OFF_VALUES:
        return DevserverPlan(False, "LOCAL_LLM=off: not starting the bundled local model.")
    if not provider_enabled:
        return DevserverPlan(False, "the lm_studio provider is disabled: not starting the bundled local model.")
    if not is_local_url(base_url):
        return DevserverPlan(False, f"{shown} is not on this machine: not starting the bundled local model.")
    if server_answers(base_url):
        return DevserverPlan(False, f"an LLM server already answers at {shown}: using it.")
    missing = missing_modules()
    if missing:
        return DevserverPlan(
            False,
            f"nothing answers at {shown} and the bundled local model is not installed "
            f"(missing: {', '.join(missing)}); run `{INSTALL_COMMAND}` to install it.",
        )
    return DevserverPlan(True, f"nothing answers at {shown}: starting the bundled local model there.")


def devserver_run(
    *,
    runserver_args: list[str],
    plan: DevserverPlan,
    base_url: str,
    manage_py: Path,
    environ: dict[str, str],
    log_path: Path,
    echo: Callable[[str], None] = print,
    model_alias: str = DEFAULT_MODEL_ALIAS,
) -> int:
    """Run the model server (when planned) and `manage.py runserver`; return Django's exit code.

    SIGINT (Ctrl-C), SIGTERM and SIGHUP stop both and return 0. Main thread only.
    """
    echo(f"Local model: {plan.reason}")
    model_server: LocalModelServer | None = None
    django: subprocess.Popen | None = None
    env = dict(environ)
    with interrupt_on_stop_signals():
        try:
            if plan.start_local_model:
                model_server = _start_model(base_url, model_alias, log_path, echo)
            if model_server is not None:
                # The model server answers every model name with its one model; making its id the
                # default model lets health, status and /models name what is really served.
                env["LM_STUDIO_DEFAULT_MODEL"] = model_alias
                _sync_provider_rows(manage_py, env, echo)
            django = subprocess.Popen(
                [sys.executable, str(manage_py), "runserver", *runserver_args], env=env, **own_process_group_kwargs()
            )
            return _wait(django, model_server, echo)
        except KeyboardInterrupt:
            return 0
        finally:
            ignore_stop_signals()
            if django is not None:
                # Django's autoreloader runs the server in a child process: the group signal reaches both.
                stop_process_group(django, timeout=DJANGO_STOP_TIMEOUT, first_signal=signal.SIGINT)
            if model_server is not None:
                model_server.stop()
                echo("Local model: stopped.")


def _start_model(base_url: str, alias: str, log_path: Path, echo: Callable[[str], None]) -> LocalModelServer | None:
    server = LocalModelServer.for_base_url(base_url, alias=alias, log_path=log_path)
    try:
        server.start().wait_ready(MODEL_READY_TIMEOUT)
    except LocalModelServerError as exc:
        server.stop()
        echo(f"Local model: could not start ({exc}); the LLM will report unavailable.")
        return None
    except BaseException:
        server.stop()
        raise
    echo(
        f"Local model: serving {alias} (SmolLM2-135M-Instruct) at {server.base_url} "
        f"(pid {server.process.pid}, log {log_path}); it stops when this server stops."
    )
    return server


def _sync_provider_rows(manage_py: Path, env: dict[str, str], echo: Callable[[str], None]) -> None:
    # The `ProviderConfig` rows, not the environment, are what runs; `migrate` re-syncs the env-defined
    # rows whose environment changed, here LM_STUDIO_DEFAULT_MODEL.
    result = subprocess.run([sys.executable, str(manage_py), "migrate", "--noinput", "-v", "0"], env=env)
    if result.returncode != 0:
        echo("Local model: `migrate` failed, so the lm_studio row may still name the previous default model.")


def _wait(django: subprocess.Popen, model_server: LocalModelServer | None, echo: Callable[[str], None]) -> int:
    warned = False
    while True:
        code = django.poll()
        if code is not None:
            return code
        if model_server is not None and not model_server.running and not warned:
            echo("Local model: the model server exited; the LLM will report unavailable.")
            warned = True
        time.sleep(0.2)
