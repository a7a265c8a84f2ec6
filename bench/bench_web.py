"""The web app: JS + CSS weight per page, and the Attribution page's latency beside the JSON API's.

1. For every page: the scripts and stylesheets it loads, gzipped (-9) and summed. Goal (issue 13): <= 150 KB.
2. The Attribution page (HTML, all ten models side by side, the last 30 days) against
   ``GET /api/v1/attributions`` for the same window and data, through the same local gateway, requests
   interleaved so both see the same load. Figures: p50/p95 per kind and the ratio page/API (goal: p95
   within 1.5x). Baseline in the same run: the JSON API.

3. ``--lighthouse``: Lighthouse 12.2.3 (npm, installed on first use under .multibuzz/lighthouse; Node 20)
   with the same Chromium (/usr/bin/chromium) on the Attribution page and the influencer dashboard, logged
   in through a session cookie. Goal: performance >= 90, accessibility >= 95.

Data: N attributed conversions (3 touches each, 10 models: 30 credit rows per conversion) in one account.
Run: .venv/bin/python bench/bench_web.py [--conversions 5000] [--requests 200] [--url mysql+pymysql://...]
     [--lighthouse]
"""

from __future__ import annotations

import argparse
import gzip
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

import httpx  # noqa: E402
from _common import reset_database, write_results  # noqa: E402
from multibuzz.bootstrap import Container, use_container  # noqa: E402
from multibuzz.commerce.aggregates import account_locale, today_in  # noqa: E402
from multibuzz.db.migrate import upgrade  # noqa: E402
from multibuzz.db.models import AttributionCredit, Conversion  # noqa: E402
from multibuzz.domain.attribution import MODELS  # noqa: E402
from multibuzz.services.tenancy import Tenancy  # noqa: E402
from multibuzz.settings import Settings  # noqa: E402
from sqlalchemy import insert  # noqa: E402

