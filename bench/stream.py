"""WHAT: the live-stream benchmark: one negotiation watched by 1, 100 and 500 concurrent SSE viewers on one
server process (uvicorn, the production server, and daphne, `runserver`'s): event delivery latency from
log write to viewer, and server memory per idle viewer.
WHY: issue 6's targets: 500 viewers all receive every event, delivery p99 under 100 ms, under 100 KB of
     server memory per idle viewer.
HOW: the agents narrate through the fake OpenAI server at MS ms per token (model `slow:MS`), so viewers
     get live deltas too. Memory = RSS growth with every viewer connected and idle / viewers; latency =
     receipt time - the event's `created_at`; afterwards each viewer's ids are checked against its history.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.loadgen import percentile
from bench.profiling import PySpySampler
from bench.relay import (
    SERVER_COMMANDS,
    Process,
    _free_port,
    _wait_until_serving,
    available_servers,
    migrated_gateway_env,
)

ROLES = ("buyer", "seller", "observer")
PRODUCTION_SERVER = "uvicorn"  # docs/benchmarks.md
TARGET_P99_MS = 100.0
TARGET_KB_PER_VIEWER = 100.0
CONNECT_TIMEOUT = 60.0
RUN_TIMEOUT = 180.0


# --- HTTP over raw sockets -------------------------------------------------------------------------
async def request_json(
    port: int, method: str, path: str, body: dict | None = None, token: str | None = None
) -> tuple[int, dict]:
    """One small JSON request on its own connection (setup and checks only, not measured)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = json.dumps(body).encode() if body is not None else b""
    headers = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Connection: close",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
    ]
    if token:
        headers.append(f"Authorization: Bearer {token}")
    writer.write(("\r\n".join(headers) + "\r\n\r\n").encode() + payload)
    raw = await reader.read()
    writer.close()
    head, _, content = raw.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        content = _dechunk_all(content)
    return int(head[9:12]), json.loads(content or b"null")


def _dechunk_all(data: bytes) -> bytes:
    out, rest = b"", data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


