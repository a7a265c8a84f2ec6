"""The example shops as real servers, real browsers' requests with cookies, the real local Multibuzz stack.

Each shop (Flask, FastAPI, Django) is served on a loopback port; the client sends to the local gateway; the
queued messages are consumed by the real attribution consumer (``drain``); the visitor's sessions, channels and
the purchase's attribution are read back through the public read API (and the SDK's ``attribution``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import multibuzz_client as multibuzz
import pytest
from multibuzz.bootstrap import Container

from tests.client.conftest import CHROME, serve_example, wait_for
from tests.conftest import Api, Tenant, free_port
from tests.functional.test_journey_e2e import credited, drain

FRAMEWORKS = ["flask", "fastapi", "django"]


@pytest.fixture(autouse=True)
def _no_lookup_grace(container: Container) -> None:
    object.__setattr__(container.settings, "conversion_lookup_grace_seconds", 0.0)


def options(tenant: Tenant, api_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "api_key": tenant.api_key,
        "api_url": api_url,
        "flush_interval": 0.05,
        "backoff_base": 0.05,
        "backoff_cap": 0.2,
        "flush_at_exit": False,
        **extra,
    }


def visitor(api: Api, tenant: Tenant, visitor_id: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/visitors/{visitor_id}", headers=api.auth(tenant.owner_token))
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_google_then_paid_social_then_a_purchase(framework: str, api: Api, container: Container, gateway: str) -> None:
    tenant = api.tenant(f"{framework.title()} Shop")
    with (
        serve_example(framework, **options(tenant, gateway)) as shop,
        httpx.Client(base_url=shop, headers={"user-agent": CHROME}, timeout=30) as browser,
    ):
        first = browser.get("/", headers={"referer": "https://www.google.com/"})
        assert first.status_code == 200 and "Example shop" in first.text
        set_cookie = first.headers.get_list("set-cookie")
        assert any(c.startswith("_mbuzz_vid=") and "HttpOnly" in c and "SameSite=Lax" in c for c in set_cookie)
        vid = browser.cookies["_mbuzz_vid"]
        first_sid = browser.cookies["_mbuzz_sid"]
        assert multibuzz.flush(20)
        drain(container)

        browser.cookies.delete("_mbuzz_sid")  # half an hour later: the session cookie has expired
        back = browser.get(
            "/?utm_source=facebook&utm_medium=cpc&utm_campaign=spring", headers={"referer": "https://l.facebook.com/"}
        )
        assert back.status_code == 200
        assert browser.cookies["_mbuzz_vid"] == vid and browser.cookies["_mbuzz_sid"] != first_sid
        cart = browser.post("/cart", data={"sku": "TEE"}, follow_redirects=True)
        assert cart.status_code == 200 and "Total 25.00 USD" in cart.text
        paid = browser.post("/checkout", data={"email": "Ann@Example.com"})
        assert paid.status_code == 200 and "25.00 USD" in paid.text
        assert multibuzz.flush(20)
        assert multibuzz.get_client().stats()["sent"] >= 7  # type: ignore[union-attr]
        drain(container)

    seen = visitor(api, tenant, vid)
    assert [s["channel"] for s in seen["sessions"]] == ["organic_search", "paid_social"]
    first_session, second_session = seen["sessions"]
    assert (first_session["referrer"], first_session["page_view_count"]) == ("https://www.google.com/", 1)
    assert (second_session["utm"]["source"], second_session["utm"]["campaign"]) == ("facebook", "spring")
    assert second_session["page_view_count"] == 2, "the landing page and the cart"
    assert second_session["device"]["browser"] == "Chrome", "the visitor's user agent, not the client's"
    assert seen["user_id"] == "ann@example.com"
    kinds = [e["event_type"] for e in seen["events"]]
    assert kinds.count("page_view") == 3 and kinds.count("add_to_cart") == 1
    cart_view = next(e for e in seen["events"] if e["event_type"] == "page_view" and e["properties"].get("funnel"))
    assert cart_view["properties"]["funnel_step"] == "cart"

    result = multibuzz.attribution(visitor_id=vid)
    (purchase,) = result["conversions"]
    assert purchase["conversion"]["status"] == "attributed"
    models = purchase["attribution"]["models"]
    assert credited(models["first_touch"]) == [("organic_search", "25.00")]
    assert credited(models["last_touch"]) == [("paid_social", "25.00")]
    one = multibuzz.attribution(purchase["conversion"]["id"], model="linear")
    assert list(one["attribution"]["models"]) == ["linear"]
    assert credited(one["attribution"]["models"]["linear"]) == [("organic_search", "12.50"), ("paid_social", "12.50")]


class Switch:
    """A loopback proxy in front of the local gateway: up (forwards), down (503) or slow (holds requests)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.mode = "up"
        self.release = threading.Event()
        self.refused = 0
        self.held = 0
        self.forwarded = 0
        self.lose = 0  # answers to lose: forwarded to Multibuzz, then a 502 to the client (as a timed-out proxy)
        self.lock = threading.Lock()
        self.url = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("content-length") or 0))
        if self.mode == "slow":
            with self.lock:
                self.held += 1
            self.release.wait(60)
        if self.mode == "down":
            with self.lock:
                self.refused += 1
            self._reply(handler, 503, b'{"error":"unavailable"}')
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "connection")}
        with httpx.Client(base_url=f"{self.upstream.scheme}://{self.upstream.netloc}", timeout=30) as upstream:
            answer = upstream.request(handler.command, handler.path, content=body, headers=headers)
        with self.lock:
            self.forwarded += 1
            lost = self.lose > 0
            self.lose -= 1 if lost else 0
        if lost:
            self._reply(handler, 502, b'{"error":"bad_gateway"}')
            return
        self._reply(handler, answer.status_code, answer.content)

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, data: bytes) -> None:
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@pytest.fixture
def switch(gateway: str) -> Iterator[Switch]:
    state = Switch(gateway)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1  # headers and body in one segment: no Nagle/delayed-ACK stall on kept-alive connections

        def log_message(self, *_: Any) -> None:
            pass

        def do_POST(self) -> None:
            state.handle(self)

        do_GET = do_POST  # noqa: N815 (http.server's names)

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("framework", ["flask", "fastapi"])
def test_multibuzz_slow_or_down_leaves_the_shop_unchanged_and_events_arrive_later(
    framework: str, api: Api, container: Container, switch: Switch
) -> None:
    tenant = api.tenant(f"Outage {framework}")
    with (
        serve_example(framework, **options(tenant, switch.url, max_retries=100)) as shop,
        httpx.Client(base_url=shop, headers={"user-agent": CHROME}, timeout=30) as browser,
    ):
        reference = httpx.get(shop + "/", headers={"user-agent": CHROME})  # Multibuzz up: the page as it should be

        switch.mode = "slow"
        slow = browser.get("/", headers={"referer": "https://www.google.com/"})
        client = multibuzz.get_client()
        assert client is not None
        wait_for(lambda: switch.held >= 1, what="the sender to be stuck on slow Multibuzz")
        assert (slow.status_code, slow.text) == (reference.status_code, reference.text)
        stuck = client.sender.pending()
        assert stuck >= 1, "the response went out while the visit's events were still waiting on Multibuzz"
        also = browser.get("/cart")
        assert also.status_code == 200 and "Cart" in also.text, "a stuck sender does not block the next request"

        switch.mode = "down"
        switch.release.set()
        wait_for(lambda: switch.refused >= 2, what="retries against a Multibuzz that is down")
        down = browser.get("/")
        assert (down.status_code, down.text) == (reference.status_code, reference.text)
        assert client.stats()["retries"] >= 2 and client.stats()["failed"] == 0

        switch.mode = "up"
        assert client.flush(30)
        drain(container)
        vid = browser.cookies["_mbuzz_vid"]
    seen = visitor(api, tenant, vid)
    assert [s["channel"] for s in seen["sessions"]] == ["organic_search"]
    assert [e["event_type"] for e in seen["events"]].count("page_view") == 3, "every page view once, none twice"


