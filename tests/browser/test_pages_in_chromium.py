"""The web app in real headless Chromium against the local stack (gateway + real handlers), both databases:
login/logout and keyboard use, every page with data and empty (no console errors, axe-core clean, a
screenshot each), the date picker against the JSON API, forms that create things, an API key shown once,
influencer 403s, and a CSRF-less post refused."""

from __future__ import annotations

import re

import pytest
from multibuzz.bootstrap import Container

from tests.browser.conftest import Tab
from tests.conftest import Api
from tests.web.pages import api_table, attribution_table, window
from tests.web.world import VISITOR, World, build


@pytest.fixture
def world(api: Api, container: Container) -> World:
    return build(api, container)


def test_log_in_and_out_with_the_keyboard(api: Api, tab: Tab) -> None:
    tenant = api.tenant("Keyboard Shop")
    tab.goto("/app/login")
    page = tab.page
    assert page.evaluate("document.activeElement.id") == "email", "the e-mail field has the focus"
    page.keyboard.type(tenant.owner_email)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type("correct horse battery staple")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/app/home"))
    cookies = {c["name"]: c for c in tab.context.cookies()}
    assert cookies["mbz_session"]["httpOnly"] and cookies["mbz_session"]["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == "", "no cookie is readable by scripts"
    page.click("[data-testid=logout]")
    page.wait_for_url(re.compile(r"/app/login\?logged_out=1"))
    assert page.locator("[data-testid=logged-out]").is_visible()
    assert tab.goto("/app/attribution") == 200 and "/app/login?next=" in page.url


def test_every_page_renders_with_data_clean_and_accessible(api: Api, world: World, tab: Tab, tab2: Tab) -> None:
    assert tab.goto("/") == 200
    tab.check("home")
    assert tab.goto("/app/login") == 200
    tab.check("login")
    tab.login(world.tenant.owner_email)
    pages = {
        "attribution": "/app/attribution?range=30d",
        "conversions": "/app/conversions?range=30d",
        "conversion-journey": f"/app/conversions/{world.purchase_id}",
        "conversion-influencer": f"/app/conversions/{world.coupon_purchase_id}",
        "visitor": f"/app/visitors/{VISITOR}",
        "events": "/app/events?range=30d",
        "programme": "/app/programme",
        "campaign": f"/app/programme/campaigns/{world.campaign_id}",
        "links": "/app/programme/links",
        "coupons": "/app/programme/coupons",
        "clicks": "/app/programme/clicks",
        "settings": "/app/settings",
    }
    for name, path in pages.items():
        assert tab.goto(path) == 200, name
        tab.check(name)
    tab.goto("/app/attribution?range=30d")
    assert tab.page.locator("#attribution-chart").bounding_box() is not None
    drawn = tab.page.evaluate("() => !!(window.Chart && Chart.getChart('attribution-chart'))")
    assert drawn, "the chart is drawn by Chart.js"
    tab.goto(f"/app/conversions/{world.purchase_id}")
    journey = tab.page.locator("[data-testid=journey] li strong").all_inner_texts()
    assert journey == ["organic_search", "paid_social", "email", "purchase"]
    tab2.login(world.influencer_email)
    assert tab2.goto("/app/me") == 200
    assert "50.00 USD" in tab2.page.locator("[data-testid=sales]").inner_text()
    tab2.check("influencer-dashboard")
    api.admin_token()
    tab2.context.clear_cookies()
    tab2.login("root@multibuzz.test")
    assert tab2.goto("/app/admin") == 200
    tab2.check("admin")


def test_every_page_renders_empty_clean_and_accessible(api: Api, tab: Tab) -> None:
    tenant = api.tenant("Empty Shop")
    tab.login(tenant.owner_email)
    for path in (
        "/app/attribution",
        "/app/conversions",
        "/app/events",
        "/app/programme",
        "/app/programme/links",
        "/app/programme/coupons",
        "/app/programme/clicks",
        "/app/settings",
    ):
        assert tab.goto(path) == 200, path
        if path != "/app/settings":
            assert tab.page.locator("[data-testid=empty]").count() >= 1, path
        tab.check("empty-" + path.strip("/").replace("/", "-"))


def test_the_date_picker_by_keyboard_changes_the_numbers_to_the_json_apis(api: Api, world: World, tab: Tab) -> None:
    tab.login(world.tenant.owner_email)
    tab.goto("/app/attribution?range=30d")
    page = tab.page
    month = attribution_table(page.content())
    page.focus("#range")
    page.select_option("#range", "today")  # what arrow keys do on a focused <select>
    assert page.locator("#range-from").is_hidden(), "from/to appear only for a custom range"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Apply"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"range=today"))
    html = page.content()
    today = attribution_table(html)
    assert today != month
    start, end = window(html)
    report = api.client.get(
        "/api/v1/attributions", params={"from": start, "to": end}, headers=api.auth(world.tenant.owner_token)
    ).json()
    assert today == api_table(report)
    page.select_option("#range", "custom")
    assert page.locator("#range-from").is_visible()
    page.fill("#range-from", "2020-01-01")
    page.fill("#range-to", "2020-01-31")
    page.click("text=Apply")
    page.wait_for_url(re.compile(r"range=custom&from=2020-01-01&to=2020-01-31"))
    assert page.locator("[data-testid=empty]").is_visible()
    assert not tab.errors


def test_campaign_influencer_link_and_20_coupons_through_the_pages(api: Api, tab: Tab) -> None:
    tenant = api.tenant("Browser Forms")
    tab.login(tenant.owner_email)
    tab.goto("/app/programme")
    page = tab.page
    page.fill("#campaign-name", "Winter")
    page.fill("#campaign-url", "https://shop.example/winter")
    page.focus("#campaign-url")
    page.keyboard.press("Enter")  # a form submits from the keyboard
    page.wait_for_url(re.compile(r"/app/programme/campaigns/cmp_"))
    assert page.locator("h1").inner_text() == "Winter"
    tab.goto("/app/programme")
    page.fill("#inf-name", "Dora")
    page.fill("#inf-handle", "dora")
    page.click("[data-testid=influencer-form] button[type=submit]")
    page.wait_for_load_state("load")
    assert "Dora" in page.locator("[data-testid=influencers-table]").inner_text()
    tab.goto("/app/programme/links")
    page.click("[data-testid=link-form] button[type=submit]")
    page.wait_for_load_state("load")
    row = page.locator("[data-testid=link-row]")
    assert row.count() == 1 and row.locator("[data-testid=link-status]").inner_text() == "active"
    row.locator("button", has_text="Disable").click()  # htmx swaps the row in place
    page.wait_for_function("document.querySelector('[data-testid=link-status]').textContent === 'disabled'")
    assert page.url.endswith("/app/programme/links")
    tab.goto("/app/programme/coupons")
    page.fill("input[name=count]", "20")
    page.fill("input[name=prefix]", "WIN-")
    page.select_option("select[name=influencer_id]", label="Dora")
    page.click("[data-testid=generate-form] button[type=submit]")
    page.wait_for_load_state("load")
    codes = page.locator("[data-testid=generated] code").all_inner_texts()
    assert len(set(codes)) == 20 and all(c.startswith("WIN-") for c in codes)
    listed = api.client.get("/api/v1/coupons", params={"limit": 200}, headers=api.auth(tenant.owner_token)).json()
    assert sorted(c["code"] for c in listed["data"]) == sorted(codes)
    tab.check("coupons-generated")


def test_an_api_key_secret_is_shown_once(api: Api, tab: Tab) -> None:
    tenant = api.tenant("Browser Keys")
    tab.login(tenant.owner_email)
    tab.goto("/app/settings")
    page = tab.page
    page.fill("[data-testid=key-form] input[name=name]", "from the browser")
    page.click("[data-testid=key-form] button[type=submit]")
    page.wait_for_load_state("load")
    secret = page.locator("[data-testid=key-secret]").input_value()
    assert secret.startswith("sk_live_")
    assert api.client.get("/api/v1/validate", headers=api.auth(secret)).status_code == 200
    tab.check("settings-new-key")
    tab.goto("/app/settings")
    assert secret not in page.content() and page.locator("[data-testid=key-secret]").count() == 0


def test_influencer_users_get_403_on_advertiser_pages(api: Api, world: World, tab: Tab) -> None:
    tab.login(world.influencer_email)
    assert tab.page.url.endswith("/app/me")
    for path in (
        "/app/attribution",
        "/app/conversions",
        "/app/events",
        "/app/programme",
        "/app/settings",
        f"/app/visitors/{VISITOR}",
    ):
        assert tab.goto(path) == 403, path
    assert "Not allowed" in tab.page.locator("h1").inner_text()


def test_a_post_without_the_csrf_token_is_refused(api: Api, container: Container, tab: Tab) -> None:
    tenant = api.tenant("Browser Csrf")
    tab.login(tenant.owner_email)
    refused = tab.page.request.post("/app/programme/campaigns", form={"name": "Forged"})
    assert refused.status == 403
    listed = api.client.get("/api/v1/campaigns", headers=api.auth(tenant.owner_token)).json()["data"]
    assert listed == []


def test_the_lookback_picker_by_keyboard_recomputes_to_the_json_apis_numbers(api: Api, world: World, tab: Tab) -> None:
    tab.login(world.tenant.owner_email)
    tab.goto("/app/attribution?range=30d")
    page = tab.page
    stored = attribution_table(page.content())
    page.focus("#lookback")
    page.select_option("#lookback", "7")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Show"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"lookback_days=7"))
    html = page.content()
    assert page.locator("[data-testid=lookback-note]").is_visible()
    week = attribution_table(html)
    start, end = window(html)
    report = api.client.get(
        "/api/v1/attributions",
        params={"from": start, "to": end, "lookback_days": 7},
        headers=api.auth(world.tenant.owner_token),
    ).json()
    assert week == api_table(report) and week != stored
