"""Tracking consumer throughput into MariaDB: stored events/s vs a raw executemany of the same rows.

Builds ``events.track`` messages exactly as the ingestion API does (one message per visitor
and request, ``--per-message`` events each: page views with UTMs, a session split by a
timeout, an add_to_cart), then feeds the real ``functions/attribution`` handler SQS FIFO
batches of 10 (as Lambda would) and measures stored events/s: visitor upsert and lock,
session resolution (touch, channel, user agent), session inserts/updates, event bulk insert,
one transaction per message.
Baseline in the same run: the same event rows, read back, deleted and re-inserted with one
raw DB-API ``executemany`` (pymysql, no ORM, no sessions, no visitors).

Goals (issue 3): >= 40% of raw, >= 5,000 events/s.
Run: .venv/bin/python bench/bench_ingest_consumer.py [--visitors 750] [--per-message 20] [--url mysql+pymysql://...]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from _common import reset_database, write_results  # noqa: E402
from multibuzz.bootstrap import Container, use_container  # noqa: E402
from multibuzz.consumers.envelope import Envelope  # noqa: E402
from multibuzz.db.migrate import upgrade  # noqa: E402
from multibuzz.db.models import Event, VisitSession  # noqa: E402
from multibuzz.ids import UlidGenerator  # noqa: E402
from multibuzz.services.tenancy import Tenancy  # noqa: E402
from multibuzz.settings import Settings  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from infra.local.lambda_context import LocalLambdaContext  # noqa: E402

DEFAULT_URL = "mysql+pymysql://root@127.0.0.1:3306/bench_ingest"
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
COLUMNS = [c.name for c in Event.__table__.columns]


def build_messages(account_id: str, visitors: int, per_message: int, start: datetime) -> list[list[dict[str, Any]]]:
    """SQS FIFO batches of 10 records, each record one visitor's events: every visitor sends two
    requests (a new visitor, then a returning one whose sessions must be read and updated)."""
    first = _records(account_id, visitors, per_message, start, 0)
    second = _records(account_id, visitors, per_message, start + timedelta(hours=2), visitors)
    records = first + second
    return [records[i : i + 10] for i in range(0, len(records), 10)]


def _records(
    account_id: str, visitors: int, per_message: int, start: datetime, seq: int, offset: int = 0
) -> list[dict[str, Any]]:
    ids = UlidGenerator()
    sources = [("google", "cpc"), ("newsletter", "email"), ("facebook", "paid_social"), (None, None)]
    records = []
    for v in range(visitors):
        key = f"{v + offset:064x}"
        source, medium = sources[v % len(sources)]
        events = []
        for i in range(per_message):
            minutes = i * 3 + (40 if i >= per_message // 2 else 0)  # a second visit after a 40-minute gap
            url = f"https://shop.example/p/{i}"
            if i == 0 and source:
                url += f"?utm_source={source}&utm_medium={medium}&utm_campaign=c{v % 7}"
            kind = "add_to_cart" if i == per_message - 1 else "page_view"
            events.append(
                {
                    "id": ids.new("evt"),
                    "cid": None,
                    "type": kind,
                    "at": (start + timedelta(minutes=minutes, seconds=v)).isoformat(),
                    "rcv": start.isoformat(),
                    "vid": key,
                    "uid": None,
                    "props": {"url": url, "title": f"Product {i}"},
                    "url": url,
                    "ref": "https://www.google.com/" if i == 0 else "https://shop.example/",
                    "ua": UA,
                    "ip": "203.0.113.0",
                    "funnel": "checkout" if kind == "add_to_cart" else None,
                    "step": None,
                    "pos": 1 if kind == "add_to_cart" else None,
                }
            )
        envelope_id = ids.new("evts")
        body = Envelope(kind="events.track", id=envelope_id, account_id=account_id, payload={"events": events}).dumps()
        records.append(
            {
                "messageId": envelope_id,
                "receiptHandle": envelope_id,
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "0",
                    "SenderId": "bench",
                    "ApproximateFirstReceiveTimestamp": "0",
                    "MessageGroupId": f"{account_id}:{key}",
                    "MessageDeduplicationId": envelope_id,
                    "SequenceNumber": str(seq + v),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:multibuzz-bench-ingest.fifo",
                "awsRegion": "us-east-1",
            }
        )
    return records


def run_consumer(batches: list[list[dict[str, Any]]]) -> float:
    from functions.attribution.handler import lambda_handler

    began = time.perf_counter()
    for records in batches:
        result = lambda_handler({"Records": records}, LocalLambdaContext("attribution"))
        if result.get("batchItemFailures"):
            raise RuntimeError(f"consumer reported failures: {result['batchItemFailures'][:3]}")
    return time.perf_counter() - began


PARALLEL_OFFSET = 10_000_000  # fresh visitor keys for the concurrent phase


def _worker(
    url: str,
    account_id: str,
    visitors: int,
    per_message: int,
    start: datetime,
    k: int,
    workers: int,
    queue: Any,
    barrier: Any,
) -> None:
    """One consumer process owning every (k mod workers)-th visitor, i.e. whole FIFO groups."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(stage="test", database_url=url, data_dir=Path(tmp), log_level="WARNING")
        use_container(Container(settings))
        first = _records(account_id, visitors, per_message, start, 0, PARALLEL_OFFSET)[k::workers]
        second = _records(account_id, visitors, per_message, start + timedelta(hours=2), visitors, PARALLEL_OFFSET)
        records = first + second[k::workers]
        batches = [records[i : i + 10] for i in range(0, len(records), 10)]
        gc.collect()
        gc.freeze()
        run_consumer(build_messages(account_id, 2, per_message, start - timedelta(days=3)) if k == 0 else [])
        barrier.wait()
        run_consumer(batches)
        queue.put(time.perf_counter())


