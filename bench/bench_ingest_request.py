"""Per-request cost of ingestion: single-event ``POST /api/v1/events`` vs a raw-ASGI 202, same server, same run.

    .venv/bin/python bench/bench_ingest_request.py [--seconds 8] [--connections 50] [--rounds 3]
                                                   [--database-url mysql+pymysql://root@127.0.0.1:3306/bench_ingest_request]

What is measured: one uvicorn server (uvloop + httptools, one worker) in a subprocess serving both
- ``/raw/…``: a bare ASGI app that reads the request body and answers a fixed 202 JSON (the ceiling of this
  server on this machine), and
- ``/api/v1/events``: the real local gateway → API Gateway v2 event → ``functions.events.handler`` (Mangum →
  FastAPI → API-key auth → rate limit → validation → durable local queue) → 202,
while ``python -m infra.local ship-clicks`` runs beside it, as under ``make serve``, moving the queue journal
(what the events function appends to; multibuzz.adapters.queue.journal) into the durable local queue.
Every request posts one event (``{"events": [{…}]}``) with its own ``event_id`` and one of 500 visitors,
authenticated with ``Authorization: Bearer sk_live_…`` of an account seeded in a fresh data dir (SQLite by
default, or ``--database-url``, a MariaDB database that is dropped and recreated).
After the load the server stops and the bench drains the ingest queue through the real consumer
(``functions.attribution``) in this process, then counts the stored ``events`` rows: every 202 wrk saw must
be a stored event (stored >= answered, since wrk does not count requests in flight when it stops).
The load generator is ``wrk`` (``apt-get install wrk``) with a Lua script; without wrk the bench stops with a
clear message. Rounds alternate raw/ingest so drift hits both. Goals (issue 10): ingest >= 25 % of raw req/s,
ingest p99 <= 25 ms at 50 connections. Results: a table on stdout and ``bench/results/ingest_request.json``.
"""

from __future__ import annotations

import argparse
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

from _common import reset_database, write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

GOAL_RATIO = 0.25
GOAL_P99_MS = 25.0
API_KEY = "sk_live_" + "b3nchK3y" * 5
RAW_BODY = b'{"accepted":1,"rejected":0,"events":[{"index":0,"id":"evt_raw"}],"errors":[]}'

# One event per request: its own event_id (round prefix + counter), one of 500 visitors, a realistic page view.
LUA = r"""
local prefix = "r"
local counter = 0
function init(args)
  prefix = args[1] or "r"
end
function request()
  counter = counter + 1
  local visitor = string.format("%064x", counter % 500)
  local body = '{"events":[{"event_type":"page_view","visitor_id":"' .. visitor .. '","event_id":"' .. prefix
    .. '-' .. counter .. '","url":"https://shop.example/p/' .. (counter % 40)
    .. '?utm_source=google&utm_medium=cpc","referrer":"https://www.google.com/",'
    .. '"properties":{"title":"Spring sale","path":"/p/' .. (counter % 40) .. '"}}]}'
  return wrk.format("POST", nil, nil, body)
end
"""


# -- server side ---------------------------------------------------------------------------
def serve(port: int) -> None:
    import uvicorn

    from infra.local.gateway import LocalGateway

    gateway = LocalGateway()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/raw/"):
            more = True
            while more:  # read the body, as the real path does
                message = await receive()
                more = message.get("more_body", False)
            await send(
                {
                    "type": "http.response.start",
                    "status": 202,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(RAW_BODY))],
                }
            )
            await send({"type": "http.response.body", "body": RAW_BODY})
            return
        await gateway(scope, receive, send)

    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="error", access_log=False)


def environment(data_dir: Path, database_url: str | None) -> dict[str, str]:
    return {
        **os.environ,
        "MULTIBUZZ_STAGE": "local",
        "MULTIBUZZ_DATA_DIR": str(data_dir),
        "MULTIBUZZ_DATABASE_URL": database_url or f"sqlite:///{data_dir / 'bench.db'}",
        "MULTIBUZZ_API_KEY_RATE_LIMIT_PER_MINUTE": "100000000",  # the bench measures cost, not the limit
        "MULTIBUZZ_LOG_LEVEL": "WARNING",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "shared")]),
    }


