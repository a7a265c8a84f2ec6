"""Conversions: the limits of /events, a visible ``failed`` end, both answer shapes, the client's visitor id.

Real gateway, real attribution consumer (drained from the local queue), real database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from multibuzz.adapters.queue.base import OutgoingMessage
from multibuzz.bootstrap import Container, use_container
from multibuzz.consumers.envelope import Envelope
from multibuzz.db.models import AttributionCredit, Conversion
from multibuzz.services import conversions as service
from sqlalchemy import func, select

from tests.conftest import Api, Tenant, make_settings
from tests.functional.test_conversions import drain, post, seed_visitor

VISITOR = "client-visitor-42"


@pytest.fixture(autouse=True)
def _no_lookup_grace(container: Container) -> None:
    object.__setattr__(container.settings, "conversion_lookup_grace_seconds", 0.0)


def _stored_pending(container: Container, account_id: str, visitor_key: str, occurred_at: datetime) -> str:
    """A pending conversion as the API stored them before timestamps were bounded, queued for attribution."""
    with container.session() as db:
        from multibuzz.db.models import Visitor

        visitor = db.scalar(select(Visitor).where(Visitor.visitor_key == visitor_key))
        assert visitor is not None
        now = container.clock.now()
        conversion = Conversion(
            id=container.ids.new("conv"),
            account_id=account_id,
            conversion_type="purchase",
            visitor_id=visitor.id,
            identity_id=None,
            event_id=None,
            occurred_at=occurred_at,
            received_at=now,
            revenue=Decimal("10.00"),
            currency="EUR",
            properties={"_group": f"{account_id}:{visitor_key}"},
            is_acquisition=False,
            inherit_acquisition=False,
            status="pending",
            attribution_version=0,
            sessions_analyzed=0,
            attribution_meta={},
        )
        db.add(conversion)
        db.commit()
        service.enqueue(container, conversion)
        return conversion.id


def _get(api: Api, tenant: Tenant, conversion_id: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/conversions/{conversion_id}", headers=api.auth(tenant.owner_token))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_conversion_dated_year_1_is_refused_at_the_door(api: Api, container: Container) -> None:
    tenant = api.tenant("Year one")
    seed_visitor(container, tenant.account_id, VISITOR, [("email", 1)])
    for when in ("0001-01-01T00:00:00Z", -62135596800, "1999-12-31T23:59:59Z"):
        response = post(api, tenant, {"conversion_type": "purchase", "visitor_id": VISITOR, "timestamp": when})
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["timestamp"]
    assert container.local_queue.depth("ingest") == 0


def test_a_conversion_that_cannot_be_attributed_ends_failed_with_a_reason(api: Api, container: Container) -> None:
    tenant = api.tenant("Cannot attribute")
    seed_visitor(container, tenant.account_id, VISITOR, [("email", 1)])
    year_one = _stored_pending(container, tenant.account_id, VISITOR, datetime(1, 1, 1, tzinfo=UTC))
    good = post(api, tenant, {"conversion_type": "purchase", "visitor_id": VISITOR, "revenue": "5"}).json()["id"]

    assert drain(container) == 2
    assert container.local_queue.depth("ingest") == 0
    assert container.local_queue.dead_letters("ingest") == [], "a data error is a failed conversion, not a DLQ entry"

    failed = _get(api, tenant, year_one)
    assert failed["status"] == "failed" and failed["conversion"]["status"] == "failed"
    assert "OverflowError" in failed["conversion"]["failure_reason"]
    assert failed["failure_reason"] == failed["conversion"]["failure_reason"]
    assert failed["attribution"] is None
    assert _get(api, tenant, good)["status"] == "attributed", "one bad conversion does not hold up the others"
    listed = api.client.get("/api/v1/conversions?status=failed", headers=api.auth(tenant.owner_token)).json()
    assert [c["id"] for c in listed["data"]] == [year_one]

    # Redelivery (a new message for the same conversion) changes nothing.
    envelope = Envelope(
        kind=service.KIND, id=f"conv:{year_one}", account_id=tenant.account_id, payload={"conversion_id": year_one}
    )
    container.local_queue.send_batch(
        "ingest", [OutgoingMessage(envelope.dumps(), group_id=f"{tenant.account_id}:{VISITOR}", dedup_id="again")]
    )
    assert drain(container) == 1
    again = _get(api, tenant, year_one)
    assert (
        again["status"] == "failed" and again["conversion"]["failure_reason"] == failed["conversion"]["failure_reason"]
    )
    with container.session() as db:
        credits = db.scalar(
            select(func.count()).select_from(AttributionCredit).where(AttributionCredit.conversion_id == year_one)
        )
    assert credits == 0


def test_conversions_share_the_per_key_rate_limit_of_events(
    api: Api, container: Container, tmp_path: Path, database_url: str
) -> None:
    tenant = api.tenant("Limited conversions")
    seed_visitor(container, tenant.account_id, VISITOR, [("email", 1)])
    limited = Container(
        make_settings(
            tmp_path / "limited", database_url, api_key_rate_limit_per_minute=3, conversion_lookup_grace_seconds=0
        ),
        engine=container.engine,
    )
    use_container(limited)
    try:
        event = {"events": [{"event_type": "page_view", "visitor_id": VISITOR}]}
        first = api.client.post("/api/v1/events", json=event, headers=api.auth(tenant.api_key))
        codes = [first.status_code] + [
            post(api, tenant, {"conversion_type": "purchase", "visitor_id": VISITOR}).status_code for _ in range(3)
        ]
    finally:
        use_container(container)
        limited.local_queue.close()
    assert codes == [202, 202, 202, 429]


def test_both_answer_shapes_and_the_clients_visitor_id(api: Api, container: Container) -> None:
    tenant = api.tenant("Shapes")
    seed_visitor(container, tenant.account_id, VISITOR, [("email", 1)])
    created = post(
        api,
        tenant,
        {"conversion_type": "purchase", "visitor_id": VISITOR, "revenue": "42.5", "currency": "eur"},
    )
    assert created.status_code == 202, created.text
    body = created.json()
    # seed-004's flat shape ...
    assert body["id"].startswith("conv_")
    assert body["visitor_id"] == VISITOR
    assert body["conversion_type"] == "purchase"
    assert body["revenue"] == "42.50" and body["currency"] == "EUR"
    assert datetime.fromisoformat(body["converted_at"])
    assert body["attribution"] is None and body["status"] == "pending"
    # ... and the wrapped one, with the same visitor id (the client's, never our internal vis_ id)
    assert body["conversion"]["id"] == body["id"]
    assert body["conversion"]["visitor_id"] == VISITOR
    assert body["conversion"]["occurred_at"] == body["converted_at"]

    drain(container)
    got = _get(api, tenant, body["id"])
    assert got["visitor_id"] == VISITOR == got["conversion"]["visitor_id"]
    assert got["attribution"] is not None and got["attribution"]["models"]["last_touch"]

    with container.session() as db:
        internal = db.scalar(select(Conversion.visitor_id).where(Conversion.id == body["id"]))
    assert internal is not None and internal != VISITOR
    for visitor in (VISITOR, internal):  # the client's id, and the internal one older answers showed
        listed = api.client.get(
            "/api/v1/conversions", params={"visitor_id": visitor}, headers=api.auth(tenant.owner_token)
        )
        assert listed.status_code == 200
        assert [(c["id"], c["visitor_id"]) for c in listed.json()["data"]] == [(body["id"], VISITOR)]

    replay = post(api, tenant, {"conversion_type": "purchase", "visitor_id": VISITOR}, **{"Idempotency-Key": "k1"})
    assert replay.json()["visitor_id"] == VISITOR


def test_wait_is_bounded_at_10_seconds(api: Api, container: Container) -> None:
    tenant = api.tenant("Wait bound")
    seed_visitor(container, tenant.account_id, VISITOR, [("email", 1)])
    body = {"conversion_type": "purchase", "visitor_id": VISITOR}
    too_long = api.client.post("/api/v1/conversions?wait=30", json=body, headers=api.auth(tenant.api_key))
    assert too_long.status_code == 422
    assert [e["field"] for e in too_long.json()["errors"]] == ["wait"]
    assert container.local_queue.depth("ingest") == 0
    with container.session() as db:
        assert db.scalar(select(func.count()).select_from(Conversion)) == 0


def test_one_visitor_id_in_every_public_answer(api: Api, container: Container) -> None:
    """The client's visitor id is the only one any answer shows: never our internal ``vis_…`` id."""
    tenant = api.tenant("One id")
    key = api.auth(tenant.api_key)
    answers = [
        api.client.post("/api/v1/sessions", json={"session": {"visitor_id": VISITOR, "url": "https://s.example/"}},
                        headers=key),
        api.client.post("/api/v1/events", json={"events": [{"event_type": "page_view", "visitor_id": VISITOR}]},
                        headers=key),
        api.client.post("/api/v1/events", json={"action": "purchase", "visitor_id": VISITOR, "value": 5}, headers=key),
        api.client.post("/api/v1/event/signup", json={"visitor_id": VISITOR, "value": 1}, headers=key),
        api.client.post("/api/v1/identify", json={"user_id": "u-1", "visitor_id": VISITOR}, headers=key),
    ]  # fmt: skip
    drain(container)
    answers.append(post(api, tenant, {"conversion_type": "purchase", "visitor_id": VISITOR, "revenue": "9"}))
    drain(container)
    owner = api.auth(tenant.owner_token)
    conversion_id = answers[-1].json()["id"]
    answers += [
        api.client.get(f"/api/v1/conversions/{conversion_id}", headers=owner),
        api.client.get("/api/v1/conversions", headers=owner),
        api.client.get(f"/api/v1/visitors/{VISITOR}", headers=owner),
        api.client.get("/api/v1/events", headers=owner),
        api.client.get("/api/v1/attributions", params={"visitor_id": VISITOR}, headers=owner),
    ]
    for answer in answers:
        assert answer.status_code < 300, (answer.request.url, answer.text)
        assert "vis_" not in answer.text, (answer.request.url, answer.text)
    visitor_ids = set()

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                if name in ("visitor_id", "visitor"):
                    visitor_ids.add(item)
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for answer in answers:
        collect(answer.json())
    assert visitor_ids == {VISITOR}