class Viewer(asyncio.Protocol):
    """One SSE connection, as a bare asyncio Protocol (a StreamReader per viewer would cost the client
    more CPU than the server spends per frame). Each read is timestamped in `data_received`; frames are
    cut out there too, and parsed only after the run."""

    def __init__(self, role: str, token: str) -> None:
        self.role, self.token = role, token
        self.frames: list[tuple[float, bytes]] = []  # (receipt time, frame)
        self.opened = asyncio.Event()
        self.done = asyncio.Event()
        self.ended = False
        self.error: str | None = None
        self._head: bytes | None = None
        self._raw = b""
        self._body = b""
        self._transport: asyncio.Transport | None = None

    async def watch(self, port: int, negotiation_id: int) -> None:
        try:
            loop = asyncio.get_running_loop()
            self._transport, _ = await loop.create_connection(lambda: self, "127.0.0.1", port)
            self._transport.write(self.request(port, negotiation_id))
            await self.done.wait()
        except Exception as exc:
            self._fail(f"{type(exc).__name__}: {exc}")
        finally:
            if self._transport is not None:
                self._transport.close()

    def request(self, port: int, negotiation_id: int) -> bytes:
        """The API client's request: the token as a bearer header."""
        return (
            f"GET /api/v1/negotiations/{negotiation_id}/stream HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {self.token}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()

    def data_received(self, data: bytes) -> None:
        received = time.time()
        self._raw += data
        if self._head is None:
            head, sep, rest = self._raw.partition(b"\r\n\r\n")
            if not sep:
                return
            self._head, self._raw = head, rest
            if not head.startswith(b"HTTP/1.1 200") or b"transfer-encoding: chunked" not in head.lower():
                self._fail(f"unexpected response head: {head[:200]!r}")
                return
        while True:  # de-chunk what is complete
            line_end = self._raw.find(b"\r\n")
            if line_end < 0:
                break
            size = int(self._raw[:line_end].split(b";")[0], 16)
            if len(self._raw) < line_end + 2 + size + 2:
                break
            self._body += self._raw[line_end + 2 : line_end + 2 + size]
            self._raw = self._raw[line_end + 2 + size + 2 :]
        while (cut := self._body.find(b"\n\n")) >= 0:
            frame, self._body = self._body[:cut], self._body[cut + 2 :]
            self.frames.append((received, frame))
            self.opened.set()
            if frame.startswith(b"event: end"):
                self.ended = True
                self.done.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ended:
            self._fail("closed before the end event")

    def _fail(self, message: str) -> None:
        self.error = self.error or message[:300]
        self.opened.set()
        self.done.set()

    def events(self) -> list[tuple[float, dict]]:
        """(receipt time, event) for each logged event received."""
        out = []
        for received, frame in self.frames:
            if frame.startswith(b"id: "):
                data = frame[frame.index(b"\ndata: ") + 7 :]
                out.append((received, json.loads(data)))
        return out

    def delta_count(self) -> int:
        return sum(1 for _, frame in self.frames if frame.startswith(b"event: delta"))


# --- one measurement -------------------------------------------------------------------------------
@dataclass
class Result:
    server: str
    viewers: int
    kb_per_idle_viewer: float
    latencies_ms: list[float]
    events: int  # logged events of the negotiation
    complete: int  # viewers that received exactly every event they may see
    deltas_per_viewer: float
    duration_s: float
    cpu_s: float  # server CPU over the run
    frames: int  # event, delta and end frames delivered, all viewers
    first_error: str | None
    to_first_ms: list[float]  # per event: written -> its first viewer (commit, publish, scheduling)
    fan_out_ms: list[float]  # per event: first viewer -> last viewer (the fan-out itself)
    cpu_pressure: float | None  # Linux PSI "some avg10" at the end of the run: % of time tasks waited for a CPU


def _rss(process: Process) -> int:
    return process.psutil.memory_info().rss


async def measure(
    server: str,
    process: Process,
    port: int,
    viewers: int,
    listing_id: int,
    token_delay_ms: int,
    max_rounds: int,
    profile: bool = False,
    detail: bool = False,
) -> Result:
    side = {"mode": "narrate", "model": f"slow:{token_delay_ms}"}
    status, created = await request_json(
        port,
        "POST",
        "/api/v1/negotiations",
        {
            "listing": listing_id,
            "buyer": {"limit_price": "450.00", **side},
            "seller": {"limit_price": "350.00", **side},
            "max_rounds": max_rounds,
            "seed": 7,
            "start": False,
        },
    )
    assert status == 201, created
    negotiation_id, tokens = created["id"], created["tokens"]

    gc.collect()
    await asyncio.sleep(0.5)
    rss_before = _rss(process)
    watchers = [Viewer(ROLES[i % len(ROLES)], tokens[ROLES[i % len(ROLES)]]) for i in range(viewers)]
    tasks = [asyncio.create_task(v.watch(port, negotiation_id)) for v in watchers]
    await asyncio.wait_for(asyncio.gather(*(v.opened.wait() for v in watchers)), CONNECT_TIMEOUT)
    await asyncio.sleep(1.0)  # let the server settle with every viewer idle
    rss_idle = _rss(process)

    sampler = None
    if profile:
        sampler = PySpySampler(
            process.popen.pid, Path(tempfile.mkdtemp(prefix="bench-stream-profile-")) / "profile.txt"
        )
    if sampler is not None:
        await asyncio.sleep(1)  # py-spy attaching
    cpu_before = process.cpu_seconds()
    started = time.monotonic()
    status, _ = await request_json(port, "POST", f"/api/v1/negotiations/{negotiation_id}/start", token=tokens["buyer"])
    assert status == 200
    await asyncio.wait(tasks, timeout=RUN_TIMEOUT)
    duration = time.monotonic() - started
    cpu = process.cpu_seconds() - cpu_before
    for task in tasks:
        task.cancel()
    if sampler is not None:
        sampler.stop()

    expected: dict[str, list[int]] = {}
    for role in ROLES:
        status, page = await request_json(
            port, "GET", f"/api/v1/negotiations/{negotiation_id}/events?limit=500", token=tokens[role]
        )
        assert status == 200 and page["next"] is None
        expected[role] = [e["seq"] for e in page["results"]]
    latencies, complete = [], 0
    by_event: dict[tuple[int, str], list[float]] = collections.defaultdict(list)
    for viewer in watchers:
        received = viewer.events()
        if viewer.ended and [e["seq"] for _, e in received] == expected[viewer.role]:
            complete += 1
        for when, event in received:
            # `created_at` is set when the engine writes the row: same machine, same clock.
            latency = (when - datetime.fromisoformat(event["created_at"]).timestamp()) * 1000
            latencies.append(latency)
            by_event[(event["seq"], event["type"])].append(latency)
    if detail:
        print(
            f"{server}, {viewers} viewers: latency by event (ms): "
            + ", ".join(
                f"#{seq} {kind} p50 {percentile(v, 50):.0f} max {max(v):.0f}"
                for (seq, kind), v in sorted(by_event.items())
            )
        )
    errors = [v.error for v in watchers if v.error]
    return Result(
        server=server,
        viewers=viewers,
        kb_per_idle_viewer=(rss_idle - rss_before) / viewers / 1024,
        latencies_ms=latencies,
        events=len(_all_seqs(expected)),
        complete=complete,
        deltas_per_viewer=sum(v.delta_count() for v in watchers) / viewers,
        duration_s=duration,
        cpu_s=cpu,
        frames=sum(len(v.events()) + v.delta_count() + v.ended for v in watchers),
        first_error=errors[0] if errors else None,
        to_first_ms=[min(v) for v in by_event.values()],
        fan_out_ms=[max(v) - min(v) for v in by_event.values()],
        cpu_pressure=_cpu_pressure(),
    )


def _cpu_pressure() -> float | None:
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return float(line.split("avg10=")[1].split()[0])


def _all_seqs(expected: dict[str, list[int]]) -> list[int]:
    return sorted(set().union(*expected.values()))


# --- orchestration ---------------------------------------------------------------------------------
async def run_server(
    server: str,
    process: Process,
    port: int,
    counts: list[int],
    token_delay_ms: int,
    max_rounds: int,
    rounds: int,
    profile: bool = False,
    detail: bool = False,
) -> list[list[Result]]:
    async def new_listing() -> int:
        # A listing sells once: every measured negotiation gets one of its own.
        status, listing = await request_json(
            port, "POST", "/api/v1/listings", {"title": "Oak dining table", "list_price": "500.00"}
        )
        assert status == 201, listing
        return listing["id"]

    await measure(server, process, port, 3, await new_listing(), token_delay_ms, max_rounds)  # warm-up, discarded
    results = []
    for count in counts:
        runs = []
        for round_index in range(rounds):
            runs.append(
                await measure(
                    server,
                    process,
                    port,
                    count,
                    await new_listing(),
                    token_delay_ms,
                    max_rounds,
                    profile=profile and count == max(counts) and round_index == 0,
                    detail=detail,
                )
            )
        print(f"  {server}: {count} viewers measured", file=sys.stderr, flush=True)
        results.append(runs)
    return results


def report(results: list[list[Result]], token_delay_ms: int, load: tuple[float, float, float]) -> bool:
    """One row per server and viewer count: the round with the median p99, and every round's p99."""
    header = (
        f"{'server':<8} {'viewers':>7} {'all events':>10} {'events':>6} {'deltas/v':>8} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'p99 of each round':>18} {'to 1st max':>10} {'fan-out max':>11} "
        f"{'KB/idle viewer':>14} {'CPU us/frame':>12} {'CPU wait %':>10}"
    )
    print(header)
    print("-" * len(header))
    missed: dict[str, list[str]] = {}
    for runs in results:
        p99s = sorted((percentile(r.latencies_ms, 99), i) for i, r in enumerate(runs))
        r = runs[p99s[len(p99s) // 2][1]]
        p50, p99 = percentile(r.latencies_ms, 50), percentile(r.latencies_ms, 99)
        complete = sum(x.complete for x in runs)
        kb = max(x.kb_per_idle_viewer for x in runs)  # the first round allocates; later ones reuse freed memory
        each = "/".join(f"{percentile(x.latencies_ms, 99):.0f}" for x in runs)
        print(
            f"{r.server:<8} {r.viewers:>7} {f'{complete}/{r.viewers * len(runs)}':>10} {r.events:>6} "
            f"{r.deltas_per_viewer:>8.0f} {p50:>7.1f} {p99:>7.1f} {max(r.latencies_ms):>7.1f} {each:>18} "
            f"{max(r.to_first_ms):>10.1f} {max(r.fan_out_ms):>11.1f} {kb:>14.1f} {r.cpu_s * 1e6 / max(r.frames, 1):>12.1f} "
            f"{'-' if r.cpu_pressure is None else f'{r.cpu_pressure:.0f}':>10}"
        )
        for x in runs:
            if x.first_error:
                print(f"    first error: {x.first_error}")
        problems = missed.setdefault(r.server, [])
        if complete != r.viewers * len(runs):
            problems.append(f"{r.viewers} viewers: {r.viewers * len(runs) - complete} incomplete streams")
        if r.viewers >= 100 and p99 >= TARGET_P99_MS:
            problems.append(f"{r.viewers} viewers: p99 {p99:.0f} ms")
        if r.viewers >= 100 and kb >= TARGET_KB_PER_VIEWER:
            problems.append(f"{r.viewers} viewers: {kb:.0f} KB per idle viewer")
    print(
        f"\nLatency: from the event's created_at (written by the engine) to its arrival at the viewer, over every "
        f"event and viewer of a round; the row shows the round with the median p99. Agents narrate at "
        f"{token_delay_ms} ms per token (fake LLM, 8 tokens per call), so viewers also get live deltas. "
        f"KB/idle viewer: server RSS growth with every viewer connected and idle, divided by the viewers, the "
        f"largest of the rounds (noisy at 1 viewer). To 1st max: the longest an event took from its write to its "
        f"first viewer (commit, publication, scheduling); fan-out max: the longest from its first viewer to its "
        f"last. CPU us/frame: server CPU during the run / frames delivered. CPU wait %: Linux PSI, share of the "
        f"last 10 s in which some task waited for a CPU (other load on the machine). Load average at the "
        f"start: {load[0]:.1f} on {os.cpu_count()} CPUs. Targets at 100+ viewers: all events to every viewer, "
        f"p99 < {TARGET_P99_MS:.0f} ms, < {TARGET_KB_PER_VIEWER:.0f} KB per idle viewer."
    )
    for server, problems in missed.items():
        print(f"targets, {server}: " + ("met" if not problems else "MISSED (" + "; ".join(problems) + ")"))
    # The exit status follows the production server; daphne (runserver's) is measured for comparison.
    return not missed.get(PRODUCTION_SERVER, [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 and 100 viewers only (a smoke run)")
    parser.add_argument("--viewers", default="1,100,500")
    parser.add_argument("--servers", default=",".join(s for s in ("uvicorn", "daphne") if s in available_servers()))
    parser.add_argument("--token-delay-ms", type=int, default=20)
    parser.add_argument("--max-rounds", type=int, default=6, help="of each negotiation")
    parser.add_argument("--rounds", type=int, default=3, help="negotiations measured per viewer count")
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy at the largest count")
    parser.add_argument("--detail", action="store_true", help="print the latency of each event")
    args = parser.parse_args(argv)
    counts = [1, 100] if args.quick else [int(n) for n in args.viewers.split(",")]
    servers = [s for s in args.servers.split(",") if s]

    results: list[list[Result]] = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        upstream = Process(
            "upstream",
            ["-m", "tests.support.fake_openai", "--port", "0"],
            dict(os.environ),
            tmp,
            ready_line="listening",
        )
        try:
            base_url = upstream.first_line.strip().rsplit(" ", 1)[-1]
            for server in servers:
                env = migrated_gateway_env(base_url, Path(tmp) / f"{server}.sqlite3")
                port = _free_port()
                process = Process(server, SERVER_COMMANDS[server](port), env, tmp)
                try:
                    _wait_until_serving(port, "/api/v1/health/live", process)
                    print(
                        f"stream benchmark: {server}, viewers {counts}; {os.cpu_count()} CPUs",
                        file=sys.stderr,
                        flush=True,
                    )
                    results += asyncio.run(
                        run_server(
                            server,
                            process,
                            port,
                            counts,
                            args.token_delay_ms,
                            args.max_rounds,
                            1 if args.quick else args.rounds,
                            args.profile,
                            args.detail,
                        )
                    )
                finally:
                    process.stop()
        finally:
            upstream.stop()
    return 0 if report(results, args.token_delay_ms, load) else 1


if __name__ == "__main__":
    sys.exit(main())
