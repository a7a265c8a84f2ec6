"""The Attribution report with a lookback (issue 13): ``GET /api/v1/attributions?lookback_days=N`` beside the
stored report, in-process (the route function the page calls), CPU and wall time per call (with MariaDB the
server's time shows only in wall time).

Data: N conversions in one account, each by its own visitor with 1-4 non-bot sessions spread over the 25
days before it, attributed by the consumer's own ``attribute_conversions`` (account default: 30 days).
Three kinds, interleaved so they see the same load, each timed ``--repeat`` times:

* ``stored``: no ``lookback_days`` (the SQL aggregate of stored credits) - the baseline;
* ``lookback=30``: what the stored credits used: stored rows read and summed in Python, nothing recomputed;
* ``lookback=7``: every conversion recomputed (ten models, journeys loaded 500 at a time).

Run: .venv/bin/python bench/bench_lookback.py [--conversions 2000] [--repeat 5] [--url mysql+pymysql://...]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from _common import reset_database, write_results  # noqa: E402
from multibuzz.api.routers.conversions import attributions  # noqa: E402
from multibuzz.bootstrap import Container, use_container  # noqa: E402
from multibuzz.db.migrate import upgrade  # noqa: E402
from multibuzz.db.models import Conversion, Visitor, VisitSession  # noqa: E402
from multibuzz.http.readers import Reader  # noqa: E402
from multibuzz.services.attribution import attribute_conversions  # noqa: E402
from multibuzz.services.tenancy import Tenancy  # noqa: E402
from multibuzz.settings import Settings  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

CHANNELS = ["organic_search", "paid_search", "paid_social", "email", "affiliate", "referral"]


def seed(container: Container, n: int) -> str:
    now = container.clock.now()
    rng = random.Random(13)
    with container.session() as session:
        account_id = Tenancy(session, container.clock, container.ids, container.secret_box).create_account(
            None, "Lookback Shop"
        )
        account_id_str = account_id.id
        session.commit()
    visitors, sessions, conversions = [], [], []
    for i in range(n):
        at = now - timedelta(days=rng.uniform(0, 29.5))
        vid = f"vis_lb{i:08d}"
        visitors.append(
            {"id": vid, "account_id": account_id_str, "visitor_key": f"v{i}", "first_seen_at": at, "last_seen_at": at}
        )
        for j in range(rng.randint(1, 4)):
            started = at - timedelta(days=rng.uniform(0, 25))
            sessions.append(
                {
                    "id": f"ses_lb{i:08d}{j}",
                    "account_id": account_id_str,
                    "visitor_id": vid,
                    "started_at": started,
                    "last_activity_at": started,
                    "channel": rng.choice(CHANNELS),
                    "utm_campaign": f"c{rng.randint(1, 5)}",
                    "page_view_count": 1,
                    "is_bot": False,
                    "created_at": started,
                }
            )
        conversions.append(
            {
                "id": f"conv_lb{i:08d}",
                "account_id": account_id_str,
                "conversion_type": "purchase",
                "visitor_id": vid,
                "occurred_at": at,
                "received_at": at,
                "revenue": Decimal(rng.randint(500, 20000)) / 100,
                "currency": "USD",
                "properties": {},
                "status": "pending",
                "attribution_version": 0,
                "sessions_analyzed": 0,
                "attribution_meta": {},
            }
        )
    with container.engine.begin() as conn:
        for rows, table in ((visitors, Visitor), (sessions, VisitSession), (conversions, Conversion)):
            for start in range(0, len(rows), 2000):
                conn.execute(insert(table), rows[start : start + 2000])
    with container.session() as session:
        pending = list(session.scalars(select(Conversion).where(Conversion.account_id == account_id_str)))
        for start in range(0, len(pending), 500):
            attribute_conversions(session, container, pending[start : start + 500])
        session.commit()
    return account_id_str


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversions", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url", default="", help="MariaDB URL (its database is dropped and recreated)")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-lookback-"))
    url = args.url or f"sqlite:///{data_dir / 'bench.db'}"
    if args.url:
        reset_database(args.url)
    container = Container(Settings(stage="test", data_dir=data_dir, database_url=url, run_schedules=False))
    use_container(container)
    upgrade(container.engine)
    began = time.perf_counter()
    account_id = seed(container, args.conversions)
    print(f"seeded and attributed {args.conversions} conversions in {time.perf_counter() - began:.1f} s")
    reader = Reader(account_id=account_id, influencer_id=None, can_write=False)
    end = container.clock.now() + timedelta(seconds=1)
    start = end - timedelta(days=31)
    kinds: dict[str, int | None] = {"stored": None, "lookback=30": 30, "lookback=7": 7}
    cpu: dict[str, list[float]] = {k: [] for k in kinds}
    wall: dict[str, list[float]] = {k: [] for k in kinds}
    answers: dict[str, Any] = {}
    for _ in range(args.repeat):
        for name, days in kinds.items():
            with container.session() as session:
                t0, w0 = time.process_time(), time.perf_counter()
                answers[name] = attributions(reader, session, None, "channel", None, start, end, lookback_days=days)
                cpu[name].append(time.process_time() - t0)
                wall[name].append(time.perf_counter() - w0)
    assert answers["lookback=30"]["models"] == answers["stored"]["models"], "the account's own lookback = stored"
    assert answers["lookback=7"]["recomputed_conversions"] == args.conversions
    base, wall_base = statistics.median(cpu["stored"]), statistics.median(wall["stored"])
    figures: dict[str, Any] = {"database": "mariadb" if args.url else "sqlite", "conversions": args.conversions}
    for name, values in cpu.items():
        med, wall_med = statistics.median(values), statistics.median(wall[name])
        figures[name] = {
            "cpu_median_s": round(med, 4),
            "wall_median_s": round(wall_med, 4),
            "cpu_ratio_to_stored": round(med / base, 2),
            "wall_ratio_to_stored": round(wall_med / wall_base, 2),
        }
        print(
            f"{name:>12}: median CPU {med * 1000:7.1f} ms ({med / base:6.2f}x stored), wall {wall_med * 1000:7.1f} ms"
            f" ({wall_med / wall_base:6.2f}x) over {len(values)} calls"
        )
    print(f"written to {write_results('lookback', figures)}")


if __name__ == "__main__":
    main()
