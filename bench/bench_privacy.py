"""Privacy benchmark on MariaDB: erase one subject in a database of N events, then let the retention job
delete the expired half in bounded batches, reporting the longest single statement.

    PYTHONPATH=$PWD:$PWD/layers/shared .venv/bin/python bench/bench_privacy.py [--events 1000000]
        [--batch 5000] [--url mysql+pymysql://root@127.0.0.1:3306/bench_privacy]

Seeding (bulk multi-row INSERTs through the DB-API, no ORM): N events of N/20 visitors (two sessions of
ten events each); the first half of the visitors was last seen 500 days ago (past the default 400-day
window), the rest within the last 10 days; 1% of the visitors converted (eight credit rows each). The
subject: two devices linked to one identity, 40 events, 4 sessions and an attributed conversion.

(a) ``run_erasure`` of the subject, wall time (goal <= 1 s at 1M events), beside the same-run baseline of
    one raw ``DELETE`` of another visitor's events by its index;
(b) ``apply_raw_retention`` over the whole database: rows deleted, total time, the longest single
    statement (goal < 1 s: no statement holds locks long), beside the same-run bulk-insert rate.
Figures are printed and written to ``bench/results/privacy.json``.
"""

from __future__ import annotations

import argparse
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
from multibuzz.db.migrate import upgrade  # noqa: E402
from multibuzz.privacy.erasure import new_request, run_erasure  # noqa: E402
from multibuzz.privacy.retention import apply_raw_retention  # noqa: E402
from multibuzz.privacy.subjects import SubjectRef  # noqa: E402
from multibuzz.services.tenancy import Tenancy  # noqa: E402
from multibuzz.settings import Settings  # noqa: E402

DEFAULT_URL = "mysql+pymysql://root@127.0.0.1:3306/bench_privacy"
CHUNK = 5000


