"""Report latency on MariaDB: p95 of overview, chart, per-influencer and channels at two data sizes.

Seeds N events (in N/5 sessions), N/10 human clicks and N/10 attributed conversions (ten models' credits
each) over 90 days straight into the raw tables, rebuilds the rollups with the real rebuild command's
function, then calls the report service as a request would (a fresh database session per call) over the
last 30 days. Same-run baseline: the overview's headline figures (sessions, events, conversions,
revenue) computed by scanning the raw tables over the same range — what the rollups save.

Goal (issue 12): p95 <= 100 ms per report at 1M events, and p95(1M) / p95(100k) <= 1.5.
Run: .venv/bin/python bench/bench_reports.py [--events 100000 1000000] [--runs 60] [--reuse] [--url mysql+pymysql://...]
(each size in its own database ``<url>_<events>``; ``--reuse`` measures an already seeded one again).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from _common import reset_database, write_results  # noqa: E402
from multibuzz.clock import FixedClock  # noqa: E402
from multibuzz.db.engine import make_engine, make_session_factory  # noqa: E402
from multibuzz.db.migrate import upgrade  # noqa: E402
from multibuzz.db.models import Account, AttributionCredit, Conversion, Event, Visitor, VisitSession  # noqa: E402
from multibuzz.db.models.influencer import Campaign, Click, Influencer, TrackingLink  # noqa: E402
from multibuzz.domain.attribution import MODELS  # noqa: E402
from multibuzz.reports.maintain import rebuild  # noqa: E402
from multibuzz.reports.service import Reports  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAYS = 90
ACCOUNT = "acc_bench"
CHANNELS = ["organic_search", "paid_search", "paid_social", "email", "direct", "affiliate"]
EVENT_TYPES = ["page_view"] * 7 + ["add_to_cart", "checkout_started", "signup"]
CHUNK = 5000


def _bulk(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[i : i + CHUNK])


def seed(engine: Engine, n_events: int) -> dict[str, float]:
    rnd = random.Random(12)
    started = time.perf_counter()
    ts = NOW - timedelta(days=DAYS)
    with engine.begin() as conn:
        conn.execute(text("SET foreign_key_checks = 0"))
        conn.execute(
            insert(Account),
            [
                {
                    "id": ACCOUNT,
                    "name": "Bench",
                    "slug": "bench",
                    "status": "active",
                    "settings": {},
                    "timezone": "Europe/Paris",
                    "currency": "EUR",
                    "created_at": ts,
                }
            ],
        )
        campaigns = [f"cmp_{i}" for i in range(5)]
        influencers = [f"inf_{i:02d}" for i in range(20)]
        conn.execute(
            insert(Campaign),
            [
                {
                    "id": c,
                    "account_id": ACCOUNT,
                    "name": c,
                    "slug": c,
                    "status": "active",
                    "attribution_source": "links_and_coupons",
                    "created_at": ts,
                    "updated_at": ts,
                }
                for c in campaigns
            ],
        )
        conn.execute(
            insert(Influencer),
            [
                {
                    "id": i,
                    "account_id": ACCOUNT,
                    "name": i,
                    "handle": i,
                    "status": "active",
                    "created_at": ts,
                    "updated_at": ts,
                }
                for i in influencers
            ],
        )
        links = [(f"lnk_{k:02d}", f"code{k:02d}", campaigns[k % 5], influencers[k % 20]) for k in range(40)]
        conn.execute(
            insert(TrackingLink),
            [
                {
                    "id": lid,
                    "account_id": ACCOUNT,
                    "campaign_id": c,
                    "influencer_id": inf,
                    "code": code,
                    "destination_url": "https://shop.example/",
                    "forward_utms": True,
                    "status": "active",
                    "created_at": ts,
                }
                for lid, code, c, inf in links
            ],
        )
        n_sessions = max(1, n_events // 5)
        n_visitors = max(1, n_events // 20)
        _bulk(
            conn,
            Visitor,
            [
                {
                    "id": f"vis_{v:08d}",
                    "account_id": ACCOUNT,
                    "visitor_key": f"{v:064d}",
                    "first_seen_at": ts,
                    "last_seen_at": ts,
                }
                for v in range(n_visitors)
            ],
        )
        sessions = []
        for s in range(n_sessions):
            at = ts + timedelta(seconds=rnd.uniform(0, DAYS * 86400))
            link = links[rnd.randrange(40)] if rnd.random() < 0.3 else None
            sessions.append(
                {
                    "id": f"ses_{s:08d}",
                    "account_id": ACCOUNT,
                    "visitor_id": f"vis_{s % n_visitors:08d}",
                    "started_at": at,
                    "last_activity_at": at + timedelta(minutes=5),
                    "channel": "affiliate" if link else rnd.choice(CHANNELS),
                    "ref_code": link[1] if link else None,
                    "page_view_count": 5,
                    "is_bot": False,
                    "created_at": at,
                }
            )
        _bulk(conn, VisitSession, sessions)
        events = []
        for e in range(n_events):
            s = sessions[e % n_sessions]
            step = e // n_sessions
            funnel: dict[str, Any] = {"funnel": None, "funnel_step": None, "funnel_position": None}
            if step < 3:
                funnel = {"funnel": "checkout", "funnel_step": f"s{step}", "funnel_position": step}
            events.append(
                {
                    "id": f"evt_{e:09d}",
                    "account_id": ACCOUNT,
                    "visitor_id": s["visitor_id"],
                    "session_id": s["id"],
                    "event_type": rnd.choice(EVENT_TYPES),
                    "occurred_at": s["started_at"] + timedelta(seconds=step * 30),
                    "received_at": NOW,
                    "properties": {},
                    **funnel,
                }
            )
            if len(events) >= CHUNK * 4:
                _bulk(conn, Event, events)
                events = []
        _bulk(conn, Event, events)
        clicks = []
        for c in range(n_events // 10):
            lid, code, cmp, inf = links[rnd.randrange(40)]
            clicks.append(
                {
                    "id": f"clk_{c:09d}",
                    "account_id": ACCOUNT,
                    "link_id": lid,
                    "campaign_id": cmp,
                    "influencer_id": inf,
                    "code": code,
                    "occurred_at": ts + timedelta(seconds=rnd.uniform(0, DAYS * 86400)),
                    "method": "GET",
                    "is_bot": False,
                    "visitor_hash": f"{c:064d}",
                    "unique_click": c % 3 != 0,
                    "received_at": NOW,
                }
            )
        _bulk(conn, Click, clicks)
        conversions, credits = [], []
        for k in range(n_events // 10):
            s = sessions[rnd.randrange(n_sessions)]
            revenue = Decimal(rnd.randrange(500, 20000)) / 100
            credited = links[rnd.randrange(40)] if rnd.random() < 0.3 else None
            conversions.append(
                {
                    "id": f"conv_{k:09d}",
                    "account_id": ACCOUNT,
                    "conversion_type": "purchase",
                    "visitor_id": s["visitor_id"],
                    "occurred_at": s["started_at"] + timedelta(minutes=10),
                    "received_at": NOW,
                    "revenue": revenue,
                    "currency": "EUR",
                    "properties": {},
                    "status": "attributed",
                    "attribution_version": 1,
                    "attribution_meta": {},
                    "influencer_id": credited[3] if credited else None,
                    "influencer_campaign_id": credited[2] if credited else None,
                    "influencer_link_id": credited[0] if credited else None,
                }
            )
            for model in MODELS:
                credits.append(
                    {
                        "account_id": ACCOUNT,
                        "conversion_id": f"conv_{k:09d}",
                        "version": 1,
                        "model": model,
                        "position": 0,
                        "session_id": s["id"],
                        "channel": s["channel"],
                        "credit": Decimal(1),
                        "revenue_credit": revenue,
                    }
                )
            if len(credits) >= CHUNK * 4:
                _bulk(conn, Conversion, conversions)
                _bulk(conn, AttributionCredit, credits)
                conversions, credits = [], []
        _bulk(conn, Conversion, conversions)
        _bulk(conn, AttributionCredit, credits)
    seeded = time.perf_counter() - started
    started = time.perf_counter()
    first = (NOW - timedelta(days=DAYS + 1)).date()
    rebuild(make_session_factory(engine), NOW, ACCOUNT, first, (NOW + timedelta(days=1)).date())
    return {"seed_seconds": round(seeded, 1), "rebuild_seconds": round(time.perf_counter() - started, 1)}


def _seeded(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            return bool(conn.execute(text("SELECT COUNT(*) FROM report_rollups")).scalar())
    except Exception:  # no database or no table yet
        return False


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)


def measure(engine: Engine, runs: int) -> dict[str, dict[str, float]]:
    factory = make_session_factory(engine)
    clock = FixedClock(NOW)
    first = (NOW - timedelta(days=29)).date()
    last = NOW.date()

    def with_reports(call: Callable[[Reports], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with factory() as session:
                return call(Reports(session, clock, ACCOUNT))

        return run

    def raw_overview() -> Any:  # the baseline: the same headline figures from raw rows
        start = NOW - timedelta(days=30)
        with factory() as session:
            sessions = session.scalar(
                select(func.count())
                .select_from(VisitSession)
                .where(VisitSession.account_id == ACCOUNT, VisitSession.started_at >= start)
            )
            events = session.execute(
                select(Event.event_type, func.count())
                .where(Event.account_id == ACCOUNT, Event.occurred_at >= start)
                .group_by(Event.event_type)
            ).all()
            money = session.execute(
                select(func.count(), func.sum(Conversion.revenue)).where(
                    Conversion.account_id == ACCOUNT, Conversion.occurred_at >= start
                )
            ).one()
            return sessions, events, money

    cases: dict[str, Callable[[], Any]] = {
        "overview": with_reports(lambda r: r.overview(first, last)),
        "chart": with_reports(lambda r: r.chart(first, last, "day")),
        "per_influencer": with_reports(lambda r: r.per_influencer(first, last)),
        "channels": with_reports(lambda r: r.channels(first, last, "all")),
        "raw_scan_overview_baseline": raw_overview,
    }
    out = {}
    for name, call in cases.items():
        for _ in range(3):
            call()
        samples = []
        for _ in range(runs if name != "raw_scan_overview_baseline" else max(10, runs // 4)):
            t = time.perf_counter()
            call()
            samples.append((time.perf_counter() - t) * 1000)
        out[name] = {"p50_ms": round(statistics.median(samples), 2), "p95_ms": round(p95(samples), 2)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument(
        "--url",
        default="mysql+pymysql://root@127.0.0.1:3306/multibuzz_bench_reports",
        help="base URL; each size gets its own database, <name>_<events>",
    )
    parser.add_argument("--reuse", action="store_true", help="measure a size's database again if already seeded")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    for n in args.events:
        url = f"{args.url}_{n}"
        engine = make_engine(url, pool_size=2) if args.reuse else None
        if engine is not None and _seeded(engine):
            upgrade(engine)  # a newer migration may have been added since the seed
            timing: dict[str, Any] = {"seed_seconds": "reused", "rebuild_seconds": "reused"}
        else:
            if engine is not None:
                engine.dispose()
            reset_database(url)
            engine = make_engine(url, pool_size=2)
            upgrade(engine)
            timing = seed(engine, n)
        with engine.connect() as conn:
            rollup_rows = conn.execute(text("SELECT COUNT(*) FROM report_rollups")).scalar()
        figures[str(n)] = {**timing, "rollup_rows": rollup_rows, **measure(engine, args.runs)}
        engine.dispose()
        row = figures[str(n)]
        print(
            f"{n:>9} events  seed {row['seed_seconds']} s, rebuild {row['rebuild_seconds']} s, "
            f"{rollup_rows} rollup rows"
        )
        for name in ("overview", "chart", "per_influencer", "channels", "raw_scan_overview_baseline"):
            print(f"    {name:<28} p50 {row[name]['p50_ms']:>8.2f} ms   p95 {row[name]['p95_ms']:>8.2f} ms")
        ratio = row["overview"]["p95_ms"] / row["raw_scan_overview_baseline"]["p95_ms"]
        print(f"    overview p95 / raw-scan baseline p95 (same run): {ratio:.3f}")
    if len(args.events) >= 2:
        small, big = str(args.events[0]), str(args.events[-1])
        print(f"p95 ratio {big} / {small} events:")
        for name in ("overview", "chart", "per_influencer", "channels"):
            r = figures[big][name]["p95_ms"] / figures[small][name]["p95_ms"]
            figures.setdefault("ratios", {})[name] = round(r, 3)
            print(
                f"    {name:<16} {r:.3f}  (goal <= 1.5; p95 at {big}: {figures[big][name]['p95_ms']} ms, goal <= 100)"
            )
    write_results("bench_reports", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
