"""The ingestion API's edges: authentication, signatures, rate limits, size limits, validation, queue outages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from multibuzz.adapters.queue.base import OutgoingMessage, QueueUnavailableError, SendResult
from multibuzz.auth.signatures import sign
from multibuzz.bootstrap import Container, use_container
from multibuzz.db.models import Event, VisitSession
from multibuzz.domain.privacy import account_salt, hash_ip
from sqlalchemy import func, select

from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import Api, Tenant, make_settings

VISITOR = "c" * 64


def drain(container: Container) -> None:
    handler = load_handler("attribution")
    while deliver_once(container.local_queue, "ingest", handler, backoff_seconds=0).received:
        pass


def event(**overrides: Any) -> dict[str, Any]:
    return {
        "event_type": "page_view",
        "visitor_id": VISITOR,
        "properties": {"url": "https://shop.example/"},
        **overrides,
    }


def stored_events(container: Container) -> int:
    with container.session() as db:
        return int(db.scalar(select(func.count()).select_from(Event)) or 0)


@pytest.fixture
def swap_container(container: Container, tmp_path: Path, database_url: str) -> Iterator[Any]:
    """Install a container with other settings or adapters (same database) for one test."""
    made: list[Container] = []

    def install(queue: Any = None, **settings: Any) -> Container:
        other = Container(
            make_settings(tmp_path / "other", database_url, **settings), engine=container.engine, queue=queue
        )
        made.append(other)
        use_container(other)
        return other

    yield install
    use_container(container)


def test_wrong_or_missing_key_is_401(api: Api, container: Container) -> None:
    api.tenant("Keys")
    for headers in (
        {},
        api.auth("sk_live_" + "x" * 40),
        api.auth("not-a-key"),
        {"authorization": "Basic abc"},
    ):
        response = api.client.post("/api/v1/events", json={"events": [event()]}, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "unauthorized"
    assert container.local_queue.depth("ingest") == 0


def test_signatures_are_checked_and_required_when_the_account_says_so(api: Api, container: Container) -> None:
    shop = api.tenant("Signed")
    created = api.client.post(
        "/api/v1/api-keys", json={"name": "signed", "with_signing_secret": True}, headers=api.auth(shop.owner_token)
    ).json()
    key, secret = created["key"], created["signing_secret"]
    body = json.dumps({"events": [event(event_id="signed-1")]}).encode()
    headers = {**api.auth(key), "content-type": "application/json"}

    good = api.client.post("/api/v1/events", content=body, headers={**headers, "X-Signature": sign(secret, body)})
    assert good.status_code == 202, good.text
    prefixed = api.client.post(
        "/api/v1/events", content=body, headers={**headers, "X-Signature": "sha256=" + sign(secret, body)}
    )
    assert prefixed.status_code == 202
    tampered = body.replace(b"page_view", b"purchase")
    bad = api.client.post("/api/v1/events", content=tampered, headers={**headers, "X-Signature": sign(secret, body)})
    assert bad.status_code == 401 and bad.json()["message"] == "invalid X-Signature"
    wrong_secret = api.client.post(
        "/api/v1/events", content=body, headers={**headers, "X-Signature": sign("whsec_other", body)}
    )
    assert wrong_secret.status_code == 401
    # A signature from a key without a signing secret cannot be checked: refused.
    unsigned_key = api.client.post(
        "/api/v1/events", content=body, headers={**api.auth(shop.api_key), "X-Signature": sign(secret, body)}
    )
    assert unsigned_key.status_code == 401

    api.client.patch(
        f"/api/v1/accounts/{shop.account_id}/settings",
        json={"require_signature": True},
        headers=api.auth(shop.owner_token),
    )
    missing = api.client.post("/api/v1/events", content=body, headers=headers)
    assert missing.status_code == 401 and "X-Signature" in missing.json()["message"]
    session = api.client.post(
        "/api/v1/sessions", json={"session": {"visitor_id": VISITOR}}, headers=api.auth(shop.api_key)
    )
    assert session.status_code == 401
    drain(container)
    with container.session() as db:
        types = db.scalars(select(Event.event_type)).all()
    assert types == ["page_view"], "only the correctly signed request was stored (once: same event_id)"


def test_rate_limit_answers_429_with_retry_after(api: Api, swap_container: Any) -> None:
    shop = api.tenant("Limited")
    swap_container(api_key_rate_limit_per_minute=3)
    codes = [
        api.client.post("/api/v1/events", json={"events": [event()]}, headers=api.auth(shop.api_key)) for _ in range(4)
    ]
    assert [r.status_code for r in codes] == [202, 202, 202, 429]
    limited = codes[-1]
    assert limited.json()["error"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 20


def test_size_limits(api: Api, container: Container) -> None:
    shop = api.tenant("Sizes")
    huge = {"events": [event(properties={"blob": "x" * 30_000}) for _ in range(40)]}
    too_large = api.client.post("/api/v1/events", json=huge, headers=api.auth(shop.api_key))
    assert too_large.status_code == 413 and too_large.json()["error"] == "payload_too_large"
    many = api.client.post(
        "/api/v1/events", json={"events": [event() for _ in range(1001)]}, headers=api.auth(shop.api_key)
    )
    assert many.status_code == 422
    assert many.json()["errors"] == [{"field": "events", "message": "at most 1000 events per request"}]
    empty = api.client.post("/api/v1/events", json={"events": []}, headers=api.auth(shop.api_key))
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "events"
    assert container.local_queue.depth("ingest") == 0


def test_validation_errors_name_their_fields(api: Api, container: Container) -> None:
    shop = api.tenant("Validation")
    now = datetime.now(UTC)
    all_bad = api.client.post(
        "/api/v1/events",
        json={
            "events": [
                event(timestamp=(now + timedelta(days=2)).isoformat()),
                {"event_type": "page_view"},
                event(properties={"funnel_position": "third"}),
                "page_view",
            ]
        },
        headers=api.auth(shop.api_key),
    )
    assert all_bad.status_code == 422
    body = all_bad.json()
    assert body["error"] == "validation_error" and (body["accepted"], body["rejected"]) == (0, 4)
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (0, "events[0].timestamp"),
        (1, "events[1].visitor_id"),
        (2, "events[2].properties.funnel_position"),
        (3, "events[3]"),
    ]
    assert "future" in body["errors"][0]["message"]

    epoch = api.client.post(
        "/api/v1/events",
        json={"events": [event(timestamp=int(now.timestamp()) - 60), event(timestamp="2026-01-05T10:00:00")]},
        headers=api.auth(shop.api_key),
    )
    assert epoch.status_code == 202 and epoch.json()["accepted"] == 2

    malformed = api.client.post(
        "/api/v1/events", content=b"{not json", headers={**api.auth(shop.api_key), "content-type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["error"] == "malformed_json"
    session = api.client.post("/api/v1/sessions", json={"session": {"url": "x"}}, headers=api.auth(shop.api_key))
    assert session.status_code == 422
    assert session.json()["errors"] == [{"field": "session.visitor_id", "message": "visitor_id is required"}]
    identify = api.client.post("/api/v1/identify", json={"visitor_id": VISITOR}, headers=api.auth(shop.api_key))
    assert identify.status_code == 422 and identify.json()["errors"][0]["field"] == "user_id"
    unified = api.client.post(
        "/api/v1/events",
        json={"action": "purchase", "visitor_id": VISITOR, "value": "lots", "currency": "EURO"},
        headers=api.auth(shop.api_key),
    )
    assert unified.status_code == 422
    assert sorted(e["field"] for e in unified.json()["errors"]) == ["currency", "value"]
    neither = api.client.post("/api/v1/events", json={"hello": 1}, headers=api.auth(shop.api_key))
    assert neither.status_code == 422 and neither.json()["errors"][0]["field"] == "events"


def test_ip_privacy_modes(api: Api, container: Container) -> None:
    stored: dict[str, str | None] = {}
    accounts: dict[str, str] = {}
    for mode in ("truncate", "hash", "none"):
        shop: Tenant = api.tenant(f"IP {mode}")
        accounts[mode] = shop.account_id
        api.client.patch(
            f"/api/v1/accounts/{shop.account_id}/settings",
            json={"ip_privacy": mode},
            headers=api.auth(shop.owner_token),
        )
        api.client.post("/api/v1/events", json={"events": [event(ip="198.51.100.23")]}, headers=api.auth(shop.api_key))
        drain(container)
        with container.session() as db:
            stored[mode] = db.scalar(select(VisitSession.ip).where(VisitSession.account_id == shop.account_id))
    assert stored["truncate"] == "198.51.100.0"
    # The stored hash is the account-keyed HMAC of the address (deterministic: the same input always gives
    # the same check), not the address itself nor an unkeyed digest anyone could look up.
    secret = container.settings.encryption_key.get_secret_value()
    assert stored["hash"] == hash_ip("198.51.100.23", account_salt(secret, accounts["hash"]))
    assert stored["hash"] != hashlib.sha256(b"198.51.100.23").hexdigest()
    assert stored["hash"] != hash_ip("198.51.100.23", account_salt(secret, "acc_other")), "the key is per account"
    assert "198.51.100" not in stored["hash"]
    assert stored["none"] == "198.51.100.23", "mode none keeps the address as received (domain.privacy)"


class DownQueue:
    def send_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        raise QueueUnavailableError("queue is down")


class HalfQueue:
    """Refuses every second message, as an SQS batch with partial failures."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def send_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        results = []
        for index, message in enumerate(messages):
            if index % 2:
                results.append(SendResult(index, None, "InternalError"))
            else:
                results.append(SendResult(index, self.real.send_batch(queue, [message])[0].message_id))
        return results


def test_queue_outages(api: Api, container: Container, swap_container: Any) -> None:
    shop = api.tenant("Outage")
    swap_container(queue=DownQueue())
    down = api.client.post("/api/v1/events", json={"events": [event()]}, headers=api.auth(shop.api_key))
    assert down.status_code == 503 and down.json()["error"] == "unavailable"
    swap_container(queue=HalfQueue(container.local_queue))
    two_visitors = [event(), event(visitor_id="d" * 64)]
    partial = api.client.post("/api/v1/events", json={"events": two_visitors}, headers=api.auth(shop.api_key))
    assert partial.status_code == 202
    body = partial.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert body["errors"][0]["field"] == "events[1]" and "retry" in body["errors"][0]["message"]
    drain(container)
    assert stored_events(container) == 1
