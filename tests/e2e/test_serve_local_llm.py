"""End to end: `manage.py serve_local_llm` serves the real model at the given port under its alias, and
Ctrl-C (SIGINT, even when started with SIGINT ignored as a background job) or SIGTERM stops it and the
model server process."""

from __future__ import annotations

import os
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


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_local_llm_serves_the_model_and_stops_with_its_server(signum):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "serve_local_llm", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_ignore_sigint,
        env={**os.environ, "LM_STUDIO_BASE_URL": "http://localhost:1234/v1"},
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while not any("Serving" in line for line in lines):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "not serving after 120 s:\n" + "".join(lines)
            time.sleep(0.1)
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10).json()
        assert [model["id"] for model in models["data"]] == [DEFAULT_MODEL_ALIAS]
        started = descendant_pids(process.pid)
        assert any("llama_cpp.server" in command for command in started.values())

        process.send_signal(signum)
        assert process.wait(timeout=60) == 0, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    for pid, command in started.items():
        assert wait_until_gone(pid), f"still running: {pid} {command}"
    assert not port_accepts("127.0.0.1", port)
