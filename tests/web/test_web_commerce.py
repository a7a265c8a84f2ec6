"""Home, Shopify, Meta and Settings → Integrations, HTML-level through the local gateway, both databases.

A fake Shopify store (a real HTTP server following the Admin API) is connected through the page; the page's
numbers are compared with ``GET /api/v1/dashboard/*`` for each picked range; "Run fresh sync" moves the
sync status; a failing run shows "Sync failing: <reason>, see details". A fake Meta Graph API (a real HTTP
server) feeds the Meta page.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from multibuzz.bootstrap import Container
from multibuzz.commerce.fakes.meta import FakeMeta
from multibuzz.commerce.fakes.shopify import FakeShopify
from multibuzz.commerce.meta.sync import sync_all
from multibuzz.commerce.shopify import sync

from tests.conftest import Api
from tests.functional.test_shopify import drain, fake_shopify, new_shop, shopify
from tests.web.helpers import WebClient
from tests.web.pages import cards, latest_table, window

__all__ = ["fake_shopify", "shopify"]  # fixtures used by this module
META_TOKEN = "EAAB-fake-token-web-0001"


@pytest.fixture
def meta(container: Container) -> Iterator[FakeMeta]:
    fake = FakeMeta(async_polls=1)
    account = fake.add_account("act_4004", META_TOKEN, currency="USD", name="Web ads", timezone_name="UTC")
    account.add_ads(3, campaigns=2)
    fake.serve()
    object.__setattr__(container.settings, "meta_graph_url", f"{fake.url}/v21.0")
    yield fake
    fake.close()


def _api(api: Api, token: str, path: str, **params: Any) -> dict[str, Any]:
    answer = api.client.get(path, params=params, headers=api.auth(token))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _days(html: str) -> dict[str, str]:
    """The page's window as the API's from/to days (the window is [start, end) in UTC; the account is UTC)."""
    start, end = window(html)
    first = datetime.fromisoformat(start).date()
    last = datetime.fromisoformat(end).date() - timedelta(days=1)
    return {"from": first.isoformat(), "to": last.isoformat()}


def _integration_id(html: str) -> str:
    found = re.search(r'data-integration="([^"]+)"', html)
    assert found, "the integrations page lists the store"
    return found.group(1)


def _run_status(html: str, sync_type: str) -> str:
    found = re.search(rf'data-sync-type="{sync_type}">.*?data-testid="run-status">([^<]*)<', html, re.S)
    assert found, sync_type
    return found.group(1)


def test_connect_a_store_through_the_page_sync_and_see_the_home_numbers_equal_the_api(
    api: Api, container: Container, shopify: FakeShopify, web: WebClient
) -> None:
    tenant = api.tenant("Web Store")
    web.login(tenant.owner_email)
    first = web.get("/app/home")
    assert first.status_code == 200 and "Connect your store" in first.text and 'data-testid="empty"' in first.text
    assert "Connect your store" in web.get("/app/home?range=7d").text

    shop = new_shop(shopify)
    now = datetime.now(UTC)
    shopify.add_order(shop, total="40.00", created_at=now - timedelta(minutes=1))
    shopify.add_order(shop, total="60.00", created_at=now - timedelta(days=3))
    web.get("/app/settings/integrations")
    refused = web.post("/app/settings/integrations/shopify", {"shop": shop, "access_token": "shpat_wrong"})
    assert refused.status_code == 422 and "token" in refused.text.lower()
    connected = web.post(
        "/app/settings/integrations/shopify", {"shop": shop, "access_token": shopify.issue_token(shop)}
    )
    assert connected.status_code == 303, connected.text[:500]
    page = web.get(connected.headers["location"])
    assert shop in page.text and "shpat_" not in page.text, "the token is never shown back"
    integration_id = _integration_id(page.text)
    syncing = web.get("/app/home")
    assert "We are still syncing your Shopify data" in syncing.text
    assert "We are still syncing your Shopify data" in web.get("/app/shopify").text

    assert drain(container, "sync", "sync") == 1  # the first fill the connection queued
    shown = {}
    for key in ("today", "7d", "30d"):
        home = web.get(f"/app/home?range={key}")
        assert home.status_code == 200 and 'data-testid="kpis"' in home.text, key
        days = _days(home.text)
        answer = _api(api, tenant.owner_token, "/api/v1/dashboard/home", **days)
        shown[key] = cards(home.text)
        for name in ("revenue_net", "spend", "mer", "roas", "aov"):
            assert shown[key][name] == (answer["kpis"][name] or ""), (key, name)
        assert 'id="home-chart"' in home.text
    assert (Decimal(shown["today"]["revenue_net"]), Decimal(shown["7d"]["revenue_net"])) == (40, 100), (
        "the date picker changes the numbers"
    )
    latest = _api(api, tenant.owner_token, "/api/v1/dashboard/home")["latest"]
    assert set(latest) == {"today", "last_7d", "last_30d"}
    for key in ("today", "30d"):  # the precomputed cards do not follow the picked period
        table = latest_table(web.get(f"/app/home?range={key}").text)
        assert table == {
            (period, name): "" if k[name] is None else str(k[name])
            for period, k in latest.items()
            for name in ("revenue_net", "spend", "mer", "roas", "orders")
        }
    assert table[("today", "revenue_net")] == "40.00" and table[("last_7d", "revenue_net")] == "100.00"
    assert shown["7d"]["aov"] == "50.00"

    shopify_page = web.get("/app/shopify?range=7d")
    answer = _api(api, tenant.owner_token, "/api/v1/dashboard/shopify", **_days(shopify_page.text))
    numbers = cards(shopify_page.text)
    assert {k: numbers[k] for k in ("orders", "revenue_net", "refunds", "aov")} == {
        "orders": str(answer["kpis"]["orders"]),
        "revenue_net": answer["kpis"]["revenue_net"],
        "refunds": answer["kpis"]["refunds"],
        "aov": answer["kpis"]["aov"],
    }
    orders = _api(api, tenant.owner_token, "/api/v1/orders", **_days(shopify_page.text))["data"]
    assert re.findall(r'data-order="([^"]+)"', shopify_page.text) == [o["id"] for o in orders] and len(orders) == 2

    # "Run fresh sync": the status moves from never run to succeeded, with the new order counted.
    status = web.get("/app/settings/integrations")
    assert _run_status(status.text, "shopify_fresh") == "never run"
    shopify.add_order(shop, total="5.00", created_at=datetime.now(UTC) + timedelta(minutes=1))
    queued = web.post(f"/app/settings/integrations/{integration_id}/sync", {"type": "shopify_fresh"})
    assert queued.status_code == 303 and queued.headers["location"].endswith("done=queued")
    assert drain(container, "sync", "sync") == 1
    moved = web.get("/app/settings/integrations")
    assert _run_status(moved.text, "shopify_fresh") == "succeeded"
    bad = web.post(f"/app/settings/integrations/{integration_id}/sync", {"type": "meta_fresh"})
    assert bad.status_code == 422 and "type" in bad.text

    # A failing run: "Sync failing: <reason>, see details" on Home, linking to the sync status.
    state = shopify.shop(shop)
    state.order_queries, state.fail_after_queries = 0, 0
    assert sync.run(container, integration_id, "shopify_fresh", "manual")["status"] == "failed"
    state.fail_after_queries = None
    failing = web.get("/app/home")
    banner = re.search(r'data-testid="sync-failing">(.*?)</article>', failing.text, re.S)
    assert banner and "Sync failing: " in banner.group(1) and "HTTP 500" in banner.group(1)
    assert 'href="/app/settings/integrations">see details</a>' in banner.group(1)
    assert _run_status(web.get("/app/settings/integrations").text, "shopify_fresh") == "failed"

    gone = web.post(f"/app/settings/integrations/{integration_id}/disconnect")
    assert gone.status_code == 303
    listed = _api(api, tenant.owner_token, "/api/v1/integrations")["data"]
    assert [i["status"] for i in listed] == ["disconnected"]


def test_the_oauth_install_form_sends_the_browser_to_shopify(api: Api, shopify: FakeShopify, web: WebClient) -> None:
    tenant = api.tenant("Install Store")
    web.login(tenant.owner_email)
    web.get("/app/settings/integrations")
    shop = new_shop(shopify)
    answer = web.post("/app/settings/integrations/shopify/install", {"shop": shop})
    assert answer.status_code == 303
    assert (
        answer.headers["location"].startswith(f"{shopify.base_url}/{shop}") and "state=" in answer.headers["location"]
    )
    assert web.post("/app/settings/integrations/shopify/install", {"shop": "not a shop"}).status_code == 422


def test_members_sync_but_only_owners_connect(api: Api, shopify: FakeShopify, web: WebClient) -> None:
    tenant = api.tenant("Member Store")
    email = "member@member-store.test"
    api.add_member(tenant, email, "member")
    web.login(email)
    page = web.get("/app/settings/integrations")
    assert page.status_code == 200 and 'data-testid="shopify-form"' not in page.text
    shop = new_shop(shopify)
    refused = web.post("/app/settings/integrations/shopify", {"shop": shop, "access_token": shopify.issue_token(shop)})
    assert refused.status_code == 403


def test_the_meta_page_shows_spend_and_roas_beside_multibuzz_roas_per_campaign(
    api: Api, container: Container, meta: FakeMeta, web: WebClient
) -> None:
    tenant = api.tenant("Web Ads")
    web.login(tenant.owner_email)
    empty = web.get("/app/meta")
    assert empty.status_code == 200 and 'data-testid="empty"' in empty.text
    web.get("/app/settings/integrations")
    made = web.post("/app/settings/integrations/meta", {"ad_account_id": "act_4004", "access_token": META_TOKEN})
    assert made.status_code == 303, made.text[:500]
    wrong = web.post("/app/settings/integrations/meta", {"ad_account_id": "act_x", "access_token": META_TOKEN})
    assert wrong.status_code == 422 and "ad_account_id" in wrong.text
    assert sync_all(container, {}, sleep=lambda _s: None, rng=random.Random(1))["results"][0]["status"] == "succeeded"
    page = web.get("/app/meta?range=7d&model=last_touch")
    assert page.status_code == 200 and 'data-testid="kpis"' in page.text
    answer = _api(api, tenant.owner_token, "/api/v1/dashboard/meta", **_days(page.text))
    numbers = cards(page.text)
    assert Decimal(answer["kpis"]["spend"]) > 0
    for name in ("spend", "purchases", "purchase_value", "roas"):
        assert numbers[name] == answer["kpis"][name], name
    shown = re.findall(r'data-campaign="([^"]+)">.*?data-testid="platform-roas">([^<]*)<', page.text, re.S)
    assert shown == [(c["campaign_id"], c["platform_roas"] or "—") for c in answer["campaigns"]] and len(shown) == 2
    assert "Multibuzz ROAS (last_touch)" in page.text
    assert web.get("/app/meta?model=nope").status_code == 422
    home = web.get("/app/home?range=7d")
    assert (
        cards(home.text)["spend"]
        == _api(api, tenant.owner_token, "/api/v1/dashboard/home", **_days(home.text))["kpis"]["spend"]
    )


def test_another_account_cannot_touch_these_integrations(
    api: Api, container: Container, shopify: FakeShopify, web: WebClient, web2: WebClient
) -> None:
    tenant = api.tenant("Owner A")
    shop = new_shop(shopify)
    shopify.add_order(shop, total="77.00", created_at=datetime.now(UTC) - timedelta(minutes=1))
    web.login(tenant.owner_email)
    web.get("/app/settings/integrations")
    web.post("/app/settings/integrations/shopify", {"shop": shop, "access_token": shopify.issue_token(shop)})
    drain(container, "sync", "sync")
    integration_id = _integration_id(web.get("/app/settings/integrations").text)
    other = api.tenant("Owner B")
    web2.login(other.owner_email)
    for path in ("/app/home", "/app/shopify", "/app/meta", "/app/settings/integrations"):
        page = web2.get(path + "?range=7d")
        assert page.status_code == 200, path
        assert shop not in page.text and "77.00" not in page.text, path
    web2.get("/app/settings/integrations")
    assert web2.post(f"/app/settings/integrations/{integration_id}/sync", {"type": "shopify_fresh"}).status_code == 404
    assert web2.post(f"/app/settings/integrations/{integration_id}/disconnect").status_code == 404
    assert _api(api, tenant.owner_token, "/api/v1/integrations")["data"][0]["status"] == "connected"
