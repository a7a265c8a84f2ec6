"""End to end on the local stack: events/s from HTTP requests to stored rows (MariaDB).

Starts ``python -m infra.local serve`` (local gateway, events function, durable local queue,
the attribution consumer thread) as a subprocess on a free port against MariaDB, then
posts ``POST /api/v1/events`` batches (100 events: 10 visitors x 10 events) from a few
client threads and waits until every event is stored.
Figures: the front door (HTTP accepted events/s: validate + enqueue), and end to end
(first request to last row stored). The ratio e2e / front door shows how far the
single local consumer thread trails the API.

Goal (issue 3): >= 2,000 events/s end to end on this 2-core machine.
Run: .venv/bin/python bench/bench_ingest_e2e.py [--events 30000] [--clients 4] [--url mysql+pymysql://...]
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
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from _common import reset_database, write_results  # noqa: E402
from multibuzz.db.engine import make_engine  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

DEFAULT_URL = "mysql+pymysql://root@127.0.0.1:3306/bench_ingest"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def batch(n: int, start: datetime) -> dict[str, Any]:
    events = []
    for v in range(10):
        visitor = secrets.token_hex(32)
        for i in range(10):
            url = f"https://shop.example/p/{i}" + ("?utm_source=google&utm_medium=cpc" if i == 0 else "")
            events.append(
                {
                    "event_type": "page_view" if i < 9 else "add_to_cart",
                    "visitor_id": visitor,
                    "timestamp": (start + timedelta(minutes=i, seconds=n * 10 + v)).isoformat(),
                    "user_agent": UA,
                    "ip": "203.0.113.9",
                    "properties": {"url": url, "referrer": "https://www.google.com/" if i == 0 else None},
                }
            )
    return {"events": events}


def stored(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM events")).scalar_one())
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30_000, help="multiple of 100")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the consumer")
    args = parser.parse_args()

    reset_database(args.url)
    api_key = "sk_test_" + secrets.token_hex(20)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "shared")]),
            "MULTIBUZZ_STAGE": "local",
            "MULTIBUZZ_DATABASE_URL": args.url,
            "MULTIBUZZ_DATA_DIR": tmp,
            "MULTIBUZZ_PORT": str(port),
            "MULTIBUZZ_DEMO_API_KEY": api_key,
            "MULTIBUZZ_DEMO_ADMIN_PASSWORD": secrets.token_urlsafe(16),
            "MULTIBUZZ_RUN_SCHEDULES": "false",
            "MULTIBUZZ_API_KEY_RATE_LIMIT_PER_MINUTE": "1000000",
            "MULTIBUZZ_LOG_LEVEL": "WARNING",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "infra.local", "serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            with httpx.Client(base_url=base, timeout=30) as probe:
                while True:
                    try:
                        if (
                            probe.get("/api/v1/validate", headers={"authorization": f"Bearer {api_key}"}).status_code
                            == 200
                        ):
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("local stack did not start")
                    time.sleep(0.2)

            start = datetime.now(UTC) - timedelta(hours=1)
            bodies = [batch(n, start) for n in range(args.events // 100)]
            headers = {"authorization": f"Bearer {api_key}"}

            def send(chunk: list[dict[str, Any]]) -> int:
                accepted = 0
                with httpx.Client(base_url=base, timeout=60) as client:
                    for body in chunk:
                        response = client.post("/api/v1/events", json=body, headers=headers)
                        response.raise_for_status()
                        accepted += int(response.json()["accepted"])
                return accepted

            chunks = [bodies[i :: args.clients] for i in range(args.clients)]
            began = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                accepted = sum(pool.map(send, chunks))
            http_seconds = time.perf_counter() - began
            wait_deadline = time.monotonic() + args.timeout
            count = 0
            while time.monotonic() < wait_deadline:
                count = stored(args.url)
                if count >= accepted:
                    break
                time.sleep(0.1)
            e2e_seconds = time.perf_counter() - began
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    if count < accepted:
        raise RuntimeError(f"only {count} of {accepted} events stored within {args.timeout}s")

    http_rate = accepted / http_seconds
    e2e_rate = count / e2e_seconds
    figures = {
        "database": make_url(args.url).render_as_string(hide_password=True),
        "events": count,
        "requests": len(bodies),
        "events_per_request": 100,
        "client_threads": args.clients,
        "http_seconds": round(http_seconds, 3),
        "http_accepted_events_per_s": round(http_rate),
        "e2e_seconds": round(e2e_seconds, 3),
        "e2e_stored_events_per_s": round(e2e_rate),
        "ratio_e2e_vs_http": round(e2e_rate / http_rate, 3),
        "goal_e2e_events_per_s": 2000,
    }
    print(f"{'measure':<46}{'value':>12}")
    print(f"{'front door: HTTP accepted events/s':<46}{http_rate:>12,.0f}")
    print(f"{'end to end: stored events/s (MariaDB)':<46}{e2e_rate:>12,.0f}")
    print(f"{'ratio e2e / front door':<46}{e2e_rate / http_rate:>12.2f}")
    print(f"{'events / requests':<46}{f'{count} / {len(bodies)}':>12}")
    write_results("ingest_e2e", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