def prepare(data_dir: Path, database_url: str | None) -> str:
    """Migrate a fresh database and create one account with one live API key; returns the account id."""
    if database_url:
        reset_database(database_url)
    os.environ.update(environment(data_dir, database_url))
    from multibuzz.bootstrap import Container
    from multibuzz.db.migrate import upgrade
    from multibuzz.services.context import Actor
    from multibuzz.services.tenancy import Tenancy
    from multibuzz.settings import Settings

    container = Container(Settings())
    upgrade(container.engine)
    with container.session() as session:
        tenancy = Tenancy(session, container.clock, container.ids, container.secret_box)
        account = tenancy.create_account(None, "Bench")
        actor = Actor("usr_bench", "bench@x.test", True, account.id, None)
        tenancy.create_api_key(actor, account.id, name="bench", plaintext=API_KEY)
        session.commit()
        account_id = account.id
    container.engine.dispose()
    return account_id


# -- load ------------------------------------------------------------------------------------
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(url: str, seconds: int, connections: int, script: Path, prefix: str) -> dict[str, float]:
    headers = ["-H", f"Authorization: Bearer {API_KEY}", "-H", "Content-Type: application/json"]
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency", *headers]
    out = subprocess.run(
        [*command, "-s", str(script), url, "--", prefix], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = {p: _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", out, re.MULTILINE)}
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": latency["50"],
        "p99_ms": latency["99"],
        "requests": total,
        "bad_status": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): load on the shared machine does not change it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


# -- after the load: drain and count ----------------------------------------------------------
def drain_and_count(account_id: str, timeout: float) -> dict[str, Any]:
    """Ship what the local runtime holds, consume the ingest queue with the real consumer, count stored events."""
    from multibuzz import topology
    from multibuzz.bootstrap import get_container
    from multibuzz.db.models.tracking import Event
    from sqlalchemy import func, select

    from infra.local.dispatch import deliver_once, load_handler, local_batch_size

    container = get_container()
    flush_local_journals(container)
    queued = container.local_queue.depth("ingest")
    handler = load_handler("attribution")
    (consumer,) = [c for c in topology.function("attribution").consumes if c.queue == "ingest"]
    batch_size = local_batch_size(consumer, container.settings)  # as the local runner's consumer thread
    started = time.monotonic()
    dead = 0
    while time.monotonic() - started < timeout:
        report = deliver_once(container.local_queue, "ingest", handler, function="attribution", batch_size=batch_size)
        dead += report.dead
        if report.received == 0 and container.local_queue.depth("ingest") == 0:
            break
    with container.session() as session:
        stored = int(session.scalar(select(func.count()).select_from(Event).where(Event.account_id == account_id)) or 0)
    return {
        "queued_after_load": queued,
        "left_in_queue": container.local_queue.depth("ingest"),
        "dead_letters": dead + len(container.local_queue.dead_letters("ingest")),
        "stored_events": stored,
        "drain_seconds": time.monotonic() - started,
    }


def flush_local_journals(container: Any) -> None:
    """Ship what the queue journal still holds (the shipper process normally does it)."""
    from multibuzz.adapters.queue.journal import MessageJournalShipper, queue_journal_directory

    MessageJournalShipper(queue_journal_directory(container.settings.data_dir)).ship(container.local_queue)


# -- orchestration -------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="a MariaDB URL (its database is dropped and recreated)")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    if shutil.which("wrk") is None:
        print("bench_ingest_request needs wrk: apt-get install -y wrk", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="mb-bench-ingest-") as tmp:
        data_dir = Path(tmp)
        account_id = prepare(data_dir, args.database_url)
        script = data_dir / "event.lua"
        script.write_text(LUA)
        port = free_port()
        env = environment(data_dir, args.database_url)
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=env, cwd=str(ROOT))
        # As under `make serve`: the shipper process moves the queue journal (and click journal) into the queue.
        shipper = subprocess.Popen([sys.executable, "-m", "infra.local", "ship-clicks"], env=env, cwd=str(ROOT))
        answered = 0
        try:
            wait_for(port)
            base = f"http://127.0.0.1:{port}"
            urls = {"raw_asgi_202": f"{base}/raw/events", "ingest_event": f"{base}/api/v1/events"}
            for name, url in urls.items():  # warm: imports, first key lookup, caches
                warm = run_wrk(url, 3, args.connections, script, f"warm-{name}")
                answered += int(warm["requests"] - warm["bad_status"]) if name == "ingest_event" else 0
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
            for round_number in range(args.rounds):
                for name, url in urls.items():
                    cpu_before = cpu_seconds(server.pid), cpu_seconds(shipper.pid)
                    result = run_wrk(url, args.seconds, args.connections, script, f"r{round_number}-{name}")
                    cpu_after = cpu_seconds(server.pid), cpu_seconds(shipper.pid)
                    result["server_cpu_us_per_request"] = (
                        (cpu_after[0] - cpu_before[0]) * 1e6 / max(1, result["requests"])
                    )
                    result["shipper_cpu_us_per_request"] = (
                        (cpu_after[1] - cpu_before[1]) * 1e6 / max(1, result["requests"])
                    )
                    result["ratio_same_round"] = 0.0
                    runs[name].append(result)
                ingest, raw = runs["ingest_event"][-1], runs["raw_asgi_202"][-1]
                ingest["ratio_same_round"] = ingest["rps"] / raw["rps"]
                answered += int(ingest["requests"] - ingest["bad_status"])
        finally:
            server.terminate()
            server.wait(timeout=60)
            shipper.terminate()  # ships what is left first
            shipper.wait(timeout=120)
        counts = drain_and_count(account_id, args.drain_timeout)

    summary = {}
    for name, results in runs.items():
        summary[name] = {
            "rps": sum(r["rps"] for r in results) / len(results),
            "p50_ms": sorted(r["p50_ms"] for r in results)[len(results) // 2],
            "p99_ms": max(r["p99_ms"] for r in results),
            "requests": sum(r["requests"] for r in results),
            "bad_status": sum(r["bad_status"] for r in results),
            "socket_errors": sum(r["socket_errors"] for r in results),
            "server_cpu_us_per_request": sum(r["server_cpu_us_per_request"] for r in results) / len(results),
            "shipper_cpu_us_per_request": sum(r["shipper_cpu_us_per_request"] for r in results) / len(results),
        }
    ratio = summary["ingest_event"]["rps"] / summary["raw_asgi_202"]["rps"]
    cpu_us = summary["ingest_event"]["server_cpu_us_per_request"]
    ceiling = 1e6 / max(1e-9, cpu_us)  # req/s the server could answer with one core to itself
    all_stored = counts["stored_events"] >= answered
    missing = answered - counts["stored_events"]
    result = {
        "benchmark": "ingest_request",
        "tool": "wrk",
        "database": "mariadb" if args.database_url else "sqlite",
        "connections": args.connections,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "results": summary,
        "ratio_rps": ratio,
        "ratio_per_round": [r["ratio_same_round"] for r in runs["ingest_event"]],
        "ingest_ceiling_rps_one_core": ceiling,
        "accepted_202_counted_by_wrk": answered,
        **counts,
        "goals": {
            "ratio_rps >= 0.25": ratio >= GOAL_RATIO,
            "ingest p99 <= 25 ms": summary["ingest_event"]["p99_ms"] <= GOAL_P99_MS,
            "every accepted event stored": all_stored,
        },
        "runs": runs,
    }
    print(
        f"\ningest request bench (wrk, {args.connections} connections, {args.rounds}x{args.seconds}s per path,"
        f" {result['database']})\n"
    )
    print("| path | req/s | p50 ms | p99 ms | requests | non-2xx | socket errors | server CPU µs/req | shipper |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, row in summary.items():
        print(
            f"| {name} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['requests']:.0f} |"
            f" {row['bad_status']:.0f} | {row['socket_errors']:.0f} | {row['server_cpu_us_per_request']:.0f} |"
            f" {row['shipper_cpu_us_per_request']:.0f} |"
        )
    per_round = ", ".join(f"{r:.3f}" for r in result["ratio_per_round"])
    print(f"\ningest / raw req/s = {ratio:.3f} (goal >= {GOAL_RATIO}); per round (same minute): {per_round}")
    raw_cpu = summary["raw_asgi_202"]["server_cpu_us_per_request"]
    print(
        f"server CPU per ingest request: {cpu_us:.0f} µs (raw: {raw_cpu:.0f})"
        f" → at most {ceiling:.0f} req/s with a core to itself; load on a shared machine does not change this figure"
    )
    print(
        f"202s counted by wrk: {answered}; in the queue after the load: {counts['queued_after_load']};"
        f" stored events after draining ({counts['drain_seconds']:.1f} s): {counts['stored_events']}"
        f" (left in queue {counts['left_in_queue']}, dead letters {counts['dead_letters']})"
        f" → {'none lost' if all_stored else f'{missing} MISSING'}"
    )
    for goal, met in result["goals"].items():
        print(f"  {goal}: {'met' if met else 'NOT met'}")
    write_results("ingest_request", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
