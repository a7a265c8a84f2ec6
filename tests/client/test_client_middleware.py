"""The middleware's rules, observed on the wire: cookies, the seed's three session cases, page views, skips."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from multibuzz_client import Client, current_visit
from multibuzz_client.asgi import MultibuzzASGIMiddleware
from multibuzz_client.wsgi import MultibuzzWSGIMiddleware

from tests.client.conftest import CHROME, KEY, FakeMultibuzz

VID, SID = "1" * 64, "2" * 64


def html_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    seen = current_visit()
    environ["seen"] = seen
    content_type = "application/json" if environ["PATH_INFO"].startswith("/api") else "text/html; charset=utf-8"
    status = "404 Not Found" if environ["PATH_INFO"] == "/missing" else "200 OK"
    start_response(status, [("Content-Type", content_type)])
    return [b"<p>hello</p>"]


def call(
    app: Any, path: str = "/", *, method: str = "GET", headers: dict[str, str] | None = None, https: bool = False
) -> tuple[str, list[tuple[str, str]], dict[str, Any]]:
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    path, _, query = path.partition("?")
    environ.update({"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": method, "HTTP_HOST": "shop.example"})
    environ["HTTP_USER_AGENT"] = CHROME
    environ["REMOTE_ADDR"] = "203.0.113.9"
    if https:
        environ["wsgi.url_scheme"] = "https"
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = status, response_headers

    b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], environ


def cookies(headers: list[tuple[str, str]]) -> dict[str, str]:
    return {v.split("=", 1)[0]: v for k, v in headers if k == "Set-Cookie"}


@pytest.fixture
def client(fake: FakeMultibuzz) -> Client:
    return Client(api_key=KEY, api_url=fake.url, flush_interval=0.02, flush_at_exit=False)


def sent(client: Client, fake: FakeMultibuzz) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    assert client.flush(10)
    sessions = [r.json["session"] for r in fake.received if r.path == "/api/v1/sessions"]
    return sessions, fake.events()


def test_a_first_visit_gets_both_cookies_a_session_and_a_page_view(client: Client, fake: FakeMultibuzz) -> None:
    app = MultibuzzWSGIMiddleware(html_app, client)
    status, headers, environ = call(
        app, "/?utm_source=google&utm_medium=cpc", headers={"referer": "https://www.google.com/"}
    )
    assert status == "200 OK"
    jar = cookies(headers)
    vid = jar["_mbuzz_vid"].split(";")[0].split("=")[1]
    sid = jar["_mbuzz_sid"].split(";")[0].split("=")[1]
    assert len(vid) == 64 and int(vid, 16) >= 0 and vid != sid
    assert jar["_mbuzz_vid"].endswith("; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax")
    assert jar["_mbuzz_sid"].endswith("; Max-Age=1800; Path=/; HttpOnly; SameSite=Lax")
    assert environ["seen"].visitor_id == vid and environ["multibuzz.visit"].session_id == sid
    sessions, events = sent(client, fake)
    assert sessions == [
        {
            "visitor_id": vid,
            "session_id": sid,
            "url": "http://shop.example/?utm_source=google&utm_medium=cpc",
            "started_at": sessions[0]["started_at"],
            "referrer": "https://www.google.com/",
            "user_agent": CHROME,
            "ip": "203.0.113.9",
        }
    ]
    assert [(e["event_type"], e["visitor_id"], e["properties"]["url"]) for e in events] == [
        ("page_view", vid, "http://shop.example/?utm_source=google&utm_medium=cpc")
    ]
    assert events[0]["properties"]["referrer"] == "https://www.google.com/"
    assert events[0]["event_id"] and events[0]["ip"] == "203.0.113.9"


def test_same_session_sends_only_page_views_and_slides_the_session_cookie(client: Client, fake: FakeMultibuzz) -> None:
    app = MultibuzzWSGIMiddleware(html_app, client)
    _, headers, environ = call(app, "/cart", headers={"cookie": f"other=1; _mbuzz_vid={VID}; _mbuzz_sid={SID}"})
    assert (environ["seen"].new_visitor, environ["seen"].new_session) == (False, False)
    jar = cookies(headers)
    assert jar["_mbuzz_vid"].startswith(f"_mbuzz_vid={VID};") and jar["_mbuzz_sid"].startswith(f"_mbuzz_sid={SID};")
    assert "Max-Age=1800" in jar["_mbuzz_sid"], "30 minutes from this request: sliding"
    sessions, events = sent(client, fake)
    assert sessions == []
    assert [(e["event_type"], e["visitor_id"]) for e in events] == [("page_view", VID)]


def test_a_returning_visitor_keeps_the_visitor_and_starts_a_session(client: Client, fake: FakeMultibuzz) -> None:
    app = MultibuzzWSGIMiddleware(html_app, client)
    _, headers, environ = call(app, "/", headers={"cookie": f"_mbuzz_vid={VID}"})
    assert (environ["seen"].new_visitor, environ["seen"].new_session) == (False, True)
    new_sid = environ["seen"].session_id
    assert new_sid != SID and cookies(headers)["_mbuzz_vid"].startswith(f"_mbuzz_vid={VID};")
    sessions, _ = sent(client, fake)
    assert [(s["visitor_id"], s["session_id"]) for s in sessions] == [(VID, new_sid)]


def test_a_marketing_touch_inside_a_session_is_forwarded_as_a_session_hit(client: Client, fake: FakeMultibuzz) -> None:
    app = MultibuzzWSGIMiddleware(html_app, client)
    call(app, "/?utm_source=facebook&utm_medium=paid_social", headers={"cookie": f"_mbuzz_vid={VID}; _mbuzz_sid={SID}"})
    call(app, "/?fbclid=abc", headers={"cookie": f"_mbuzz_vid={VID}; _mbuzz_sid={SID}"})
    call(app, "/?page=2", headers={"cookie": f"_mbuzz_vid={VID}; _mbuzz_sid={SID}"})
    sessions, _ = sent(client, fake)
    assert [s["url"] for s in sessions] == [
        "http://shop.example/?utm_source=facebook&utm_medium=paid_social",
        "http://shop.example/?fbclid=abc",
    ]
    assert {s["session_id"] for s in sessions} == {SID}, "the server decides whether the touch starts a session"


def test_a_forged_cookie_value_is_replaced(client: Client, fake: FakeMultibuzz) -> None:
    app = MultibuzzWSGIMiddleware(html_app, client)
    _, _, environ = call(app, "/", headers={"cookie": '_mbuzz_vid="<script>"; _mbuzz_sid=x'})
    assert environ["seen"].new_visitor and len(environ["seen"].visitor_id) == 64


def test_secure_on_https_and_the_configured_cookie_domain(fake: FakeMultibuzz) -> None:
    client = Client(api_key=KEY, api_url=fake.url, cookie_domain=".example.com", flush_at_exit=False)
    _, headers, _ = call(MultibuzzWSGIMiddleware(html_app, client), "/", https=True)
    for cookie in cookies(headers).values():
        assert cookie.endswith("; Path=/; HttpOnly; SameSite=Lax; Domain=.example.com; Secure")
    _, headers, _ = call(MultibuzzWSGIMiddleware(html_app, client), "/")
    assert all("Secure" not in c for c in cookies(headers).values())


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/static/app.css", {}),
        ("/assets/logo.png", {}),
        ("/favicon.ico", {}),
        ("/healthz", {}),
        ("/up", {}),
        ("/admin/orders", {}),
        ("/", {"user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}),
        ("/", {"user-agent": "facebookexternalhit/1.1"}),
        ("/", {"sec-gpc": "1"}),
        ("/", {"dnt": "1"}),
    ],
)
def test_skipped_requests_are_not_tracked_and_get_no_cookies(
    fake: FakeMultibuzz, path: str, headers: dict[str, str]
) -> None:
    client = Client(
        api_key=KEY, api_url=fake.url, excluded_paths=["/admin"], honor_privacy_signals=True, flush_at_exit=False
    )
    status, response_headers, environ = call(MultibuzzWSGIMiddleware(html_app, client), path, headers=headers)
    assert status == "200 OK" and cookies(response_headers) == {}
    assert environ["seen"] is None
    assert client.stats()["queued"] == 0


def test_privacy_signals_are_ignored_unless_the_app_asks(client: Client) -> None:
    _, headers, _ = call(MultibuzzWSGIMiddleware(html_app, client), "/", headers={"sec-gpc": "1", "dnt": "1"})
    assert set(cookies(headers)) == {"_mbuzz_vid", "_mbuzz_sid"}


def test_only_successful_html_gets_are_page_views(client: Client, fake: FakeMultibuzz) -> None:
    app = MultibuzzWSGIMiddleware(html_app, client)
    jar = {"cookie": f"_mbuzz_vid={VID}; _mbuzz_sid={SID}"}
    call(app, "/api/cart", headers=jar)
    call(app, "/missing", headers=jar)
    call(app, "/cart", method="POST", headers=jar)
    call(app, "/cart", headers=jar)
    _, events = sent(client, fake)
    assert [e["properties"]["url"] for e in events] == ["http://shop.example/cart"]


def test_the_funnel_detector_labels_page_views_and_its_errors_are_contained(fake: FakeMultibuzz) -> None:
    def detector(request: Any) -> dict[str, Any] | None:
        if request.path == "/boom":
            raise RuntimeError("bug in the app's detector")
        return {"funnel": "checkout", "funnel_step": "cart", "funnel_position": 1} if request.path == "/cart" else None

    client = Client(api_key=KEY, api_url=fake.url, funnel_detector=detector, flush_interval=0.02, flush_at_exit=False)
    app = MultibuzzWSGIMiddleware(html_app, client)
    for path in ("/cart", "/boom", "/"):
        assert call(app, path)[0] == "200 OK"
    _, events = sent(client, fake)
    props = {e["properties"]["url"].rsplit("/", 1)[1]: e["properties"] for e in events}
    assert props["cart"]["funnel"] == "checkout" and props["cart"]["funnel_position"] == 1
    assert "funnel" not in props["boom"] and "funnel" not in props[""]


def test_trusted_forwarded_headers_give_the_scheme_and_client_ip(fake: FakeMultibuzz) -> None:
    client = Client(api_key=KEY, api_url=fake.url, trust_forwarded=True, flush_interval=0.02, flush_at_exit=False)
    headers = {"x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.7, 10.0.0.1"}
    _, response_headers, environ = call(MultibuzzWSGIMiddleware(html_app, client), "/", headers=headers)
    assert environ["seen"].ip == "198.51.100.7" and environ["seen"].url.startswith("https://")
    assert all(c.endswith("; Secure") for c in cookies(response_headers).values())


def test_the_asgi_middleware_applies_the_same_rules(client: Client, fake: FakeMultibuzz) -> None:
    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(current_visit())
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"<p>hi</p>"})

    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "https",
        "path": "/",
        "query_string": b"utm_source=x",
        "headers": [
            (b"host", b"shop.example"),
            (b"user-agent", CHROME.encode()),
            (b"cookie", f"_mbuzz_vid={VID}".encode()),
        ],
        "client": ("203.0.113.9", 5000),
    }
    asyncio.run(MultibuzzASGIMiddleware(app, client)(scope, receive, send))
    set_cookies = [v.decode() for k, v in messages[0]["headers"] if k == b"set-cookie"]
    assert set_cookies[0].startswith(f"_mbuzz_vid={VID};") and set_cookies[0].endswith("; Secure")
    assert seen[0].visitor_id == VID and seen[0].new_session
    assert scope["state"]["multibuzz_visit"] is seen[0]
    sessions, events = sent(client, fake)
    assert [s["url"] for s in sessions] == ["https://shop.example/?utm_source=x"]
    assert [e["event_type"] for e in events] == ["page_view"]


def test_track_inside_a_request_uses_the_current_visitor(client: Client, fake: FakeMultibuzz) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        client.track("add_to_cart", {"sku": "TEE"})
        client.identify("user-1", {"plan": "pro"})
        start_response("303 See Other", [("Location", "/cart")])
        return [b""]

    call(MultibuzzWSGIMiddleware(app, client), "/cart", method="POST", headers={"cookie": f"_mbuzz_vid={VID}"})
    _, events = sent(client, fake)
    assert [(e["event_type"], e["visitor_id"], e["properties"]) for e in events] == [
        ("add_to_cart", VID, {"sku": "TEE"})
    ]
    identify = next(r.json for r in fake.received if r.path == "/api/v1/identify")
    assert identify == {"user_id": "user-1", "traits": {"plan": "pro"}, "visitor_id": VID}
    assert current_visit() is None, "nothing leaks out of the request"
