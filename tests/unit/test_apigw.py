import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multibuzz import topology

from infra.local.apigw import Route, Router, build_event, parse_result


def test_router_prefers_specific_routes_like_api_gateway() -> None:
    router = Router(topology.all_routes())
    route, params = router.match("GET", "/r/abc123") or (None, None)
    assert route is not None and route.function == "redirect" and params == {"code": "abc123"}
    route, _ = router.match("POST", "/api/v1/events") or (None, None)
    assert route is not None and route.function == "events"
    route, params = router.match("GET", "/api/v1/accounts/acc_1") or (None, None)
    assert route is not None and route.function == "api" and params == {"proxy": "accounts/acc_1"}
    route, params = router.match("POST", "/webhooks/shopify/orders/create") or (None, None)
    assert route is not None and route.function == "webhooks" and params == {"topic": "orders/create"}
    assert router.match("GET", "/nothing/here") is None
    assert router.match("DELETE", "/r/abc") is None


def _linear_match(router: Router, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The definition: the first route in precedence order that matches (HEAD falls back to GET)."""
    fallback = None
    for route in router.routes:
        found = route.pattern.match(path)
        if found and route.method in (method, "ANY"):
            return route, found.groupdict()
        if found and fallback is None and method == "HEAD" and route.method == "GET":
            fallback = (route, found.groupdict())
    return fallback


ODD_ROUTES = [("GET /{tenant}/items", "a"), ("GET /r/{code}", "b"), ("ANY /{proxy+}", "c"), ("POST /r/x", "d")]
SEGMENTS = ["r", "api", "v1", "events", "x", "items", "abc", "webhooks", "shopify", ""]


@pytest.mark.parametrize("routes", [topology.all_routes(), ODD_ROUTES])
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE"]),
    segments=st.lists(st.sampled_from(SEGMENTS), min_size=0, max_size=4),
)
def test_the_first_segment_index_matches_like_a_linear_scan(
    routes: list[tuple[str, str]], method: str, segments: list[str]
) -> None:
    router = Router(routes)
    path = "/" + "/".join(segments)
    assert router.match(method, path) == _linear_match(router, method, path)


def test_event_is_payload_format_2() -> None:
    route = Route.parse("POST /api/v1/events", "events")
    event = build_event(
        route=route,
        path_params={},
        method="POST",
        path="/api/v1/events",
        query_string="a=1&a=2&b=",
        headers=[("Content-Type", "application/json"), ("Cookie", "x=1; y=2"), ("X-Dup", "1"), ("X-Dup", "2")],
        body=b'{"k": 1}',
        source_ip="10.0.0.1",
    )
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /api/v1/events"
    assert event["cookies"] == ["x=1", "y=2"]
    assert event["headers"]["x-dup"] == "1,2"
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["body"] == '{"k": 1}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["http"] == {
        "method": "POST",
        "path": "/api/v1/events",
        "protocol": "HTTP/1.1",
        "sourceIp": "10.0.0.1",
        "userAgent": "",
    }


def test_binary_bodies_are_base64_encoded() -> None:
    route = Route.parse("POST /x", "api")
    event = build_event(
        route=route,
        path_params={},
        method="POST",
        path="/x",
        query_string="",
        headers=[("content-type", "application/octet-stream")],
        body=b"\x00\xff",
        source_ip="1.1.1.1",
    )
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\xff"


def test_results_follow_api_gateway_rules() -> None:
    status, headers, body = parse_result({"statusCode": 302, "headers": {"Location": "https://x"}, "cookies": ["a=b"]})
    assert status == 302 and (b"location", b"https://x") in headers and (b"set-cookie", b"a=b") in headers
    assert body == b""
    status, headers, body = parse_result({"ok": True})
    assert status == 200 and body == b'{"ok": true}'
    status, _, body = parse_result(
        {"statusCode": 200, "body": base64.b64encode(b"png").decode(), "isBase64Encoded": True}
    )
    assert body == b"png"
