"""The events function's direct routes answer exactly as FastAPI does: same status, headers and body.

Each request is sent twice as the same API Gateway v2 event: once through Mangum and FastAPI (the
handler without direct routes) and once through ``DirectRoutes`` (the shipped ``lambda_handler``).
Requests carry client event ids / session ids / Idempotency-Keys so that both answers can be equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from multibuzz.apps import create_events_app
from multibuzz.auth.signatures import sign
from multibuzz.bootstrap import Container
from multibuzz.runtime.asgi import LazyAsgiHandler
from multibuzz.services.context import Actor
from multibuzz.services.tenancy import Tenancy

from functions.events.handler import DIRECT_ROUTES, lambda_handler
from infra.local.apigw import Route, build_event
from infra.local.lambda_context import LocalLambdaContext

VISITOR = "d" * 64


@pytest.fixture
def keys(container: Container) -> dict[str, str]:
    with container.session() as session:
        tenancy = Tenancy(session, container.clock, container.ids, container.secret_box)
        account = tenancy.create_account(None, "Direct")
        actor = Actor("usr_admin", "admin@x.test", True, account.id, None)
        _, plain, _ = tenancy.create_api_key(actor, account.id, name="plain")
        _, signed, secret = tenancy.create_api_key(actor, account.id, name="signed", with_signing_secret=True)
        session.commit()
    assert secret is not None
    return {"plain": plain, "signed": signed, "secret": secret}


def v2_event(key: str, path: str, body: bytes, headers: dict[str, str], path_params: dict[str, str]) -> dict[str, Any]:
    return build_event(
        route=Route.parse(key, "events"),
        path_params=path_params,
        method=key.split(" ")[0],
        path=path,
        query_string="",
        headers=[("content-type", "application/json"), ("host", "api.test"), *headers.items()],
        body=body,
        source_ip="203.0.113.9",
    )


def cases(keys: dict[str, str]) -> list[tuple[str, str, str, bytes, dict[str, str], dict[str, str]]]:
    """(name, route key, path, body, headers, path params)."""
    auth = {"authorization": f"Bearer {keys['plain']}"}
    one = json.dumps({"events": [{"event_type": "page_view", "visitor_id": VISITOR, "event_id": "e-1"}]}).encode()
    signed_body = json.dumps({"events": [{"event_type": "signup", "visitor_id": VISITOR, "event_id": "e-2"}]})
    signature = sign(keys["secret"], signed_body.encode())
    return [
        ("one event", "POST /api/v1/events", "/api/v1/events", one, auth, {}),
        (
            "unified",
            "POST /api/v1/events",
            "/api/v1/events",
            json.dumps({"action": "page_view", "visitor_id": VISITOR, "event_id": "e-3"}).encode(),
            auth,
            {},
        ),
        (
            "a batch with an invalid event",
            "POST /api/v1/events",
            "/api/v1/events",
            json.dumps(
                {"events": [{"visitor_id": VISITOR}, {"event_type": "x", "visitor_id": VISITOR, "event_id": "e-4"}]}
            ).encode(),
            auth,
            {},
        ),
        ("nothing valid", "POST /api/v1/events", "/api/v1/events", b'{"events": [{"visitor_id": 3}]}', auth, {}),
        ("malformed JSON", "POST /api/v1/events", "/api/v1/events", b'{"events": [', auth, {}),
        ("not an object", "POST /api/v1/events", "/api/v1/events", b"[1, 2]", auth, {}),
        ("events not a list", "POST /api/v1/events", "/api/v1/events", b'{"events": 3}', auth, {}),
        ("no credentials", "POST /api/v1/events", "/api/v1/events", one, {}, {}),
        (
            "unknown key",
            "POST /api/v1/events",
            "/api/v1/events",
            one,
            {"authorization": "Bearer sk_live_" + "x" * 40},
            {},
        ),
        ("not a key", "POST /api/v1/events", "/api/v1/events", one, {"authorization": "Bearer nope"}, {}),
        ("too large", "POST /api/v1/events", "/api/v1/events", b'{"events": []' + b" " * 1_100_000 + b"}", auth, {}),
        (
            "signed",
            "POST /api/v1/events",
            "/api/v1/events",
            signed_body.encode(),
            {"authorization": f"Bearer {keys['signed']}", "x-signature": signature},
            {},
        ),
        (
            "bad signature",
            "POST /api/v1/events",
            "/api/v1/events",
            signed_body.encode(),
            {"authorization": f"Bearer {keys['signed']}", "x-signature": "0" * 64},
            {},
        ),
        (
            "non-ASCII signature",
            "POST /api/v1/events",
            "/api/v1/events",
            signed_body.encode(),
            {"authorization": f"Bearer {keys['signed']}", "x-signature": "é" * 64},
            {},
        ),
        ("a cookie", "POST /api/v1/events", "/api/v1/events", one, {**auth, "cookie": "a=1; b=2"}, {}),
        (
            "signature without a secret",
            "POST /api/v1/events",
            "/api/v1/events",
            one,
            {**auth, "x-signature": "abc"},
            {},
        ),
        (
            "action in the path",
            "POST /api/v1/event/{action}",
            "/api/v1/event/signup",
            json.dumps({"visitor_id": VISITOR, "event_id": "e-5"}).encode(),
            auth,
            {"action": "signup"},
        ),
        (
            "purchase in the path",
            "POST /api/v1/event/{action}",
            "/api/v1/event/purchase",
            json.dumps({"visitor_id": VISITOR, "event_id": "e-6", "revenue": 12.5, "currency": "EUR"}).encode(),
            auth,
            {"action": "purchase"},
        ),
        ("unknown action", "POST /api/v1/event/{action}", "/api/v1/event/nope", b"{}", auth, {"action": "nope"}),
        (
            "session",
            "POST /api/v1/sessions",
            "/api/v1/sessions",
            json.dumps(
                {"session": {"visitor_id": VISITOR, "session_id": "s-1", "url": "https://shop.example/"}}
            ).encode(),
            auth,
            {},
        ),
        ("session invalid", "POST /api/v1/sessions", "/api/v1/sessions", b'{"session": {}}', auth, {}),
        (
            "identify",
            "POST /api/v1/identify",
            "/api/v1/identify",
            json.dumps({"user_id": "u-1", "visitor_id": VISITOR, "traits": {"plan": "pro"}}).encode(),
            {**auth, "idempotency-key": "idf-1"},
            {},
        ),
        ("identify invalid", "POST /api/v1/identify", "/api/v1/identify", b'{"traits": 3}', auth, {}),
        ("validate", "GET /api/v1/validate", "/api/v1/validate", b"", auth, {}),
        ("validate refused", "GET /api/v1/validate", "/api/v1/validate", b"", {}, {}),
    ]


def test_the_shipped_handler_serves_the_ingestion_routes_directly() -> None:
    lambda_handler._mangum()
    assert lambda_handler._direct is not None
    assert sorted(lambda_handler._direct.routes) == sorted(DIRECT_ROUTES)


def test_direct_answers_equal_fastapi_answers(container: Container, keys: dict[str, str]) -> None:
    through_fastapi = LazyAsgiHandler(create_events_app)
    context = LocalLambdaContext("events")
    for name, key, path, body, headers, params in cases(keys):
        expected = through_fastapi(v2_event(key, path, body, headers, params), context)
        got = lambda_handler(v2_event(key, path, body, headers, params), context)
        assert lambda_handler._direct is not None and lambda_handler._direct.serves(
            v2_event(key, path, body, headers, params)
        ), name
        assert got["statusCode"] == expected["statusCode"], (name, got, expected)
        assert json.loads(got["body"]) == json.loads(expected["body"]), name
        assert got["body"] == expected["body"], name
        assert got["headers"] == expected["headers"], name


@pytest.mark.parametrize("limit", [1])
def test_rate_limited_answers_match(container: Container, keys: dict[str, str], limit: int, swap_limit: Any) -> None:
    swap_limit(limit)
    through_fastapi = LazyAsgiHandler(create_events_app)
    context = LocalLambdaContext("events")
    _, key, path, body, headers, params = cases(keys)[0]
    first = lambda_handler(v2_event(key, path, body, headers, params), context)
    assert first["statusCode"] == 202
    got = lambda_handler(v2_event(key, path, body, headers, params), context)
    expected = through_fastapi(v2_event(key, path, body, headers, params), context)
    assert got["statusCode"] == expected["statusCode"] == 429
    assert got["body"] == expected["body"]
    assert set(got["headers"]) == set(expected["headers"]) and "retry-after" in got["headers"]


@pytest.fixture
def swap_limit(container: Container, tmp_path: Any, database_url: str) -> Iterator[Any]:
    from multibuzz.bootstrap import use_container

    from tests.conftest import make_settings

    def install(limit: int) -> None:
        use_container(
            Container(
                make_settings(tmp_path / "limited", database_url, api_key_rate_limit_per_minute=limit),
                engine=container.engine,
            )
        )

    yield install
    use_container(container)
