"""CPU per single-event ``POST /api/v1/events`` inside the server process, without sockets, uvicorn or wrk.

    PYTHONPATH=$PWD:$PWD/layers/shared .venv/bin/python bench/bench_ingest_inprocess.py [--requests 20000]
                                                                                 [--profile out.prof]

The same request as bench/bench_ingest_request.py (its account, key and event body), handed to the local
gateway (``infra.local.gateway.LocalGateway``) as an ASGI scope on one event loop: the gateway builds the
API Gateway v2 event and awaits the real events handler, which authenticates, validates and appends to the
queue journal. Process CPU time per request, over batches of 2,000 after 2,000 warm-up requests; the
figure printed is the first quartile of the batches (other load on a shared machine only adds to a
batch). Quick to run (seconds), so it is the tool for comparing two builds in the same minute; the wrk
bench gives the figure that counts. ``--profile`` writes a cProfile of the measured requests.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_ingest_request as wrk_bench

BATCH = 2000


def _body(n: int) -> bytes:
    visitor = f"{n % 500:064x}"
    return (
        f'{{"events":[{{"event_type":"page_view","visitor_id":"{visitor}","event_id":"inproc-{n}",'
        f'"url":"https://shop.example/p/{n % 40}?utm_source=google&utm_medium=cpc",'
        f'"referrer":"https://www.google.com/","properties":{{"title":"Spring sale","path":"/p/{n % 40}"}}}}]}}'
    ).encode()


async def _measure(requests: int, profile: str | None) -> tuple[float, dict[int, int]]:
    from infra.local.gateway import LocalGateway

    gateway = LocalGateway()
    headers = [
        (b"host", b"127.0.0.1:8080"),
        (b"authorization", f"Bearer {wrk_bench.API_KEY}".encode()),
        (b"content-type", b"application/json"),
    ]
    statuses: dict[int, int] = {}

    async def one(n: int) -> None:
        body = _body(n)
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/v1/events",
            "query_string": b"",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 5555),
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        await gateway(scope, receive, send)

    for n in range(BATCH):  # warm: imports, the key cache, the first rate-limit block
        await one(n)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    batches: list[float] = []
    n = BATCH
    for _ in range(max(1, requests // BATCH)):
        started = time.process_time()
        for _ in range(BATCH):
            await one(n)
            n += 1
        batches.append((time.process_time() - started) / BATCH)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    batches.sort()
    return batches[len(batches) // 4], statuses


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--profile", help="write a cProfile of the measured requests here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mb-bench-inproc-") as tmp:
        wrk_bench.prepare(Path(tmp), None)  # also sets the environment (stage local, queue journal in tmp)
        per_request, statuses = asyncio.run(_measure(args.requests, args.profile))
    print(f"in-process CPU per single-event POST /api/v1/events: {per_request * 1e6:.1f} µs  (statuses {statuses})")
    return 0 if set(statuses) == {202} else 1


if __name__ == "__main__":
    sys.exit(main())
