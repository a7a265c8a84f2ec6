"""Meta: connect, 7-day fill then fresh sync, throttling, resume after an interruption, readable failures,
and aggregates that reconcile with the fact rows — against the fake Graph API over real HTTP, on the
test database (SQLite, or MariaDB with MULTIBUZZ_TEST_DATABASE_URL)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from multibuzz.bootstrap import Container, use_container
from multibuzz.clock import FixedClock
from multibuzz.commerce import aggregates
from multibuzz.commerce import integrations as svc
from multibuzz.commerce.fakes.meta import FakeMeta, day_metrics
from multibuzz.commerce.meta.sync import MetaSync, sync_all
from multibuzz.db.models import Account
from multibuzz.db.models.commerce import (
    DailyMetaMetrics,
    DailyShopifyMetrics,
    DailySummary,
    FactMetaDaily,
    FactOrder,
    IntegrationSecret,
    LatestKpis,
    MetaInsightRaw,
    SyncRun,
)
from multibuzz.errors import InvalidInputError
from sqlalchemy import Engine, func, select

from tests.conftest import make_settings

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
TOKEN = "EAAB-fake-token-0001"
ACT = "act_1001"


@pytest.fixture
def fake() -> Iterator[FakeMeta]:
    meta = FakeMeta(async_polls=2)
    account = meta.add_account(ACT, TOKEN, currency="EUR", name="Acme ads", timezone_name="Europe/Berlin")
    account.add_ads(6, campaigns=2, statuses=("ACTIVE", "PAUSED", "DELETED"))  # 4 synced, 2 filtered out
    meta.serve()
    yield meta
    meta.close()


@pytest.fixture
def container(tmp_path: Path, database_url: str, db_clean: Engine, fake: FakeMeta) -> Iterator[Container]:
    settings = make_settings(tmp_path, database_url, meta_graph_url=f"{fake.url}/v21.0", meta_page_size=5)
    c = Container(settings, clock=FixedClock(NOW), engine=db_clean)
    use_container(c)
    yield c
    use_container(None)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _meta(container: Container, sleeps: Sleeps | None = None) -> MetaSync:
    return MetaSync.from_container(container, sleep=sleeps if sleeps is not None else Sleeps(), rng=random.Random(7))


def _account(container: Container, account_id: str = "acc_meta", currency: str = "EUR") -> str:
    with container.session() as session:
        session.add(
            Account(
                id=account_id,
                name=account_id,
                slug=account_id.replace("_", "-"),
                timezone="Europe/Berlin",
                currency=currency,
                created_at=NOW,
            )
        )
        session.commit()
    return account_id


def _connect(container: Container, account_id: str = "acc_meta") -> str:
    with container.session() as session:
        integration = _meta(container).connect(session, account_id, ACT, TOKEN)
        session.commit()
        return integration.id


def _facts(container: Container) -> list[tuple[str, dt.date, Decimal]]:
    with container.session() as session:
        rows = session.execute(select(FactMetaDaily.ad_id, FactMetaDaily.date, FactMetaDaily.spend)).all()
    return [(r.ad_id, r.date, Decimal(r.spend)) for r in rows]


def _expected_keys(fake: FakeMeta, since: dt.date, until: dt.date) -> set[tuple[str, dt.date]]:
    ads = [a.ad_id for a in fake.accounts["1001"].ads if a.effective_status in ("ACTIVE", "PAUSED")]
    days = [since + dt.timedelta(days=i) for i in range((until - since).days + 1)]
    return {(ad, day) for ad in ads for day in days}


TODAY = dt.date(2026, 3, 15)  # 13:00 in Berlin


def test_connect_stores_the_token_encrypted_and_refuses_another_currency(container: Container, fake: FakeMeta) -> None:
    _account(container)
    _account(container, "acc_usd", currency="USD")
    integration_id = _connect(container)
    with container.session() as session:
        ciphertext = session.scalar(select(IntegrationSecret.ciphertext))
        assert ciphertext and TOKEN not in ciphertext
        assert svc.read_secret(session, container.secret_box, integration_id) == TOKEN
        integration = svc.get_integration(session, "acc_meta", integration_id)
        assert (integration.external_id, integration.display_name) == (ACT, "Acme ads")
        assert integration.config["timezone"] == "Europe/Berlin"
    with container.session() as session, pytest.raises(InvalidInputError) as refused:
        _meta(container).connect(session, "acc_usd", "1001", TOKEN)
    assert refused.value.field == "ad_account_id"
    assert "reports spend in EUR" in refused.value.message and "USD" in refused.value.message
    with container.session() as session, pytest.raises(InvalidInputError) as bad_token:
        _meta(container).connect(session, "acc_meta", ACT, "EAAB-wrong-token")
    assert bad_token.value.field == "access_token" and "rejected the access token" in bad_token.value.message
    with container.session() as session:
        assert session.scalar(select(func.count()).select_from(IntegrationSecret)) == 1


def test_fill_then_fresh_sync_upserts_without_duplicates(container: Container, fake: FakeMeta) -> None:
    _account(container)
    integration_id = _connect(container)
    fill = _meta(container).run(integration_id, "meta_7d_fill", "connect")
    assert fill.status == "succeeded", fill.error_message
    week = _expected_keys(fake, TODAY - dt.timedelta(days=6), TODAY)
    assert fill.rows == len(week) == 28
    assert {(ad, day) for ad, day, _ in _facts(container)} == week
    assert not any("/insights" in path and method == "POST" for method, path in fake.requests)  # paged, not async
    assert any("after=" in path for _m, path in fake.requests)  # several pages, read by cursor

    # Meta revises a day inside the attribution window; the fresh sync (28 days, async report run) picks it up.
    changed_ad = fake.accounts["1001"].ads[0].ad_id
    fake.set_day(ACT, changed_ad, TODAY - dt.timedelta(days=3), spend="123.45")
    fake.requests.clear()
    fresh = _meta(container).run(integration_id, "meta_fresh", "schedule")
    assert fresh.status == "succeeded", fresh.error_message
    month = _expected_keys(fake, TODAY - dt.timedelta(days=27), TODAY)
    facts = _facts(container)
    assert len(facts) == len(month) == 112 and {(ad, day) for ad, day, _ in facts} == month
    assert {(ad, day): spend for ad, day, spend in facts}[(changed_ad, TODAY - dt.timedelta(days=3))] == Decimal(
        "123.45"
    )
    posts = [path for method, path in fake.requests if method == "POST"]
    assert len(posts) == 1 and any("async_status" not in p for p in posts)
    with container.session() as session:
        assert session.scalar(select(func.count()).select_from(MetaInsightRaw)) == 112
        raw = session.scalars(select(MetaInsightRaw).where(MetaInsightRaw.ad_id == changed_ad)).first()
        assert raw is not None and raw.payload["ad_id"] == changed_ad and raw.payload["actions"]  # kept as sent
        fact = session.scalars(select(FactMetaDaily).where(FactMetaDaily.ad_id == changed_ad)).first()
        assert fact is not None and fact.campaign_name == "Campaign 1" and fact.currency == "EUR"
        runs = session.scalars(select(SyncRun).order_by(SyncRun.type)).all()  # fixed clock: same start
        assert [(r.type, r.status, r.rows) for r in runs] == [
            ("meta_7d_fill", "succeeded", 28),
            ("meta_fresh", "succeeded", 112),
        ]
        assert runs[1].detail["mode"] == "async"


def test_throttle_code_17_with_usage_header_backs_off_and_completes(container: Container, fake: FakeMeta) -> None:
    _account(container)
    integration_id = _connect(container)
    header = FakeMeta.usage_header(100, regain_minutes=1)
    fake.inject(after=1, status=400, code=17, message="User request limit reached", headers=header)
    fake.inject(after=0, status=400, code=80000, message="There have been too many calls", headers=header)
    sleeps = Sleeps()
    outcome = _meta(container, sleeps).run(integration_id, "meta_7d_fill")
    assert outcome.status == "succeeded", outcome.error_message
    assert outcome.throttled == 2
    assert len(sleeps) == 2 and all(s >= 60 for s in sleeps)  # at least Meta's announced regain time
    assert {(ad, day) for ad, day, _ in _facts(container)} == _expected_keys(fake, TODAY - dt.timedelta(days=6), TODAY)


def test_backoff_grows_exponentially_with_jitter_when_no_time_is_announced(
    container: Container, fake: FakeMeta
) -> None:
    _account(container)
    integration_id = _connect(container)
    for _ in range(3):
        fake.inject(status=400, code=4, message="Application request limit reached")
    sleeps = Sleeps()
    outcome = _meta(container, sleeps).run(integration_id, "meta_7d_fill")
    assert outcome.status == "succeeded"
    assert len(sleeps) == 3
    assert 1 <= sleeps[0] <= 2 and 2 <= sleeps[1] <= 4 and 4 <= sleeps[2] <= 8  # base 2 s, full jitter halves


def test_interrupted_sync_resumes_from_its_cursor_without_gaps_or_duplicates(
    container: Container, fake: FakeMeta
) -> None:
    _account(container)
    integration_id = _connect(container)
    fake.inject(after=3, status=400, code=100, message="Invalid parameter", path_contains="insights")
    first = _meta(container).run(integration_id, "meta_7d_fill")
    assert first.status == "failed"
    assert (
        first.error_message is not None
        and "Meta answered an error (code 100: Invalid parameter)" in first.error_message
    )
    assert first.rows == 15  # three pages of five committed before the failure
    with container.session() as session:
        cursor = svc.read_cursor(session, integration_id, "meta_7d_fill")
        assert cursor is not None and cursor.value == "in_progress" and cursor.data["after"]
        saved_after = cursor.data["after"]
    assert len(_facts(container)) == 15

    fake.requests.clear()
    second = _meta(container).run(integration_id, "meta_7d_fill")
    assert second.status == "succeeded" and second.resumed
    assert f"after={saved_after}" in fake.requests[0][1]  # went on where it stopped, page 1 not re-read
    assert second.rows == 13
    facts = _facts(container)
    assert len(facts) == 28 and {(a, d) for a, d, _ in facts} == _expected_keys(
        fake, TODAY - dt.timedelta(days=6), TODAY
    )
    with container.session() as session:
        cursor = svc.read_cursor(session, integration_id, "meta_7d_fill")
        assert cursor is not None and cursor.value == "complete"


def test_throttled_beyond_retries_fails_readably_then_resumes(container: Container, fake: FakeMeta) -> None:
    _account(container)
    integration_id = _connect(container)
    for _ in range(container.settings.meta_max_retries + 1):
        fake.inject(after=0, status=400, code=17, message="User request limit reached", path_contains="insights")
    failed = _meta(container).run(integration_id, "meta_7d_fill")
    assert failed.status == "failed"
    assert failed.error_message is not None and failed.error_message.startswith(
        "Meta is throttling this ad account (code 17: User request limit reached)"
    )
    assert "resumes from its saved position" in failed.error_message
    done = _meta(container).run(integration_id, "meta_7d_fill")
    assert done.status == "succeeded" and done.resumed and len(_facts(container)) == 28


def test_revoked_token_is_a_readable_failure_and_marks_the_integration(container: Container, fake: FakeMeta) -> None:
    _account(container)
    integration_id = _connect(container)
    fake.accounts["1001"].token = "EAAB-rotated"
    outcome = sync_all(container, {}, sleep=Sleeps())
    assert outcome["results"][0]["status"] == "failed"
    with container.session() as session:
        run = session.scalars(select(SyncRun)).one()
        assert run.status == "failed" and run.finished_at is not None
        assert run.error_message is not None and run.error_message.startswith(
            "Meta rejected the access token (code 190"
        )
        assert TOKEN not in run.error_message
        integration = svc.get_integration(session, "acc_meta", integration_id)
        assert integration.status == "error" and integration.last_error == run.error_message


def test_schedule_runs_the_fill_first_then_fresh_only_when_due(container: Container, fake: FakeMeta) -> None:
    _account(container)
    _connect(container)
    first = sync_all(container, {}, sleep=Sleeps())
    assert [r["type"] for r in first["results"]] == ["meta_7d_fill"]
    second = sync_all(container, {}, sleep=Sleeps())
    assert [r["type"] for r in second["results"]] == ["meta_fresh"]
    assert sync_all(container, {}, sleep=Sleeps())["results"] == []  # fresh ran less than 6 h ago
    assert isinstance(container.clock, FixedClock)
    container.clock.advance(hours=7)
    assert [r["type"] for r in sync_all(container, {}, sleep=Sleeps())["results"]] == ["meta_fresh"]


def _order(account_id: str, integration_id: str, n: int, day: dt.date, net: str, refunds: str = "0") -> FactOrder:
    at = datetime.combine(day, dt.time(10), UTC)
    return FactOrder(
        account_id=account_id,
        integration_id=integration_id,
        shopify_order_id=str(5000 + n),
        currency="EUR",
        gross=Decimal(net) + Decimal(refunds),
        discounts=Decimal(0),
        net=Decimal(net),
        refunds=Decimal(refunds),
        total_price=Decimal(net) + Decimal(refunds),
        total_tax=Decimal(0),
        shipping=Decimal(0),
        financial_status="paid",
        order_created_at=at,
        order_updated_at=at,
        processed_at=at,
        order_date=day,
        discount_codes=[],
        note_attributes=[],
        cart_attributes=[],
        synced_at=at,
    )


def shopify_rollup(container: Container, account_id: str) -> None:
    """Stand-in for the Shopify sync's daily_shopify_metrics (built on h/shopify): one SQL rollup of fact_orders."""
    f = FactOrder
    with container.session() as session:
        for r in session.execute(
            select(
                f.integration_id,
                f.order_date,
                func.count().label("orders"),
                aggregates.money_sum(f.gross).label("gross"),
                aggregates.money_sum(f.refunds).label("refunds"),
                aggregates.money_sum(f.net).label("net"),
            )
            .where(f.account_id == account_id)
            .group_by(f.integration_id, f.order_date)
        ):
            session.add(
                DailyShopifyMetrics(
                    account_id=account_id,
                    integration_id=r.integration_id,
                    date=r.order_date,
                    currency="EUR",
                    orders=r.orders,
                    cancelled_orders=0,
                    gross=r.gross,
                    discounts=Decimal(0),
                    refunds=r.refunds,
                    revenue_net=r.net,
                    updated_at=NOW,
                )
            )
        session.commit()


