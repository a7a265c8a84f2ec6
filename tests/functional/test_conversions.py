"""Conversions through real HTTP and the real attribution consumer (sessions seeded directly).

The full-journey test that also sends the sessions over HTTP lives in test_journey_e2e.py.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from multibuzz.bootstrap import Container
from multibuzz.consumers.hooks import identity_linked
from multibuzz.db.models import Conversion, Event, Identity, Visitor, VisitSession

from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import Api, Tenant


@pytest.fixture(autouse=True)
def _no_lookup_grace(container: Container) -> None:
    # Tests seed rows before they post, so the grace period for queued hits is not needed.
    object.__setattr__(container.settings, "conversion_lookup_grace_seconds", 0.0)


def drain(container: Container) -> int:
    handler = load_handler("attribution")
    total = 0
    while (report := deliver_once(container.local_queue, "ingest", handler, batch_size=10)).received:
        total += report.received
    return total


def seed_visitor(
    container: Container,
    account_id: str,
    key: str,
    sessions: list[tuple[str, float]],
    *,
    bot: bool = False,
    identity: str | None = None,
) -> list[str]:
    """Sessions as (channel, days before now); returns their ids in order."""
    now = container.clock.now()
    ids = []
    with container.session() as session:
        visitor = Visitor(
            id=container.ids.new("vis"),
            account_id=account_id,
            visitor_key=key,
            identity_id=identity,
            first_seen_at=now,
            last_seen_at=now,
        )
        session.add(visitor)
        session.flush()
        for channel, days_ago in sessions:
            started = now - timedelta(days=days_ago)
            sid = container.ids.new("ses")
            ids.append(sid)
            session.add(
                VisitSession(
                    id=sid,
                    account_id=account_id,
                    visitor_id=visitor.id,
                    started_at=started,
                    last_activity_at=started,
                    channel=channel,
                    utm_source=f"{channel}-src",
                    utm_campaign=f"{channel}-camp",
                    page_view_count=1,
                    is_bot=bot,
                    created_at=started,
                )
            )
        session.commit()
    return ids


def post(api: Api, tenant: Tenant, body: dict[str, Any], **headers: str) -> Any:
    return api.client.post("/api/v1/conversions", json=body, headers={**api.auth(tenant.api_key), **headers})


def credited(credits: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(channel, revenue_credit) of the touches that earned something (every touch has a row)."""
    return [(c["channel"], c["revenue_credit"]) for c in credits if Decimal(c["credit"]) != 0]


