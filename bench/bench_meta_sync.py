"""Meta insights sync into MariaDB: 90 days x 2,000 ads = 180k rows, from the fake Graph API.

The measured path is the real one: ``MetaSync.run`` starts an async report run on the fake (its own
process, so serving the JSON does not share our GIL — Meta is remote too), polls it, reads every page
over HTTP (``limit`` = page size, cursor after cursor), parses the rows, upserts ``meta_insights_raw``
and ``fact_meta_daily`` and advances the cursor in one commit per page, then rebuilds the daily
aggregates of the 90 days. Baseline in the same run: raw ``cursor.executemany`` INSERTs of the same rows
(already built as tuples: no HTTP, no parsing) into the same two tables, committed per page too.

Goal (issue 11): the sync's rows/s >= 0.5 of the raw executemany's.
Run: .venv/bin/python bench/bench_meta_sync.py [--days 90] [--ads 2000] [--page-size 500]
     [--url mysql+pymysql://root@127.0.0.1:3306/bench_meta]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from _common import reset_database, write_results  # noqa: E402
from multibuzz.bootstrap import Container  # noqa: E402
from multibuzz.clock import FixedClock  # noqa: E402
from multibuzz.commerce import integrations  # noqa: E402
from multibuzz.commerce.fakes.meta import FakeMeta  # noqa: E402
from multibuzz.commerce.meta.insights import fact_values  # noqa: E402
from multibuzz.commerce.meta.sync import MetaSync  # noqa: E402
from multibuzz.db.engine import make_engine  # noqa: E402
from multibuzz.db.migrate import upgrade  # noqa: E402
from multibuzz.db.models import Account  # noqa: E402
from multibuzz.settings import Settings  # noqa: E402
from sqlalchemy import text  # noqa: E402

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
TOKEN = "EAAB-bench-token-000001"


def _fake(ads: int) -> FakeMeta:
    fake = FakeMeta(async_polls=1)
    account = fake.add_account("act_777", TOKEN, currency="USD", timezone_name="UTC")
    account.add_ads(ads, campaigns=20)
    return fake


def _serve(ads: int, conn: Any) -> None:
    fake = _fake(ads)
    conn.send(fake.serve())
    conn.recv()  # until told to stop
    fake.close()


def _raw_rows(ads: int, days: int) -> list[dict[str, Any]]:
    fake = _fake(ads)
    until = NOW.date()
    since = until - dt.timedelta(days=days - 1)
    params = {"time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}), "level": "ad"}
    return fake.rows(fake.accounts["777"], params)


def baseline(url: str, rows: list[dict[str, Any]], page: int, integration_id: str) -> float:
    """Raw executemany of the same rows (tuples built beforehand) into the same two tables, under the same
    foreign keys (the real account, a second integration of it). It runs first, into the empty tables; its
    rows stay (a mass delete would leave InnoDB purging during the sync), so the sync writes beside them."""
    engine = make_engine(url)
    fetched = NOW.replace(tzinfo=None)
    raw_rows, fact_rows = [], []
    for row in rows:
        v = fact_values(row)
        key = ("acc_bench", integration_id, v["ad_id"], v["date"], "ad")
        raw_rows.append((*key, fetched, json.dumps(row, separators=(",", ":"))))
        fact_rows.append(
            (*key, "act_777", v["ad_name"], v["adset_id"], v["adset_name"], v["campaign_id"], v["campaign_name"],
             "USD", v["spend"], v["impressions"], v["clicks"], v["purchases"], v["purchase_value"], fetched)
        )  # fmt: skip
    raw_sql = (
        "INSERT INTO meta_insights_raw (account_id, integration_id, ad_id, date, level, fetched_at, payload) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)"
    )
    fact_sql = (
        "INSERT INTO fact_meta_daily (account_id, integration_id, ad_id, date, level, ad_account_id, ad_name, "
        "adset_id, adset_name, campaign_id, campaign_name, currency, spend, impressions, clicks, purchases, "
        "purchase_value, synced_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        start = time.perf_counter()
        for i in range(0, len(rows), page):
            cursor.executemany(raw_sql, raw_rows[i : i + page])
            cursor.executemany(fact_sql, fact_rows[i : i + page])
            conn.commit()
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
        engine.dispose()
    return elapsed


def setup(url: str, graph_url: str, page: int, tmp: Path) -> tuple[Container, str, str]:
    settings = Settings(stage="test", data_dir=tmp, database_url=url, meta_graph_url=graph_url, meta_page_size=page)
    container = Container(settings, clock=FixedClock(NOW))
    with container.session() as session:
        session.add(Account(id="acc_bench", name="bench", slug="bench", currency="USD", timezone="UTC", created_at=NOW))
        session.commit()
    with container.session() as session:
        meta = MetaSync.from_container(container)
        integration = meta.connect(session, "acc_bench", "act_777", TOKEN)
        other = integrations.connect(session, meta.tools, account_id="acc_bench", type="meta", external_id="act_1")
        session.commit()
        return container, integration.id, other.id


def measured_sync(container: Container, integration_id: str, days: int) -> tuple[float, int]:
    meta = MetaSync.from_container(container, poll_seconds=0.0)
    start = time.perf_counter()
    outcome = meta.run(integration_id, "meta_7d_fill", "manual", days=days)
    elapsed = time.perf_counter() - start
    if outcome.status != "succeeded":
        raise SystemExit(f"sync failed: {outcome.error_message}")
    with container.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT COUNT(*) FROM fact_meta_daily WHERE integration_id = :i"), {"i": integration_id}
        ).scalar_one()
    return elapsed, int(stored)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--ads", type=int, default=2000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--url", default="mysql+pymysql://root@127.0.0.1:3306/bench_meta")
    args = parser.parse_args()
    expected = args.days * args.ads

    reset_database(args.url)
    engine = make_engine(args.url)
    upgrade(engine)
    engine.dispose()

    rows = _raw_rows(args.ads, args.days)
    assert len(rows) == expected, (len(rows), expected)
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(args.ads, child), daemon=True)
    server.start()
    graph_url = parent.recv()
    try:
        container, integration_id, baseline_id = setup(
            args.url, graph_url, args.page_size, Path(f"/tmp/bench_meta_{int(time.time())}")
        )
        base_s = baseline(args.url, rows, args.page_size, baseline_id)
        sync_s, stored = measured_sync(container, integration_id, args.days)
        container.engine.dispose()
    finally:
        parent.send("stop")
        server.join(timeout=10)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    sync_rate, base_rate = stored / sync_s, len(rows) / base_s
    figures = {
        "rows": expected,
        "stored": stored,
        "page_size": args.page_size,
        "sync_seconds": round(sync_s, 2),
        "sync_rows_per_s": round(sync_rate),
        "baseline_seconds": round(base_s, 2),
        "baseline_rows_per_s": round(base_rate),
        "ratio": round(sync_rate / base_rate, 3),
        "peak_rss_mb": round(rss_mb),
    }
    print(f"Meta sync, {args.days} days x {args.ads} ads = {expected:,} rows, page {args.page_size} (MariaDB)")
    print("  sync (fake Graph API over HTTP, async report run, upserts, cursor per page, aggregates):")
    print(f"      {sync_s:7.2f} s  {sync_rate:9,.0f} rows/s  ({stored:,} fact rows stored)")
    print("  baseline (raw executemany of the same rows, same tables, commit per page):")
    print(f"      {base_s:7.2f} s  {base_rate:9,.0f} rows/s")
    print(f"  ratio {sync_rate / base_rate:.3f} (goal >= 0.5)   peak RSS {rss_mb:.0f} MB")
    if stored != expected:
        raise SystemExit(f"stored {stored} rows, expected {expected}")
    print(f"  results: {write_results('bench_meta_sync', figures)}")


if __name__ == "__main__":
    main()
