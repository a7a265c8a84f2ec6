"""Signed Shopify webhooks through the local gateway vs a raw-ASGI 200 on the same server, same run.

    .venv/bin/python bench/bench_shopify_webhooks.py [--seconds 8] [--connections 50] [--rounds 2]

What is measured: one uvicorn server (uvloop + httptools, one worker) in a subprocess serving both
- ``/raw/…``: a bare ASGI app that reads the body and answers a fixed 200 JSON (the ceiling of this server), and
- ``/webhooks/shopify/orders/create``: the real local gateway → API Gateway v2 event →
  ``functions.webhooks.handler`` → HMAC-SHA256 check of the raw body (constant time) → shop lookup (cached)
  → JSON parse → one message appended to the queue journal → 200,
with a realistic ``orders/create`` body (~3 KB) signed with the app secret and a distinct
``X-Shopify-Webhook-Id`` per request. After the load the journal is shipped into the durable local queue and
the bench checks that every answered webhook is a queued message. The load generator is a bounded Python
asyncio keep-alive client (50 connections) in its own process (wrk is not installed here). Goals (issue 11):
webhooks >= 0.35 of raw req/s, p99 <= 15 ms. Results: a table on stdout and ``bench/results/shopify_webhooks.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

SECRET = "bench-shopify-secret"
SHOP = "bench.myshopify.com"
GOAL_RATIO = 0.35
GOAL_P99_MS = 15.0
RAW_BODY = b'{"status":"accepted"}'


def order_body() -> bytes:
    from datetime import UTC, datetime

    from multibuzz.commerce.fakes.shopify import FakeShopify

    fake = FakeShopify()
    order = fake.add_order(
        SHOP,
        total="129.90",
        discount="10.00",
        discount_codes=["ANA10"],
        customer_id=42,
        created_at=datetime.now(UTC),
        note_attributes={"_mbuzz_vid": "a" * 64},
        landing_site="/?utm_source=ig&utm_medium=social&ref_code=ab12cd",
    )
    order["line_items"] = [
        {"id": 9000 + i, "title": f"Product {i}", "quantity": 1, "price": "39.90", "sku": f"SKU-{i}"} for i in range(8)
    ]
    return json.dumps(order).encode()


def serve(port: int) -> None:
    import uvicorn

    from infra.local.gateway import LocalGateway

    gateway = LocalGateway()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/raw/"):
            more = True
            while more:
                message = await receive()
                more = message.get("more_body", False)
            headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(RAW_BODY))]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": RAW_BODY})
            return
        await gateway(scope, receive, send)

    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="error", access_log=False)


def environment(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MULTIBUZZ_STAGE": "local",
        "MULTIBUZZ_DATA_DIR": str(data_dir),
        "MULTIBUZZ_DATABASE_URL": f"sqlite:///{data_dir / 'bench.db'}",
        "MULTIBUZZ_SHOPIFY_API_SECRET": SECRET,
        "MULTIBUZZ_LOG_LEVEL": "WARNING",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "shared")]),
    }


def prepare(data_dir: Path) -> None:
    os.environ.update(environment(data_dir))
    from multibuzz.bootstrap import Container
    from multibuzz.commerce import integrations as svc
    from multibuzz.db.migrate import upgrade
    from multibuzz.db.models import Account
    from multibuzz.settings import Settings

    container = Container(Settings())
    upgrade(container.engine)
    tools = svc.Tools(container.clock, container.ids, container.secret_box)
    with container.session() as session:
        session.add(Account(id="acc_bench", name="bench", slug="bench", created_at=container.clock.now()))
        session.flush()
        svc.connect(session, tools, account_id="acc_bench", type="shopify", external_id=SHOP)
        session.commit()
    container.engine.dispose()


async def _client(
    host: str,
    port: int,
    path: str,
    body: bytes,
    signature: str,
    deadline: float,
    prefix: str,
    latencies: list[float],
    bad: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    counter = 0
    while time.perf_counter() < deadline:
        counter += 1
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"X-Shopify-Topic: orders/create\r\nX-Shopify-Shop-Domain: {SHOP}\r\n"
            f"X-Shopify-Hmac-Sha256: {signature}\r\nX-Shopify-Webhook-Id: {prefix}-{id(writer)}-{counter}\r\n"
            f"X-Shopify-Api-Version: 2025-01\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        start = time.perf_counter()
        writer.write(head + body)
        answer = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"content-length: (\d+)", answer, re.IGNORECASE)
        if length and int(length.group(1)):
            await reader.readexactly(int(length.group(1)))
        latencies.append((time.perf_counter() - start) * 1000)
        if not answer.startswith(b"HTTP/1.1 200"):
            bad.append(1)
    writer.close()


def loadgen(url: str, seconds: int, connections: int, prefix: str) -> dict[str, float]:
    match = re.fullmatch(r"http://([^:/]+):(\d+)(/.*)", url)
    assert match
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    body = order_body()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    latencies: list[float] = []
    bad: list[int] = []

    async def main() -> float:
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()
        await asyncio.gather(
            *(_client(host, port, path, body, signature, deadline, prefix, latencies, bad) for _ in range(connections))
        )
        return time.perf_counter() - start

    elapsed = asyncio.run(main())
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99)],
        "requests": len(latencies),
        "bad_status": len(bad),
    }


def load(url: str, seconds: int, connections: int, prefix: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--loadgen", url, str(seconds), str(connections), prefix],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("bench server did not start")


def queued(data_dir: Path) -> int:
    os.environ.update(environment(data_dir))
    from multibuzz.adapters.queue.journal import MessageJournalShipper, queue_journal_directory
    from multibuzz.bootstrap import Container
    from multibuzz.settings import Settings

    container = Container(Settings())
    MessageJournalShipper(queue_journal_directory(container.settings.data_dir)).ship(container.local_queue)
    return int(container.local_queue.depth("webhooks"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--loadgen", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    if args.loadgen:
        url, seconds, connections, prefix = args.loadgen
        print(json.dumps(loadgen(url, int(seconds), int(connections), prefix)))
        return 0

    with tempfile.TemporaryDirectory(prefix="mb-bench-wh-") as tmp:
        data_dir = Path(tmp)
        prepare(data_dir)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port)], env=environment(data_dir), cwd=str(ROOT)
        )
        try:
            wait_for(port)
            base = f"http://127.0.0.1:{port}"
            urls = {"raw_asgi_200": f"{base}/raw/orders/create", "webhooks": f"{base}/webhooks/shopify/orders/create"}
            answered = 0
            for name, url in urls.items():  # warm: imports, the shop lookup
                warm = load(url, 2, args.connections, f"warm-{name}")
                answered += int(warm["requests"] - warm["bad_status"]) if name == "webhooks" else 0
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
            for round_number in range(args.rounds):
                for name, url in urls.items():
                    result = load(url, args.seconds, args.connections, f"r{round_number}-{name}")
                    runs[name].append(result)
                    answered += int(result["requests"] - result["bad_status"]) if name == "webhooks" else 0
        finally:
            server.terminate()
            server.wait(timeout=60)
        depth = queued(data_dir)

    summary = {
        name: {
            "rps": sum(r["rps"] for r in results) / len(results),
            "p50_ms": sorted(r["p50_ms"] for r in results)[len(results) // 2],
            "p99_ms": max(r["p99_ms"] for r in results),
            "requests": sum(r["requests"] for r in results),
            "bad_status": sum(r["bad_status"] for r in results),
        }
        for name, results in runs.items()
    }
    ratio = summary["webhooks"]["rps"] / summary["raw_asgi_200"]["rps"]
    result = {
        "benchmark": "shopify_webhooks",
        "tool": "python asyncio keep-alive client",
        "connections": args.connections,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "results": summary,
        "ratio_rps": ratio,
        "webhooks_answered_200": answered,
        "messages_queued": depth,
        "goals": {
            "ratio_rps >= 0.35": ratio >= GOAL_RATIO,
            "webhooks p99 <= 15 ms": summary["webhooks"]["p99_ms"] <= GOAL_P99_MS,
            "every 200 queued": depth >= answered,
        },
        "runs": runs,
    }
    print(f"\nshopify webhooks bench ({args.connections} connections, {args.rounds}x{args.seconds}s per path)\n")
    print("| path | req/s | p50 ms | p99 ms | requests | non-200 |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in summary.items():
        cells = f"{row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f}"
        print(f"| {name} | {cells} | {row['requests']:.0f} | {row['bad_status']:.0f} |")
    print(f"\nratio {ratio:.3f}; answered {answered}, queued {depth}; goals {result['goals']}")
    write_results("shopify_webhooks", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
