"""WHAT: the web pages' benchmark: a negotiation's first page load in bytes, and the stream's delivery p99
with 200 open negotiation pages beside the stream benchmark's 500 API viewers, against API-only rounds.
WHY: issue 17's targets: a page's first load under 100 KB before events; 200 open pages keep the API
     viewers' delivery p99 within 1.5x of the API-only figure measured in the same run.
HOW: uvicorn on loopback, agents narrating through the fake OpenAI server; a page client does what the
     browser does (`?token=` redirect, the cookie, the page, its `data-stream` URL with `?lastEventId=`)
     and reads the stream with bench.stream's Viewer; API-only and with-pages rounds alternate, and the
     ratio is of their median p99s.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.loadgen import percentile
from bench.relay import SERVER_COMMANDS, Process, _free_port, _wait_until_serving, migrated_gateway_env
from bench.stream import CONNECT_TIMEOUT, ROLES, RUN_TIMEOUT, Viewer, _dechunk_all, request_json

TARGET_RATIO = 1.5
TARGET_FIRST_LOAD_KB = 100.0
BROWSER_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Encoding": "gzip, deflate, br",
    "User-Agent": "bench.web_pages",
}


# --- the page, as a browser loads it --------------------------------------------------------------
async def http_get(port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes, bytes, int]:
    """(status, head, body, bytes on the wire) of one GET on its own connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk_all(body)
    return int(head[9:12]), head, body, len(raw)


def _cookie_of(head: bytes, name: str) -> str:
    for line in head.decode("latin-1").split("\r\n"):
        if line.lower().startswith("set-cookie:") and f" {name}=" in line:
            return line.split(f"{name}=", 1)[1].split(";", 1)[0]
    raise RuntimeError(f"no {name} cookie in {head[:400]!r}")


async def enter(port: int, negotiation_id: int, token: str) -> str:
    """The `?token=` visit: returns the negotiation's cookie the redirect sets."""
    status, head, _, _ = await http_get(port, f"/negotiations/{negotiation_id}/?token={token}", BROWSER_HEADERS)
    assert status == 302, head[:300]
    return _cookie_of(head, f"negotiation_{negotiation_id}")


async def load_page(port: int, negotiation_id: int, cookie: str) -> tuple[bytes, int]:
    """The page itself with its cookie: (HTML, bytes on the wire)."""
    headers = {**BROWSER_HEADERS, "Cookie": f"negotiation_{negotiation_id}={cookie}"}
    status, head, body, wire = await http_get(port, f"/negotiations/{negotiation_id}/", headers)
    assert status == 200, head[:300]
    assert b"content-encoding" not in head.lower(), "compressed page: parse after decoding"
    return body, wire


async def first_load(port: int, negotiation_id: int, token: str) -> list[tuple[str, int, int]]:
    """Everything a first visit transfers before events: (what, HTTP status, bytes on the wire)."""
    status, head, _, wire = await http_get(port, f"/negotiations/{negotiation_id}/?token={token}", BROWSER_HEADERS)
    rows = [("redirect (?token=)", status, wire)]
    cookie = _cookie_of(head, f"negotiation_{negotiation_id}")
    page, wire = await load_page(port, negotiation_id, cookie)
    rows.append((f"/negotiations/{negotiation_id}/", 200, wire))
    for path in dict.fromkeys(re.findall(rb'(?:href|src)="(/static/[^"]+)"', page)):
        status, _, _, wire = await http_get(port, path.decode(), {**BROWSER_HEADERS, "Accept": "*/*"})
        rows.append((path.decode(), status, wire))
    return rows


class PageViewer(Viewer):
    """The page's EventSource: the cookie (no token in the request), the page's `data-stream` URL."""

    def __init__(self, role: str, token: str, cookie_name: str, cookie: str, stream_path: str) -> None:
        super().__init__(role, token)
        self.cookie_name, self.cookie, self.stream_path = cookie_name, cookie, stream_path
        self.after = int(stream_path.rsplit("lastEventId=", 1)[-1]) if "lastEventId=" in stream_path else 0

    def request(self, port: int, negotiation_id: int) -> bytes:
        return (
            f"GET {self.stream_path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
            f"Cookie: {self.cookie_name}={self.cookie}\r\nUser-Agent: bench.web_pages\r\n\r\n"
        ).encode()


