"""Export of raw events to CSV.gz through the S3 adapter (moto server), beside a raw cursor-to-gzip baseline.

Seeds ``--rows`` events (default 1M, 90 days) in MariaDB, then, each in a fresh subprocess so its peak RSS
(``VmHWM``: see ``_maxrss_mb``) is the worker's alone:
- ``export``: the real ``ExportWorker`` (server-side cursor → CSV → gzip → sha256 → S3 multipart upload to
  a moto server running in this parent process, then the manifest) on the first N rows, for every N in
  ``--sizes`` (default 100k and ``--rows``);
- ``raw`` (the same-run baseline): the same SQL on a raw pymysql ``SSCursor``, ``fetchmany`` + ``csv.writer``
  into a local ``gzip`` file at the same compression level — the floor of streaming those rows anywhere.

Goals (issue 12): export throughput >= 0.5 of the baseline; peak RSS < 200 MB and flat from 100k to 1M rows.
Run: .venv/bin/python bench/bench_export.py [--rows 1000000] [--sizes 100000,1000000]
     [--url mysql+pymysql://root@127.0.0.1:3306/h_exports]   (the database is dropped and recreated)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from _common import reset_database, write_results  # noqa: E402

ACCOUNT = "acc_bench_export"
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 90
BUCKET = "multibuzz-bench-exports"
PAGES = ["/", "/products/blue-shirt", "/products/red-shoes", "/cart", "/checkout", "/blog/summer-sale"]
TYPES = ["page_view"] * 6 + ["add_to_cart", "checkout_started", "purchase"]


def _step(rows: int) -> timedelta:
    return timedelta(days=DAYS) / rows


def seed(url: str, rows: int) -> None:
    from multibuzz.db.engine import make_engine
    from multibuzz.db.migrate import upgrade
    from multibuzz.db.models import Account, Event, Visitor, VisitSession
    from sqlalchemy import insert

    reset_database(url)
    engine = make_engine(url)
    upgrade(engine)
    rng = random.Random(12)
    visitors = max(1, rows // 20)
    step = _step(rows)
    with engine.begin() as conn:
        conn.execute(
            insert(Account),
            [
                {
                    "id": ACCOUNT,
                    "name": "Bench",
                    "slug": "bench",
                    "settings": {},
                    "status": "active",
                    "created_at": START,
                }
            ],
        )
        for first in range(0, visitors, 10_000):
            conn.execute(
                insert(Visitor),
                [
                    {
                        "id": f"vis_{i:010d}",
                        "account_id": ACCOUNT,
                        "visitor_key": f"{i:064x}",
                        "first_seen_at": START,
                        "last_seen_at": START,
                    }
                    for i in range(first, min(visitors, first + 10_000))
                ],
            )
            conn.execute(
                insert(VisitSession),
                [
                    {
                        "id": f"ses_{i:010d}",
                        "account_id": ACCOUNT,
                        "visitor_id": f"vis_{i:010d}",
                        "started_at": START,
                        "last_activity_at": START,
                        "channel": "email",
                        "page_view_count": 1,
                        "is_bot": False,
                        "created_at": START,
                    }
                    for i in range(first, min(visitors, first + 10_000))
                ],
            )
    batch = 20_000
    for first in range(0, rows, batch):
        values = []
        for i in range(first, min(rows, first + batch)):
            at = START + step * i
            visitor = rng.randrange(visitors)
            page = rng.choice(PAGES)
            values.append(
                {
                    "id": f"evt_{i:012d}",
                    "account_id": ACCOUNT,
                    "visitor_id": f"vis_{visitor:010d}",
                    "session_id": f"ses_{visitor:010d}",
                    "event_type": rng.choice(TYPES),
                    "occurred_at": at,
                    "received_at": at + timedelta(seconds=1),
                    "properties": {"path": page, "title": "Bench shop", "value": rng.randrange(100)},
                    "url": f"https://shop.example{page}?utm_source=newsletter",
                }
            )
        with engine.begin() as conn:
            conn.execute(insert(Event), values)
    engine.dispose()


def _filters(rows: int, total: int) -> Any:
    from multibuzz.exports.datasets import ExportFilter

    end = START + _step(total) * rows  # the first `rows` events: [START, end)
    return ExportFilter(ACCOUNT, START, end, as_of=datetime(2030, 1, 1, tzinfo=UTC))


def child_export(url: str, endpoint: str, rows: int, total: int) -> dict[str, Any]:
    """One export by the real worker, through the S3 adapter, in this (fresh) process."""
    from multibuzz.bootstrap import Container
    from multibuzz.db.models import Export
    from multibuzz.exports.datasets import EVENTS
    from multibuzz.exports.worker import ExportWorker
    from multibuzz.settings import Settings

    settings = Settings(
        stage="test",
        database_url=url,
        object_store="s3",
        exports_bucket=BUCKET,
        aws_endpoint_url=endpoint,
        data_dir=Path(tempfile.mkdtemp()),
    )
    container = Container(settings)
    f = _filters(rows, total)
    export_id = container.ids.new("exp")
    with container.session() as session:
        session.add(
            Export(
                id=export_id,
                account_id=ACCOUNT,
                dataset="events",
                format="csv",
                gzip=True,
                range_start=f.start,
                range_end=f.end,
                status="queued",
                rows=0,
                bytes=0,
                object_key=f"exports/{ACCOUNT}/events/dt=2026-12-01/{export_id}.csv.gz",
                manifest_key=f"exports/{ACCOUNT}/events/dt=2026-12-01/_{export_id}.manifest.json",
                attempts=0,
                columns=EVENTS.schema(),
                created_at=f.as_of,
            )
        )
        session.commit()
    worker = ExportWorker.from_container(container)
    started = time.perf_counter()
    worker.run(export_id)
    seconds = time.perf_counter() - started
    with container.session() as session:
        export = session.get(Export, export_id)
        assert export is not None and export.status == "ready", export and export.error
        written, size = export.rows, export.bytes
    return {"rows": written, "bytes": size, "seconds": seconds, "maxrss_mb": _maxrss_mb()}


def child_raw(url: str, rows: int, total: int) -> dict[str, Any]:
    """The baseline: the same SQL on a raw unbuffered cursor, csv.writer into a local gzip file."""
    import csv
    import gzip

    import pymysql
    import pymysql.cursors
    from multibuzz.db.engine import make_engine
    from multibuzz.exports.datasets import EVENTS
    from multibuzz.exports.encoding import GZIP_LEVEL
    from sqlalchemy.engine import make_url

    engine = make_engine(url)
    compiled = EVENTS.query(_filters(rows, total)).compile(dialect=engine.dialect)
    params = {
        k: v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v for k, v in compiled.params.items()
    }
    parsed = make_url(url)
    conn = pymysql.connect(
        host=parsed.host, port=parsed.port or 3306, user=parsed.username, password=parsed.password or "",
        database=parsed.database, charset="utf8mb4", cursorclass=pymysql.cursors.SSCursor,
    )  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "raw.csv.gz"
    started = time.perf_counter()
    count = 0
    with conn.cursor() as cursor, gzip.open(path, "wt", compresslevel=GZIP_LEVEL, newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.name for c in EVENTS.columns])
        cursor.execute(str(compiled), params)
        while batch := cursor.fetchmany(5000):
            writer.writerows(batch)
            count += len(batch)
    seconds = time.perf_counter() - started
    size = path.stat().st_size
    path.unlink()
    return {"rows": count, "bytes": size, "seconds": seconds, "maxrss_mb": _maxrss_mb()}


def _maxrss_mb() -> float:
    """This process's peak resident set. Linux's ``getrusage(RUSAGE_SELF).ru_maxrss`` is no good here: it
    keeps the high-water mark across fork + exec, so a child reports the parent's peak (this parent holds
    the moto server and its objects). ``VmHWM`` belongs to the address space, which exec makes anew."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: kilobytes too


