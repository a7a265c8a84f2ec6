"""Bad input on every ingestion route, as data: each row → a 4xx JSON answer naming the field, nothing stored.

Every row is sent through the real local gateway with a real API key (one whose key has a signing
secret, so the ``X-Signature`` rows reach the comparison). After each answer the ingest queue must
be empty and no conversion row may exist: a refused request leaves no trace.

Add a row when a new bad input is found; add a route to ``ROUTES`` when one is added to ingestion.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from multibuzz.bootstrap import Container
from multibuzz.db.models import Conversion, Event, Identity, Visitor
from multibuzz.http.json_body import MAX_MAP_DEPTH
from multibuzz.services.context import Actor
from multibuzz.services.tenancy import Tenancy
from sqlalchemy import func, select

from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import Api

VISITOR = "b" * 64
NUL = "\u0000"


def _session(**over: Any) -> dict[str, Any]:
    return {"session": {"visitor_id": VISITOR, "url": "https://shop.example/", **over}}


def _batch(**over: Any) -> dict[str, Any]:
    return {"events": [{"event_type": "page_view", "visitor_id": VISITOR, "properties": {}, **over}]}


def _unified(**over: Any) -> dict[str, Any]:
    return {"action": "purchase", "visitor_id": VISITOR, "value": 10, "currency": "EUR", **over}


def _alias(**over: Any) -> dict[str, Any]:
    return {"visitor_id": VISITOR, "value": 10, "currency": "EUR", **over}


def _conversion(**over: Any) -> dict[str, Any]:
    return {"conversion_type": "purchase", "visitor_id": VISITOR, "revenue": "10.00", "currency": "EUR", **over}


def _identify(**over: Any) -> dict[str, Any]:
    return {"user_id": "user-1", "visitor_id": VISITOR, "traits": {}, **over}


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    body: Callable[..., dict[str, Any]]
    # where a body's visitor id, a free-form map and a timestamp live, as field paths in error answers
    visitor_field: str
    map_field: str
    map_key: str
    time_key: str
    time_field: str


ROUTES = [
    Route("sessions", "/api/v1/sessions", _session, "session.visitor_id", "session.url", "url", "started_at",
          "session.started_at"),
    Route("events batch", "/api/v1/events", _batch, "events[0].visitor_id", "events[0].properties", "properties",
          "timestamp", "events[0].timestamp"),
    Route("events unified", "/api/v1/events", _unified, "visitor_id", "properties", "properties", "timestamp",
          "timestamp"),
    Route("event/purchase", "/api/v1/event/purchase", _alias, "visitor_id", "properties", "properties", "timestamp",
          "timestamp"),
    Route("conversions", "/api/v1/conversions", _conversion, "visitor_id", "properties", "properties", "timestamp",
          "timestamp"),
    Route("identify", "/api/v1/identify", _identify, "visitor_id", "traits", "traits", "timestamp", "timestamp"),
]  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One bad input: how to build it for a route, and the answer it must get."""

    name: str
    build: Callable[[Route], tuple[bytes, dict[str, Any]]]  # (raw body, extra headers)
    status: int
    field: Callable[[Route], str | None]  # the field the error must name (None: the status and code say it)
    code: str
    applies: Callable[[Route], bool] = lambda route: True


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


def _body(route: Route, **over: Any) -> tuple[bytes, dict[str, Any]]:
    return _json(route.body(**over)), {}


def _with_map(route: Route, value: Any) -> tuple[bytes, dict[str, Any]]:
    if route.name == "sessions":
        return _json(_session(url=value)), {}
    return _body(route, **{route.map_key: value})


def _with_time(route: Route, value: Any) -> tuple[bytes, dict[str, Any]]:
    if route.name == "sessions":
        return _json(_session(started_at=value)), {}
    return _body(route, **{route.time_key: value})


def _revenue_field(route: Route) -> str:
    return "revenue" if route.name == "conversions" else "value"


