"""Shopify 7-day fill into MariaDB: orders/s of the real sync vs a raw parse + executemany of the same rows.

The fake Shopify runs in its own process (its 100k orders do not count against our memory) and serves
the bulk operation's JSONL over HTTP. Measured: ``multibuzz.commerce.shopify.sync.run(..., "shopify_7d_fill")``
— count, bulk operation, poll, streamed JSONL, parse, raw + fact upserts, purchase conversions (rows and
attribution messages onto the local queue), cursors, daily aggregates — and the process's peak RSS.
Baseline in the same run: the same JSONL downloaded, ``json.loads`` per line, the same raw + fact rows
inserted with one DB-API ``executemany`` per 1,000 (pymysql, no ORM, no upsert, no conversions).

Goals (issue 11): >= 0.5 of the baseline; peak RSS < 250 MB and flat from 10k to 100k orders.
Run: .venv/bin/python bench/bench_shopify_fill.py [--orders 100000] [--sizes 10000,100000] [--url …]
     [--profile out.prof]  (a cProfile of the sync; with --orders only)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from _common import reset_database, write_results  # noqa: E402

DEFAULT_URL = "mysql+pymysql://root@127.0.0.1:3306/bench_shopify"
SHOP = "bench.myshopify.com"


def start_fake(orders: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "multibuzz.commerce.fakes.shopify", "--shop", SHOP, "--orders", str(orders)],
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'layers' / 'shared'}", "PATH": "/usr/bin:/bin"},
    )
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    return proc, info


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(orders: int, url: str, profile: str | None = None) -> dict[str, Any]:
    from multibuzz.bootstrap import Container, use_container
    from multibuzz.commerce import integrations as svc
    from multibuzz.commerce.shopify import sync
    from multibuzz.db.migrate import upgrade
    from multibuzz.db.models import Account
    from multibuzz.db.models.commerce import FactOrder
    from multibuzz.settings import Settings
    from sqlalchemy import func, select, text
    from sqlalchemy.engine import make_url

    reset_database(url)
    proc, info = start_fake(orders)
    try:
        tmp = Path(tempfile.mkdtemp(prefix="bench-shopify-"))
        settings = Settings(
            stage="test",
            data_dir=tmp,
            database_url=url,
            shopify_base_url=f"{info['base_url']}/{{shop}}",
            shopify_bulk_threshold=2500,
        )
        container = Container(settings)
        use_container(container)
        upgrade(container.engine)
        tools = svc.Tools(container.clock, container.ids, container.secret_box)
        with container.session() as session:
            session.add(Account(id="acc_bench", name="bench", slug="bench", created_at=container.clock.now()))
            session.flush()
            integration = svc.connect(session, tools, account_id="acc_bench", type="shopify", external_id=SHOP)
            svc.store_secret(session, tools, integration, info["token"])
            session.commit()
            integration_id = integration.id
        rss_before = rss_mb()
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started, cpu = time.perf_counter(), time.process_time()
        result = sync.run(
            container, integration_id, "shopify_7d_fill", "manual", sleep=lambda s: time.sleep(min(s, 0.05))
        )
        ours, ours_cpu = time.perf_counter() - started, time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        assert result["status"] == "succeeded", result
        with container.session() as session:
            stored = session.scalar(select(func.count()).select_from(FactOrder))
        assert stored == orders, (stored, orders)
        peak = rss_mb()

        # Baseline: the same JSONL, json.loads, the same raw + fact rows, executemany per 1,000.
        import httpx

        bulk_url = f"{info['base_url']}/_bulk/{SHOP}/1.jsonl"
        raw_conn = container.engine.raw_connection()
        cursor = raw_conn.cursor()
        cursor.execute("DELETE FROM fact_orders")
        cursor.execute("DELETE FROM shopify_orders_raw")
        raw_conn.commit()
        fact_sql = (
            "INSERT INTO fact_orders (account_id, integration_id, shopify_order_id, order_name, currency, gross, "
            "discounts, net, refunds, total_price, total_tax, shipping, financial_status, fulfillment_status, "
            "order_created_at, order_updated_at, processed_at, order_date, landing_site, discount_codes, "
            "note_attributes, cart_attributes, customer_ref, test, synced_at) VALUES "
            "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
        )
        raw_sql = (
            "INSERT INTO shopify_orders_raw (account_id, integration_id, shopify_order_id, order_updated_at, "
            "source, fetched_at, payload) VALUES (%s,%s,%s,%s,%s,%s,%s)"
        )
        started, cpu = time.perf_counter(), time.process_time()
        facts: list[tuple[Any, ...]] = []
        raws: list[tuple[Any, ...]] = []

        def flush() -> None:
            cursor.executemany(fact_sql, facts)
            cursor.executemany(raw_sql, raws)
            raw_conn.commit()
            facts.clear()
            raws.clear()

        with httpx.Client(timeout=60) as http, http.stream("GET", bulk_url) as response:
            for line in response.iter_lines():
                if not line:
                    continue
                node = json.loads(line)
                oid = node["id"].rsplit("/", 1)[-1]
                stamp = node["updatedAt"].replace("T", " ").rstrip("Z")
                money = {
                    k: node[k]["shopMoney"]["amount"]
                    for k in (
                        "subtotalPriceSet",
                        "totalDiscountsSet",
                        "totalRefundedSet",
                        "totalPriceSet",
                        "totalTaxSet",
                        "totalShippingPriceSet",
                    )
                }
                facts.append(
                    (
                        "acc_bench",
                        integration_id,
                        oid,
                        node["name"],
                        node["currencyCode"],
                        money["subtotalPriceSet"],
                        money["totalDiscountsSet"],
                        money["subtotalPriceSet"],
                        money["totalRefundedSet"],
                        money["totalPriceSet"],
                        money["totalTaxSet"],
                        money["totalShippingPriceSet"],
                        node["displayFinancialStatus"].lower(),
                        node["displayFulfillmentStatus"].lower(),
                        node["createdAt"].replace("T", " ").rstrip("Z"),
                        stamp,
                        node["processedAt"].replace("T", " ").rstrip("Z"),
                        node["processedAt"][:10],
                        (node.get("customerJourneySummary") or {}).get("lastVisit", {}).get("landingPage")
                        if node.get("customerJourneySummary")
                        else None,
                        json.dumps(node["discountCodes"]),
                        json.dumps(node["customAttributes"]),
                        "[]",
                        node["customer"]["id"] if node.get("customer") else None,
                        0,
                        stamp,
                    )
                )
                raws.append(("acc_bench", integration_id, oid, stamp, "sync", stamp, line))
                if len(facts) >= 1000:
                    flush()
        flush()
        raw, raw_cpu = time.perf_counter() - started, time.process_time() - cpu
        cursor.close()
        raw_conn.close()
        with container.engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM fact_orders")).scalar() == orders
        container.engine.dispose()
        use_container(None)
        return {
            "orders": orders,
            "ours_seconds": round(ours, 2),
            "ours_orders_per_s": round(orders / ours),
            "baseline_seconds": round(raw, 2),
            "baseline_orders_per_s": round(orders / raw),
            "ratio": round(raw / ours, 3),
            # This process's CPU (the database server's excluded): steadier than wall time on a shared machine.
            "ours_cpu_seconds": round(ours_cpu, 2),
            "baseline_cpu_seconds": round(raw_cpu, 2),
            "cpu_ratio": round(raw_cpu / ours_cpu, 3),
            "peak_rss_mb": round(peak, 1),
            "rss_before_sync_mb": round(rss_before, 1),
            "database": make_url(url).render_as_string(hide_password=True),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--sizes", default="", help="comma-separated sizes, each in a fresh process (RSS)")
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--profile", help="write a cProfile of the sync (one size only) here")
    args = parser.parse_args()
    if args.sizes:
        figures = []
        for size in (int(s) for s in args.sizes.split(",")):
            out = subprocess.run(
                [sys.executable, __file__, "--orders", str(size), "--url", args.url], capture_output=True, text=True
            )
            if out.returncode != 0:
                print(out.stderr[-3000:], file=sys.stderr)
                raise SystemExit(out.returncode)
            figures.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(figures[-1]))
        write_results("shopify_fill", {"runs": figures})
        return
    print(json.dumps(run_one(args.orders, args.url, args.profile)))


if __name__ == "__main__":
    main()
