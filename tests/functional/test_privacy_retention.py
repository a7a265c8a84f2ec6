"""Raw-data retention (issue #15): exactly the rows past each window go, in bounded batches; what the
reports read (conversions, credits) stays, and nothing a pending conversion may still need is deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from multibuzz.bootstrap import Container
from multibuzz.db.models import Conversion, Event, Visitor, VisitSession
from multibuzz.db.models.influencer import Click
from multibuzz.jobs.retention import apply_retention
from sqlalchemy import select

from tests.conftest import Api, Tenant
from tests.functional.test_influencer_api import setup_influencer
from tests.functional.test_privacy import drain

NOW = datetime.now(UTC)


def at(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def hits(api: Api, tenant: Tenant, visitor: str, days: float, n: int) -> None:
    headers = api.auth(tenant.api_key)
    session = {
        "visitor_id": visitor,
        "url": "https://shop.example/?utm_source=news&utm_medium=email",
        "started_at": at(days),
    }
    assert api.client.post("/api/v1/sessions", json={"session": session}, headers=headers).status_code == 202
    events = [
        {
            "event_type": "page_view",
            "visitor_id": visitor,
            "timestamp": at(days - i / 1440),
            "url": "https://shop.example/",
        }
        for i in range(n)
    ]
    assert api.client.post("/api/v1/events", json={"events": events}, headers=headers).status_code == 202


def seed_clicks(container: Container, account_id: str, link: dict[str, Any], ages: list[float]) -> None:
    with container.session() as db:
        for i, days in enumerate(ages):
            db.add(
                Click(
                    id=f"clk_seed{i}",
                    account_id=account_id,
                    link_id=link["id"],
                    campaign_id=link["campaign_id"],
                    influencer_id=link["influencer_id"],
                    code=link["code"],
                    occurred_at=NOW - timedelta(days=days),
                    visitor_hash=f"{i:064x}",
                    received_at=NOW,
                )
            )
        db.commit()


def rows(container: Container, account_id: str) -> dict[str, set[str]]:
    with container.session() as db:
        return {
            "events": set(db.scalars(select(Event.id).where(Event.account_id == account_id))),
            "sessions": set(db.scalars(select(VisitSession.id).where(VisitSession.account_id == account_id))),
            "visitors": set(db.scalars(select(Visitor.visitor_key).where(Visitor.account_id == account_id))),
            "clicks": set(db.scalars(select(Click.id).where(Click.account_id == account_id))),
        }


def older_than(container: Container, account_id: str, days: int) -> dict[str, set[str]]:
    cutoff = NOW - timedelta(days=days)
    with container.session() as db:
        return {
            "events": set(
                db.scalars(select(Event.id).where(Event.account_id == account_id, Event.occurred_at < cutoff))
            ),
            "sessions": set(
                db.scalars(
                    select(VisitSession.id).where(
                        VisitSession.account_id == account_id, VisitSession.last_activity_at < cutoff
                    )
                )
            ),
        }


def test_retention_deletes_exactly_the_rows_past_the_windows(api: Api, container: Container) -> None:
    s = setup_influencer(api, "Retention")
    tenant = s.tenant
    changed = api.client.patch(
        f"/api/v1/accounts/{tenant.account_id}/settings",
        json={"raw_event_retention_days": 30, "click_retention_days": 10},
        headers=s.headers,
    )
    assert changed.status_code == 200, changed.text
    hits(api, tenant, "old-visitor", 45, 7)
    hits(api, tenant, "kept-visitor", 20, 3)
    hits(api, tenant, "kept-visitor", 40, 4)  # the same visitor's older visit goes, the visitor stays
    drain(container)
    conversion = api.client.post(
        "/api/v1/conversions",
        json={"conversion_type": "purchase", "visitor_id": "kept-visitor", "revenue": "80", "currency": "USD"},
        headers=api.auth(tenant.api_key),
    )
    assert conversion.status_code == 202
    old_conversion = api.client.post(
        "/api/v1/conversions",
        json={"conversion_type": "purchase", "visitor_id": "old-visitor", "revenue": "20", "currency": "USD"},
        headers=api.auth(tenant.api_key),
    )
    drain(container)
    seed_clicks(container, tenant.account_id, s.link, [15, 11, 9, 1])
    report_before = api.client.get("/api/v1/attributions", headers=s.headers).json()
    before = rows(container, tenant.account_id)
    expired = older_than(container, tenant.account_id, 30)
    assert len(expired["events"]) == 11 and len(expired["sessions"]) == 2

    object.__setattr__(container.settings, "retention_batch_size", 3)  # many batches, bounded statements
    result = apply_retention(container, {})

    after = rows(container, tenant.account_id)
    assert after["events"] == before["events"] - expired["events"]
    assert after["sessions"] == before["sessions"] - expired["sessions"]
    assert after["visitors"] == {"kept-visitor"}
    assert after["clicks"] == {"clk_seed2", "clk_seed3"}
    assert result["events_deleted"] == 11 and result["sessions_deleted"] == 2 and result["visitors_deleted"] == 1
    assert result["clicks_deleted"] == 2 and result["statements"] > 8
    assert api.client.get("/api/v1/attributions", headers=s.headers).json() == report_before
    kept = api.client.get(f"/api/v1/conversions/{old_conversion.json()['conversion']['id']}", headers=s.headers)
    assert kept.json()["conversion"]["revenue"] == "20.00" and kept.json()["conversion"]["visitor_id"] is None
    assert apply_retention(container, {})["statements"] >= 1
    assert rows(container, tenant.account_id) == after, "a second run finds nothing more"


def test_nothing_a_pending_conversion_may_need_is_deleted(api: Api, container: Container) -> None:
    tenant = api.tenant("Pending")
    api.client.patch(
        f"/api/v1/accounts/{tenant.account_id}/settings",
        json={"raw_event_retention_days": 30},
        headers=api.auth(tenant.owner_token),
    )
    hits(api, tenant, "slow-visitor", 45, 2)
    drain(container)
    api.client.post(
        "/api/v1/conversions",
        json={"conversion_type": "purchase", "visitor_id": "slow-visitor", "revenue": "5", "currency": "USD"},
        headers=api.auth(tenant.api_key),
    )  # not drained: pending, its attribution not computed yet
    before = rows(container, tenant.account_id)
    apply_retention(container, {})
    assert rows(container, tenant.account_id) == before
    drain(container)
    with container.session() as db:
        assert db.scalar(select(Conversion.status).where(Conversion.account_id == tenant.account_id)) == "attributed"
    apply_retention(container, {})
    assert rows(container, tenant.account_id)["events"] == set()


def test_retention_never_shrinks_the_reports_of_the_expired_range(api: Api, container: Container) -> None:
    """The rollups of expired days keep what they counted: after retention deleted their raw rows, a day
    marked stale again (a late message, the rebuild command) is not rebuilt from what is left."""
    from multibuzz.reports.maintain import rebuild, refresh
    from multibuzz.reports.store import mark_days

    s = setup_influencer(api, "Retention Reports")
    tenant = s.tenant
    changed = api.client.patch(
        f"/api/v1/accounts/{tenant.account_id}/settings", json={"raw_event_retention_days": 30}, headers=s.headers
    )
    assert changed.status_code == 200, changed.text
    hits(api, tenant, "expired-visitor", 45, 5)
    hits(api, tenant, "expired-visitor", 40, 2)
    hits(api, tenant, "recent-visitor", 10, 3)
    drain(container)
    refresh(container.session_factory, container.clock.now(), [tenant.account_id])
    first, last = (NOW - timedelta(days=60)).date(), NOW.date()
    expired = {"from": first.isoformat(), "to": (NOW - timedelta(days=35)).date().isoformat()}

    def overview(params: dict[str, str]) -> dict[str, Any]:
        response = api.client.get("/api/v1/stats/overview", params=params, headers=s.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    before, whole = overview(expired), overview({"from": first.isoformat(), "to": last.isoformat()})
    assert (before["current"]["sessions"], sum(before["current"]["events"].values())) == (2, 7)
    result = apply_retention(container, {})
    assert result["events_deleted"] == 7 and result["sessions_deleted"] == 2
    with container.session() as session:  # a late message touches the expired days
        mark_days(session, tenant.account_id, [(NOW - timedelta(days=d)).date() for d in (45, 40)])
        session.commit()
    assert refresh(container.session_factory, container.clock.now(), [tenant.account_id]) == 2
    rebuild(container.session_factory, container.clock.now(), tenant.account_id, first, last)  # the command
    assert overview(expired) == before
    assert overview({"from": first.isoformat(), "to": last.isoformat()}) == whole
