"""WHAT: the relay benchmark: what the gateway (`POST /api/v1/llm/chat/completions`) adds on top of the
upstream it relays, served by daphne (the server `runserver` uses) and by the production ASGI server
candidates (uvicorn with httptools on the asyncio loop; granian when installed).
WHY: a gateway must be nearly free. Targets (issue 3; throughput and the peer's figures: docs/benchmarks.md):
     at most 5 ms of gateway CPU per 64-token stream, at most 2 ms added to TTFT p50 at concurrency 1.
HOW: the fake OpenAI server (64 tokens, no delay) and each gateway (one process, DEBUG off) on loopback;
     per case the direct path and every gateway are measured in interleaved rounds, rotating the order.
     Gateway CPU is read from /proc before and after each batch; ratios are gateway / direct, same run.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.loadgen import BatchResult, Target, percentile, run_batch
from bench.profiling import PySpySampler

ROOT = Path(__file__).resolve().parent.parent
TOKENS = 64
STREAM_BODY = {
    "model": "fake-model",
    "messages": [{"role": "user", "content": "Say hello."}],
    "stream": True,
    "max_tokens": TOKENS,
}
COMPLETE_BODY = {**STREAM_BODY, "stream": False}


@dataclass(frozen=True)
class Case:
    name: str
    concurrency: int
    requests: int  # per round
    stream: bool


CASES = (
    Case("stream c=1", 1, 150, True),
    Case("stream c=10", 10, 400, True),
    Case("stream c=100", 100, 800, True),
    Case("non-stream c=10", 10, 400, False),
)
QUICK_CASES = (
    Case("stream c=1", 1, 40, True),
    Case("stream c=10", 10, 100, True),
    Case("stream c=100", 100, 200, True),
    Case("non-stream c=10", 10, 100, False),
)


# --- the fake upstream, in its own process ---------------------------------------------------------
def serve_upstream() -> None:
    """`python -m bench.relay --serve-upstream`: the fake server, answering TOKENS tokens by default."""
    from tests.support.fake_openai import FakeOpenAIServer, _main

    class BenchUpstream(FakeOpenAIServer):
        def _options(self, record):
            tokens, delay = super()._options(record)
            return (tokens if "x-fake-tokens" in record.headers else TOKENS), delay

    import tests.support.fake_openai as fake

    fake.FakeOpenAIServer = BenchUpstream  # _main builds the server by this name
    _main(["--port", "0"])


# --- servers ---------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVER_COMMANDS = {
    # daphne's CLI is what `manage.py runserver` runs (daphne is first in INSTALLED_APPS), minus the
    # autoreloader and the per-request access log line runserver prints.
    "daphne": lambda port: ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "marketplace.asgi:application"],
    "uvicorn": lambda port: [
        "-m",
        "uvicorn",
        "marketplace.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--http",
        "httptools",
        "--loop",
        "asyncio",
        "--lifespan",
        "off",
        "--no-access-log",
        "--log-level",
        "warning",
    ],
    "granian": lambda port: [
        "-m",
        "granian",
        "--interface",
        "asginl",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "asyncio",
        "--no-ws",
        "--log-level",
        "warning",
        "marketplace.asgi:application",
    ],
}


def available_servers() -> list[str]:
    return [name for name in SERVER_COMMANDS if importlib.util.find_spec(name) is not None]


class Process:
    """A child process whose output goes to a log file (a full pipe would block it: daphne logs every request)."""

    def __init__(
        self, name: str, args: list[str], env: dict[str, str], log_dir: str, ready_line: str | None = None
    ) -> None:
        self.name = name
        self.log_path = Path(log_dir) / f"{name}.log"
        with open(self.log_path, "w") as log:
            self.popen = subprocess.Popen(
                [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.psutil = psutil.Process(self.popen.pid)
        self.first_line = self._wait_for_line(ready_line) if ready_line else ""

    def _wait_for_line(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_path.read_text().splitlines():
                if text in line:
                    return line
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not say {text!r}: {self.log_tail()}")

    def log_tail(self) -> str:
        return self.log_path.read_text()[-2000:]

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in [self.psutil, *self.psutil.children(recursive=True)]:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def stop(self) -> None:
        for proc in [*self.psutil.children(recursive=True), self.psutil]:
            try:
                proc.terminate()
            except psutil.NoSuchProcess:
                pass
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()


def _wait_until_serving(port: int, path: str, process: Process, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited: {process.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(request)
                if s.recv(12).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} did not start serving on port {port}")


# --- measurement -----------------------------------------------------------------------------------
@dataclass
class Row:
    result: BatchResult
    cpu: float = 0.0  # gateway CPU seconds over the measured batches


def measure(
    targets: dict[str, tuple[Target, Process | None]], cases: tuple[Case, ...], rounds: int
) -> dict[str, dict[str, Row]]:
    rows: dict[str, dict[str, Row]] = {case.name: {name: Row(BatchResult()) for name in targets} for case in cases}
    names = list(targets)
    for case in cases:
        body = STREAM_BODY if case.stream else COMPLETE_BODY
        for round_index in range(rounds):
            order = names[round_index % len(names) :] + names[: round_index % len(names)]
            for name in order:
                target, process = targets[name]
                cpu_before = process.cpu_seconds() if process else 0.0
                batch = asyncio.run(
                    run_batch(
                        target,
                        target.request(body),
                        total=case.requests,
                        concurrency=case.concurrency,
                        stream=case.stream,
                    )
                )
                if process:
                    rows[case.name][name].cpu += process.cpu_seconds() - cpu_before
                rows[case.name][name].result.extend(batch)
        print(f"  measured {case.name}", file=sys.stderr, flush=True)
    return rows


def report(rows: dict[str, dict[str, Row]], cases: tuple[Case, ...]) -> None:
    ms = 1000.0
    header = (
        f"{'case':<16} {'path':<12} {'TTFT p50':>9} {'p99':>8} {'lat p50':>8} {'p99':>8} {'req/s':>8} "
        f"{'CPU ms/req':>10} {'+TTFT p50':>10} {'TTFT x':>7} {'lat x':>6} {'req/s x':>8} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    for case in cases:
        direct = rows[case.name]["direct"].result
        for name, row in rows[case.name].items():
            r = row.result
            cpu = f"{row.cpu * ms / r.count:.2f}" if name != "direct" and r.count else "-"
            ttft50 = percentile(r.ttft, 50) * ms if r.ttft else float("nan")
            ttft99 = percentile(r.ttft, 99) * ms if r.ttft else float("nan")
            direct_ttft50 = percentile(direct.ttft, 50) * ms if direct.ttft else float("nan")
            lat50, lat99 = percentile(r.latency, 50) * ms, percentile(r.latency, 99) * ms
            if name == "direct":
                extra = f"{'':>10} {'':>7} {'':>6} {'':>8}"
            else:
                extra = (
                    f"{ttft50 - direct_ttft50:>+10.2f} {ttft50 / direct_ttft50:>7.2f} "
                    f"{lat50 / (percentile(direct.latency, 50) * ms):>6.2f} {r.rate / direct.rate:>8.2f}"
                )
            print(
                f"{case.name:<16} {name:<12} {ttft50:>9.2f} {ttft99:>8.2f} {lat50:>8.2f} {lat99:>8.2f} {r.rate:>8.1f} "
                f"{cpu:>10} {extra} {r.errors:>6}"
            )
            if r.first_error:
                print(f"    first error: {r.first_error}")
    print(
        "\nTTFT: time to the first SSE event; lat: whole response; ms. x: gateway / direct ratio. "
        f"{TOKENS} tokens per answer, 0 ms between tokens."
    )


def migrated_gateway_env(base_url: str, database: Path) -> dict[str, str]:
    """The environment of a benchmarked gateway (production settings, the fake upstream as LM Studio, a
    fresh SQLite database), with that database migrated."""
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-" + os.urandom(24).hex(),
        "DATABASE_URL": f"sqlite:///{database}",
        "LLM_PROVIDER": "lm_studio",
        "LM_STUDIO_BASE_URL": base_url,
        "LM_STUDIO_DEFAULT_MODEL": "fake-model",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    return env


def profile(target: Target, process: Process, log_dir: str, requests: int = 2000) -> None:
    """Sample the gateway with py-spy while it relays streams; print self and inclusive time by function."""
    asyncio.run(run_batch(target, target.request(STREAM_BODY), total=200, concurrency=10, stream=True))
    sampler = PySpySampler(process.popen.pid, Path(log_dir) / "profile.txt")
    time.sleep(1)
    cpu_before = process.cpu_seconds()
    result = asyncio.run(run_batch(target, target.request(STREAM_BODY), total=requests, concurrency=10, stream=True))
    cpu = process.cpu_seconds() - cpu_before
    print(
        f"{process.name}: {result.count} streams, {cpu * 1000 / max(result.count, 1):.2f} ms CPU each, "
        f"{result.rate:.1f}/s at concurrency 10"
    )
    sampler.stop()


def _variant(spec: str, env: dict[str, str]) -> tuple[str, str, dict[str, str]]:
    """`NAME:SERVER:KEY=VALUE,...` as (name, server, environment)."""
    name, server, assignments = spec.split(":", 2)
    if server not in SERVER_COMMANDS:
        raise SystemExit(f"--variant {spec}: unknown server {server!r}")
    overrides = dict(item.split("=", 1) for item in assignments.split(",") if item)
    return name, server, {**env, **overrides}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--servers", default=",".join(available_servers()), help=f"comma-separated, from {', '.join(SERVER_COMMANDS)}"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:SERVER:KEY=VALUE[,KEY=VALUE]",
        help="one more gateway NAME, served by SERVER with these environment variables set, measured in the "
        "same interleaved rounds (to compare a setting both ways in one run)",
    )
    parser.add_argument("--profile", metavar="SERVER", help="profile one gateway with py-spy instead")
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_upstream:
        serve_upstream()
        return 0

    servers = [args.profile] if args.profile else [s for s in args.servers.split(",") if s]
    cases = QUICK_CASES if args.quick else CASES
    processes: list[Process] = []
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp:
        try:
            upstream = Process(
                "upstream", ["-m", "bench.relay", "--serve-upstream"], dict(os.environ), tmp, ready_line="listening"
            )
            processes.append(upstream)
            base_url = upstream.first_line.strip().rsplit(" ", 1)[-1]  # "... listening on http://127.0.0.1:N/v1"
            upstream_port = int(base_url.split(":")[2].split("/")[0])
            env = migrated_gateway_env(base_url, Path(tmp) / "bench.sqlite3")
            targets: dict[str, tuple[Target, Process | None]] = {
                "direct": (Target("direct", "127.0.0.1", upstream_port, "/v1/chat/completions"), None)
            }
            gateways = [(server, server, env) for server in servers]
            gateways += [_variant(spec, env) for spec in args.variant]
            for name, server, gateway_env in gateways:
                port = _free_port()
                process = Process(name, SERVER_COMMANDS[server](port), gateway_env, tmp)
                processes.append(process)
                _wait_until_serving(port, "/api/v1/health/live", process)
                targets[name] = (Target(name, "127.0.0.1", port, "/api/v1/llm/chat/completions"), process)
            if args.profile:
                target, process = targets[args.profile]
                profile(target, process, tmp)
                return 0
            print(
                f"relay benchmark: direct vs {', '.join(name for name, _, _ in gateways)}; {args.rounds} interleaved rounds; "
                f"{os.cpu_count()} CPUs",
                file=sys.stderr,
                flush=True,
            )
            measure(targets, (Case("warm-up", 10, 100, True), Case("warm-up json", 10, 50, False)), 1)
            rows = measure(targets, cases, args.rounds)
            report(rows, cases)
        finally:
            for process in reversed(processes):
                process.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
