"""How fast the local ingest consumer drains a burst of single-event requests: stored events/s.

    PYTHONPATH=$PWD:$PWD/layers/shared .venv/bin/python bench/bench_ingest_drain.py [--events 10000]
        [--batches 10,100] [--database-url mysql+pymysql://root@127.0.0.1:3306/<db>]

Each run, in a fresh data dir (SQLite, or a MariaDB database dropped and recreated): ``--events`` single-event
``POST /api/v1/events`` requests of bench_ingest_request.py's shape (500 visitors) through the local gateway
in this process (bench_ingest_inprocess.py), the queue journal shipped into the durable local queue, then
the queue drained by the real dispatcher (``infra.local.dispatch.deliver_once``) and consumer
(``functions.attribution``) with each batch size of ``--batches``, as the local runner's consumer thread
does. Printed per batch size: stored events/s (wall) and this process's CPU per event; the first batch
size is the baseline of the same run (10 = what SQS hands a FIFO consumer). Every queued event must be
stored, or the bench fails. Each run is a process of its own (the container is per process).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_ingest_inprocess as inprocess
import bench_ingest_request as wrk_bench


async def _fill(count: int) -> None:
    from infra.local.gateway import LocalGateway

    gateway = LocalGateway()
    headers = [
        (b"host", b"127.0.0.1:8080"),
        (b"authorization", f"Bearer {wrk_bench.API_KEY}".encode()),
        (b"content-type", b"application/json"),
    ]
    statuses: set[int] = set()
    for n in range(count):
        body = inprocess._body(n)
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/v1/events",
            "query_string": b"",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 5555),
        }

        async def receive(body: bytes = body) -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                statuses.add(int(message["status"]))  # type: ignore[call-overload]

        await gateway(scope, receive, send)
    if statuses != {202}:
        raise RuntimeError(f"ingestion answered {statuses}")


def run(batch_size: int, events: int, database_url: str | None) -> dict[str, float]:
    from multibuzz.bootstrap import get_container
    from multibuzz.db.models.tracking import Event
    from sqlalchemy import func, select

    from infra.local.dispatch import deliver_once, load_handler

    with tempfile.TemporaryDirectory(prefix="mb-bench-drain-") as tmp:
        account_id = wrk_bench.prepare(Path(tmp), database_url)
        asyncio.run(_fill(events))
        container = get_container()
        wrk_bench.flush_local_journals(container)
        queued = container.local_queue.depth("ingest")
        handler = load_handler("attribution")
        deliver_once(container.local_queue, "ingest", handler, function="attribution", batch_size=batch_size)  # warm
        started, cpu = time.perf_counter(), time.process_time()
        while deliver_once(
            container.local_queue, "ingest", handler, function="attribution", batch_size=batch_size
        ).received:
            pass
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        with container.session() as session:
            stored = int(
                session.scalar(select(func.count()).select_from(Event).where(Event.account_id == account_id)) or 0
            )
        left, dead = container.local_queue.depth("ingest"), len(container.local_queue.dead_letters("ingest"))
        container.local_queue.close()
        container.engine.dispose()
    if stored != queued or left or dead:
        raise RuntimeError(f"batch {batch_size}: {queued} queued, {stored} stored, {left} left, {dead} dead")
    return {"events_per_s": stored / seconds, "cpu_us_per_event": cpu * 1e6 / stored, "stored": stored}


def run_in_subprocess(batch_size: int, events: int, database_url: str | None) -> dict[str, float]:
    command = [sys.executable, __file__, "--one", str(batch_size), "--events", str(events)]
    if database_url:
        command += ["--database-url", database_url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    (line,) = [line for line in out.splitlines() if line.startswith("RESULT ")]
    return dict(json.loads(line[len("RESULT ") :]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--batches", default="10,100", help="batch sizes; the first is the same-run baseline")
    parser.add_argument("--database-url", help="a MariaDB URL (its database is dropped and recreated per run)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(run(args.one, args.events, args.database_url)))
        return 0
    sizes = [int(s) for s in args.batches.split(",")]
    rows = [(size, run_in_subprocess(size, args.events, args.database_url)) for size in sizes]
    base = rows[0][1]["events_per_s"]
    print(f"\ningest drain ({args.events} single-event requests, {'mariadb' if args.database_url else 'sqlite'})\n")
    print("| messages per invocation | stored events/s | CPU µs per event (this process) | ratio to the first |")
    print("|---:|---:|---:|---:|")
    for size, row in rows:
        rate, cpu = row["events_per_s"], row["cpu_us_per_event"]
        print(f"| {size} | {rate:,.0f} | {cpu:.0f} | {rate / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