def _money(route: Route, amount: Any) -> tuple[bytes, dict[str, Any]]:
    return _body(route, **{_revenue_field(route): amount})


MONEY = {"events unified", "event/purchase", "conversions"}
PROPERTY_MAPS = {"events batch", "events unified", "event/purchase", "conversions", "identify"}

CASES = [
    Case("deeply nested JSON (100,000 '[')", lambda r: (b"[" * 100_000, {}), 400, lambda r: "body", "malformed_json"),
    Case("nested JSON object 100,000 deep", lambda r: (b'{"a":' * 100_000, {}), 400, lambda r: "body",
         "malformed_json"),
    Case("not JSON", lambda r: (b"{not json", {}), 400, lambda r: "body", "malformed_json"),
    Case("a JSON array, not an object", lambda r: (b"[1, 2]", {}), 422, lambda r: "body", "validation_error"),
    Case("body over 1 MB (1.5 MB)", lambda r: _with_map(r, {"blob": "x" * 1_500_000} if r.name != "sessions"
         else "x" * 1_500_000), 413, lambda r: None, "payload_too_large"),
    Case("non-ASCII X-Signature", lambda r: (_body(r)[0], {"x-signature": "sha256=caf\u00e9".encode("latin-1")}),
         401, lambda r: "X-Signature", "unauthorized"),
    Case("UTF-8 X-Signature", lambda r: (_body(r)[0], {"x-signature": "\u65e5\u672c".encode()}), 401,
         lambda r: "X-Signature", "unauthorized"),
    Case("NUL in the visitor id", lambda r: _body(r, visitor_id="v" + NUL + "1") if r.name != "sessions"
         else (_json(_session(visitor_id="v" + NUL + "1")), {}), 422, lambda r: r.visitor_field, "validation_error"),
    Case("NUL in a property value", lambda r: _with_map(r, {"note": "a" + NUL}), 422,
         lambda r: r.map_field + ".note", "validation_error", lambda r: r.name in PROPERTY_MAPS),
    Case("NUL in a property key", lambda r: _with_map(r, {"no" + NUL + "te": 1}), 422,
         lambda r: r.map_field, "validation_error", lambda r: r.name in PROPERTY_MAPS),
    Case("NUL in a url", lambda r: _with_map(r, "https://shop.example/" + NUL), 422, lambda r: "session.url",
         "validation_error", lambda r: r.name == "sessions"),
    Case("properties nested one level too deep", lambda r: _with_map(r, _nested(MAX_MAP_DEPTH + 1)), 422,
         lambda r: r.map_field, "validation_error", lambda r: r.name in PROPERTY_MAPS),
    Case("timestamp in year 1", lambda r: _with_time(r, "0001-01-01T00:00:00Z"), 422, lambda r: r.time_field,
         "validation_error"),
    Case("timestamp as epoch -62135596800 (year 1)", lambda r: _with_time(r, -62135596800), 422,
         lambda r: r.time_field, "validation_error"),
    Case("timestamp far in the future", lambda r: _with_time(r, "9999-12-31T23:59:59Z"), 422,
         lambda r: r.time_field, "validation_error"),
    Case("value/revenue null", lambda r: _money(r, None), 422, _revenue_field, "validation_error",
         lambda r: r.name in {"events unified", "event/purchase"}),
    Case("negative value/revenue", lambda r: _money(r, -5), 422, _revenue_field, "validation_error",
         lambda r: r.name in MONEY),
    Case("value/revenue not a number", lambda r: _money(r, "lots"), 422, _revenue_field, "validation_error",
         lambda r: r.name in MONEY),
    Case("unknown currency ZZZ", lambda r: _body(r, currency="ZZZ"), 422, lambda r: "currency", "validation_error",
         lambda r: r.name in MONEY),
    Case("withdrawn currency code (DEM)", lambda r: _body(r, currency="DEM"), 422, lambda r: "currency",
         "validation_error", lambda r: r.name in MONEY),
]  # fmt: skip


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