def run_parallel(url: str, account_id: str, visitors: int, per_message: int, start: datetime, workers: int) -> float:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue, barrier = ctx.Queue(), ctx.Barrier(workers + 1)
    procs = [
        ctx.Process(target=_worker, args=(url, account_id, visitors, per_message, start, k, workers, queue, barrier))
        for k in range(workers)
    ]
    for proc in procs:
        proc.start()
    barrier.wait()
    began = time.perf_counter()
    finished = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    return max(finished) - began


def raw_baseline(container: Container, url: str) -> tuple[int, float]:
    """Read the stored event rows back, delete them, re-insert them with one raw executemany."""
    import pymysql

    with container.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(f"SELECT {', '.join(COLUMNS)} FROM events")).all()]
    with container.engine.begin() as conn:
        conn.execute(text("DELETE FROM events"))
    parsed = make_url(url)
    connection = pymysql.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 3306,
        user=parsed.username or "root",
        password=parsed.password or "",
        database=parsed.database,
        charset="utf8mb4",
    )
    sql = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    connection.commit()
    elapsed = time.perf_counter() - began
    connection.close()
    return len(rows), elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=750)
    parser.add_argument("--per-message", type=int, default=20)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--workers", type=int, default=2, help="also measure this many concurrent consumers")
    args = parser.parse_args()

    reset_database(args.url)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(stage="test", database_url=args.url, data_dir=Path(tmp), log_level="WARNING")
        container = Container(settings)
        use_container(container)
        upgrade(container.engine)
        with container.session() as session:
            account = Tenancy(session, container.clock, container.ids, container.secret_box).create_account(
                None, "Bench", "bench"
            )
            session.commit()
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        # Warm-up (imports, parsers, pool) on visitors outside the measured set.
        run_consumer(build_messages(account.id, 20, args.per_message, start - timedelta(days=1)))
        with container.engine.begin() as conn:
            conn.execute(text("DELETE FROM events"))  # the baseline re-inserts exactly the measured rows
        batches = build_messages(account.id, args.visitors, args.per_message, start)
        expected = 2 * args.visitors * args.per_message
        gc.collect()
        gc.freeze()  # the benchmark's own inputs are not the consumer's garbage to rescan
        consumer_seconds = run_consumer(batches)
        gc.unfreeze()
        with container.session() as session:
            stored = session.scalar(select(func.count()).select_from(Event)) or 0
            sessions = session.scalar(select(func.count()).select_from(VisitSession)) or 0
        if stored != expected:
            raise RuntimeError(f"stored {stored} events, expected {expected}")
        raw_rows, raw_seconds = raw_baseline(container, args.url)
        parallel_rate = None
        if args.workers > 1:
            with container.session() as session:
                before = session.scalar(select(func.count()).select_from(Event)) or 0
            seconds = run_parallel(args.url, account.id, args.visitors, args.per_message, start, args.workers)
            with container.session() as session:
                after = session.scalar(select(func.count()).select_from(Event)) or 0
            if after - before < expected:
                raise RuntimeError(f"concurrent phase stored {after - before} events, expected {expected}")
            parallel_rate = expected / seconds
        use_container(None)
        container.engine.dispose()

    consumer_rate = stored / consumer_seconds
    raw_rate = raw_rows / raw_seconds
    figures = {
        "database": make_url(args.url).render_as_string(hide_password=True),
        "messages": 2 * args.visitors,
        "events_per_message": args.per_message,
        "events": stored,
        "sessions_created": sessions,
        "consumer_seconds": round(consumer_seconds, 3),
        "consumer_events_per_s": round(consumer_rate),
        "raw_executemany_rows": raw_rows,
        "raw_executemany_seconds": round(raw_seconds, 3),
        "raw_executemany_rows_per_s": round(raw_rate),
        "ratio_vs_raw": round(consumer_rate / raw_rate, 3),
        "workers": args.workers,
        "parallel_events_per_s": round(parallel_rate) if parallel_rate else None,
        "parallel_ratio_vs_raw": round(parallel_rate / raw_rate, 3) if parallel_rate else None,
        "goal_ratio": 0.4,
        "goal_events_per_s": 5000,
    }
    print(f"{'measure':<44}{'value':>14}")
    print(f"{'consumer: stored events/s (MariaDB)':<44}{consumer_rate:>14,.0f}")
    print(f"{'baseline: raw executemany rows/s':<44}{raw_rate:>14,.0f}")
    print(f"{'ratio consumer / raw (goal >= 0.40)':<44}{consumer_rate / raw_rate:>14.2f}")
    if parallel_rate:
        print(f"{f'{args.workers} concurrent consumers: events/s':<44}{parallel_rate:>14,.0f}")
        print(f"{f'{args.workers} concurrent consumers / raw':<44}{parallel_rate / raw_rate:>14.2f}")
    print(f"{'events / messages / sessions':<44}{f'{stored} / {2 * args.visitors} / {sessions}':>14}")
    write_results("ingest_consumer", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
