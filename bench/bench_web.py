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
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

import httpx  # noqa: E402
from _common import reset_database, write_results  # noqa: E402
from multibuzz.bootstrap import Container, use_container  # noqa: E402
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
TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def seed(container: Container, n: int) -> str:
    now = container.clock.now()
    rng = random.Random(13)
    with container.session() as session:
        tenancy = Tenancy(session, container.clock, container.ids, container.secret_box)
        account = tenancy.create_account(None, "Bench Shop")
        user = tenancy.create_user(email=EMAIL, password=PASSWORD)
        tenancy.add_membership(account.id, user, role="owner")
        session.flush()
        from multibuzz.db.models.influencer import Influencer

        creator = Influencer(
            id="inf_bench",
            account_id=account.id,
            name="Bench Creator",
            handle="bench-creator",
            status="active",
            created_at=now,
            updated_at=now,
        )
        session.add(creator)
        session.flush()
        influencer_user = tenancy.create_user(email=INFLUENCER_EMAIL, password=PASSWORD)
        tenancy.add_membership(account.id, influencer_user, role="influencer", influencer_id=creator.id)
        session.commit()
        account_id = account.id
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversions", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--lighthouse", action="store_true", help="also run Lighthouse (npm) on two pages")
    parser.add_argument(
        "--url", default="", help="MariaDB URL (its database is dropped and recreated); SQLite if empty"
    )
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="bench-web-"))
    url = args.url or f"sqlite:///{data_dir / 'bench.db'}"
    if args.url:
        reset_database(args.url)
    settings = Settings(stage="test", data_dir=data_dir, database_url=url, run_schedules=False)
    container = Container(settings)
    use_container(container)
    upgrade(container.engine)
    started = time.perf_counter()
    seed(container, args.conversions)
    print(
        f"seeded {args.conversions} conversions ({args.conversions * 30} credit rows)"
        f" in {time.perf_counter() - started:.1f} s"
    )

    base, server = serve()
    with httpx.Client(base_url=base, timeout=60) as web, httpx.Client(base_url=base, timeout=60) as api:
        login(web)
        token = api.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}).json()["access_token"]
        api.headers["authorization"] = f"Bearer {token}"
        pages = [
            "/",
            "/app/login",
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
        for _ in range(10):  # warm both paths
            web.get("/app/attribution?range=30d")
            api.get("/api/v1/attributions", params=window)
        html_times: list[float] = []
        json_times: list[float] = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            r1 = web.get("/app/attribution?range=30d")
            t1 = time.perf_counter()
            r2 = api.get("/api/v1/attributions", params=window)
            t2 = time.perf_counter()
            assert r1.status_code == 200 and r2.status_code == 200
            html_times.append((t1 - t0) * 1000)
            json_times.append((t2 - t1) * 1000)
    scores = (
        lighthouse(base, {"attribution": ("/app/attribution", EMAIL), "influencer": ("/app/me", INFLUENCER_EMAIL)})
        if args.lighthouse
        else {}
    )
    server.should_exit = True

    figures = {
        "database": "mariadb" if args.url else "sqlite",
        "conversions": args.conversions,
        "requests": args.requests,
        "js_css_gzip_bytes_per_page": weights,
        "js_css_gzip_max_kb": round(max(weights.values()) / 1024, 1),
        "html_p50_ms": round(statistics.median(html_times), 2),
        "html_p95_ms": round(percentile(html_times, 0.95), 2),
        "json_p50_ms": round(statistics.median(json_times), 2),
        "json_p95_ms": round(percentile(json_times, 0.95), 2),
    }
    figures["p95_ratio_html_to_json"] = round(figures["html_p95_ms"] / figures["json_p95_ms"], 3)
    figures["p50_ratio_html_to_json"] = round(figures["html_p50_ms"] / figures["json_p50_ms"], 3)
    figures["lighthouse"] = scores
    for path, size in weights.items():
        print(f"  {path:28s} JS+CSS {size / 1024:6.1f} KB gzipped")
    print(f"JS+CSS per page, largest: {figures['js_css_gzip_max_kb']} KB gzipped (goal <= 150 KB)")
    print(
        f"Attribution page (HTML)  p50 {figures['html_p50_ms']} ms  p95 {figures['html_p95_ms']} ms\n"
        f"GET /api/v1/attributions p50 {figures['json_p50_ms']} ms  p95 {figures['json_p95_ms']} ms  (baseline)\n"
        f"ratio HTML/JSON          p50 {figures['p50_ratio_html_to_json']}"
        f"  p95 {figures['p95_ratio_html_to_json']} (goal <= 1.5)"
    )
    for name, categories in scores.items():
        print(f"Lighthouse {name:12s} " + "  ".join(f"{k} {v}" for k, v in categories.items()))
    print(f"written to {write_results('web', figures)}")


if __name__ == "__main__":
    main()
