"""Per-conversion attribution in the consumer, database reads and writes included (MariaDB).

Seeds an account with N visitors (3 sessions each, 5 channels) and N pending
conversions, then feeds the real ``functions/attribution`` handler SQS batches
of 10 (as Lambda would from the FIFO queue) and measures conversions/s.
Baseline in the same run: the pure engine (all ten models + revenue split) on
the same touches with no database, so the ratio shows what the I/O costs.

Goal (issue 4): >= 1,000 conversions/s on MariaDB.
Run: .venv/bin/python bench/bench_conversion_consumer.py [--n 3000] [--url mysql+pymysql://...]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from _common import reset_database, write_results  # noqa: E402
from multibuzz.bootstrap import Container, use_container  # noqa: E402
from multibuzz.consumers.envelope import Envelope  # noqa: E402
from multibuzz.db.engine import make_engine  # noqa: E402
from multibuzz.db.migrate import upgrade  # noqa: E402
from multibuzz.db.models import Account, Conversion, Visitor, VisitSession  # noqa: E402
from multibuzz.domain.attribution import Touch, attribute, revenue_credits  # noqa: E402
from multibuzz.settings import Settings  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

CHANNELS = ["organic_search", "paid_search", "paid_social", "email", "direct"]


def seed(container: Container, n: int) -> tuple[str, list[str], list[list[Touch]], datetime]:
    rng = random.Random(7)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    account_id = "acc_bench"
    visitors, sessions, conversions, journeys = [], [], [], []
    for i in range(n):
        vid = f"vis_{i:08d}"
        visitors.append(
            {
                "id": vid,
                "account_id": account_id,
                "visitor_key": f"v{i}",
                "identity_id": None,
                "first_seen_at": now,
                "last_seen_at": now,
            }
        )
        touches = []
        for j in range(3):
            started = now - timedelta(days=rng.uniform(0.1, 25), seconds=j)
            sid = f"ses_{i:08d}_{j}"
            channel = rng.choice(CHANNELS)
            sessions.append(
                {
                    "id": sid,
                    "account_id": account_id,
                    "visitor_id": vid,
                    "started_at": started,
                    "last_activity_at": started,
                    "channel": channel,
                    "page_view_count": 1,
                    "is_bot": False,
                    "created_at": started,
                }
            )
            touches.append(Touch(sid, channel, started))
        journeys.append(touches)
        conversions.append(
            {
                "id": f"conv_{i:08d}",
                "account_id": account_id,
                "conversion_type": "purchase",
                "visitor_id": vid,
                "occurred_at": now,
                "received_at": now,
                "revenue": Decimal("99.99"),
                "currency": "USD",
                "properties": {},
                "is_acquisition": False,
                "inherit_acquisition": False,
                "status": "pending",
                "attribution_version": 0,
                "sessions_analyzed": 0,
                "attribution_meta": {},
            }
        )
    with container.session() as session:
        session.add(Account(id=account_id, name="Bench", slug="bench", status="active", settings={}, created_at=now))
        session.flush()
        for table, rows in ((Visitor, visitors), (VisitSession, sessions), (Conversion, conversions)):
            for start in range(0, len(rows), 2000):
                session.execute(insert(table), rows[start : start + 2000])
        session.commit()
    # A live database has statistics; a freshly bulk-loaded one needs them gathered.
    with container.engine.begin() as conn:
        conn.execute(text("ANALYZE TABLE visitors, sessions, events, conversions"))
    return account_id, [c["id"] for c in conversions], journeys, now


def sqs_batches(account_id: str, ids: list[str]) -> list[dict[str, object]]:
    batches = []
    for start in range(0, len(ids), 10):
        records = []
        for cid in ids[start : start + 10]:
            body = Envelope(
                kind="conversion.attribute", id=f"conv:{cid}", account_id=account_id, payload={"conversion_id": cid}
            ).dumps()
            records.append(
                {
                    "messageId": str(uuid.uuid4()),
                    "receiptHandle": "r",
                    "body": body,
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": "0",
                        "MessageGroupId": cid,
                        "SequenceNumber": "1",
                        "MessageDeduplicationId": cid,
                    },
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:multibuzz-bench-ingest.fifo",
                    "awsRegion": "us-east-1",
                }
            )
        batches.append({"Records": records})
    return batches


def _worker(url: str, account_id: str, ids: list[str], queue: object, start: object) -> None:
    """One consumer process (as one concurrent Lambda invocation would be). Starts when all are ready."""
    engine = make_engine(url, pool_size=2)
    use_container(Container(Settings(stage="test", database_url=url, data_dir=Path("/tmp/mbz-bench")), engine=engine))
    from functions.attribution.handler import lambda_handler

    batches = sqs_batches(account_id, ids)
    with engine.connect() as conn:  # warm the pool before the clock starts
        conn.execute(text("SELECT 1"))
    start.wait()  # type: ignore[attr-defined]
    failures = 0
    for batch in batches:
        failures += len(lambda_handler(batch, None)["batchItemFailures"])
    queue.put((failures, time.perf_counter()))  # type: ignore[attr-defined]


def run_workers(url: str, account_id: str, ids: list[str], workers: int) -> tuple[float, int]:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start = ctx.Barrier(workers + 1)
    slices = [ids[k::workers] for k in range(workers)]
    procs = [ctx.Process(target=_worker, args=(url, account_id, chunk, queue, start)) for chunk in slices]
    for proc in procs:
        proc.start()
    start.wait()  # every worker has imported and connected: the clock starts now
    started = time.perf_counter()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    return max(done for _, done in results) - started, sum(f for f, _ in results)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--url", default="mysql+pymysql://root@127.0.0.1:3306/bench_conversions")
    parser.add_argument("--workers", type=int, default=2, help="also measure this many concurrent consumers")
    args = parser.parse_args()

    reset_database(args.url)
    engine = make_engine(args.url, pool_size=4)
    upgrade(engine)
    container = Container(Settings(stage="test", database_url=args.url, data_dir=Path("/tmp/mbz-bench")), engine=engine)
    use_container(container)
    account_id, ids, journeys, now = seed(container, args.n)

    # Baseline: the pure engine on the same journeys, no database.
    started = time.perf_counter()
    for touches in journeys:
        for result in attribute(touches, now).values():
            revenue_credits(result, Decimal("99.99"), "USD")
    engine_seconds = time.perf_counter() - started

    from functions.attribution.handler import lambda_handler

    batches = sqs_batches(account_id, ids)
    started = time.perf_counter()
    failures = 0
    for batch in batches:
        failures += len(lambda_handler(batch, None)["batchItemFailures"])
    consumer_seconds = time.perf_counter() - started
    with engine.connect() as conn:
        attributed = conn.execute(text("SELECT COUNT(*) FROM conversions WHERE status = 'attributed'")).scalar_one()
        credit_rows = conn.execute(text("SELECT COUNT(*) FROM attribution_credits")).scalar_one()
    assert failures == 0 and attributed == args.n, (failures, attributed)

    parallel_rate = None
    if args.workers > 1:  # same data again, reset to pending, then N concurrent consumers
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM attribution_credits"))
            conn.execute(text("UPDATE conversions SET status = 'pending', attribution_version = 0"))
        seconds, failures = run_workers(args.url, account_id, ids, args.workers)
        with engine.connect() as conn:
            done = conn.execute(text("SELECT COUNT(*) FROM conversions WHERE status = 'attributed'")).scalar_one()
        assert failures == 0 and done == args.n, (failures, done)
        parallel_rate = args.n / seconds

    consumer_rate = args.n / consumer_seconds
    engine_rate = args.n / engine_seconds
    figures = {
        "conversions": args.n,
        "credit_rows": credit_rows,
        "consumer_conversions_per_s": round(consumer_rate, 1),
        "engine_only_conversions_per_s": round(engine_rate, 1),
        "consumer_vs_engine_only": round(consumer_rate / engine_rate, 3),
        "workers": args.workers,
        "consumer_parallel_conversions_per_s": round(parallel_rate, 1) if parallel_rate else None,
        "goal_conversions_per_s": 1000,
        "meets_goal": max(consumer_rate, parallel_rate or 0) >= 1000,
    }
    print("| path | conversions/s | ratio |\n|---|---:|---:|")
    print(f"| pure engine, 10 models + revenue split (baseline) | {engine_rate:,.0f} | 1.00 |")
    print(
        f"| consumer handler on MariaDB (reads + writes) | {consumer_rate:,.0f} | {consumer_rate / engine_rate:.2f} |"
    )
    if parallel_rate:
        ratio = parallel_rate / engine_rate
        print(f"| {args.workers} concurrent consumers on MariaDB | {parallel_rate:,.0f} | {ratio:.2f} |")
    print(
        f"{args.n} conversions, {credit_rows} credit rows; "
        f"goal >= 1,000/s: {'met' if figures['meets_goal'] else 'NOT met'}"
    )
    write_results("conversion_consumer", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
