"""WHAT: the development server that `make run` starts: the bundled local model first when no LLM server
      answers at LM_STUDIO_BASE_URL, then Django's `runserver`; stopping it stops both.
WHY: a newcomer without LM Studio gets a marketplace whose LLM works, while someone with LM Studio (or any
     server on that URL) keeps using it untouched; and Ctrl-C or SIGTERM must never leave a model server
     behind holding the port.
HOW: `devserver_plan()` decides (LOCAL_LLM, provider enabled, URL local, something answers, installed);
     `devserver_run()` starts the model with `llm.local_server`, sets LM_STUDIO_DEFAULT_MODEL to the
     model's id for Django (and `migrate`, which syncs the provider rows from it), runs `manage.py
     runserver` in its own process group, and on exit, signal or error stops Django's group and then
     the model server's.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llm.local_server import (
    DEFAULT_MODEL_ALIAS,
    INSTALL_COMMAND,
    LocalModelServer,
    LocalModelServerError,
    own_process_group_kwargs,
    is_local_url,
    missing_modules,
    server_answers,
    stop_process_group,
)

__all__ = ["DevserverPlan", "devserver_plan", "devserver_run"]

LOCAL_LLM_OFF_VALUES = {"off", "false", "0", "no"}
MODEL_READY_TIMEOUT = 120.0  # seconds; loading takes a few on a laptop, more when the machine is busy
DJANGO_STOP_TIMEOUT = 10.0


class _StopRequested(Exception):
    """SIGTERM or SIGHUP arrived; unwinds the wait loop like Ctrl-C's KeyboardInterrupt."""


@dataclass(frozen=True)
class DevserverPlan:
    """Whether to start the local model, and the sentence that tells the user why."""

    start_local_model: bool
    reason: str


def devserver_plan(*, local_llm: str, base_url: str, provider_enabled: bool) -> DevserverPlan:
    """Decide whether the bundled local model should be started at `base_url`."""
    if local_llm.strip().lower() in LOCAL_LLM_OFF_VALUES:
        return DevserverPlan(False, "LOCAL_LLM=off: not starting the bundled local model.")
    if not provider_enabled:
        return DevserverPlan(False, "the lm_studio provider is disabled: not starting the bundled local model.")
    if not is_local_url(base_url):
        return DevserverPlan(False, f"{base_url} is not on this machine: not starting the bundled local model.")
    if server_answers(base_url):
        return DevserverPlan(False, f"an LLM server already answers at {base_url}: using it.")
    missing = missing_modules()
    if missing:
        return DevserverPlan(
            False,
            f"nothing answers at {base_url} and the bundled local model is not installed "
            f"(missing: {', '.join(missing)}); run `{INSTALL_COMMAND}` to install it.",
        )
    return DevserverPlan(True, f"nothing answers at {base_url}: starting the bundled local model there.")


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
    """Run the model server (when planned) and `manage.py runserver`; return Django's exit code."""
    echo(f"Local model: {plan.reason}")
    model_server: LocalModelServer | None = None
    django: subprocess.Popen | None = None
    env = dict(environ)
    previous_handlers = _install_stop_handlers()
    try:
        if plan.start_local_model:
            model_server = LocalModelServer.for_base_url(base_url, alias=model_alias, log_path=log_path)
            try:
                model_server.start().wait_ready(MODEL_READY_TIMEOUT)
            except LocalModelServerError as exc:
                echo(f"Local model: could not start ({exc}); the LLM will report unavailable.")
                model_server.stop()
                model_server = None
            else:
                # The model server answers every model name with its one model; making its id the default
                # model lets health, status and /models name what is really served.
                env["LM_STUDIO_DEFAULT_MODEL"] = model_alias
                echo(
                    f"Local model: serving {model_alias} (SmolLM2-135M-Instruct) at {model_server.base_url} "
                    f"(pid {model_server.process.pid}, log {log_path}); it stops when this server stops."
                )
                _sync_provider_rows(manage_py, env, echo)
        django = subprocess.Popen(
            [sys.executable, str(manage_py), "runserver", *runserver_args], env=env, **own_process_group_kwargs()
        )
        return _wait(django, model_server, echo)
    except (KeyboardInterrupt, _StopRequested):
        return 0
    finally:
        # A second Ctrl-C must not cut the cleanup short and orphan a child; each step has its own timeout.
        _ignore_stop_signals()
        if django is not None:
            # Django's autoreloader runs the server in a child process: the group signal reaches both.
            stop_process_group(django, timeout=DJANGO_STOP_TIMEOUT, first_signal=signal.SIGINT)
        if model_server is not None:
            model_server.stop()
            echo("Local model: stopped.")
        _restore_handlers(previous_handlers)


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


def _raise_stop(signum: int, frame: object) -> None:
    raise _StopRequested(signal.Signals(signum).name)


def _install_stop_handlers() -> dict[int, object]:
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, _raise_stop)
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    return previous


def _ignore_stop_signals() -> None:
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            signal.signal(signum, signal.SIG_IGN)


def _restore_handlers(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