def _insert(container: Container, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    raw = container.engine.raw_connection()
    try:
        cursor = raw.cursor()
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        for start in range(0, len(rows), CHUNK):
            cursor.executemany(sql, rows[start : start + CHUNK])
        raw.commit()
    finally:
        raw.close()


def seed(container: Container, account_id: str, events: int, now: datetime) -> dict[str, Any]:
    visitors = max(events // 20, 4)
    old, recent = now - timedelta(days=500), now - timedelta(days=10)
    n = lambda v: f"{v:026d}"  # noqa: E731
    at = lambda v: (old if v < visitors // 2 else recent).replace(tzinfo=None)  # noqa: E731
    _insert(
        container,
        "identities",
        ["id", "account_id", "user_id", "traits", "created_at", "updated_at"],
        [("idt_subject", account_id, "subject-user", '{"email": "subject@example.org"}', now, now)],
    )
    subject_devices = (visitors - 1, visitors - 2)
    visitor_rows = [
        (
            f"vis_{n(v)}",
            account_id,
            f"visitor-{v}",
            "idt_subject" if v in subject_devices else None,
            at(v),
            at(v) + timedelta(hours=2),
        )
        for v in range(visitors)
    ]
    started = time.perf_counter()
    _insert(
        container,
        "visitors",
        ["id", "account_id", "visitor_key", "identity_id", "first_seen_at", "last_seen_at"],
        visitor_rows,
    )
    session_rows = []
    event_rows = []
    for v in range(visitors):
        for s in range(2):
            begin = at(v) + timedelta(hours=s)
            sid = f"ses_{n(v * 2 + s)}"
            session_rows.append(
                (
                    sid,
                    account_id,
                    f"vis_{n(v)}",
                    begin,
                    begin + timedelta(minutes=9),
                    "organic_search",
                    5,
                    0,
                    "203.0.113.0",
                    now,
                )
            )
            for e in range(10):
                event_rows.append(
                    (
                        f"evt_{n(v * 20 + s * 10 + e)}",
                        account_id,
                        f"vis_{n(v)}",
                        sid,
                        "idt_subject" if v in subject_devices else None,
                        "page_view",
                        begin + timedelta(minutes=e),
                        now,
                        '{"path": "/p"}',
                        "https://shop.example/p",
                    )
                )
    _insert(
        container,
        "sessions",
        [
            "id",
            "account_id",
            "visitor_id",
            "started_at",
            "last_activity_at",
            "channel",
            "page_view_count",
            "is_bot",
            "ip",
            "created_at",
        ],
        session_rows,
    )
    _insert(
        container,
        "events",
        [
            "id",
            "account_id",
            "visitor_id",
            "session_id",
            "identity_id",
            "event_type",
            "occurred_at",
            "received_at",
            "properties",
            "url",
        ],
        event_rows,
    )
    converters = list(range(0, visitors, 100)) + list(subject_devices[:1])
    conversions, credits = [], []
    for i, v in enumerate(converters):
        cid = f"conv_{n(i)}"
        conversions.append(
            (
                cid,
                account_id,
                "purchase",
                f"vis_{n(v)}",
                "idt_subject" if v in subject_devices else None,
                at(v) + timedelta(hours=1),
                now,
                "40.0000",
                "USD",
                '{"email": "x@example.org"}',
                0,
                0,
                "attributed",
                1,
                0,
                "{}",
            )
        )
        for model in ("first_touch", "last_touch", "linear", "time_decay"):
            for position in range(2):
                credits.append((account_id, cid, 1, model, position, "organic_search", "0.50000000", "20.0000"))
    _insert(
        container,
        "conversions",
        [
            "id",
            "account_id",
            "conversion_type",
            "visitor_id",
            "identity_id",
            "occurred_at",
            "received_at",
            "revenue",
            "currency",
            "properties",
            "is_acquisition",
            "inherit_acquisition",
            "status",
            "attribution_version",
            "sessions_analyzed",
            "attribution_meta",
        ],
        conversions,
    )
    _insert(
        container,
        "attribution_credits",
        ["account_id", "conversion_id", "version", "model", "position", "channel", "credit", "revenue_credit"],
        credits,
    )
    seconds = time.perf_counter() - started
    rows = len(visitor_rows) + len(session_rows) + len(event_rows) + len(conversions) + len(credits)
    return {"visitors": visitors, "events": len(event_rows), "rows": rows, "seed_seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="events in the database (goal: 1000000)")
    parser.add_argument("--batch", type=int, default=5000, help="retention rows per statement")
    parser.add_argument("--url", default=DEFAULT_URL)
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
        now = datetime.now(UTC).replace(microsecond=0)
        seeded = seed(container, account.id, args.events, now)
        print(f"seeded {seeded['rows']:,} rows ({seeded['events']:,} events) in {seeded['seed_seconds']:.1f} s")

        # (a) erasure of one subject, beside one raw indexed DELETE of another visitor's 20 events.
        ref = SubjectRef("user_id", "subject-user")
        with container.session() as session:
            record = new_request(session, container, account.id, "erasure", ref, "bench")
            session.commit()
            request_id = record.id
        started = time.perf_counter()
        counts = run_erasure(container, request_id, ref)
        erase_seconds = time.perf_counter() - started
        from sqlalchemy import text

        other = f"vis_{seeded['visitors'] - 3:026d}"
        with container.engine.begin() as conn:
            started = time.perf_counter()
            conn.execute(
                text("DELETE FROM events WHERE account_id = :a AND visitor_id = :v"), {"a": account.id, "v": other}
            )
            raw_seconds = time.perf_counter() - started

        # (b) retention of the expired half, bounded batches.
        longest: dict[str, float] = {}
        times: list[float] = []

        def note(label: str, seconds: float) -> None:
            longest[label] = max(longest.get(label, 0.0), seconds)
            times.append(seconds)

        started = time.perf_counter()
        report = apply_raw_retention(container.session_factory, now, batch_size=args.batch, on_statement=note)
        retention_seconds = time.perf_counter() - started
        deleted = sum(report.deleted.values())
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    over = sum(t >= 1.0 for t in times)
    insert_rate = seeded["rows"] / seeded["seed_seconds"]
    delete_rate = deleted / retention_seconds
    figures = {
        "measured_at": now.isoformat(),
        "events": seeded["events"],
        "rows_seeded": seeded["rows"],
        "erasure_seconds": round(erase_seconds, 3),
        "erasure_counts": counts,
        "baseline_raw_delete_seconds": round(raw_seconds, 4),
        "erasure_ratio_vs_raw_delete": round(erase_seconds / raw_seconds, 1),
        "retention_rows_deleted": deleted,
        "retention_deleted": report.deleted,
        "retention_seconds": round(retention_seconds, 1),
        "retention_statements": report.statements,
        "retention_longest_statement_seconds": round(report.longest_statement_seconds, 3),
        "retention_longest_by_kind": {k: round(v, 3) for k, v in sorted(longest.items())},
        "retention_statement_p50_seconds": round(times[len(times) // 2], 3),
        "retention_statement_p99_seconds": round(p99, 3),
        "retention_statements_over_1s": over,
        "retention_rows_per_second": round(delete_rate),
        "baseline_bulk_insert_rows_per_second": round(insert_rate),
        "retention_ratio_vs_bulk_insert": round(delete_rate / insert_rate, 2),
        "batch": args.batch,
    }
    write_results("privacy", figures)
    print(f"{'(a) erase one subject (s, goal <= 1)':<52}{erase_seconds:>10.3f}")
    print(f"{'    baseline: one raw indexed DELETE (s)':<52}{raw_seconds:>10.4f}")
    print(f"{'    ratio erasure / raw delete':<52}{erase_seconds / raw_seconds:>10.1f}")
    print(f"{'(b) retention rows deleted':<52}{deleted:>10,}")
    print(f"{'    total (s)':<52}{retention_seconds:>10.1f}")
    print(f"{'    statements':<52}{report.statements:>10,}")
    print(f"{'    longest statement (s, goal < 1)':<52}{report.longest_statement_seconds:>10.3f}")
    print(f"{'    statement p50 / p99 (s)':<52}{times[len(times) // 2]:>10.3f} / {p99:.3f}")
    print(f"{'    statements taking >= 1 s':<52}{over:>10}")
    print(f"{'    rows/s deleted vs bulk-insert rows/s':<52}{delete_rate:>10,.0f} / {insert_rate:,.0f}")
    print(f"{'    ratio':<52}{delete_rate / insert_rate:>10.2f}")
    print(f"longest per kind: {figures['retention_longest_by_kind']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