CHANNELS = ["organic_search", "paid_search", "paid_social", "email", "direct", "affiliate", "referral"]
PASSWORD = "bench password 123"
EMAIL = "owner@bench.test"
INFLUENCER_EMAIL = "creator@bench.test"
LIGHTHOUSE = "12.2.3"
LIGHTHOUSE_DIR = ROOT / ".multibuzz" / "lighthouse"
ASSET = re.compile(r'<(?:script[^>]+src|link[^>]+rel="stylesheet"[^>]+href)="(/static/[^"]+)"')
AUDITS = (
    "first-contentful-paint",
    "largest-contentful-paint",
    "total-blocking-time",
    "cumulative-layout-shift",
    "speed-index",
    "server-response-time",
)
TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def seed_commerce(container: Container, account_id: str, last_day: date, days: int = 90) -> None:
    """A connected, synced Shopify store and Meta ad account with ``days`` of daily figures up to ``last_day``,
    then the summary and the KPI cards rebuilt by the sync's own functions (what Home reads)."""
    from multibuzz.commerce.aggregates import rebuild_latest_kpis, rebuild_summary_days
    from multibuzz.db.models.commerce import DailyMetaMetrics, DailyShopifyMetrics, Integration

    rng = random.Random(14)
    now = container.clock.now()
    first = last_day - timedelta(days=days - 1)
    with container.session() as session:
        _zone, currency = account_locale(session, account_id)
        for kind, external in (("shopify", "bench.myshopify.com"), ("meta", "act_1234")):
            integration = Integration(
                id=f"int_bench_{kind}",
                account_id=account_id,
                type=kind,
                status="connected",
                external_id=external,
                connected_at=now,
                created_at=now,
                updated_at=now,
            )
            session.add(integration)
            session.flush()
        for i in range(days):
            day = first + timedelta(days=i)
            orders = rng.randint(20, 80)
            revenue = Decimal(orders * rng.randint(4000, 9000)) / 100
            spend = Decimal(rng.randint(20000, 90000)) / 100
            session.add(
                DailyShopifyMetrics(
                    account_id=account_id,
                    integration_id="int_bench_shopify",
                    date=day,
                    currency=currency,
                    orders=orders,
                    cancelled_orders=0,
                    gross=revenue,
                    discounts=Decimal(0),
                    refunds=Decimal(0),
                    revenue_net=revenue,
                    updated_at=now,
                )
            )
            session.add(
                DailyMetaMetrics(
                    account_id=account_id,
                    integration_id="int_bench_meta",
                    date=day,
                    currency=currency,
                    spend=spend,
                    impressions=rng.randint(10000, 90000),
                    clicks=rng.randint(100, 900),
                    purchases=Decimal(orders // 2),
                    purchase_value=revenue / 2,
                    updated_at=now,
                )
            )
        session.flush()
        rebuild_summary_days(session, account_id, first, last_day, now)
        rebuild_latest_kpis(session, account_id, now)
        session.commit()
    seed_sync_history(container, account_id, days)


def seed_sync_history(container: Container, account_id: str, days: int) -> int:
    """The runs the schedules leave behind in ``days``: Shopify fresh every 15 minutes, Meta fresh every hour
    (a few failed, the newest succeeded), as Home's sync banner reads them."""
    from multibuzz.db.models.commerce import SyncRun

    now = container.clock.now()
    rows: list[dict[str, Any]] = []
    for kind, minutes in (("shopify", 15), ("meta", 60)):
        count = days * 24 * 60 // minutes
        for i in range(count):
            started = now - timedelta(minutes=minutes * (count - i))
            rows.append(
                {
                    "id": f"syn_bench_{kind}_{i:06d}",
                    "account_id": account_id,
                    "integration_id": f"int_bench_{kind}",
                    "type": f"{kind}_fresh",
                    "trigger": "schedule",
                    "status": "failed" if i % 97 == 13 else "succeeded",
                    "started_at": started,
                    "finished_at": started + timedelta(seconds=20),
                    "rows": 3,
                    "error_message": "the platform answered 503" if i % 97 == 13 else None,
                    "data_fresh_to": started,
                    "detail": {},
                }
            )
    with container.engine.begin() as conn:
        for start in range(0, len(rows), 2000):
            conn.execute(insert(SyncRun), rows[start : start + 2000])
    return len(rows)


def add_owner(container: Container, account_id: str) -> None:
    with container.session() as session:
        tenancy = Tenancy(session, container.clock, container.ids, container.secret_box)
        user = tenancy.create_user(email=EMAIL, password=PASSWORD)
        tenancy.add_membership(account_id, user, role="owner")
        session.commit()


def seed(container: Container, n: int) -> str:
    now = container.clock.now()
    rng = random.Random(13)
    with container.session() as session:
        tenancy = Tenancy(session, container.clock, container.ids, container.secret_box)
        account_id = tenancy.create_account(None, "Bench Shop").id
        session.commit()
    add_owner(container, account_id)
    with container.session() as session:
        tenancy = Tenancy(session, container.clock, container.ids, container.secret_box)
        from multibuzz.db.models.influencer import Influencer

        creator = Influencer(
            id="inf_bench",
            account_id=account_id,
            name="Bench Creator",
            handle="bench-creator",
            status="active",
            created_at=now,
            updated_at=now,
        )
        session.add(creator)
        session.flush()
        influencer_user = tenancy.create_user(email=INFLUENCER_EMAIL, password=PASSWORD)
        tenancy.add_membership(account_id, influencer_user, role="influencer", influencer_id=creator.id)
        session.commit()
    conversions: list[dict[str, Any]] = []
    credits: list[dict[str, Any]] = []
    for i in range(n):
        cid = f"conv_bench{i:08d}"
        at = now - timedelta(days=rng.uniform(0, 29.5))
        revenue = Decimal(rng.randint(500, 20000)) / 100
        conversions.append(
            {
                "id": cid,
                "account_id": account_id,
                "conversion_type": "purchase",
                "occurred_at": at,
                "received_at": at,
                "revenue": revenue,
                "currency": "USD",
                "properties": {},
                "status": "attributed",
                "attribution_version": 1,
                "attribution_meta": {},
            }
        )
        touches = [rng.choice(CHANNELS) for _ in range(3)]
        for model in MODELS:
            for position, channel in enumerate(touches):
                share = Decimal(1) / 3
                credits.append(
                    {
                        "account_id": account_id,
                        "conversion_id": cid,
                        "version": 1,
                        "model": model,
                        "position": position,
                        "session_id": None,
                        "channel": channel,
                        "touch_at": at - timedelta(days=3 - position),
                        "credit": share.quantize(Decimal("0.000001")),
                        "revenue_credit": (revenue * share).quantize(Decimal("0.01")),
                    }
                )
    with container.engine.begin() as conn:
        for start in range(0, len(conversions), 2000):
            conn.execute(insert(Conversion), conversions[start : start + 2000])
        for start in range(0, len(credits), 5000):
            conn.execute(insert(AttributionCredit), credits[start : start + 5000])
    return account_id


def serve() -> tuple[str, Any]:
    import socket

    import uvicorn

    from infra.local.gateway import LocalGateway

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(LocalGateway(), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def login(client: httpx.Client, email: str = EMAIL) -> None:
    form = client.get("/app/login").text
    token = TOKEN.search(form)
    assert token is not None
    answer = client.post("/app/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)})
    assert answer.status_code == 303, answer.text


def lighthouse(base: str, pages: dict[str, tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Lighthouse scores (0-100) per page: {name: (path, login e-mail)}."""
    import json
    import os
    import shutil
    import subprocess

    npm = shutil.which("npm") or "npm"
    binary = LIGHTHOUSE_DIR / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        LIGHTHOUSE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "i", "-E", "--no-audit", "--no-fund", f"lighthouse@{LIGHTHOUSE}"], cwd=LIGHTHOUSE_DIR, check=True
        )
    scores: dict[str, dict[str, float]] = {}
    for name, (path, email) in pages.items():
        with httpx.Client(base_url=base, timeout=60) as client:
            login(client, email)
            cookie = client.cookies.get("mbz_session")
        out = LIGHTHOUSE_DIR / f"{name}.json"
        subprocess.run(
            [
                str(binary),
                base + path,
                "--quiet",
                "--only-categories=performance,accessibility",
                "--chrome-flags=--headless=new --no-sandbox --disable-dev-shm-usage",
                f"--extra-headers={json.dumps({'Cookie': f'mbz_session={cookie}'})}",
                "--output=json",
                f"--output-path={out}",
            ],
            check=True,
            env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"},
        )
        report = json.loads(out.read_text())
        scores[name] = {key: round(100 * cat["score"], 1) for key, cat in report["categories"].items()}
        audits = report["audits"]
        for audit in AUDITS:  # what the performance score is made of, to see what it penalises
            if audit in audits and audits[audit].get("numericValue") is not None:
                scores[name][audit] = round(audits[audit]["numericValue"], 3 if audit.endswith("shift") else 0)
    return scores


def asset_weights(client: httpx.Client, pages: list[str]) -> dict[str, int]:
    cache: dict[str, int] = {}
    weights: dict[str, int] = {}
    for path in pages:
        html = client.get(path).text
        total = 0
        for url in sorted(set(ASSET.findall(html))):
            if url not in cache:
                cache[url] = len(gzip.compress(client.get(url).content, compresslevel=9))
            total += cache[url]
        weights[path] = total
    return weights


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed_pairs(
    web: httpx.Client, page: str, api: httpx.Client, endpoint: str, params: dict[str, str], requests: int
) -> dict[str, float]:
    """The page and its JSON API alternately (both see the same load): p50/p95 of each and the ratios."""
    for _ in range(10):  # warm both paths
        web.get(page)
        api.get(endpoint, params=params)
    html_times: list[float] = []
    json_times: list[float] = []
    for _ in range(requests):
        t0 = time.perf_counter()
        r1 = web.get(page)
        t1 = time.perf_counter()
        r2 = api.get(endpoint, params=params)
        t2 = time.perf_counter()
        assert r1.status_code == 200 and r2.status_code == 200, (r1.status_code, r2.status_code)
        html_times.append((t1 - t0) * 1000)
        json_times.append((t2 - t1) * 1000)
    out = {
        "html_p50_ms": round(statistics.median(html_times), 2),
        "html_p95_ms": round(percentile(html_times, 0.95), 2),
        "json_p50_ms": round(statistics.median(json_times), 2),
        "json_p95_ms": round(percentile(json_times, 0.95), 2),
    }
    out["p95_ratio_html_to_json"] = round(out["html_p95_ms"] / out["json_p95_ms"], 3)
    out["p50_ratio_html_to_json"] = round(out["html_p50_ms"] / out["json_p50_ms"], 3)
    return out


def authorize(api: httpx.Client) -> None:
    token = api.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}).json()["access_token"]
    api.headers["authorization"] = f"Bearer {token}"


def print_pair(name: str, endpoint: str, f: dict[str, float]) -> None:
    print(
        f"{name:24s} p50 {f['html_p50_ms']} ms  p95 {f['html_p95_ms']} ms\n"
        f"{endpoint:24s} p50 {f['json_p50_ms']} ms  p95 {f['json_p95_ms']} ms  (baseline)\n"
        f"ratio HTML/JSON          p50 {f['p50_ratio_html_to_json']}  p95 {f['p95_ratio_html_to_json']} (goal <= 1.5)"
    )


def home_on_reports_data(url: str, n_events: int, requests: int, reuse: bool) -> dict[str, Any]:
    """Home (HTML) against ``GET /api/v1/dashboard/home`` in the database of the reporting benchmark's data set
    (``bench_reports.seed``: ``n_events`` events, their sessions, clicks, conversions and rollups), plus a synced
    store and ad account with 90 days of daily figures; the last 30 days of that data set, through the gateway."""
    import bench_reports
    from multibuzz.db.models import User
    from multibuzz.db.models.commerce import SyncRun
    from sqlalchemy import func, select

    home_url = f"{url}_home_{n_events}"
    settings = Settings(
        stage="test",
        data_dir=Path(tempfile.mkdtemp(prefix="bench-web-home-")),
        database_url=home_url,
        run_schedules=False,
    )
    container = Container(settings)
    seeded: Any = None
    if reuse:
        try:
            with container.session() as session:
                seeded = session.scalar(select(User.id).where(User.email == EMAIL))
        except Exception:  # no database or tables yet
            seeded = None
    started = time.perf_counter()
    if seeded is None:
        container.engine.dispose()
        reset_database(home_url)
        container = Container(settings)
        upgrade(container.engine)
        timing = bench_reports.seed(container.engine, n_events)
        add_owner(container, bench_reports.ACCOUNT)
        seed_commerce(container, bench_reports.ACCOUNT, bench_reports.NOW.date())
        print(
            f"seeded {n_events} events (reporting data set) + 90 days of store and ad figures"
            f" in {time.perf_counter() - started:.1f} s {timing}"
        )
    else:
        upgrade(container.engine)
        with container.session() as session:
            runs = session.scalar(select(func.count()).select_from(SyncRun))
        if not runs or runs < 1000:  # seeded before the bench wrote a sync history
            seed_sync_history(container, bench_reports.ACCOUNT, 90)
        print(f"reusing {home_url}")
    use_container(container)
    last = bench_reports.NOW.date()
    first = last - timedelta(days=29)
    base, server = serve()
    with httpx.Client(base_url=base, timeout=60) as web, httpx.Client(base_url=base, timeout=60) as api:
        authorize(api)
        login(web)
        page = f"/app/home?range=custom&from={first}&to={last}"
        shown = web.get(page)
        found = re.search(r"<h1>.*?</h1>|<article[^>]*>.*?</article>", shown.text, re.S)
        assert 'data-testid="kpis"' in shown.text, (
            f"Home shows no cards: {shown.status_code} {found and found.group(0)}"
        )
        figures = timed_pairs(web, page, api, "/api/v1/dashboard/home", {"from": str(first), "to": str(last)}, requests)
    server.should_exit = True
    figures.update({"events": n_events, "database": home_url.rsplit("/", 1)[-1], "days": f"{first}..{last}"})
    print_pair(f"Home @ {n_events} events", "GET /api/v1/dashboard/home", figures)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversions", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--lighthouse", action="store_true", help="also run Lighthouse (npm) on Home, Attribution and /app/me"
    )
    parser.add_argument(
        "--url", default="", help="MariaDB URL (its database is dropped and recreated); SQLite if empty"
    )
    parser.add_argument(
        "--home-events",
        type=int,
        default=0,
        help="also time Home against its JSON API on the reporting benchmark's data set of this many events "
        "(MariaDB: needs --url; database <url>_home_<events>)",
    )
    parser.add_argument("--reuse", action="store_true", help="--home-events: reuse an already seeded database")
    parser.add_argument("--skip-attribution", action="store_true", help="only the --home-events part")
    args = parser.parse_args()
    if args.home_events and not args.url:
        parser.error("--home-events needs --url (the reporting data set is seeded into MariaDB)")

    figures: dict[str, Any] = {"database": "mariadb" if args.url else "sqlite", "requests": args.requests}
    if not args.skip_attribution:
        figures.update(attribution_and_weights(args))
    if args.home_events:
        figures["home"] = home_on_reports_data(args.url, args.home_events, args.requests, args.reuse)
    print(f"written to {write_results('web', figures)}")


def attribution_and_weights(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-web-"))
    url = args.url or f"sqlite:///{data_dir / 'bench.db'}"
    if args.url:
        reset_database(args.url)
    settings = Settings(stage="test", data_dir=data_dir, database_url=url, run_schedules=False)
    container = Container(settings)
    use_container(container)
    upgrade(container.engine)
    started = time.perf_counter()
    account_id = seed(container, args.conversions)
    with container.session() as session:
        zone, _currency = account_locale(session, account_id)
    seed_commerce(container, account_id, today_in(zone, container.clock.now()))
    print(
        f"seeded {args.conversions} conversions ({args.conversions * 30} credit rows) and 90 days of store"
        f" and ad figures in {time.perf_counter() - started:.1f} s"
    )

    base, server = serve()
    with httpx.Client(base_url=base, timeout=60) as web, httpx.Client(base_url=base, timeout=60) as api:
        authorize(api)
        login(web)
        pages = [
            "/",
            "/app/login",
            "/app/home",
            "/app/attribution",
            "/app/conversions",
            "/app/events",
            "/app/programme",
            "/app/programme/links",
            "/app/programme/coupons",
            "/app/programme/clicks",
            "/app/settings",
        ]
        weights = asset_weights(web, pages)
        page = web.get("/app/attribution?range=30d")
        found = re.search(r'data-start="([^"]+)" data-end="([^"]+)"', page.text)
        assert found is not None
        window = {"from": found.group(1), "to": found.group(2)}
        timing = timed_pairs(web, "/app/attribution?range=30d", api, "/api/v1/attributions", window, args.requests)
    scores = (
        lighthouse(
            base,
            {
                "home": ("/app/home", EMAIL),
                "attribution": ("/app/attribution", EMAIL),
                "influencer": ("/app/me", INFLUENCER_EMAIL),
            },
        )
        if args.lighthouse
        else {}
    )
    server.should_exit = True

    figures: dict[str, Any] = {
        "conversions": args.conversions,
        "js_css_gzip_bytes_per_page": weights,
        "js_css_gzip_max_kb": round(max(weights.values()) / 1024, 1),
        **timing,
        "lighthouse": scores,
    }
    for path, size in weights.items():
        print(f"  {path:28s} JS+CSS {size / 1024:6.1f} KB gzipped")
    print(f"JS+CSS per page, largest: {figures['js_css_gzip_max_kb']} KB gzipped (goal <= 150 KB)")
    print_pair("Attribution page (HTML)", "GET /api/v1/attributions", timing)
    for name, categories in scores.items():
        print(f"Lighthouse {name:12s} " + "  ".join(f"{k} {v}" for k, v in categories.items()))
    return figures


if __name__ == "__main__":
    main()