# --- one round ------------------------------------------------------------------------------------
@dataclass
class Round:
    pages: int
    api_ms: list[float]  # delivery latencies of the API viewers
    page_ms: list[float]  # of the page viewers
    complete: int
    viewers: int
    duration_s: float
    first_error: str | None


async def new_listing(port: int) -> int:
    """A listing per negotiation: an agreement sells it."""
    status, listing = await request_json(
        port, "POST", "/api/v1/listings", {"title": "Oak dining table", "list_price": "500.00"}
    )
    assert status == 201, listing
    return listing["id"]


async def measure(port: int, api: int, pages: int, token_delay_ms: int, max_rounds: int) -> Round:
    listing_id = await new_listing(port)
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
    cookie_name = f"negotiation_{negotiation_id}"

    watchers: list[Viewer] = []
    if pages:
        cookies = {role: await enter(port, negotiation_id, tokens[role]) for role in ROLES}
        gate = asyncio.Semaphore(16)

        async def open_page(i: int) -> PageViewer:
            role = ROLES[i % len(ROLES)]
            async with gate:
                page, _ = await load_page(port, negotiation_id, cookies[role])
            stream = html.unescape(re.search(rb'data-stream="([^"]+)"', page).group(1).decode())
            return PageViewer(role, tokens[role], cookie_name, cookies[role], stream)

        page_viewers = await asyncio.gather(*(open_page(i) for i in range(pages)))
    else:
        page_viewers = []
    api_viewers = [Viewer(ROLES[i % len(ROLES)], tokens[ROLES[i % len(ROLES)]]) for i in range(api)]
    # Interleaved: a page viewer after every few API viewers, so neither kind connects (or is served) first.
    step = max(1, api // max(pages, 1))
    queue = list(page_viewers)
    for i, viewer in enumerate(api_viewers):
        watchers.append(viewer)
        if queue and i % step == step - 1:
            watchers.append(queue.pop(0))
    watchers += queue
    tasks = [asyncio.create_task(v.watch(port, negotiation_id)) for v in watchers]
    await asyncio.wait_for(asyncio.gather(*(v.opened.wait() for v in watchers)), CONNECT_TIMEOUT)
    await asyncio.sleep(1.0)

    started = time.monotonic()
    status, _ = await request_json(port, "POST", f"/api/v1/negotiations/{negotiation_id}/start", token=tokens["buyer"])
    assert status == 200
    await asyncio.wait(tasks, timeout=RUN_TIMEOUT)
    duration = time.monotonic() - started
    for task in tasks:
        task.cancel()

    expected: dict[str, list[int]] = {}
    for role in ROLES:
        status, body = await request_json(
            port, "GET", f"/api/v1/negotiations/{negotiation_id}/events?limit=500", token=tokens[role]
        )
        assert status == 200 and body["next"] is None
        expected[role] = [e["seq"] for e in body["results"]]
    latencies: dict[bool, list[float]] = {False: [], True: []}
    complete = 0
    for viewer in watchers:
        after = getattr(viewer, "after", 0)
        received = viewer.events()
        if viewer.ended and [e["seq"] for _, e in received] == [s for s in expected[viewer.role] if s > after]:
            complete += 1
        for when, event in received:
            latency = (when - datetime.fromisoformat(event["created_at"]).timestamp()) * 1000
            latencies[isinstance(viewer, PageViewer)].append(latency)
    errors = [v.error for v in watchers if v.error]
    return Round(
        pages, latencies[False], latencies[True], complete, len(watchers), duration, errors[0] if errors else None
    )


async def run(port: int, api: int, pages: int, rounds: int, token_delay_ms: int, max_rounds: int):
    await measure(port, 3, 3, token_delay_ms, max_rounds)  # warm-up, discarded
    status, created = await request_json(
        port,
        "POST",
        "/api/v1/negotiations",
        {"listing": await new_listing(port), "buyer": {"limit_price": "450.00"}, "seller": {"limit_price": "350.00"}},
    )
    assert status == 201, created
    load = await first_load(port, created["id"], created["tokens"]["buyer"])
    results: list[Round] = []
    for index in range(rounds):
        # Alternate which kind of round goes first, so drift over the run favours neither.
        order = (0, pages) if index % 2 == 0 else (pages, 0)
        for count in order:
            results.append(await measure(port, api, count, token_delay_ms, max_rounds))
            print(f"  round {index + 1}: {api} API viewers + {count} pages measured", file=sys.stderr, flush=True)
    return load, results


def report(load: list[tuple[str, int, int]], results: list[Round], api: int, pages: int, cpu_load: float) -> bool:
    total = sum(wire for _, _, wire in load)
    print("first page load (a buyer's seat link, before events; bytes on the wire, headers included):")
    for what, status, wire in load:
        print(f"  {what:<40} HTTP {status}  {wire / 1024:6.1f} KB")
    print(f"  {'total':<40}           {total / 1024:6.1f} KB (target < {TARGET_FIRST_LOAD_KB:.0f} KB)")
    alone = [r for r in results if not r.pages]
    mixed = [r for r in results if r.pages]

    def p99s(rows: list[Round], attr: str) -> list[float]:
        return [percentile(getattr(r, attr), 99) for r in rows]

    a, b_api, b_page = p99s(alone, "api_ms"), p99s(mixed, "api_ms"), p99s(mixed, "page_ms")
    med = statistics.median
    print(f"\ndelivery p99 (ms), {api} API viewers; each round's, then the median:")
    print(f"  API only                      {'/'.join(f'{x:.0f}' for x in a):>20}  median {med(a):6.1f}")
    print(f"  with {pages} pages: API viewers   {'/'.join(f'{x:.0f}' for x in b_api):>20}  median {med(b_api):6.1f}")
    print(f"  with {pages} pages: page viewers  {'/'.join(f'{x:.0f}' for x in b_page):>20}  median {med(b_page):6.1f}")
    ratio, page_ratio = med(b_api) / med(a), med(b_page) / med(a)
    print(
        f"  ratio with pages / API only: API viewers {ratio:.2f}x, page viewers {page_ratio:.2f}x "
        f"(target <= {TARGET_RATIO}x)"
    )
    complete = sum(r.complete for r in results)
    viewers = sum(r.viewers for r in results)
    print(
        f"  streams complete (every event the viewer may see after its lastEventId, once, in order): "
        f"{complete}/{viewers}"
    )
    for r in results:
        if r.first_error:
            print(f"  first error ({r.pages} pages round): {r.first_error}")
    print(f"  load average at the start: {cpu_load:.1f} on {os.cpu_count()} CPUs")
    problems = []
    if total >= TARGET_FIRST_LOAD_KB * 1024 or any(status >= 400 for _, status, _ in load):
        problems.append("first load")
    if max(ratio, page_ratio) > TARGET_RATIO:
        problems.append(f"ratio {max(ratio, page_ratio):.2f}x")
    if complete != viewers:
        problems.append(f"{viewers - complete} incomplete streams")
    print("targets: " + ("met" if not problems else "MISSED (" + "; ".join(problems) + ")"))
    return not problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 API viewers, 40 pages, one round of each")
    parser.add_argument("--api-viewers", type=int, default=500)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="of each kind, alternating")
    parser.add_argument("--token-delay-ms", type=int, default=20)
    parser.add_argument("--max-rounds", type=int, default=6, help="of each negotiation")
    args = parser.parse_args(argv)
    api, pages, rounds = (100, 40, 1) if args.quick else (args.api_viewers, args.pages, args.rounds)
    cpu_load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        upstream = Process(
            "upstream",
            ["-m", "tests.support.fake_openai", "--port", "0"],
            dict(os.environ),
            tmp,
            ready_line="listening",
        )
        try:
            base_url = upstream.first_line.strip().rsplit(" ", 1)[-1]
            env = migrated_gateway_env(base_url, Path(tmp) / "web.sqlite3")
            port = _free_port()
            server = Process("uvicorn", SERVER_COMMANDS["uvicorn"](port), env, tmp)
            try:
                _wait_until_serving(port, "/api/v1/health/live", server)
                print(f"web pages benchmark: uvicorn, {api} API viewers, {pages} pages", file=sys.stderr, flush=True)
                load, results = asyncio.run(run(port, api, pages, rounds, args.token_delay_ms, args.max_rounds))
            finally:
                server.stop()
        finally:
            upstream.stop()
    return 0 if report(load, results, api, pages, cpu_load) else 1


if __name__ == "__main__":
    sys.exit(main())
