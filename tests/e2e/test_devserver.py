"""End to end: what `make run` runs (`manage.py runserver_with_local_llm`), as a real process tree.
With nothing at LM_STUDIO_BASE_URL it starts the real model there and health reports the LLM available
with it; LOCAL_LLM=off reports degraded; a server already answering is used; and stopping the launcher
(Ctrl-C's SIGINT, or SIGTERM) leaves no model server and no Django process running."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from llm.local.server import DEFAULT_MODEL_ALIAS, free_port
from tests.support.processes import descendant_pids, port_accepts, wait_until_gone

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc"),
]

MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"
START_DEADLINE = 120.0  # seconds: migrate, model load and Django start on a busy 2-core machine


@pytest.fixture(scope="module")
def dev_environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment `make run` would see, with a SQLite database of its own (one per module)."""
    database = tmp_path_factory.mktemp("devserver") / "db.sqlite3"
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "LLM_PROVIDER": "lm_studio",
        "LM_STUDIO_ENABLED": "true",
        "LM_STUDIO_DEFAULT_MODEL": "llama-3-8b-instruct",
        "LOCAL_LLM": "auto",
        "HEALTH_LLM_CACHE_SECONDS": "0",
    }


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Launcher:
    """What `make run` runs: `manage.py migrate`, then `manage.py runserver_with_local_llm` in a
    subprocess whose output a thread collects."""

    def __init__(self, env: dict[str, str], *, lm_studio_url: str, **extra_env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        env = {**env, "LM_STUDIO_BASE_URL": lm_studio_url, **extra_env}
        subprocess.run(
            [sys.executable, str(MANAGE_PY), "migrate", "--noinput", "-v", "0"], env=env, check=True, timeout=300
        )
        self.process = subprocess.Popen(
            [sys.executable, str(MANAGE_PY), "runserver_with_local_llm", f"127.0.0.1:{self.port}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # As a shell starts a background job (`make run &`): SIGINT ignored. Ctrl-C must work anyway.
            preexec_fn=_ignore_sigint,
        )
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def health_when_up(self) -> dict:
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the launcher exited with {self.process.returncode}:\n{self.output}")
            try:
                response = httpx.get(f"{self.url}/api/v1/health", timeout=10)
                if response.status_code == 200:
                    return response.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        pytest.fail(f"the server did not answer within {START_DEADLINE:g} s:\n{self.output}")

    def stop(self, signum: int) -> dict[int, str]:
        """Send `signum` to the launcher only, wait for it; return the processes it had started."""
        started = descendant_pids(self.process.pid)
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the launcher did not exit after {signal.Signals(signum).name}:\n{self.output}")
        return started

    def kill(self) -> None:
        for pid in descendant_pids(self.process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.kill()
        self.process.wait()


@pytest.fixture
def launch(dev_environment):
    launchers: list[Launcher] = []

    def start(**kwargs: str) -> Launcher:
        launcher = Launcher(dev_environment, **kwargs)
        launchers.append(launcher)
        return launcher

    yield start
    for launcher in launchers:  # a failed test must not leave servers behind either
        if launcher.process.poll() is None:
            launcher.kill()


def test_with_nothing_answering_it_serves_the_local_model_and_ctrl_c_leaves_nothing_running(launch):
    model_port = free_port()
    launcher = launch(lm_studio_url=f"http://localhost:{model_port}/v1")

    health = launcher.health_when_up()

    assert health["status"] == "healthy"
    assert health["components"]["llm"]["available"] is True
    assert health["components"]["llm"]["model"] == DEFAULT_MODEL_ALIAS
    status = httpx.get(f"{launcher.url}/api/v1/llm/status", timeout=30).json()
    lm_studio = next(p for p in status["providers"] if p["name"] == "lm_studio")
    assert lm_studio["available"] is True
    assert lm_studio["default_model"] == DEFAULT_MODEL_ALIAS
    assert lm_studio["models"] == [DEFAULT_MODEL_ALIAS]
    model_pid = int(re.search(r"Local model: serving .*\(pid (\d+)", launcher.output).group(1))

    started = launcher.stop(signal.SIGINT)

    assert model_pid in started
    assert any("llama_cpp.server" in command for command in started.values())
    assert any("runserver" in command for command in started.values())
    for pid, command in started.items():
        assert wait_until_gone(pid), f"still running after Ctrl-C: {pid} {command}"
    assert not port_accepts("127.0.0.1", model_port)
    assert not port_accepts("127.0.0.1", launcher.port)
    assert "Local model: stopped." in launcher.output


def test_local_llm_off_starts_no_model_and_health_reports_degraded(launch):
    model_port = free_port()
    launcher = launch(lm_studio_url=f"http://localhost:{model_port}/v1", LOCAL_LLM="off")

    health = launcher.health_when_up()

    assert health["status"] == "degraded"
    assert health["components"]["llm"]["available"] is False
    assert not port_accepts("127.0.0.1", model_port)
    assert "LOCAL_LLM=off" in launcher.output
    started = launcher.stop(signal.SIGTERM)
    assert not any("llama_cpp.server" in command for command in started.values())
    for pid, command in started.items():
        assert wait_until_gone(pid), f"still running after SIGTERM: {pid} {command}"


def test_a_server_already_answering_is_used_and_no_model_starts(launch, fake_openai):
    launcher = launch(lm_studio_url=fake_openai.base_url)

    health = launcher.health_when_up()

    assert health["components"]["llm"]["available"] is True
    assert "already answers" in launcher.output
    started = launcher.stop(signal.SIGINT)
    assert not any("llama_cpp.server" in command for command in started.values())
    for pid, command in started.items():
        assert wait_until_gone(pid), f"still running after Ctrl-C: {pid} {command}"