def _run_child(*args: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "MULTIBUZZ_LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="events seeded (and the largest export)")
    parser.add_argument("--sizes", default="", help="export sizes, comma-separated (default: 100000,<rows>)")
    parser.add_argument("--url", default="mysql+pymysql://root@127.0.0.1:3306/h_exports")
    parser.add_argument("--skip-seed", action="store_true", help="reuse the events of an earlier run")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        kind, url, *rest = args.child
        if kind == "export":
            print(json.dumps(child_export(url, rest[0], int(rest[1]), int(rest[2]))))
        else:
            print(json.dumps(child_raw(url, int(rest[0]), int(rest[1]))))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s] or sorted({min(100_000, args.rows), args.rows})
    if not args.skip_seed:
        began = time.perf_counter()
        seed(args.url, args.rows)
        print(f"seeded {args.rows:,} events in {time.perf_counter() - began:.0f} s")

    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    sys.path.insert(0, str(ROOT))
    from tests.conftest import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.session.Session().client("s3", region_name="us-east-1", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    figures: dict[str, Any] = {"rows_seeded": args.rows, "runs": []}
    try:
        for size in sizes:
            raw = _run_child("raw", args.url, str(size), str(args.rows))
            export = _run_child("export", args.url, endpoint, str(size), str(args.rows))
            assert raw["rows"] == export["rows"] == size, (raw, export)
            ratio = raw["seconds"] / export["seconds"]
            run = {
                "rows": size,
                "export_rows_per_s": round(size / export["seconds"]),
                "raw_rows_per_s": round(size / raw["seconds"]),
                "ratio": round(ratio, 3),
                "export_seconds": round(export["seconds"], 2),
                "raw_seconds": round(raw["seconds"], 2),
                "export_mb": round(export["bytes"] / 2**20, 1),
                "raw_mb": round(raw["bytes"] / 2**20, 1),
                "export_peak_rss_mb": round(export["maxrss_mb"], 1),
                "raw_peak_rss_mb": round(raw["maxrss_mb"], 1),
            }
            figures["runs"].append(run)
            print(
                f"{size:>9,} rows: export {run['export_rows_per_s']:>8,}/s ({run['export_seconds']} s, "
                f"{run['export_mb']} MB gz, peak RSS {run['export_peak_rss_mb']} MB) | raw cursor+csv+gzip "
                f"{run['raw_rows_per_s']:>8,}/s (peak RSS {run['raw_peak_rss_mb']} MB) | ratio {run['ratio']}"
            )
    finally:
        server.stop()
    rss = [r["export_peak_rss_mb"] for r in figures["runs"]]
    figures["goal_ratio_ge_0_5"] = figures["runs"][-1]["ratio"] >= 0.5
    figures["goal_rss_lt_200mb"] = max(rss) < 200
    figures["rss_growth_smallest_to_largest"] = round(rss[-1] / rss[0], 3)
    growth = figures["rss_growth_smallest_to_largest"]
    print(
        f"goals: ratio >= 0.5 at {sizes[-1]:,}: {figures['goal_ratio_ge_0_5']}; peak RSS < 200 MB: "
        f"{figures['goal_rss_lt_200mb']}; RSS {sizes[-1]:,} / {sizes[0]:,} = {growth}"
    )
    print(f"written {write_results('bench_export', figures)}")


if __name__ == "__main__":
    main()
