"""What the telemetry of issue #16 costs each hot-path request: the same build, the same process, with the
telemetry hooks live and then replaced by no-ops, alternated batch by batch.

    PYTHONPATH=$PWD:$PWD/layers/shared .venv/bin/python bench/bench_telemetry_ab.py [--path ingest|redirect|both]
        [--pairs 12] [--batch 1000]

Comparing two builds (``bench_ops_overhead.py``) also measures everything else that changed between them and
runs them minutes apart on a shared machine, where a 5-10 % drift is ordinary. Here one process serves the
same requests through the local gateway (the real handler, as ``bench_ingest_inprocess.py`` does for
``POST /api/v1/events``, and ``GET /r/{code}`` for the redirect), and alternates batches: A with the
telemetry as shipped, B with every telemetry call on that path swapped for a no-op function:

- the invocation frame (``begin``/``end``: function name, cold-start check, correlation id, flush check),
- the request id read from the event (``from_http_event``) and put on each queued message
  (``message_attributes``: the journal then writes no ``"a"`` field),
- the counters (``metrics.count``, ``metrics.Counter.add``).

Per-request process CPU of each batch; the figure is the median of each side's batches and B/A per pair (drift
in the process, such as a growing queue journal, hits both sides alike). The no-op functions still cost a
call each (about 0.05 µs), so B is a hair slower than code without the calls: the difference printed slightly
understates telemetry's cost. ``bench_ops_overhead.py`` runs this too.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import write_results

ROOT = Path(__file__).resolve().parents[1]


def _noop(*_args: Any, **_kwargs: Any) -> None:
    return None


def _no_attributes() -> dict[str, str]:
    return {}


class TelemetrySwitch:
    """Swaps the hot paths' telemetry calls for no-ops and back (module attributes, as the code looks them up)."""

    def __init__(self) -> None:
        import importlib

        self._live: list[tuple[Any, str, Any]] = []
        self._off: list[tuple[Any, str, Any]] = []
        for module_name, name, replacement in (
            ("multibuzz.runtime.asgi", "begin", _noop),
            ("multibuzz.runtime.asgi", "end", _noop),
            ("multibuzz.runtime.asgi", "from_http_event", _noop),
            ("multibuzz.redirect.service", "begin", _noop),
            ("multibuzz.redirect.service", "end", _noop),
            ("multibuzz.redirect.service", "from_http_event", _noop),
            ("multibuzz.telemetry.metrics", "count", _noop),
            ("multibuzz.telemetry.metrics", "Counter.add", _noop),
            ("multibuzz.telemetry.correlation", "message_attributes", _no_attributes),
        ):
            try:  # a build without the telemetry (the baseline of bench_ops_overhead) has nothing to switch
                owner: Any = importlib.import_module(module_name)
            except ImportError:
                continue
            *path, attribute = name.split(".")
            for part in path:
                owner = getattr(owner, part, None)
            if owner is None or not hasattr(owner, attribute):
                continue
            self._live.append((owner, attribute, getattr(owner, attribute)))
            self._off.append((owner, attribute, replacement))

    def set(self, live: bool) -> None:
        for module, name, value in self._live if live else self._off:
            setattr(module, name, value)


def _ingest_request(account_key: str) -> Callable[[int], tuple[dict[str, Any], bytes]]:
    headers = [
        (b"host", b"127.0.0.1:8080"),
        (b"authorization", f"Bearer {account_key}".encode()),
        (b"content-type", b"application/json"),
    ]

    def make(n: int) -> tuple[dict[str, Any], bytes]:
        visitor = f"{n % 500:064x}"
        body = (
            f'{{"events":[{{"event_type":"page_view","visitor_id":"{visitor}","event_id":"ab-{n}",'
            f'"url":"https://shop.example/p/{n % 40}?utm_source=google&utm_medium=cpc",'
            f'"referrer":"https://www.google.com/","properties":{{"title":"Spring sale","path":"/p/{n % 40}"}}}}]}}'
        ).encode()
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/v1/events",
            "query_string": b"",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 5555),
        }
        return scope, body

    return make


