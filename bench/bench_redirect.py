"""Throughput and latency of the local redirect path vs a raw-ASGI 302 on the same server, same run.

    .venv/bin/python bench/bench_redirect.py [--seconds 8] [--connections 50] [--rounds 2]

What is measured: one uvicorn server (uvloop + httptools, one worker) in a subprocess serving both
- ``/raw/…``: a bare ASGI app that answers a fixed 302 with ``content-length: 0`` (the ceiling of this
  server on this machine), and ``/raw-next-tick/…``, the same after one loop tick (``await NEXT_TICK``), the write
  coalescing the gateway does (the ratio is taken against the faster of the two), and
- ``/r/{code}``: the real local gateway → API Gateway v2 event → ``functions.redirect.handler`` → cached
  link lookup → Location with ref_code → click appended to the local click journal,
while ``python -m infra.local ship-clicks`` runs beside it, as under ``make serve``, moving clicks from
the journal into the durable local queue (SQLite) on the same two cores. Every request carries a
browser's User-Agent and a Referer, so the click is a realistic one. After the load the server stops,
the shipper drains, and the bench checks that every answered redirect is a message in the queue.
The load generator is ``wrk`` (``apt-get install wrk``) when present, else a Python asyncio keep-alive client
in its own process. Rounds alternate raw/redirect so drift hits both. Goals: redirect ≥ 40 % of raw req/s,
redirect p99 ≤ 10 ms at 50 connections. Results: a table on stdout and ``bench/results/redirect.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
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

RAW_LOCATION = b"https://shop.example/spring?color=red&ref_code=abcd2345#top"
USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 Instagram 330.0.0.40.92"
)
REFERER = "https://l.instagram.com/"
GOAL_RATIO = 0.40
GOAL_P99_MS = 10.0


# -- server side ---------------------------------------------------------------------------
def serve(port: int) -> None:
    import uvicorn

    from infra.local.gateway import NEXT_TICK, LocalGateway

    gateway = LocalGateway()
    if os.environ.get("MULTIBUZZ_BENCH_TELEMETRY") == "off":  # bench_telemetry_ab's switch, in the server
        from bench_telemetry_ab import TelemetrySwitch

        TelemetrySwitch().set(False)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(("/raw/", "/raw-next-tick/")):
            if scope["path"].startswith("/raw-next-tick/"):  # the gateway's write coalescing, on the raw 302
                await NEXT_TICK
            await send(
                {
                    "type": "http.response.start",
                    "status": 302,
                    "headers": [
                        (b"location", RAW_LOCATION),
                        (b"cache-control", b"private, no-store"),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await gateway(scope, receive, send)

    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="error", access_log=False)


def environment(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MULTIBUZZ_STAGE": "local",
        "MULTIBUZZ_DATA_DIR": str(data_dir),
        "MULTIBUZZ_DATABASE_URL": f"sqlite:///{data_dir / 'bench.db'}",
        "MULTIBUZZ_LOG_LEVEL": "WARNING",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "shared")]),
    }


def prepare(data_dir: Path) -> str:
    """Migrate a fresh SQLite database and create one tracking link; returns its code."""
    os.environ.update(environment(data_dir))
    from multibuzz.bootstrap import Container
    from multibuzz.db.migrate import upgrade
    from multibuzz.services.context import Actor
    from multibuzz.services.influencers import InfluencerService
    from multibuzz.services.tenancy import Tenancy
    from multibuzz.settings import Settings

    container = Container(Settings())
    upgrade(container.engine)
    with container.session() as session:
        account = Tenancy(session, container.clock, container.ids).create_account(None, "Bench")
        actor = Actor("usr_bench", "bench@x.test", True, account.id, None)
        service = InfluencerService(session, container.clock, container.ids)
        campaign = service.create_campaign(actor, name="Bench", default_destination_url="https://shop.example/spring")
        influencer = service.create_influencer(actor, name="Bench", handle="bench")
        link = service.create_link(actor, campaign_id=campaign.id, influencer_id=influencer.id)
        session.commit()
        code = link.code
    container.engine.dispose()
    return code


# -- load generators -----------------------------------------------------------------------
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(url: str, seconds: int, connections: int) -> dict[str, float]:
    headers = ["-H", f"User-Agent: {USER_AGENT}", "-H", f"Referer: {REFERER}"]
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *headers, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = {p: _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.MULTILINE)}
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50_ms": latency["50"],
        "p99_ms": latency["99"],
        "requests": total,
        "bad_status": int(errors.group(1)) if errors else 0,
        "socket_errors": 0 if not socket_errors else 1,
    }


async def _client(host: str, port: int, path: str, deadline: float, latencies: list[float], bad: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\nReferer: {REFERER}\r\n\r\n"
    request_bytes = request.encode()
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        writer.write(request_bytes)
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
        if length and int(length.group(1)):
            await reader.readexactly(int(length.group(1)))
        latencies.append((time.perf_counter() - start) * 1000)
        if not head.startswith(b"HTTP/1.1 302"):
            bad.append(1)
    writer.close()


def python_loadgen(url: str, seconds: int, connections: int) -> dict[str, float]:
    match = re.fullmatch(r"http://([^:/]+):(\d+)(/.*)", url)
    assert match
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    latencies: list[float] = []
    bad: list[int] = []

    async def main() -> float:
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()
        await asyncio.gather(*(_client(host, port, path, deadline, latencies, bad) for _ in range(connections)))
        return time.perf_counter() - start

    elapsed = asyncio.run(main())
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99)],
        "requests": len(latencies),
        "bad_status": len(bad),
        "socket_errors": 0,
    }


def load(url: str, seconds: int, connections: int, tool: str) -> dict[str, float]:
    if tool == "wrk":
        return run_wrk(url, seconds, connections)
    out = subprocess.run(
        [sys.executable, __file__, "--loadgen", url, str(seconds), str(connections)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out))


# -- orchestration -------------------------------------------------------------------------
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


def queue_depth(data_dir: Path) -> int:
    import sqlite3

    path = data_dir / "queue.db"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM messages WHERE queue = 'clicks'").fetchone()[0])
    except sqlite3.OperationalError:  # the shipper has not created the queue yet
        return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--loadgen", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    if args.loadgen:
        url, seconds, connections = args.loadgen
        print(json.dumps(python_loadgen(url, int(seconds), int(connections))))
        return 0

    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "python")
    with tempfile.TemporaryDirectory(prefix="mb-bench-") as tmp:
        data_dir = Path(tmp)
        code = prepare(data_dir)
        port = free_port()
        env = environment(data_dir)
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=env, cwd=str(ROOT))
        shipper = subprocess.Popen([sys.executable, "-m", "infra.local", "ship-clicks"], env=env, cwd=str(ROOT))
        try:
            wait_for(port)
            base = f"http://127.0.0.1:{port}"
            urls = {
                "raw_asgi_302": f"{base}/raw/{code}",
                "raw_asgi_302_next_tick": f"{base}/raw-next-tick/{code}",
                "redirect": f"{base}/r/{code}",
            }
            warm_redirects = 0
            for name, url in urls.items():  # warm: imports, first lookup, caches
                warm = load(url, 2, args.connections, tool)
                warm_redirects += int(warm["requests"]) if name == "redirect" else 0
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
            for _ in range(args.rounds):
                for name, url in urls.items():
                    runs[name].append(load(url, args.seconds, args.connections, tool))
            depth_under_load = queue_depth(data_dir)
        finally:
            server.terminate()
            server.wait(timeout=60)
        answered = warm_redirects + sum(int(r["requests"]) for r in runs["redirect"])
        drain_started = time.monotonic()
        while queue_depth(data_dir) < answered and time.monotonic() - drain_started < 120:
            time.sleep(0.05)
        drain_seconds = time.monotonic() - drain_started
        shipper.terminate()
        shipper.wait(timeout=60)
        depth = queue_depth(data_dir)

    summary = {}
    for name, results in runs.items():
        summary[name] = {
            "rps": sum(r["rps"] for r in results) / len(results),
            "p50_ms": sorted(r["p50_ms"] for r in results)[len(results) // 2],
            "p99_ms": max(r["p99_ms"] for r in results),
            "requests": sum(r["requests"] for r in results),
            "bad_status": sum(r["bad_status"] for r in results),
        }
    baseline = max(summary["raw_asgi_302"]["rps"], summary["raw_asgi_302_next_tick"]["rps"])  # the stricter
    ratio = summary["redirect"]["rps"] / baseline
    result = {
        "benchmark": "redirect",
        "tool": tool,
        "connections": args.connections,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "results": summary,
        "ratio_rps": ratio,
        "clicks_queued_when_load_stopped": depth_under_load,
        "clicks_queued_after_drain": depth,
        "drain_seconds_after_load": drain_seconds,
        "redirects_answered": answered,
        "goals": {
            "ratio_rps >= 0.40": ratio >= GOAL_RATIO,
            "redirect p99 <= 10 ms": summary["redirect"]["p99_ms"] <= GOAL_P99_MS,
        },
        "runs": runs,
    }
    print(f"\nredirect bench ({tool}, {args.connections} connections, {args.rounds}x{args.seconds}s per path)\n")
    print("| path | req/s | p50 ms | p99 ms | requests | non-3xx |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in summary.items():
        print(
            f"| {name} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['requests']:.0f} |"
            f" {row['bad_status']:.0f} |"
        )
    print(f"\nredirect / faster raw req/s = {ratio:.2f} (goal >= {GOAL_RATIO})")
    print(
        f"clicks in the queue: {depth_under_load} when the load stopped, {depth} after the shipper drained"
        f" ({drain_seconds:.1f} s); redirects answered (as wrk counts them): {answered}"
        f" → {'none lost' if depth >= answered else f'{answered - depth} MISSING'}"
    )
    for goal, met in result["goals"].items():
        print(f"  {goal}: {'met' if met else 'NOT met'}")
    write_results("redirect", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