TABLE = [
    pytest.param(route, case, id=f"{route.name}: {case.name}")
    for case in CASES
    for route in ROUTES
    if case.applies(route)
]


def _stored(container: Container) -> tuple[int, int]:
    with container.session() as db:
        conversions = int(db.scalar(select(func.count()).select_from(Conversion)) or 0)
    return container.local_queue.depth("ingest"), conversions


def _signed_key_with_visitor(container: Container) -> str:
    """An account, an API key with a signing secret, and the visitor VISITOR (seeded directly: fast)."""
    now = container.clock.now()
    with container.session() as db:
        tenancy = Tenancy(db, container.clock, container.ids, container.secret_box)
        admin = Actor(
            user_id="usr_root", email="root@multibuzz.test", is_platform_admin=True, account_id=None, role=None
        )
        account = tenancy.create_account(admin, "Bad input")
        _, plaintext, secret = tenancy.create_api_key(admin, account.id, name="signed", with_signing_secret=True)
        assert secret is not None
        account_id = account.id
        db.add(
            Visitor(
                id=container.ids.new("vis"),
                account_id=account_id,
                visitor_key=VISITOR,
                first_seen_at=now,
                last_seen_at=now,
            )
        )
        db.commit()
    return plaintext


@pytest.mark.parametrize(("route", "case"), TABLE)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    api: Api, container: Container, route: Route, case: Case
) -> None:
    object.__setattr__(container.settings, "conversion_lookup_grace_seconds", 0.0)
    # the visitor exists, so a conversion is refused for its input, not as an unknown visitor
    key = _signed_key_with_visitor(container)
    raw, extra = case.build(route)
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json", **extra}

    response = api.client.post(route.path, content=raw, headers=headers)

    assert response.status_code == case.status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == case.code, body
    expected = case.field(route)
    if expected is not None:
        named = {e.get("field") for e in body.get("errors", [])}
        assert expected in named, f"{expected!r} not named in {body}"
    assert _stored(container) == (0, 0), "a refused request must leave nothing queued or stored"


def test_the_table_covers_every_ingestion_route() -> None:
    """A new ingestion route must get rows here: the ingestion routers' POST paths are all in ROUTES."""
    from multibuzz.conversions.http import router as conversions
    from multibuzz.ingest.app import router as ingest

    posts = {
        route.path.replace("{action}", "purchase")
        for router in (ingest, conversions)
        for route in router.routes
        if "POST" in getattr(route, "methods", set())
    }
    assert posts == {r.path for r in ROUTES}


def test_the_deepest_accepted_properties_are_stored(api: Api, container: Container) -> None:
    """The depth limit is below what the database's JSON column takes: an accepted map is never
    refused by the consumer (which would lose the event after its 202)."""
    object.__setattr__(container.settings, "conversion_lookup_grace_seconds", 0.0)
    key = {"authorization": f"Bearer {_signed_key_with_visitor(container)}"}
    deep = _nested(MAX_MAP_DEPTH)
    for route in ROUTES:
        if route.name in PROPERTY_MAPS:
            body = route.body(**{route.map_key: deep})
            response = api.client.post(route.path, json=body, headers=key)
            assert response.status_code in (200, 202), (route.name, response.text)
    handler = load_handler("attribution")
    while deliver_once(container.local_queue, "ingest", handler, backoff_seconds=0).received:
        pass
    assert container.local_queue.dead_letters("ingest") == []
    with container.session() as db:
        stored = db.scalars(select(Event.properties)).all()
        traits = db.scalar(select(Identity.traits))
        conversions = db.scalars(select(Conversion.properties)).all()
    assert len(stored) == 3 and all(p.get("n") == deep["n"] for p in stored)
    assert traits == deep
    assert len(conversions) == 3 and all(p.get("n") == deep["n"] for p in conversions)
