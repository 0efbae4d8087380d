"""WHAT: a small HTTP/1.1 load generator for the benchmarks: N requests at concurrency C over keep-alive
connections, measuring time to first SSE event (TTFT), total latency and wall time.
WHY: the benchmarks compare a gateway with the upstream it relays; the client must cost far less than
     either (httpx or the openai SDK cost as much CPU per request as the thing measured), and must see
     the first event the moment it arrives.
HOW: raw asyncio streams; one connection per concurrent worker; a response ends at Content-Length or at
     the chunked terminator. A streamed response counts as ok only if it ends with `data: [DONE]` and
     has no in-band error event.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field

__all__ = ["BatchResult", "Target", "percentile", "run_batch"]

_TERMINATOR = b"\r\n0\r\n\r\n"
_REQUEST_TIMEOUT = 60.0


@dataclass(frozen=True)
class Target:
    name: str
    host: str
    port: int
    path: str

    def request(self, body: dict, headers: dict[str, str] | None = None) -> bytes:
        payload = json.dumps(body).encode()
        lines = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            "Accept: text/event-stream, application/json",
            f"Content-Length: {len(payload)}",
        ]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


@dataclass
class BatchResult:
    ttft: list[float] = field(default_factory=list)  # seconds, streamed responses only
    latency: list[float] = field(default_factory=list)  # seconds
    wall: float = 0.0
    errors: int = 0
    first_error: str | None = None

    def extend(self, other: BatchResult) -> None:
        self.ttft += other.ttft
        self.latency += other.latency
        self.wall += other.wall
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error

    @property
    def count(self) -> int:
        return len(self.latency)

    @property
    def rate(self) -> float:
        return self.count / self.wall if self.wall else 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1] if q < 100 else max(values)


async def run_batch(target: Target, request: bytes, *, total: int, concurrency: int, stream: bool) -> BatchResult:
    """Send `total` copies of `request` with `concurrency` workers; errors are counted, not raised."""
    result = BatchResult()
    remaining = [total]

    async def worker() -> None:
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while remaining[0] > 0:
            remaining[0] -= 1
            try:
                if conn is None:
                    conn = await asyncio.open_connection(target.host, target.port)
                ttft, latency, reusable = await asyncio.wait_for(_one(conn, request, stream), _REQUEST_TIMEOUT)
            except Exception as exc:
                result.errors += 1
                result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"[:300]
                reusable = False
            else:
                result.latency.append(latency)
                if ttft is not None:
                    result.ttft.append(ttft)
            if not reusable and conn is not None:
                conn[1].close()
                conn = None
        if conn is not None:
            conn[1].close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, total))))
    result.wall = time.perf_counter() - started
    return result


async def _one(
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes, stream: bool
) -> tuple[float | None, float, bool]:
    reader, writer = conn
    started = time.perf_counter()
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    reusable = b"connection: close" not in lower
    ttft = None
    if b"transfer-encoding: chunked" in lower:
        body = bytearray()
        while not body.endswith(_TERMINATOR):
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("connection closed mid-response")
            if ttft is None and b"data:" in data:
                ttft = time.perf_counter() - started
            body += data
    else:
        marker = lower.find(b"content-length:")
        if marker < 0:
            raise ValueError("response has neither Content-Length nor chunked encoding")
        length = int(lower[marker + 15 : lower.find(b"\r\n", marker)])
        body = bytearray(await reader.readexactly(length))
    latency = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {bytes(body[:200])!r}")
    if stream:
        if b"data: [DONE]" not in body or b'data: {"error"' in body:
            raise RuntimeError(f"stream did not complete: {bytes(body[-200:])!r}")
    elif b'"chat.completion"' not in body:
        raise RuntimeError(f"not a chat completion: {bytes(body[:200])!r}")
    return ttft, latency, reusable
