"""WHAT: the local model benchmark: time to first token (TTFT) and tokens per second of the bundled real
model (SmolLM2-135M-Instruct on llama-cpp-python's server), called directly and through the gateway.
WHY: the relay benchmark measures the gateway against a fake that answers instantly; this one says what a
     user of `make run` gets from a real CPU model, and whether the gateway costs anything noticeable
     next to real generation (it should not: the ratios should be about 1).
HOW: the model server (llm.local.server) and the gateway (its own daphne or uvicorn process on a temporary
     SQLite database, default provider pointed at the model) on loopback; each round streams the same
     greedy request once per path, the order alternating. Medians over the rounds, ratios gateway / direct.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from llm.local.server import DEFAULT_MODEL_ALIAS, LocalModelServer, free_port, stop_process_group

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "Write a short story about a lighthouse keeper and a lost ship."
SERVER_COMMANDS = {
    "daphne": lambda port: ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "marketplace.asgi:application"],
    "uvicorn": lambda port: [
        "-m",
        "uvicorn",
        "marketplace.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lifespan",
        "off",
        "--no-access-log",
        "--log-level",
        "warning",
    ],
}


@dataclass
class Sample:
    ttft: float  # seconds to the first content token
    total: float  # seconds for the whole request
    tokens: int  # content chunks; llama.cpp streams one token per chunk

    @property
    def decode_rate(self) -> float:
        # Tokens after the first, per second after the first; end_to_end_rate is all tokens over the whole request.
        return (self.tokens - 1) / (self.total - self.ttft) if self.tokens > 1 and self.total > self.ttft else 0.0

    @property
    def end_to_end_rate(self) -> float:
        return self.tokens / self.total if self.total else 0.0


@dataclass
class PathResult:
    samples: list[Sample] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(s, attribute) for s in self.samples)


async def stream_once(client: httpx.AsyncClient, url: str, max_tokens: int) -> Sample:
    body = {
        "model": DEFAULT_MODEL_ALIAS,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": 1,
        "stream": True,
    }
    started = time.perf_counter()
    ttft = None
    tokens = 0
    done = False
    async with client.stream("POST", url, json=body) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {response.status_code}: {(await response.aread())[:300]!r}")
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                done = True
                break
            event = json.loads(payload)
            if "error" in event:
                raise RuntimeError(f"{url}: in-band error {event['error']}")
            if event.get("choices") and event["choices"][0].get("delta", {}).get("content"):
                tokens += 1
                if ttft is None:
                    ttft = time.perf_counter() - started
    if not done or ttft is None:
        raise RuntimeError(f"{url}: the stream ended without [DONE] or without content")
    return Sample(ttft=ttft, total=time.perf_counter() - started, tokens=tokens)


async def measure(paths: dict[str, str], *, rounds: int, max_tokens: int) -> dict[str, PathResult]:
    results = {name: PathResult() for name in paths}
    names = list(paths)
    async with httpx.AsyncClient(timeout=300) as client:
        for name in names:  # warm-up: model load, prompt cache, connection pools, Django's first request
            await stream_once(client, paths[name], max_tokens=8)
        for round_number in range(rounds):
            order = names if round_number % 2 == 0 else list(reversed(names))
            for name in order:
                results[name].samples.append(await stream_once(client, paths[name], max_tokens))
            print(f"  round {round_number + 1}/{rounds} done", file=sys.stderr, flush=True)
    return results


def report(results: dict[str, PathResult], *, direct: str, gateway: str) -> None:
    print(f"{'path':<28} {'TTFT p50 ms':>12} {'decode tok/s':>13} {'end-to-end tok/s':>17} {'tokens':>7}")
    for name, result in results.items():
        print(
            f"{name:<28} {result.median('ttft') * 1000:>12.1f} {result.median('decode_rate'):>13.1f} "
            f"{result.median('end_to_end_rate'):>17.1f} {statistics.median(s.tokens for s in result.samples):>7.0f}"
        )
    d, g = results[direct], results[gateway]
    ttft_added = (g.median("ttft") - d.median("ttft")) * 1000
    print(
        f"\ngateway / direct: TTFT x{g.median('ttft') / d.median('ttft'):.2f} ({ttft_added:+.1f} ms), "
        f"decode rate x{g.median('decode_rate') / d.median('decode_rate'):.2f}, "
        f"end-to-end rate x{g.median('end_to_end_rate') / d.median('end_to_end_rate'):.2f}"
    )


def _wait_until_serving(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the gateway did not answer at {url} within {timeout:g} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--server", choices=sorted(SERVER_COMMANDS), default="daphne", help="the gateway's ASGI server")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-local-model-") as tmp:
        model = LocalModelServer(port=free_port(), log_path=Path(tmp) / "model.log")
        gateway: subprocess.Popen | None = None
        try:
            model.start().wait_ready(120)
            env = {
                **os.environ,
                "DJANGO_DEBUG": "false",
                "DJANGO_SECRET_KEY": "bench-" + os.urandom(24).hex(),
                "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
                "LLM_PROVIDER": "lm_studio",
                "LM_STUDIO_ENABLED": "true",
                "LM_STUDIO_BASE_URL": model.base_url,
                "LM_STUDIO_DEFAULT_MODEL": model.alias,
                "LM_STUDIO_TIMEOUT": "300",
                "LM_STUDIO_FIRST_TOKEN_TIMEOUT": "120",
                "LLM_STREAM_MAX_TOKENS": "0",
                "LLM_STREAM_COALESCE_CHARS": "0",
                "LLM_STREAM_COALESCE_MS": "0",
                "LOG_LEVEL": "WARNING",
            }
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
            )
            port = free_port()
            gateway = subprocess.Popen(
                [sys.executable, *SERVER_COMMANDS[args.server](port)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            _wait_until_serving(f"http://127.0.0.1:{port}/api/v1/health/live", gateway)
            direct_name, gateway_name = "direct (llama-cpp server)", f"gateway ({args.server})"
            paths = {
                direct_name: f"{model.base_url}/chat/completions",
                gateway_name: f"http://127.0.0.1:{port}/api/v1/llm/chat/completions",
            }
            print(
                f"local model benchmark: SmolLM2-135M-Instruct ({model.alias}), greedy, up to {args.max_tokens} "
                f"tokens, {args.rounds} alternating rounds; {os.cpu_count()} CPUs, {platform.machine()}",
                file=sys.stderr,
                flush=True,
            )
            results = asyncio.run(measure(paths, rounds=args.rounds, max_tokens=args.max_tokens))
            report(results, direct=direct_name, gateway=gateway_name)
        finally:
            if gateway is not None:
                stop_process_group(gateway)
            model.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