def test_aggregates_reconcile_exactly_with_the_fact_rows(container: Container, fake: FakeMeta) -> None:
    account_id = _account(container)
    integration_id = _connect(container)
    with container.session() as session:
        shop = svc.connect(
            session, _meta(container).tools, account_id=account_id, type="shopify", external_id="a.myshopify.com"
        )
        shop_id = shop.id
        orders = [
            _order(account_id, shop_id, 1, TODAY, "100.10"),
            _order(account_id, shop_id, 2, TODAY, "0.05", refunds="19.95"),
            _order(account_id, shop_id, 3, TODAY - dt.timedelta(days=2), "33.33"),
            _order(account_id, shop_id, 4, TODAY - dt.timedelta(days=20), "1000.01"),
        ]
        session.add_all(orders)
        session.commit()
    shopify_rollup(container, account_id)
    assert _meta(container).run(integration_id, "meta_fresh").status == "succeeded"

    with container.session() as session:
        summary = {
            r.date: r for r in session.scalars(select(DailySummary).where(DailySummary.account_id == account_id))
        }
        assert len(summary) == 28
        for day, row in summary.items():
            day_orders = [o for o in orders if o.order_date == day]
            spend = sum(
                (Decimal(day_metrics(ad, day)["spend"]) for ad, d in _expected_keys(fake, day, day) if d == day),
                Decimal(0),
            )
            value = sum(
                (Decimal(day_metrics(ad, day)["purchase_value"]) for ad, _d in _expected_keys(fake, day, day)),
                Decimal(0),
            )
            assert row.revenue_net == sum((o.net for o in day_orders), Decimal(0)), day
            assert row.refunds == sum((o.refunds for o in day_orders), Decimal(0)), day
            assert row.orders == len(day_orders)
            assert row.spend == spend and row.purchase_value == value, day
            assert row.mer == (row.revenue_net / spend).quantize(Decimal("0.000001"))
            assert row.currency == "EUR"
        fact_spend = session.scalar(select(aggregates.money_sum(FactMetaDaily.spend)))
        meta_spend = session.scalar(select(aggregates.money_sum(DailyMetaMetrics.spend)))
        assert Decimal(fact_spend) == Decimal(meta_spend) == sum((r.spend for r in summary.values()), Decimal(0))
        kpis = {k.period: k for k in session.scalars(select(LatestKpis))}
        last_30 = kpis["last_30d"]
        assert last_30.revenue_net == Decimal("1133.49") and last_30.orders == 4 and last_30.refunds == Decimal("19.95")
        assert last_30.spend == Decimal(fact_spend)
        assert last_30.aov == Decimal("283.3725")
        assert kpis["today"].revenue_net == Decimal("100.15") and kpis["today"].orders == 2
        assert last_30.roas == (last_30.purchase_value / last_30.spend).quantize(Decimal("0.000001"))
        before = sorted((r.date, r.revenue_net, r.spend, r.mer) for r in summary.values())

    with container.session() as session:  # a rebuild is idempotent
        aggregates.rebuild_after_meta(session, account_id, TODAY - dt.timedelta(days=27), TODAY, NOW)
        session.commit()
        again = sorted(
            (r.date, r.revenue_net, r.spend, r.mer)
            for r in session.scalars(select(DailySummary).where(DailySummary.account_id == account_id))
        )
        assert again == before