def attribution(api: Api, tenant: Tenant, conversion_id: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/conversions/{conversion_id}", headers=api.auth(tenant.api_key))
    assert response.status_code == 200, response.text
    return response.json()


def test_three_touches_then_a_purchase_of_99(api: Api, container: Container) -> None:
    tenant = api.tenant("Store")
    seed_visitor(container, tenant.account_id, "v" * 64, [("organic_search", 10), ("paid_social", 5), ("email", 1)])
    created = post(api, tenant, {"conversion_type": "purchase", "visitor_id": "v" * 64, "revenue": "99.00"})
    assert created.status_code == 202, created.text
    body = created.json()
    assert body["conversion"]["id"].startswith("conv_")
    assert body["conversion"]["status"] == "pending"
    assert body["attribution"] is None
    assert drain(container) == 1

    result = attribution(api, tenant, body["conversion"]["id"])
    assert result["conversion"]["status"] == "attributed"
    models = result["attribution"]["models"]
    assert result["attribution"]["sessions_analyzed"] == 3
    assert result["attribution"]["lookback_days"] == 30
    assert credited(models["first_touch"]) == [("organic_search", "99.00")]
    assert credited(models["last_touch"]) == [("email", "99.00")]
    assert [c["channel"] for c in models["first_touch"]] == ["organic_search", "paid_social", "email"]
    assert [(c["channel"], c["revenue_credit"]) for c in models["linear"]] == [
        ("organic_search", "33.00"),
        ("paid_social", "33.00"),
        ("email", "33.00"),
    ]
    assert set(models) == {
        "first_touch",
        "last_touch",
        "last_non_direct",
        "linear",
        "time_decay",
        "position_based",
        "w_shaped",
        "participation",
        "markov",
        "shapley",
    }
    for model, credits in models.items():
        total = sum(Decimal(c["revenue_credit"]) for c in credits)
        assert total == (Decimal("297.00") if model == "participation" else Decimal("99.00")), model
    assert result["attribution"]["notes"]["markov"]["fallback"] == "linear"


def test_validation_messages_name_the_field(api: Api) -> None:
    tenant = api.tenant("Strict")
    cases = [
        ({"visitor_id": "x"}, "conversion_type", "conversion_type is required"),
        ({"conversion_type": "purchase"}, "visitor_id", "event_id or visitor_id is required"),
        ({"conversion_type": "purchase", "visitor_id": "x", "revenue": "lots"}, "revenue", "Revenue must be numeric"),
        ({"conversion_type": "purchase", "visitor_id": "nobody"}, "visitor_id", "Visitor not found"),
        ({"conversion_type": "purchase", "event_id": "evt_missing"}, "event_id", "Event not found"),
        ({"conversion_type": "purchase", "user_id": "ghost"}, "user_id", "User not found"),
        (
            {"conversion_type": "purchase", "visitor_id": "x", "currency": "dollars"},
            "currency",
            "currency must be an active ISO 4217 code (EUR, USD, …)",
        ),
        (
            {"conversion_type": "purchase", "visitor_id": "x", "currency": "ZZZ"},
            "currency",
            "currency must be an active ISO 4217 code (EUR, USD, …)",
        ),
        ({"conversion_type": "purchase", "visitor_id": "x", "revenue": -5}, "revenue", "revenue must not be negative"),
        (
            {"conversion_type": "purchase", "visitor_id": "x", "timestamp": "0001-01-01T00:00:00Z"},
            "timestamp",
            "timestamp is before the year 2000",
        ),
    ]
    for body, field, message in cases:
        response = post(api, tenant, body)
        assert response.status_code == 422, (body, response.text)
        errors = {e["field"]: e["message"] for e in response.json()["errors"]}
        assert errors.get(field) == message, (body, errors)
    malformed = api.client.post("/api/v1/conversions", content=b"{", headers=api.auth(tenant.api_key))
    assert malformed.status_code == 400
    assert api.client.post("/api/v1/conversions", json={}, headers=api.auth("sk_live_" + "n" * 40)).status_code == 401


def test_wrapped_form_event_id_and_idempotent_retries(api: Api, container: Container) -> None:
    tenant = api.tenant("Retry")
    seed_visitor(container, tenant.account_id, "w1", [("email", 2)])
    with container.session() as session:
        visitor = session.query(Visitor).filter_by(visitor_key="w1").one()
        session.add(
            Event(
                id="evt_purchase1",
                account_id=tenant.account_id,
                visitor_id=visitor.id,
                event_type="purchase",
                occurred_at=container.clock.now(),
                received_at=container.clock.now(),
                properties={},
                client_event_id="order-1-evt",
            )
        )
        session.commit()
    body = {
        "conversion": {
            "conversion_type": "purchase",
            "event_id": "order-1-evt",
            "revenue": 10,
            "properties": {"order_id": "A-1"},
        }
    }
    first = post(api, tenant, body)
    again = post(api, tenant, body)
    assert first.status_code == 202
    assert again.json()["conversion"]["id"] == first.json()["conversion"]["id"]
    assert again.json()["duplicate"] is True
    keyed = post(api, tenant, {"conversion_type": "signup", "visitor_id": "w1"}, **{"Idempotency-Key": "k-1"})
    keyed_again = post(api, tenant, {"conversion_type": "signup", "visitor_id": "w1"}, **{"Idempotency-Key": "k-1"})
    assert keyed.json()["conversion"]["id"] == keyed_again.json()["conversion"]["id"]
    assert drain(container) == 2
    # Redelivering the attribution message three more times changes nothing.
    conversion_id = first.json()["conversion"]["id"]
    with container.session() as session:
        conversion = session.get(Conversion, conversion_id)
        assert conversion is not None
        assert conversion.event_id == "evt_purchase1"
    from multibuzz.adapters.queue.base import OutgoingMessage
    from multibuzz.consumers.envelope import Envelope

    envelope = Envelope(
        kind="conversion.attribute",
        id=f"conv:{conversion_id}",
        account_id=tenant.account_id,
        payload={"conversion_id": conversion_id},
    ).dumps()
    container.local_queue.send_batch(
        "ingest", [OutgoingMessage(envelope, group_id="g", dedup_id=f"redelivery-{i}") for i in range(3)]
    )
    drain(container)
    result = attribution(api, tenant, conversion_id)
    assert result["versions"] == [1]
    assert credited(result["attribution"]["models"]["last_touch"]) == [("email", "10.00")]
    # A retry after attribution returns the attributed conversion at once.
    done = post(api, tenant, body)
    assert done.status_code == 201
    assert credited(done.json()["attribution"]["models"]["first_touch"]) == [("email", "10.00")]


def test_no_touch_in_window_is_direct_and_bots_are_not_touches(api: Api, container: Container) -> None:
    tenant = api.tenant("Lonely")
    seed_visitor(container, tenant.account_id, "old", [("paid_search", 45)])
    seed_visitor(container, tenant.account_id, "bot", [("referral", 1)], bot=True)
    ids = [
        post(api, tenant, {"conversion_type": "purchase", "visitor_id": v, "revenue": "5"}).json()
        for v in ("old", "bot")
    ]
    drain(container)
    for created in ids:
        result = attribution(api, tenant, created["conversion"]["id"])["attribution"]
        assert result["sessions_analyzed"] == 0
        for credits in result["models"].values():
            assert [(c["channel"], c["credit"], c["revenue_credit"], c["session_id"]) for c in credits] == [
                ("direct", "1", "5.00", None)
            ]
    # A per-request lookback reaches the old paid search session.
    wide = post(api, tenant, {"conversion_type": "purchase", "visitor_id": "old", "revenue": "5", "lookback_days": 60})
    drain(container)
    result = attribution(api, tenant, wide.json()["conversion"]["id"])["attribution"]
    assert result["sessions_analyzed"] == 1
    assert credited(result["models"]["first_touch"]) == [("paid_search", "5.00")]


def test_inherit_acquisition_credits_recurring_revenue_to_the_acquiring_channel(api: Api, container: Container) -> None:
    tenant = api.tenant("Subs")
    seed_visitor(container, tenant.account_id, "sub", [("paid_social", 3)])
    acquired = post(
        api, tenant, {"conversion_type": "subscription", "visitor_id": "sub", "revenue": "30", "is_acquisition": True}
    )
    drain(container)
    seed_visitor(container, tenant.account_id, "sub2", [])  # another visitor, untouched
    # Later the same visitor comes back by email and renews: the renewal inherits the acquisition.
    with container.session() as session:
        visitor = session.query(Visitor).filter_by(visitor_key="sub").one()
        now = container.clock.now()
        session.add(
            VisitSession(
                id="ses_email_back",
                account_id=tenant.account_id,
                visitor_id=visitor.id,
                started_at=now - timedelta(hours=1),
                last_activity_at=now,
                channel="email",
                page_view_count=1,
                is_bot=False,
                created_at=now,
            )
        )
        session.commit()
    renewal = post(
        api, tenant, {"conversion_type": "renewal", "visitor_id": "sub", "revenue": "30", "inherit_acquisition": True}
    )
    drain(container)
    result = attribution(api, tenant, renewal.json()["conversion"]["id"])["attribution"]
    assert result["inherited_from"] == acquired.json()["conversion"]["id"]
    assert credited(result["models"]["last_touch"]) == [("paid_social", "30.00")]
    recurring = api.client.get("/api/v1/analytics/recurring?model=last_touch", headers=api.auth(tenant.owner_token))
    assert recurring.status_code == 200
    rows = {r["channel"]: r for r in recurring.json()["channels"]}
    assert rows["paid_social"]["acquisition_revenue"] == "30.00"
    assert rows["paid_social"]["mrr"] == "30.00"
    assert rows["paid_social"]["arr"] == "360.00"


def test_identify_reattributes_with_the_merged_journey_and_keeps_history(api: Api, container: Container) -> None:
    tenant = api.tenant("Devices")
    with container.session() as session:
        identity = Identity(
            id="idt_1",
            account_id=tenant.account_id,
            user_id="u-1",
            traits={},
            created_at=container.clock.now(),
            updated_at=container.clock.now(),
        )
        session.add(identity)
        session.commit()
    seed_visitor(container, tenant.account_id, "phone", [("email", 1)], identity="idt_1")
    laptop = seed_visitor(container, tenant.account_id, "laptop", [("organic_search", 6)])
    created = post(api, tenant, {"conversion_type": "purchase", "user_id": "u-1", "revenue": "20"})
    drain(container)
    conversion_id = created.json()["conversion"]["id"]
    before = attribution(api, tenant, conversion_id)["attribution"]
    assert [c["channel"] for c in before["models"]["linear"]] == ["email"]

    with container.session() as session:  # identify(u-1, laptop) as the tracking consumer applies it
        session.query(Visitor).filter_by(visitor_key="laptop").update({"identity_id": "idt_1"})
        identity_linked(session, container, tenant.account_id, "idt_1")
        session.commit()
    after = attribution(api, tenant, conversion_id)
    assert after["versions"] == [1, 2]
    linear = after["attribution"]["models"]["linear"]
    assert [(c["channel"], c["revenue_credit"]) for c in linear] == [("organic_search", "10.00"), ("email", "10.00")]
    assert linear[0]["session_id"] == laptop[0]
    history = api.client.get(f"/api/v1/conversions/{conversion_id}?version=1", headers=api.auth(tenant.api_key))
    assert [c["channel"] for c in history.json()["attribution"]["models"]["linear"]] == ["email"]


def test_refit_makes_data_driven_models_use_the_fit(api: Api, container: Container) -> None:
    tenant = api.tenant("Fits")
    for i in range(6):
        seed_visitor(container, tenant.account_id, f"c{i}", [("organic_search", 5), ("email", 1)])
        post(api, tenant, {"conversion_type": "purchase", "visitor_id": f"c{i}", "revenue": "1"})
    for i in range(6):
        seed_visitor(container, tenant.account_id, f"n{i}", [("display", 3)])
    drain(container)
    refit = api.client.post("/api/v1/models/refit", json={}, headers=api.auth(tenant.owner_token))
    assert refit.status_code == 200, refit.text
    fits = {f["model"]: f for f in refit.json()["fits"]}
    assert fits["markov"]["version"] == 1
    assert fits["markov"]["conversions"] == 6
    assert fits["markov"]["channel_weights"].get("display", 0) == 0
    assert set(fits["shapley"]["channel_weights"]) >= {"organic_search", "email"}
    seed_visitor(container, tenant.account_id, "late", [("display", 2), ("email", 1)])
    created = post(api, tenant, {"conversion_type": "purchase", "visitor_id": "late", "revenue": "10"})
    drain(container)
    result = attribution(api, tenant, created.json()["conversion"]["id"])["attribution"]
    assert "fallback" not in result["notes"].get("markov", {})
    assert result["notes"]["markov"]["fit_version"] == 1
    markov = {c["channel"]: c["revenue_credit"] for c in result["models"]["markov"]}
    assert markov == {"display": "0.00", "email": "10.00"}
    listed = api.client.get("/api/v1/models", headers=api.auth(tenant.owner_token)).json()
    assert {f["model"] for f in listed["fits"]} == {"markov", "shapley"}


def test_attribution_report_and_list_are_tenant_scoped(api: Api, container: Container) -> None:
    a = api.tenant("Report A")
    b = api.tenant("Report B")
    seed_visitor(container, a.account_id, "a1", [("email", 2), ("paid_search", 1)])
    seed_visitor(container, b.account_id, "b1", [("display", 1)])
    conv_a = post(
        api, a, {"conversion_type": "purchase", "visitor_id": "a1", "revenue": "100", "properties": {"plan": "pro"}}
    ).json()["conversion"]["id"]
    conv_b = post(api, b, {"conversion_type": "purchase", "visitor_id": "b1", "revenue": "7"}).json()["conversion"][
        "id"
    ]
    drain(container)
    report = api.client.get("/api/v1/attributions?model=linear", headers=api.auth(a.owner_token)).json()
    assert {(r["group"], r["revenue"]) for r in report["models"]["linear"]} == {
        ("email", "50.00"),
        ("paid_search", "50.00"),
    }
    by_source = api.client.get("/api/v1/attributions?group_by=source", headers=api.auth(a.owner_token)).json()
    assert {r["group"] for r in by_source["models"]["first_touch"]} == {"email-src"}
    assert api.client.get("/api/v1/attributions?model=nope", headers=api.auth(a.owner_token)).status_code == 422
    listed = api.client.get("/api/v1/conversions", headers=api.auth(a.owner_token)).json()
    assert [c["id"] for c in listed["data"]] == [conv_a]
    assert listed["data"][0]["properties"] == {"plan": "pro"}
    for token in (a.owner_token, a.api_key):
        assert api.client.get(f"/api/v1/conversions/{conv_b}", headers=api.auth(token)).status_code == 404
    influencer = api.add_member(a, "creator@report-a.test", "influencer", influencer_id="inf_x")
    scoped = api.client.get("/api/v1/conversions", headers=api.auth(influencer)).json()
    assert scoped["data"] == []
    assert api.client.get(f"/api/v1/conversions/{conv_a}", headers=api.auth(influencer)).status_code == 404
    assert api.client.post("/api/v1/models/refit", json={}, headers=api.auth(influencer)).status_code == 403


def test_bounded_wait_returns_the_attribution(api: Api, container: Container) -> None:
    from infra.local.runtime import LocalRuntime

    tenant = api.tenant("Waiting")
    seed_visitor(container, tenant.account_id, "wv", [("sms", 1)])
    runtime = LocalRuntime(container, run_schedules=False)
    runtime.start()
    try:
        response = api.client.post(
            "/api/v1/conversions?wait=8",
            json={"conversion_type": "purchase", "visitor_id": "wv", "revenue": "12.5"},
            headers=api.auth(tenant.api_key),
        )
    finally:
        runtime.stop()
    assert response.status_code == 201, response.text
    assert credited(response.json()["attribution"]["models"]["first_touch"]) == [("sms", "12.50")]
