"""Python client: the cost of ``track()`` on the request path, and the sender's delivery rate to the local stack.

1. ``track()`` inside a request (the current visitor from the middleware's context): each call timed on its own,
   while the sender thread delivers to a stand-in sink in a subprocess. Goal: p50 <= 10 us.
2. Delivery: ``python -m infra.local serve`` (the local gateway and the real events function, on a SQLite file
   by default, or ``--url`` MariaDB) in a subprocess; the client queues ``--events`` events (10 per visitor) and
   the figure is events accepted by Multibuzz (HTTP 202) per second, from the first ``track()`` to ``flush()``
   returning. Goal: >= 5,000 events/s.
Run: .venv/bin/python bench/bench_client_sender.py [--calls 50000] [--events 50000] [--url mysql+pymysql://...]
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "clients" / "python" / "src")]

from _common import write_results  # noqa: E402
from bench_client_middleware import SINK, UA  # noqa: E402
from multibuzz_client import Client, RequestInfo  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[int], q: float) -> float:
    return sorted(values)[int(q * (len(values) - 1))] / 1000


def track_cost(calls: int) -> dict[str, Any]:
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)])
    try:
        time.sleep(0.5)
        client = Client(
            api_key="sk_test_" + "c" * 40, api_url=f"http://127.0.0.1:{port}", flush_at_exit=False, max_queue=calls * 8
        )
        request = RequestInfo(
            "GET",
            "https",
            "shop.example",
            "/cart",
            "",
            {"user-agent": UA, "cookie": f"_mbuzz_vid={'a' * 64}"},
            "1.2.3.4",
        )
        began = client.tracker.begin(request)
        assert began is not None
        properties = {"sku": "TEE", "price": "25.00", "currency": "USD"}
        for _ in range(1000):
            client.track("add_to_cart", properties)
        timings = []
        for _ in range(calls):
            start = time.perf_counter_ns()
            client.track("add_to_cart", properties)
            timings.append(time.perf_counter_ns() - start)
        client.flush(120)
        return {
            "calls": calls,
            "p50_us": round(pct(timings, 0.5), 2),
            "p99_us": round(pct(timings, 0.99), 2),
            "sender": client.stats(),
        }
    finally:
        sink.terminate()
        sink.wait(timeout=10)


def delivery_rate(events: int, url: str | None, senders: int) -> dict[str, Any]:
    api_key = "sk_test_" + secrets.token_hex(20)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "shared")]),
            "MULTIBUZZ_STAGE": "local",
            "MULTIBUZZ_DATABASE_URL": url or f"sqlite:///{tmp}/bench.db",
            "MULTIBUZZ_DATA_DIR": tmp,
            "MULTIBUZZ_PORT": str(port),
            "MULTIBUZZ_DEMO_API_KEY": api_key,
            "MULTIBUZZ_DEMO_ADMIN_PASSWORD": secrets.token_urlsafe(16),
            "MULTIBUZZ_RUN_SCHEDULES": "false",
            "MULTIBUZZ_LOG_LEVEL": "WARNING",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        if url:
            from _common import reset_database

            sys.path.insert(0, str(ROOT / "layers" / "shared"))
            reset_database(url)
        server = subprocess.Popen(
            [sys.executable, "-m", "infra.local", "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while True:
                try:
                    answer = httpx.get(base + "/api/v1/validate", headers={"authorization": f"Bearer {api_key}"})
                    if answer.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("local stack did not start")
                time.sleep(0.2)
            client = Client(
                api_key=api_key, api_url=base, flush_at_exit=False, max_queue=events * 2, timeout=30, senders=senders
            )
            visitors = [secrets.token_hex(32) for _ in range(events // 10)]
            began = time.perf_counter()
            for n in range(events):
                client.track(
                    "page_view",
                    {"url": f"https://shop.example/p/{n % 10}", "referrer": "https://www.google.com/"},
                    visitor_id=visitors[n // 10],
                )
            queued = time.perf_counter() - began
            delivered = client.flush(600)
            seconds = time.perf_counter() - began
            stats = client.stats()
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    if not delivered or stats["sent"] != events:
        raise RuntimeError(f"not everything was accepted: {stats}")
    return {
        "database": "MariaDB" if url else "SQLite",
        "events": events,
        "requests": stats["requests"],
        "seconds": round(seconds, 3),
        "queueing_seconds": round(queued, 3),
        "events_per_s": round(events / seconds),
        "senders": senders,
        "sender": stats,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=50_000, help="a multiple of 10")
    parser.add_argument("--senders", type=int, default=4, help="sender threads (the client default is 4)")
    parser.add_argument("--url", default=None, help="MariaDB URL for the local stack (default: a SQLite file)")
    args = parser.parse_args()
    track = track_cost(args.calls)
    delivery = delivery_rate(args.events, args.url, args.senders)
    print(f"{'measure':<52}{'value':>14}")
    print(f"{'track() on the request path, p50 (us)':<52}{track['p50_us']:>14}")
    print(f"{'track() on the request path, p99 (us)':<52}{track['p99_us']:>14}")
    print(f"{'sender to the local stack (' + delivery['database'] + '), events/s':<52}{delivery['events_per_s']:>14,}")
    print(f"{'  events / HTTP requests':<52}{str(delivery['events']) + ' / ' + str(delivery['requests']):>14}")
    print("goals: track() p50 <= 10 us; sender >= 5,000 events/s")
    write_results("client_sender", {"track": track, "delivery": delivery})
    return 0


if __name__ == "__main__":
    sys.exit(main())
