"""Exports end to end: requested over the real local gateway, written by the real queue consumer (the exports
function's handler fed by the local queue), downloaded through the presigned URL over real HTTP — the local
folder's signed URL through the gateway, and S3's from moto in server mode — then counted and checked
against the manifest. A worker crash mid-stream is retried and the result is still exact."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import boto3
import httpx
import pytest
from multibuzz.adapters.objects.base import ObjectStore, Upload
from multibuzz.adapters.objects.local import LocalObjectStore
from multibuzz.adapters.objects.s3 import S3ObjectStore, client_config
from multibuzz.bootstrap import Container
from multibuzz.clock import FixedClock
from multibuzz.db.models import AttributionCredit, Conversion, Event, Export, Visitor, VisitSession
from multibuzz.db.models.commerce import DailySummary, FactOrder, Integration
from multibuzz.db.models.influencer import Click
from multibuzz.exports.worker import ExportWorker, handle_export_batch

from functions.exports.handler import lambda_handler
from infra.local.dispatch import DeliveryReport, deliver_once
from tests.conftest import Api, Tenant

JAN = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = {"from": "2026-01-01", "to": "2026-01-31"}  # the account is in UTC: [Jan 1, Feb 1)
ODD_PROPERTIES = {"note": 'comma, "quote"\nnew line', "emoji": "café ☕", "n": 3}


@dataclass
class Seeded:
    tenant: Tenant
    expected: dict[str, int]  # dataset → rows in WINDOW
    event_ids: list[str]


def _seed(api: Api, container: Container, name: str, *, events_in: int = 7) -> Seeded:
    """A tenant with rows inside the window and on both sides of its edges (which must not be exported)."""
    tenant = api.tenant(name)
    auth = api.auth(tenant.owner_token)
    campaign = api.client.post("/api/v1/campaigns", json={"name": f"{name} spring"}, headers=auth).json()
    handle = re.sub(r"[^a-z0-9]+", "-", name.lower())
    influencer = api.client.post("/api/v1/influencers", json={"name": name, "handle": handle}, headers=auth).json()
    link = api.client.post(
        "/api/v1/links",
        json={"campaign_id": campaign["id"], "influencer_id": influencer["id"], "destination_url": "https://x.test/"},
        headers=auth,
    ).json()
    ids = container.ids
    account = tenant.account_id
    inside = [JAN + timedelta(days=d, hours=3, microseconds=250) for d in range(31)]
    outside = [JAN - timedelta(microseconds=1), JAN + timedelta(days=31)]  # Dec 31 23:59:59.999999, Feb 1 00:00
    event_ids: list[str] = []
    with container.session() as session:
        visitor = Visitor(
            id=ids.new("vis"), account_id=account, visitor_key=f"{handle}-visitor", first_seen_at=JAN, last_seen_at=JAN
        )
        session.add(visitor)
        session.flush()
        sessions = []
        for at in [*inside[:3], outside[1]]:
            row = VisitSession(
                id=ids.new("ses"),
                account_id=account,
                visitor_id=visitor.id,
                started_at=at,
                last_activity_at=at,
                channel="email",
                utm_source="newsletter",
                is_bot=False,
                page_view_count=1,
                created_at=at,
            )
            session.add(row)
            sessions.append(row)
        session.flush()
        for index, at in enumerate([*inside[:events_in], *outside]):
            event = Event(
                id=ids.new("evt"),
                account_id=account,
                visitor_id=visitor.id,
                session_id=sessions[0].id,
                event_type="page_view",
                occurred_at=at,
                received_at=at + timedelta(seconds=1),
                properties=ODD_PROPERTIES if index == 0 else {"i": index},
                url=f"https://shop.test/p/{index}",
            )
            session.add(event)
            if index < events_in:
                event_ids.append(event.id)
        conversions = []
        for at, revenue in ((inside[4], "19.99"), (inside[5], "100.00"), (outside[0], "5.00")):
            conversion = Conversion(
                id=ids.new("conv"),
                account_id=account,
                conversion_type="purchase",
                visitor_id=visitor.id,
                occurred_at=at,
                received_at=at,
                revenue=Decimal(revenue),
                currency="USD",
                properties={},
                status="attributed",
                attribution_version=1,
            )
            session.add(conversion)
            conversions.append(conversion)
        session.flush()
        credits = [  # (conversion, version, model, position, credit)
            (0, 1, "linear", 0, "0.5"),
            (0, 1, "linear", 1, "0.5"),
            (0, 1, "last_touch", 0, "0"),
            (0, 1, "last_touch", 1, "1"),
            (0, 0, "linear", 0, "1"),  # a superseded version: never exported
            (1, 1, "linear", 0, "1"),
            (2, 1, "linear", 0, "1"),  # its conversion is outside the window
        ]
        for conv, version, model, position, credit in credits:
            session.add(
                AttributionCredit(
                    account_id=account,
                    conversion_id=conversions[conv].id,
                    version=version,
                    model=model,
                    position=position,
                    channel="email",
                    credit=Decimal(credit),
                    revenue_credit=conversions[conv].revenue * Decimal(credit),
                )
            )
        for index, at in enumerate([*inside[:4], outside[0]]):
            session.add(
                Click(
                    id=ids.new("clk"),
                    account_id=account,
                    link_id=link["id"],
                    campaign_id=campaign["id"],
                    influencer_id=influencer["id"],
                    code=link["code"],
                    occurred_at=at,
                    is_bot=index == 1,
                    visitor_hash="0" * 64,
                    unique_click=index == 0,
                    received_at=at,
                )
            )
        store = Integration(
            id=ids.new("int"),
            account_id=account,
            type="shopify",
            external_id=f"{handle}.myshopify.com",
            created_at=JAN,
            updated_at=JAN,
        )
        session.add(store)
        session.flush()
        for index, at in enumerate([*inside[:3], *outside]):
            session.add(
                FactOrder(
                    account_id=account,
                    integration_id=store.id,
                    shopify_order_id=str(1000 + index),
                    order_name=f"#{1000 + index}",
                    currency="USD",
                    gross=Decimal("50.00"),
                    discounts=Decimal("5.00"),
                    net=Decimal("45.00"),
                    refunds=Decimal(0),
                    total_price=Decimal("49.50"),
                    total_tax=Decimal("4.50"),
                    shipping=Decimal(0),
                    order_created_at=at,
                    order_updated_at=at,
                    order_date=at.date(),
                    customer_ref="cus-secret-ref",
                    shopify_customer_id="777",
                    email_hash="e" * 64,
                    note_attributes=[{"name": "gift_note", "value": "for Jane Doe"}],
                    synced_at=at,
                )
            )
        for day in ("2025-12-31", "2026-01-01", "2026-01-15", "2026-01-31", "2026-02-01"):
            session.add(
                DailySummary(
                    account_id=account,
                    date=date.fromisoformat(day),
                    currency="USD",
                    revenue_net=Decimal("45.00"),
                    refunds=Decimal(0),
                    orders=1,
                    aov=Decimal("45.00"),
                    spend=Decimal("10.00"),
                    purchases=Decimal(1),
                    purchase_value=Decimal("30.00"),
                    roas=Decimal(3),
                    mer=Decimal("4.5"),
                    updated_at=JAN,
                )
            )
        session.commit()
    expected = {
        "events": events_in,
        "sessions": 3,
        "conversions": 2,
        "attributions": 5,
        "clicks": 4,
        "orders": 3,
        "daily_summary": 3,
    }
    return Seeded(tenant, expected, event_ids)


def _deliver(container: Container, handler: Callable[[dict[str, Any], Any], Any] = lambda_handler) -> DeliveryReport:
    return deliver_once(
        container.local_queue, "exports", handler, function="exports", batch_size=1, max_attempts=3, backoff_seconds=0
    )


def _request(api: Api, token: str, **body: Any) -> dict[str, Any]:
    response = api.client.post("/api/v1/exports", json={**WINDOW, **body}, headers=api.auth(token))
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["status"] == "queued" and created["download_url"] is None
    return dict(created)


def _get(api: Api, token: str, export_id: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/exports/{export_id}", headers=api.auth(token))
    assert response.status_code == 200, response.text
    return dict(response.json())


def _download(export: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """The object and its manifest through their presigned URLs (real HTTP), checked against each other."""
    assert export["status"] == "ready", export
    data = httpx.get(export["download_url"], timeout=30)
    assert data.status_code == 200, data.text
    manifest = httpx.get(export["manifest_url"], timeout=30)
    assert manifest.status_code == 200, manifest.text
    document = manifest.json()
    assert hashlib.sha256(data.content).hexdigest() == document["sha256"] == export["sha256"]
    assert len(data.content) == document["bytes"] == export["bytes"]
    assert document["row_count"] == export["rows"]
    return data.content, document


def _rows(data: bytes, export: dict[str, Any]) -> list[dict[str, Any]]:
    text = (gzip.decompress(data) if export["gzip"] else data).decode("utf-8")
    if export["format"] == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def s3_store(moto_endpoint: str, container: Container) -> S3ObjectStore:
    def client() -> Any:
        return boto3.session.Session().client(
            "s3", region_name="us-east-1", endpoint_url=moto_endpoint, config=client_config()
        )

    bucket = f"exports-{container.ids.new('b').split('_')[1][-12:]}"
    client().create_bucket(Bucket=bucket)
    store = S3ObjectStore(client, bucket)
    container.__dict__["objects"] = store
    return store


@pytest.fixture
def local_store(container: Container, gateway: str) -> LocalObjectStore:
    store = LocalObjectStore(container.settings.resolved_object_dir, gateway, b"test-signing-key")
    container.__dict__["objects"] = store
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    return request.getfixturevalue("local_store" if request.param == "local" else "s3_store")  # type: ignore[no-any-return]


def test_every_dataset_is_exported_and_downloaded_with_the_exact_rows(
    api: Api, container: Container, store: ObjectStore
) -> None:
    seeded = _seed(api, container, "Alpha Shop")
    other = _seed(api, container, "Beta Shop", events_in=3)  # same window, another tenant: never in A's files
    token = seeded.tenant.owner_token
    requested = {name: _request(api, token, dataset=name) for name in seeded.expected}
    requested["events.jsonl"] = _request(api, token, dataset="events", format="jsonl", gzip=False)
    requested["linear"] = _request(api, token, dataset="attributions", model="linear")
    for _ in requested:
        assert _deliver(container).succeeded == 1
    day = datetime.now(UTC).date().isoformat()  # dt= is the request's day in the account's zone (UTC here)
    for name, created in requested.items():
        export = _get(api, token, created["id"])
        data, manifest = _download(export)
        rows = _rows(data, export)
        dataset = export["dataset"]
        expected = {"events.jsonl": 7, "linear": 3}.get(name, seeded.expected.get(name))
        assert len(rows) == export["rows"] == expected, name
        suffix = ".jsonl" if export["format"] == "jsonl" else ".csv.gz"
        prefix = f"exports/{seeded.tenant.account_id}/{dataset}/dt={day}/"
        assert export["key"] == f"{prefix}{export['id']}{suffix}"
        assert export["manifest_key"] == f"{prefix}_{export['id']}.manifest.json"
        assert [c["name"] for c in manifest["columns"]] == list(rows[0]), name
        assert manifest["filters"]["from"].startswith("2026-01-01T00:00:00")
        assert manifest["filters"]["to"].startswith("2026-02-01T00:00:00")
        assert export["url_expires_at"] and export["expires_at"]
        assert other.tenant.account_id not in data.decode("latin-1") or export["gzip"]
    events = _rows(*(lambda e: (_download(e)[0], e))(_get(api, token, requested["events"]["id"])))
    assert [r["id"] for r in events] == seeded.event_ids  # oldest first, none of B's, none outside the window
    assert json.loads(events[0]["properties"]) == ODD_PROPERTIES  # quoting survives commas, quotes, new lines
    assert events[0]["occurred_at"] == "2026-01-01 03:00:00.000250"
    jsonl = _rows(_download(_get(api, token, requested["events.jsonl"]["id"]))[0], requested["events.jsonl"])
    assert jsonl[0]["properties"] == ODD_PROPERTIES and jsonl[0]["visitor_id"] == "alpha-shop-visitor"
    conversions = _rows(*(lambda e: (_download(e)[0], e))(_get(api, token, requested["conversions"]["id"])))
    assert [c["revenue"] for c in conversions] == ["19.99", "100"] and conversions[0]["is_acquisition"] == "false"
    orders = _rows(*(lambda e: (_download(e)[0], e))(_get(api, token, requested["orders"]["id"])))
    assert [o["shopify_order_id"] for o in orders] == ["1000", "1001", "1002"]
    assert (orders[0]["net"], orders[0]["order_date"], orders[0]["currency"]) == ("45", "2026-01-01", "USD")
    assert not {"email_hash", "customer_ref", "shopify_customer_id", "visitor_id", "note_attributes"} & set(orders[0])
    summary = _rows(*(lambda e: (_download(e)[0], e))(_get(api, token, requested["daily_summary"]["id"])))
    assert [d["date"] for d in summary] == ["2026-01-01", "2026-01-15", "2026-01-31"]
    assert (summary[0]["revenue_net"], summary[0]["spend"], summary[0]["mer"]) == ("45", "10", "4.5")
    linear = _download(_get(api, token, requested["linear"]["id"]))[1]
    assert linear["filters"]["model"] == "linear" and linear["models"] == ["linear"]


def test_the_list_shows_only_the_callers_exports_and_other_tenants_get_404(
    api: Api, container: Container, local_store: LocalObjectStore
) -> None:
    a = _seed(api, container, "Gamma Shop", events_in=2)
    b = api.tenant("Delta Shop")
    mine = [_request(api, a.tenant.owner_token, dataset="events")["id"] for _ in range(3)]
    _request(api, b.owner_token, dataset="events")
    listed = api.client.get("/api/v1/exports", params={"limit": 2}, headers=api.auth(a.tenant.owner_token)).json()
    assert [e["id"] for e in listed["data"]] == mine[::-1][:2] and listed["next_cursor"]
    rest = api.client.get(
        "/api/v1/exports", params={"cursor": listed["next_cursor"]}, headers=api.auth(a.tenant.owner_token)
    ).json()
    assert [e["id"] for e in rest["data"]] == [mine[0]] and rest["next_cursor"] is None
    for headers in (api.auth(b.owner_token), api.auth(b.api_key)):
        assert api.client.get(f"/api/v1/exports/{mine[0]}", headers=headers).status_code == 404
    # the read-scoped key of A itself may export (the SDK); an ingest-only key and an influencer may not
    assert api.client.get(f"/api/v1/exports/{mine[0]}", headers=api.auth(a.tenant.api_key)).status_code == 200
    ingest = api.client.post(
        "/api/v1/api-keys", json={"name": "ingest", "scopes": ["ingest"]}, headers=api.auth(a.tenant.owner_token)
    ).json()["key"]
    assert (
        api.client.post("/api/v1/exports", json={**WINDOW, "dataset": "events"}, headers=api.auth(ingest)).status_code
        == 403
    )
    creator = api.add_member(a.tenant, "creator@gamma.test", "influencer", influencer_id="inf_gamma")
    assert api.client.get("/api/v1/exports", headers=api.auth(creator)).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataset": "refunds"}, "dataset"),
        ({"dataset": "events", "format": "xml"}, "format"),
        ({"dataset": "events", "from": "yesterday"}, "from"),
        ({"dataset": "events", "from": "2026-02-01", "to": "2026-01-01"}, "to"),
        ({"dataset": "events", "model": "linear"}, "model"),
        ({"dataset": "attributions", "model": "best"}, "model"),
        ({"dataset": "events", "gzip": "maybe"}, "gzip"),
        ({"dataset": "events", "colour": "blue"}, "colour"),
    ],
)
def test_bad_input_is_422_naming_the_field(api: Api, container: Container, body: dict[str, Any], field: str) -> None:
    tenant = api.tenant("Epsilon")
    response = api.client.post("/api/v1/exports", json={**WINDOW, **body}, headers=api.auth(tenant.owner_token))
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.text
    with container.session() as session:
        assert session.query(Export).count() == 0


def test_expired_or_tampered_urls_are_refused_and_old_exports_expire(
    api: Api, container: Container, gateway: str
) -> None:
    wall = [datetime.now(UTC).timestamp()]
    store = LocalObjectStore(container.settings.resolved_object_dir, gateway, b"k2", now=lambda: wall[0])
    container.__dict__["objects"] = store
    clock = FixedClock(datetime.now(UTC))
    container.clock = clock
    seeded = _seed(api, container, "Zeta Shop", events_in=2)
    token = seeded.tenant.owner_token
    created = _request(api, token, dataset="events")
    assert _deliver(container).succeeded == 1
    export = _get(api, token, created["id"])
    assert httpx.get(export["download_url"]).status_code == 200
    parsed = urlparse(export["download_url"])
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    for change in ({"signature": "0" * 64}, {"expires": str(int(query["expires"]) + 3600)}, {"filename": "x.csv"}):
        tampered = httpx.get(f"{gateway}{parsed.path}?{urlencode({**query, **change})}")
        assert tampered.status_code == 403, change
    other_key = parsed.path.replace(created["id"], "exp_other")
    assert httpx.get(f"{gateway}{other_key}?{parsed.query}").status_code == 403  # a signature is for one key
    wall[0] += container.settings.export_url_ttl_seconds + 1
    assert httpx.get(export["download_url"]).status_code == 403  # the URL expired
    clock.advance(days=container.settings.export_retention_days, seconds=1)
    expired = _get(api, seeded.tenant.api_key, created["id"])  # a week later the owner's JWT has expired too
    assert expired["status"] == "expired" and expired["download_url"] is None


class Crash(BaseException):
    """A worker dying mid-stream: not an Exception, so no handler of the worker runs (as with kill -9)."""


class CrashingStore:
    """The real store, except that the first upload dies after ``parts`` parts (or at complete)."""

    def __init__(self, inner: Any, parts: int | None) -> None:
        self.inner = inner
        self.parts = parts
        self.crashed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def start_upload(self, key: str, content_type: str) -> Upload:
        upload = self.inner.start_upload(key, content_type)
        if self.crashed:
            return upload  # type: ignore[no-any-return]
        self.crashed = True
        return _CrashingUpload(upload, self.parts)


class _CrashingUpload:
    def __init__(self, inner: Any, parts: int | None) -> None:
        self.inner = inner
        self.key = inner.key
        self.upload_id = inner.upload_id
        self.left = parts

    def write_part(self, data: bytes) -> None:
        self.inner.write_part(data)
        if self.left is not None:
            self.left -= 1
            if self.left == 0:
                raise Crash("killed after a part")

    def complete(self) -> None:
        raise Crash("killed before completing")

    def abort(self) -> None:
        raise AssertionError("a crashed worker aborts nothing")


def _crash_then_retry(
    api: Api, container: Container, worker: ExportWorker, dataset: str
) -> tuple[Seeded, dict[str, Any]]:
    seeded = _seed(api, container, f"Crash {dataset} {worker.part_size}", events_in=31)
    token = seeded.tenant.owner_token
    created = _request(api, token, dataset=dataset, format="jsonl")

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return handle_export_batch(event, context, worker=worker)

    with pytest.raises(Crash):  # the process dies: the message stays in flight, the upload stays open
        deliver_once(container.local_queue, "exports", handler, batch_size=1, visibility_timeout=0)
    with container.session() as session:
        row = session.get(Export, created["id"])
        assert row is not None and row.status == "running" and row.upload_id and row.attempts == 1
    halfway = _get(api, token, created["id"])
    assert halfway["status"] == "running" and halfway["download_url"] is None
    assert _deliver(container, handler).succeeded == 1  # the queue's redelivery
    export = _get(api, token, created["id"])
    assert export["attempts"] == 2 and export["error"] is None
    return seeded, export


def test_a_worker_killed_mid_stream_is_retried_and_the_export_is_exact(
    api: Api, container: Container, gateway: str
) -> None:
    local = LocalObjectStore(container.settings.resolved_object_dir, gateway, b"k3")
    container.__dict__["objects"] = local
    crashing = CrashingStore(local, parts=2)
    worker = ExportWorker.from_container(container, objects=crashing, part_size=256, batch_rows=4)
    seeded, export = _crash_then_retry(api, container, worker, "events")
    data, _ = _download(export)
    rows = _rows(data, export)
    assert [r["id"] for r in rows] == seeded.event_ids and len(rows) == 31
    folder = Path(container.settings.resolved_object_dir)
    assert not [p for p in folder.rglob("*") if ".upload-" in p.name], "the crashed attempt's partial file is gone"


def test_a_worker_killed_before_completing_an_s3_upload_is_retried_exactly(
    api: Api, container: Container, s3_store: S3ObjectStore
) -> None:
    crashing = CrashingStore(s3_store, parts=None)
    worker = ExportWorker.from_container(container, objects=crashing)
    seeded, export = _crash_then_retry(api, container, worker, "events")
    rows = _rows(_download(export)[0], export)
    assert [r["id"] for r in rows] == seeded.event_ids
    uploads = s3_store.client.list_multipart_uploads(Bucket=s3_store.bucket).get("Uploads", [])
    assert uploads == [], "the stale multipart upload was aborted"


class BrokenStore:
    """An object store that is down: every upload fails (an ordinary error, which the worker handles)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def start_upload(self, key: str, content_type: str) -> Upload:
        raise ConnectionError("object store unreachable")