def test_manual_sync_runs_the_named_type_with_a_longer_backfill(container: Container, fake: FakeMeta) -> None:
    from multibuzz.commerce.meta.jobs import run_manual

    _account(container)
    integration_id = _connect(container)
    result = run_manual(container, integration_id, "meta_7d_fill", days=40)
    assert result["results"][0]["status"] == "succeeded"
    assert len(_facts(container)) == 40 * 4
    with container.session() as session:
        run = session.scalars(select(SyncRun)).one()
        assert (run.trigger, run.detail["mode"], run.detail["since"]) == ("manual", "async", "2026-02-04")


def test_usage_headers_are_read_and_a_busy_account_slows_down(fake: FakeMeta) -> None:
    import httpx
    from multibuzz.commerce.meta.graph import GraphClient, usage_percent

    busy = httpx.Headers(
        {**FakeMeta.usage_header(95, regain_minutes=2), "X-Ad-Account-Usage": '{"acc_id_util_pct": 40}'}
    )
    assert usage_percent(busy) == (95.0, 120.0)
    assert usage_percent(httpx.Headers({"X-Ad-Account-Usage": "not json"})) == (0.0, 0.0)

    fake.usage_pct = 95  # every answer now says the ad account is at 95 % of its limit
    sleeps = Sleeps()
    with GraphClient(f"{fake.url}/v21.0", TOKEN, sleep=sleeps, backoff=None) as client:
        assert client.get(ACT, {"fields": "currency"})["currency"] == "EUR"
    assert len(sleeps) == 1 and 1 <= sleeps[0] <= 2  # paused before the next call instead of being refused
    fake.usage_pct = 5
    sleeps.clear()
    with GraphClient(f"{fake.url}/v21.0", TOKEN, sleep=sleeps) as client:
        client.get(ACT, {"fields": "currency"})
    assert sleeps == []


def test_a_running_sync_is_not_doubled_and_a_dead_one_is_closed_readably(container: Container, fake: FakeMeta) -> None:
    _account(container)
    integration_id = _connect(container)
    meta = _meta(container)
    with container.session() as session:  # a run that started and never finished (the process was killed)
        stuck = svc.start_run(
            session, meta.tools, svc.get_integration(session, "acc_meta", integration_id), "meta_fresh", "schedule"
        )
        session.commit()
        stuck_id = stuck.id
    skipped = meta.run(integration_id, "meta_fresh")
    assert (skipped.status, skipped.run_id) == ("skipped", stuck_id)
    assert isinstance(container.clock, FixedClock)
    container.clock.advance(minutes=16)
    done = meta.run(integration_id, "meta_fresh")
    assert done.status == "succeeded"
    with container.session() as session:
        dead = session.get_one(SyncRun, stuck_id)
        assert dead.status == "failed" and dead.error_message is not None
        assert dead.error_message.startswith("the sync stopped without finishing")
