"""Home, Shopify, Meta, Integrations, Exports, the programme overview, the influencer dashboard and Admin in
real headless Chromium against the local stack, both databases: with data (a fake Shopify store and a fake
Meta Graph API, both real HTTP servers, synced by the real sync code) and empty; no console errors, no
serious/critical axe-core violation, a screenshot each; an export requested, followed live (htmx polling)
and downloaded through the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from multibuzz.adapters.objects.local import LocalObjectStore
from multibuzz.bootstrap import Container
from multibuzz.commerce.fakes.meta import FakeMeta
from multibuzz.commerce.fakes.shopify import FakeShopify

from functions.exports.handler import lambda_handler as export_handler
from infra.local.dispatch import deliver_once
from tests.browser.conftest import Tab
from tests.conftest import Api
from tests.functional.test_shopify import connect_with_token, drain, fake_shopify, new_shop, shopify
from tests.web.test_web_commerce import META_TOKEN, meta
from tests.web.world import World, build

__all__ = ["fake_shopify", "meta", "shopify"]  # fixtures used by this module
NEW_PAGES = {
    "home-dashboard": "/app/home?range=7d",
    "shopify": "/app/shopify?range=7d",
    "meta": "/app/meta?range=7d",
    "integrations": "/app/settings/integrations",
    "exports": "/app/exports",
    "programme-overview": "/app/programme/overview?range=30d",
}


@pytest.fixture
def world(api: Api, container: Container) -> World:
    object.__setattr__(container.settings, "reports_refresh_min_seconds", 0.0)
    return build(api, container)


def test_new_pages_with_data_are_clean_and_accessible(
    api: Api, world: World, container: Container, shopify: FakeShopify, meta: FakeMeta, tab: Tab, tab2: Tab
) -> None:
    shop = new_shop(shopify)
    now = datetime.now(UTC)
    for days, total in ((0, "40.00"), (2, "120.00"), (4, "65.50")):
        shopify.add_order(shop, total=total, created_at=now - timedelta(days=days, minutes=1))
    connect_with_token(api, world.tenant, shopify, shop)
    assert drain(container, "sync", "sync") == 1
    made = api.client.post(
        "/api/v1/integrations/meta",
        json={"ad_account_id": "act_4004", "access_token": META_TOKEN},
        headers=api.auth(world.tenant.owner_token),
    )
    assert made.status_code == 201, made.text
    assert drain(container, "sync", "sync") == 1  # the first fill (meta_7d_fill) the connection queued

    tab.login(world.tenant.owner_email)
    assert tab.page.url.endswith("/app/home"), "Home is where an advertiser lands"
    for name, path in NEW_PAGES.items():
        assert tab.goto(path) == 200, name
        tab.check(name)
    tab.goto("/app/settings/integrations")
    fresh = tab.page.locator("[data-sync-type=shopify_fresh] [data-testid=run-status]")
    assert fresh.inner_text() == "never run"
    tab.page.click("[data-testid=shopify_fresh]")  # "Run fresh sync"
    tab.page.wait_for_url(re.compile(r"done=queued"))
    assert drain(container, "sync", "sync") == 1
    tab.goto("/app/settings/integrations")
    assert fresh.inner_text() == "succeeded" and not tab.errors
    tab.goto("/app/home?range=7d")
    assert tab.page.locator("[data-testid=revenue_net]").inner_text() == "225.50"
    drawn = tab.page.evaluate("() => Chart.getChart('home-chart').data.datasets.map(d => d.type)")
    assert drawn == ["bar", "bar", "line"], "revenue and spend bars with the MER line"
    tab.page.select_option("#range", "today")
    tab.page.click("text=Apply")
    tab.page.wait_for_url(re.compile(r"range=today"))
    assert tab.page.locator("[data-testid=revenue_net]").inner_text() == "40.00", "the date picker changes it"

    tab2.login(world.influencer_email)
    assert tab2.goto("/app/me?range=30d") == 200
    assert tab2.page.locator("[data-testid=stats-sales]").inner_text() == "50.00"
    # one chart per task: the second is drawn in the task after the first
    tab2.page.wait_for_function("() => !!Chart.getChart('traffic-chart') && !!Chart.getChart('conversions-chart')")
    tab2.check("influencer-dashboard-stats")
    api.admin_token()
    tab2.context.clear_cookies()
    tab2.login("root@multibuzz.test")
    assert tab2.goto("/app/admin") == 200
    tab2.check("admin-operations")


def test_new_pages_empty_are_clean_and_accessible(api: Api, tab: Tab) -> None:
    tenant = api.tenant("Empty Dashboards")
    tab.login(tenant.owner_email)
    for name, path in NEW_PAGES.items():
        assert tab.goto(path) == 200, name
        assert tab.page.locator("[data-testid=empty]").count() >= 1, name
        tab.check("empty-" + name)


def test_an_export_is_requested_followed_live_and_downloaded_in_the_browser(
    api: Api, world: World, container: Container, gateway: str, tab: Tab
) -> None:
    container.__dict__["objects"] = LocalObjectStore(container.settings.resolved_object_dir, gateway, b"k" * 16)
    tab.login(world.tenant.owner_email)
    tab.goto("/app/exports")
    page = tab.page
    page.select_option("#export-dataset", "conversions")
    page.fill("#export-from", "2000-01-01")
    page.fill("#export-to", "2099-12-31")
    page.click("[data-testid=export-form] button[type=submit]")
    page.wait_for_url(re.compile(r"/app/exports/exp_"))
    assert page.locator("[data-testid=status]").inner_text() == "queued"
    deliver_once(container.local_queue, "exports", export_handler, function="exports", batch_size=1, backoff_seconds=0)
    page.wait_for_selector("[data-testid=download]", timeout=15_000)  # htmx polled the status until ready
    assert page.locator("[data-testid=status]").inner_text() == "ready"
    tab.check("export-ready")
    with page.expect_download() as started:
        page.click("[data-testid=download]")
    saved = started.value.path()
    assert saved is not None and Path(saved).stat().st_size > 0