def test_a_failing_export_is_retried_then_says_why(
    api: Api, container: Container, local_store: LocalObjectStore
) -> None:
    tenant = api.tenant("Eta Shop")
    created = _request(api, tenant.owner_token, dataset="clicks")
    worker = ExportWorker.from_container(container, objects=BrokenStore(local_store))

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return handle_export_batch(event, context, worker=worker)

    first = _deliver(container, handler)
    assert first.retried == 1
    retrying = _get(api, tenant.owner_token, created["id"])
    assert retrying["status"] == "queued" and "ConnectionError" in retrying["error"]
    assert _deliver(container, handler).succeeded == 1  # the last run: failed for good, the message settled
    failed = _get(api, tenant.owner_token, created["id"])
    assert failed["status"] == "failed" and failed["error"].startswith("attempt 2 of 2 failed")
    assert failed["download_url"] is None and container.local_queue.depth("exports") == 0


def test_small_ranges_of_events_stream_as_csv_and_large_ones_are_422(
    api: Api, container: Container, local_store: LocalObjectStore
) -> None:
    seeded = _seed(api, container, "Theta Shop", events_in=5)
    _seed(api, container, "Iota Shop", events_in=4)
    auth = api.auth(seeded.tenant.owner_token)
    response = api.client.get("/api/v1/events/export.csv", params=WINDOW, headers=auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["id"] for r in rows] == seeded.event_ids
    assert json.loads(rows[0]["properties"]) == ODD_PROPERTIES
    capped = Container(container.settings.model_copy(update={"export_stream_max_rows": 4}), engine=container.engine)
    from multibuzz.bootstrap import use_container

    use_container(capped)
    try:
        too_many = api.client.get("/api/v1/events/export.csv", params=WINDOW, headers=auth)
    finally:
        use_container(container)
        capped.local_queue.close()
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "to"
    assert "POST /api/v1/exports" in too_many.json()["message"]
    bad = api.client.get("/api/v1/events/export.csv", params={"from": "soon", "to": "2026-01-02"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "from"


_KILLED_CHILD = """
import sys
from pathlib import Path
from multibuzz.adapters.objects.local import LocalObjectStore
from multibuzz.bootstrap import Container
from multibuzz.exports.worker import ExportWorker
from multibuzz.settings import Settings

database_url, data_dir, export_id = sys.argv[1:4]
container = Container(Settings(stage="test", database_url=database_url, data_dir=Path(data_dir)))
local = LocalObjectStore(container.settings.resolved_object_dir, "http://unused", b"k")


class Paused:
    def __init__(self, upload):
        self.upload, self.key, self.upload_id, self.parts = upload, upload.key, upload.upload_id, 0

    def write_part(self, data):
        self.upload.write_part(data)
        self.parts += 1
        if self.parts == 3:  # mid-stream: tell the test, then wait to be killed
            print("mid-stream", flush=True)
            sys.stdin.readline()

    def __getattr__(self, name):
        return getattr(self.upload, name)


class Store:
    def __getattr__(self, name):
        return getattr(local, name)

    def start_upload(self, key, content_type):
        return Paused(local.start_upload(key, content_type))


ExportWorker.from_container(container, objects=Store(), part_size=1, batch_rows=2).run(export_id)
"""


def test_a_worker_process_killed_with_sigkill_mid_stream_is_retried_exactly(
    api: Api, container: Container, local_store: LocalObjectStore
) -> None:
    import os
    import signal
    import subprocess
    import sys

    seeded = _seed(api, container, "Kappa Shop", events_in=20)
    token = seeded.tenant.owner_token
    created = _request(api, token, dataset="events", gzip=False)  # a part per cursor partition
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'layers' / 'shared'}"}
    env["MULTIBUZZ_LOG_LEVEL"] = "WARNING"
    # the worker takes the message; visible again at once, as SQS makes it once the visibility timeout passes
    (held,) = container.local_queue.receive("exports", 1, visibility_timeout=0)
    export_id = json.loads(held.body)["id"]
    assert export_id == created["id"]
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_CHILD, container.settings.resolved_database_url,
         str(container.settings.data_dir), export_id],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=root, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "mid-stream"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    halfway = _get(api, token, created["id"])
    assert halfway["status"] == "running" and halfway["attempts"] == 1 and 0 < halfway["rows"] < 20
    folder = Path(container.settings.resolved_object_dir)
    assert [p for p in folder.rglob("*") if ".upload-" in p.name], "the killed run left its partial file"
    # the queue redelivers the message the killed process never settled, to the real handler
    assert _deliver(container).succeeded == 1
    export = _get(api, token, created["id"])
    assert export["attempts"] == 2 and export["rows"] == 20
    rows = _rows(_download(export)[0], export)
    assert [r["id"] for r in rows] == seeded.event_ids
    assert not [p for p in folder.rglob("*") if ".upload-" in p.name], "the stale partial file was removed"
