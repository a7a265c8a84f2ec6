"""CPU per signed Shopify webhook inside the server process, without sockets, uvicorn or the load generator.

    PYTHONPATH=$PWD:$PWD/layers/shared .venv/bin/python bench/bench_shopify_webhooks_inprocess.py
        [--requests 20000] [--profile out.prof]

The same request as bench/bench_shopify_webhooks.py (its shop, app secret and ~3 KB ``orders/create`` body,
a distinct ``X-Shopify-Webhook-Id`` each), handed to the local gateway (``infra.local.gateway.LocalGateway``)
as an ASGI scope on one event loop: the gateway builds the API Gateway v2 event and runs the real webhooks
handler (HMAC of the raw body, the shop from the per-process cache, one append to the queue journal).
Process CPU time per request (every thread of the process), over batches of 2,000 after 2,000 warm-up
requests; the figure printed is the first quartile of the batches (other load on a shared machine only
adds to a batch). After the run the journal is shipped into the local queue and the bench checks that
every 200 is a queued message. ``--profile`` writes a cProfile of the measured requests.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_shopify_webhooks as load_bench

BATCH = 2000


async def _measure(requests: int, profile: str | None) -> tuple[float, dict[int, int]]:
    from infra.local.gateway import LocalGateway

    gateway = LocalGateway()
    body = load_bench.order_body()
    signature = base64.b64encode(hmac.new(load_bench.SECRET.encode(), body, hashlib.sha256).digest())
    headers = [
        (b"host", b"127.0.0.1:8080"),
        (b"content-type", b"application/json"),
        (b"x-shopify-topic", b"orders/create"),
        (b"x-shopify-shop-domain", load_bench.SHOP.encode()),
        (b"x-shopify-hmac-sha256", signature),
        (b"x-shopify-api-version", b"2025-01"),
        (b"content-length", str(len(body)).encode()),
    ]
    statuses: dict[int, int] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses[message["status"]] = statuses.get(message["status"], 0) + 1

    async def one(n: int) -> None:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/webhooks/shopify/orders/create",
            "query_string": b"",
            "headers": [*headers, (b"x-shopify-webhook-id", f"inproc-{n}".encode())],
            "client": ("127.0.0.1", 5555),
        }
        await gateway(scope, receive, send)

    for n in range(BATCH):  # warm: imports, the shop lookup
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
    with tempfile.TemporaryDirectory(prefix="mb-bench-wh-inproc-") as tmp:
        load_bench.prepare(Path(tmp))  # also sets the environment (stage local, queue journal in tmp)
        per_request, statuses = asyncio.run(_measure(args.requests, args.profile))
        depth = load_bench.queued(Path(tmp))
    answered = statuses.get(200, 0)
    print(
        f"in-process CPU per signed Shopify webhook (orders/create, {len(load_bench.order_body())} B): "
        f"{per_request * 1e6:.1f} µs  (statuses {statuses}; queued {depth} of {answered} answered 200)"
    )
    return 0 if set(statuses) == {200} and depth >= answered else 1


if __name__ == "__main__":
    sys.exit(main())