def _redirect_request(code: str) -> Callable[[int], tuple[dict[str, Any], bytes]]:
    headers = [
        (b"host", b"127.0.0.1:8080"),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"),
        (b"referer", b"https://www.instagram.com/"),
    ]

    def make(n: int) -> tuple[dict[str, Any], bytes]:
        scope = {
            "type": "http",
            "method": "GET",
            "path": f"/r/{code}",
            "query_string": b"",
            "headers": headers,
            "client": (f"10.0.{n % 200}.{n % 250 + 1}", 5555),
        }
        return scope, b""

    return make


async def _measure(
    make: Callable[[int], tuple[dict[str, Any], bytes]], pairs: int, batch: int, expected: int
) -> dict[str, list[float]]:
    from infra.local.gateway import LocalGateway

    gateway = LocalGateway()
    switch = TelemetrySwitch()
    statuses: dict[int, int] = {}

    async def one(n: int) -> None:
        scope, body = make(n)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        await gateway(scope, receive, send)

    n = 0
    for live in (True, False):  # warm both sides: imports, caches, the first rate-limit block
        switch.set(live)
        for _ in range(batch):
            await one(n)
            n += 1
    sides: dict[str, list[float]] = {"telemetry": [], "no-op": []}
    for pair in range(pairs):
        order = (True, False) if pair % 2 == 0 else (False, True)  # ABBA: neither side always goes first
        for live in order:
            switch.set(live)
            started = time.process_time()
            for _ in range(batch):
                await one(n)
                n += 1
            sides["telemetry" if live else "no-op"].append((time.process_time() - started) / batch * 1e6)
    switch.set(True)
    if set(statuses) != {expected}:
        raise SystemExit(f"unexpected statuses {statuses} (expected only {expected})")
    return sides


def run_path(path: str, pairs: int, batch: int) -> dict[str, Any]:
    sys.path[:0] = [str(ROOT / "bench")]
    with tempfile.TemporaryDirectory(prefix=f"mb-bench-tab-{path}-") as tmp:
        if path == "ingest":
            import bench_ingest_request as ingest_bench

            ingest_bench.prepare(Path(tmp), None)
            make, expected = _ingest_request(ingest_bench.API_KEY), 202
        else:
            import bench_redirect as redirect_bench

            make, expected = _redirect_request(redirect_bench.prepare(Path(tmp))), 302
        sides = asyncio.run(_measure(make, pairs, batch, expected))
    ratios = [b / a for a, b in zip(sides["telemetry"], sides["no-op"], strict=True)]
    telemetry, noop = statistics.median(sides["telemetry"]), statistics.median(sides["no-op"])
    return {
        "path": path,
        "telemetry_us": round(telemetry, 2),
        "noop_us": round(noop, 2),
        "cost_us": round(telemetry - noop, 2),
        "noop_over_telemetry_median_pair": round(statistics.median(ratios), 3),
        "pairs": pairs,
        "batch": batch,
        "batches": sides,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", choices=("ingest", "redirect", "both"), default="both")
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one path, one JSON line
    args = parser.parse_args()
    if args.path != "both":
        result = run_path(args.path, args.pairs, args.batch)
        if args.json:
            import json

            print(json.dumps(result))
            return 0
        results = [result]
    else:  # each path in its own fresh interpreter (its own settings and gateway)
        import json

        results = []
        for path in ("ingest", "redirect"):
            done = subprocess.run(
                [sys.executable, __file__, "--path", path, "--pairs", str(args.pairs), "--batch", str(args.batch),
                 "--json"],
                capture_output=True, text=True, check=True, cwd=ROOT,
            )  # fmt: skip
            line = next(line for line in done.stdout.splitlines() if line.startswith('{"path"'))  # not EMF
            results.append(json.loads(line))
    print(f"\ntelemetry on vs no-op, same process, {args.pairs} alternated pairs of {args.batch} requests\n")
    print("| path | CPU µs/request, telemetry | CPU µs/request, no-op | telemetry's cost µs | no-op / telemetry |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['path']} | {r['telemetry_us']:.1f} | {r['noop_us']:.1f} | {r['cost_us']:+.1f} "
            f"| {r['noop_over_telemetry_median_pair']:.3f} |"
        )
    write_results("telemetry_ab", {"results": results, "args": vars(args)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
