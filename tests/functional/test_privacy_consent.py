"""Consent at ingestion (issue #15): hits without analytics consent store no IP, user agent or
cross-session identity, and the answer says so; ``require_consent`` makes that the default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from multibuzz.bootstrap import Container
from multibuzz.db.models import Event, Identity, Visitor, VisitSession
from multibuzz.privacy.consent import ANONYMOUS_PREFIX
from multibuzz.services.tracking import _rules_cache
from sqlalchemy import select

from tests.conftest import Api, Tenant
from tests.functional.test_privacy import drain, scan

VISITOR = "consent-visitor-cookie-1"
USER = "consent-user-7"
IP = "203.0.113.41"
UA = "Mozilla/5.0 (ConsentTest) Gecko"


def settings(api: Api, tenant: Tenant, **values: Any) -> None:
    response = api.client.patch(
        f"/api/v1/accounts/{tenant.account_id}/settings", json=values, headers=api.auth(tenant.owner_token)
    )
    assert response.status_code == 200, response.text
    api.container.key_cache.clear()
    _rules_cache.clear()


def event(consent: bool | None, n: int, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_type": "page_view",
        "visitor_id": VISITOR,
        "ip": IP,
        "user_agent": UA,
        "timestamp": (datetime.now(UTC) - timedelta(minutes=10 - n)).isoformat(),
        "properties": {"url": f"https://shop.example/p/{n}"},
        **extra,
    }
    if consent is not None:
        body["consent"] = {"analytics": consent}
    return body


def test_events_without_consent_store_no_identifiers(api: Api, container: Container) -> None:
    tenant = api.tenant("Consent")
    settings(api, tenant, ip_privacy="none")
    response = api.client.post(
        "/api/v1/events",
        json={
            "events": [
                event(False, 0, user_id=USER),
                event(False, 1),
                event(None, 2, visitor_id="consented-1", ip="192.0.2.99"),
            ]
        },
        headers=api.auth(tenant.api_key),
    )
    assert response.status_code == 202, response.text
    assert response.json()["anonymous"] == [0, 1]
    single = api.client.post("/api/v1/events", json=event(False, 3), headers=api.auth(tenant.api_key))
    assert single.json()["anonymous"] == [0]
    session = api.client.post(
        "/api/v1/sessions",
        json={"session": {"visitor_id": VISITOR, "ip": IP, "user_agent": UA, "consent": {"analytics": False}}},
        headers=api.auth(tenant.api_key),
    )
    assert session.status_code == 202 and session.json()["anonymous"] is True
    drain(container)

    assert scan(container, (VISITOR, USER, IP, UA)) == set()
    with container.session() as db:
        keys = set(db.scalars(select(Visitor.visitor_key).where(Visitor.account_id == tenant.account_id)))
        anonymous = {k for k in keys if k.startswith(ANONYMOUS_PREFIX)}
        assert keys - anonymous == {"consented-1"}
        assert len(anonymous) == 1, "one cookieless visitor per sent id and day: its hits make one visit"
        assert db.scalar(select(Identity).where(Identity.account_id == tenant.account_id)) is None
        ips = set(db.scalars(select(VisitSession.ip).where(VisitSession.account_id == tenant.account_id)))
        assert ips == {None, "192.0.2.99"}
        consented = db.scalar(select(VisitSession.ip).join(Visitor).where(Visitor.visitor_key == "consented-1"))
        assert consented == "192.0.2.99", "a hit with no consent field and no require_consent is stored as before"
        assert db.scalar(select(Event.identity_id).where(Event.account_id == tenant.account_id).limit(1)) is None


def test_require_consent_refuses_identifiable_data_without_it(api: Api, container: Container) -> None:
    tenant = api.tenant("Strict consent")
    settings(api, tenant, ip_privacy="none", require_consent=True)
    silent = api.client.post("/api/v1/events", json=event(None, 0), headers=api.auth(tenant.api_key))
    assert silent.json()["anonymous"] == [0]
    agreed = api.client.post(
        "/api/v1/events", json=event(True, 1, visitor_id="agreed-visitor"), headers=api.auth(tenant.api_key)
    )
    assert "anonymous" not in agreed.json()
    refused = api.client.post(
        "/api/v1/identify", json={"user_id": USER, "visitor_id": VISITOR}, headers=api.auth(tenant.api_key)
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "consent.analytics"
    allowed = api.client.post(
        "/api/v1/identify",
        json={"user_id": USER, "visitor_id": "agreed-visitor", "consent": {"analytics": True}},
        headers=api.auth(tenant.api_key),
    )
    assert allowed.status_code == 200, allowed.text
    drain(container)
    assert scan(container, (VISITOR, IP)) == {("sessions", s) for s in _sessions_of(container, "agreed-visitor")}
    bad = api.client.post(
        "/api/v1/events",
        json={"events": [event(None, 2) | {"consent": {"analytics": "yes"}}]},
        headers=api.auth(tenant.api_key),
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "events[0].consent.analytics"


def _sessions_of(container: Container, key: str) -> list[str]:
    with container.session() as db:
        return list(db.scalars(select(VisitSession.id).join(Visitor).where(Visitor.visitor_key == key)))