def test_retries_after_lost_answers_never_double_count(api: Api, container: Container, switch: Switch) -> None:
    """Multibuzz stored every request, but the answers were lost: the client retries, nothing counts twice."""
    tenant = api.tenant("Lost answers")
    switch.lose = 10**6
    with (
        serve_example("flask", **options(tenant, switch.url, senders=1, max_retries=100)) as shop,
        httpx.Client(base_url=shop, headers={"user-agent": CHROME}, timeout=30) as browser,
    ):
        browser.get("/", headers={"referer": "https://www.google.com/"})
        browser.post("/cart", data={"sku": "MUG"}, follow_redirects=True)
        client = multibuzz.get_client()
        assert client is not None
        wait_for(lambda: switch.forwarded >= 6, what="the visit's requests each stored at least twice")
        switch.lose = 0
        assert client.flush(30)
        drain(container)  # the visitor is stored before the purchase names it
        switch.lose = 2
        browser.post("/checkout", data={"email": "bo@example.com"})
        wait_for(lambda: switch.lose == 0, what="the identify and the purchase stored, their answers lost")
        assert client.flush(30)
        drain(container)
        vid = browser.cookies["_mbuzz_vid"]
    assert client.stats()["retries"] >= 5 and client.stats()["rejected"] == 0
    seen = visitor(api, tenant, vid)
    assert len(seen["sessions"]) == 1 and seen["sessions"][0]["page_view_count"] == 2
    kinds = sorted(e["event_type"] for e in seen["events"])
    assert kinds == ["add_to_cart", "page_view", "page_view"]
    (purchase,) = multibuzz.attribution(visitor_id=vid)["conversions"]
    assert purchase["conversion"]["revenue"] == "12.00" and purchase["conversion"]["status"] == "attributed"
    listed = api.client.get("/api/v1/conversions", headers=api.auth(tenant.owner_token)).json()["data"]
    assert len(listed) == 1, "the purchase retried after a lost answer is one conversion"
