"""Does the per-request cost of ingestion grow with the requests a process has served? Old vs young, same minutes.

    PYTHONPATH=$PWD:$PWD/layers/shared .venv/bin/python bench/bench_ingest_aging.py [--aged 100000] [--windows 12]

Two server-like processes, each the local gateway and the real events handler in process (as
bench_ingest_inprocess.py, same account, key and request body; the queue journal grows as under load, with
no shipper): the "old" one first serves ``--aged`` requests, the "young" one only a 2,000-request warm-up.
Then they take turns, 2,000 requests per window, ``--windows`` windows each, so load from other work on a
shared machine falls on both alike. Printed: each window's CPU per request (process time) and the ratio of
the medians, old / young (1.0 = no growth). Also the old process's peak RSS before and after its ageing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_ingest_inprocess as inprocess
import bench_ingest_request as wrk_bench

WINDOW = 2000


def worker(data_dir: str, offset: int) -> None:
    """Serve ``N`` requests per line read on stdin; answer each line with the CPU µs per request."""
    os.environ.update(wrk_bench.environment(Path(data_dir), None))
    from infra.local.gateway import LocalGateway

    gateway = LocalGateway()
    headers = [
        (b"host", b"127.0.0.1:8080"),
        (b"authorization", f"Bearer {wrk_bench.API_KEY}".encode()),
        (b"content-type", b"application/json"),
    ]
    loop = asyncio.new_event_loop()
    counter = [offset]

    async def serve(count: int) -> None:
        for _ in range(count):
            body = inprocess._body(counter[0])
            counter[0] += 1
            scope = {
                "type": "http",
                "method": "POST",
                "path": "/api/v1/events",
                "query_string": b"",
                "headers": [*headers, (b"content-length", str(len(body)).encode())],
                "client": ("127.0.0.1", 5555),
            }

            async def receive(body: bytes = body) -> dict[str, Any]:
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start" and message["status"] != 202:
                    raise RuntimeError(f"answered {message['status']}")

            await gateway(scope, receive, send)

    for line in sys.stdin:
        count = int(line)
        started = time.process_time()
        loop.run_until_complete(serve(count))
        elapsed = time.process_time() - started
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"RESULT {elapsed / count * 1e6} {rss_kb}", flush=True)


class Worker:
    def __init__(self, data_dir: str, offset: int) -> None:
        command = [sys.executable, __file__, "--worker", data_dir, str(offset)]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def serve(self, count: int) -> tuple[float, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{count}\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("worker died")
            if line.startswith("RESULT "):
                us, rss = line.split()[1:]
                return float(us), int(rss)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--aged", type=int, default=100_000)
    parser.add_argument("--windows", type=int, default=12)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return 0
    with tempfile.TemporaryDirectory(prefix="mb-bench-aging-") as tmp:
        wrk_bench.prepare(Path(tmp), None)
        old = Worker(tmp, 10_000_000)
        _, rss_warm = old.serve(WINDOW)
        _, rss_aged = old.serve(args.aged)
        young = Worker(tmp, 20_000_000)
        young.serve(WINDOW)
        young_us: list[float] = []
        old_us: list[float] = []
        for _ in range(args.windows):
            young_us.append(young.serve(WINDOW)[0])
            old_us.append(old.serve(WINDOW)[0])
        old.close()
        young.close()
    ratio = statistics.median(old_us) / statistics.median(young_us)
    print(f"young (warm-up only), µs per request: {' '.join(f'{v:.0f}' for v in young_us)}")
    print(f"old (after {args.aged:,} more), µs per request: {' '.join(f'{v:.0f}' for v in old_us)}")
    print(
        f"median young {statistics.median(young_us):.1f} µs, old {statistics.median(old_us):.1f} µs:"
        f" old / young = {ratio:.3f}; old process peak RSS {rss_warm // 1024} MB warm, {rss_aged // 1024} MB aged"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
