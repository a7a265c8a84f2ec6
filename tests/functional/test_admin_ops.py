"""Admin operations over real HTTP with the local queue: totals and depths, a dead letter read and re-driven
(delivered once: the click it carries is stored and counted once), forced coupons, ingestion errors."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from multibuzz.adapters.queue.base import OutgoingMessage
from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope
from multibuzz.db.models import Conversion
from multibuzz.db.models.influencer import Click

from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import Api


@pytest.fixture(autouse=True)
def _refresh_after_every_batch(container: Container) -> None:
    object.__setattr__(container.settings, "reports_refresh_min_seconds", 0.0)


def _broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("the database is down")


def test_a_dead_letter_is_listed_and_redriven_once(api: Api, container: Container) -> None:
    tenant = api.tenant("Operated")
    owner = api.auth(tenant.owner_token)
    campaign = api.client.post("/api/v1/campaigns", json={"name": "Ops"}, headers=owner).json()
    person = api.client.post("/api/v1/influencers", json={"name": "Ola", "handle": "ola"}, headers=owner).json()
    link = api.client.post(
        "/api/v1/links",
        json={"campaign_id": campaign["id"], "influencer_id": person["id"], "destination_url": "https://x.example/"},
        headers=owner,
    ).json()
    payload = {
        "click_id": "clk_ops_1",
        "link_id": link["id"],
        "occurred_at": datetime.now(UTC).isoformat(),
        "method": "GET",
        "user_agent": "Mozilla/5.0",
        "visitor_hash": "f" * 64,
    }
    envelope = Envelope(kind="click.record", id="clk_ops_1", account_id=tenant.account_id, payload=payload)
    container.local_queue.send_batch("clicks", [OutgoingMessage(envelope.dumps())])
    assert deliver_once(container.local_queue, "clicks", _broken, max_attempts=1).dead == 1

    admin = api.auth(api.admin_token())
    listed = api.client.get("/api/v1/admin/dlq/clicks", headers=admin)
    assert listed.status_code == 200, listed.text
    assert [json_body["body"] for json_body in listed.json()["data"]] == [envelope.dumps()]
    assert "invocation failed" in listed.json()["data"][0]["reason"]
    overview = api.client.get("/api/v1/admin/overview", headers=admin).json()
    clicks_queue = next(q for q in overview["queues"] if q["queue"] == "clicks")
    assert (clicks_queue["depth"], clicks_queue["dead_letters"]) == (0, 1)
    assert overview["accounts_active"] >= 1

    for path in ("/api/v1/admin/dlq/clicks", "/api/v1/admin/overview", "/api/v1/admin/ingestion-errors"):
        assert api.client.get(path, headers=owner).status_code == 403
    assert api.client.post("/api/v1/admin/dlq/clicks/redrive", headers=owner).status_code == 403
    assert api.client.get("/api/v1/admin/dlq/nope", headers=admin).status_code == 404

    redriven = api.client.post("/api/v1/admin/dlq/clicks/redrive", headers=admin)
    assert redriven.status_code == 200 and redriven.json()["redriven"] == 1
    assert api.client.post("/api/v1/admin/dlq/clicks/redrive", headers=admin).json()["redriven"] == 0
    assert container.local_queue.depth("clicks") == 1
    handler = load_handler("attribution")
    while deliver_once(container.local_queue, "clicks", handler).received:
        pass
    with container.session() as session:
        assert session.query(Click).filter(Click.account_id == tenant.account_id).count() == 1
    stats = api.client.get("/api/v1/stats/overview", headers=owner).json()
    assert stats["current"]["clicks"] == 1, "the re-driven click is stored and counted once"
    after = api.client.get("/api/v1/admin/overview", headers=admin).json()
    assert next(q for q in after["queues"] if q["queue"] == "clicks")["dead_letters"] == 0


def test_forced_coupons_and_recent_ingestion_errors(api: Api, container: Container) -> None:
    tenant = api.tenant("Supported")
    admin = api.auth(api.admin_token())
    made = api.client.post(
        f"/api/v1/admin/accounts/{tenant.account_id}/coupons/generate",
        json={"count": 3, "prefix": "HELP"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    codes = {c["code"] for c in made.json()["data"]}
    assert len(codes) == 3 and all(code.startswith("HELP") for code in codes)
    listed = api.client.get("/api/v1/coupons", headers=api.auth(tenant.owner_token)).json()["data"]
    assert {c["code"] for c in listed} == codes
    refused = api.client.post(
        f"/api/v1/admin/accounts/{tenant.account_id}/coupons/generate",
        json={"count": 1},
        headers=api.auth(tenant.owner_token),
    )
    assert refused.status_code == 403
    missing = api.client.post("/api/v1/admin/accounts/acc_nope/coupons/generate", json={"count": 1}, headers=admin)
    assert missing.status_code == 404

    now = container.clock.now()
    with container.session() as session:
        session.add(
            Conversion(
                id="conv_broken_1",
                account_id=tenant.account_id,
                conversion_type="purchase",
                occurred_at=now,
                received_at=now,
                revenue=Decimal("1"),
                currency="USD",
                properties={},
                status="failed",
                attribution_meta={"failure": {"reason": "cannot be attributed: ValueError: bad date"}},
            )
        )
        session.commit()
    errors = api.client.get("/api/v1/admin/ingestion-errors", headers=admin)
    assert errors.status_code == 200, errors.text
    assert {
        "account_id": tenant.account_id,
        "conversion_id": "conv_broken_1",
        "reason": "cannot be attributed: ValueError: bad date",
    }.items() <= errors.json()["data"][0].items()
