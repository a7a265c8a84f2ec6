"""Every page, HTML-level (no browser), through the local gateway on both databases: with data and empty,
numbers equal to the JSON API's, the forms that create things, an API key's secret shown once, static assets."""

from __future__ import annotations

import gzip
import hashlib
import json
import re

import httpx
import pytest
from multibuzz.bootstrap import Container
from multibuzz.web.assets import ASSETS, IMMUTABLE, STATIC_DIR, accepts_gzip

from tests.conftest import Api
from tests.web.helpers import WebClient
from tests.web.pages import api_table, attribution_table, window
from tests.web.world import VISITOR, World, build

PAGES_WITH_EMPTY_STATES = (
    "/app/attribution",
    "/app/conversions",
    "/app/events",
    "/app/programme",
    "/app/programme/links",
    "/app/programme/coupons",
    "/app/programme/clicks",
)


@pytest.fixture
def world(api: Api, container: Container) -> World:
    return build(api, container)


def test_public_home_page_says_what_multibuzz_is_and_links_to_sign_in(web: WebClient) -> None:
    page = web.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "attribution" in page.text.lower() and 'href="/app/login"' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_every_page_renders_with_data(api: Api, world: World, web: WebClient) -> None:
    web.login(world.tenant.owner_email)
    expected = {
        "/app/attribution?range=30d": ["organic_search", "paid_social", "email", "99.00 USD"],
        "/app/conversions?range=30d": [world.purchase_id, world.signup_id, "99.00 USD"],
        "/app/events?range=30d": ["conversion"] if False else ["Event log"],
        f"/app/conversions/{world.purchase_id}": ["organic_search", "paid_social", "email", "markov", "shapley"],
        f"/app/visitors/{VISITOR}": ["organic_search", "paid_social", world.purchase_id],
        "/app/programme": ["Spring", "Anna", "Ben"],
        f"/app/programme/campaigns/{world.campaign_id}": ["Spring", "BEN10"],
        "/app/programme/links": ["/r/", "Anna", "QR code"],
        "/app/programme/coupons": ["BEN10"],
        "/app/programme/clicks": ["Clicks"],
        "/app/settings": [world.tenant.owner_email, "API keys", "server"],
    }
    for path, needles in expected.items():
        page = web.get(path)
        assert page.status_code == 200, (path, page.text[:500])
        for needle in needles:
            assert needle in page.text, (path, needle)
    coupon_sale = web.get(f"/app/conversions/{world.coupon_purchase_id}")
    assert "by <strong>coupon</strong>" in coupon_sale.text and "BEN10" in coupon_sale.text


def test_every_page_renders_its_empty_state_for_a_new_account(api: Api, web: WebClient) -> None:
    tenant = api.tenant("Empty Shop")
    web.login(tenant.owner_email)
    for path in PAGES_WITH_EMPTY_STATES:
        page = web.get(path)
        assert page.status_code == 200, path
        assert 'data-testid="empty"' in page.text, path
    assert web.get("/app/settings").status_code == 200


def test_bad_input_and_unknown_ids_render_error_pages(api: Api, world: World, web: WebClient) -> None:
    web.login(world.tenant.owner_email)
    bad = web.get("/app/attribution?range=fortnight")
    assert bad.status_code == 422 and "range must be one of" in bad.text
    custom = web.get("/app/conversions?range=custom&from=2026-02-10&to=2026-01-01")
    assert custom.status_code == 422 and "to must not be before from" in custom.text
    missing = web.get("/app/conversions/conv_nope")
    assert missing.status_code == 404 and 'data-testid="error"' in missing.text
    assert web.get("/app/nothing-here").status_code == 404


def _api_report(api: Api, token: str, start: str, end: str) -> dict[str, object]:
    response = api.client.get("/api/v1/attributions", params={"from": start, "to": end}, headers=api.auth(token))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_date_picker_changes_the_numbers_and_they_equal_the_json_api(
    api: Api, world: World, web: WebClient
) -> None:
    web.login(world.tenant.owner_email)
    shown = {}
    for key in ("today", "7d", "30d"):
        page = web.get(f"/app/attribution?range={key}")
        start, end = window(page.text)
        shown[key] = attribution_table(page.text)
        assert shown[key] == api_table(_api_report(api, world.tenant.owner_token, start, end)), key
    organic = ("first_touch", "organic_search", "USD")
    assert (shown["today"][organic], shown["30d"][organic]) == (99, 99 + 40), (
        "the signup ten days ago counts in the last 30 days, not today"
    )
    assert sum(v for (m, _g, _c), v in shown["30d"].items() if m == "first_touch") == 99 + 40 + 50
    custom = web.get("/app/attribution?range=custom&from=2020-01-01&to=2020-01-31")
    assert custom.status_code == 200 and attribution_table(custom.text) == {}
    assert 'data-testid="empty"' in custom.text


def test_campaign_influencer_link_and_20_coupons_are_created_through_the_pages(api: Api, web: WebClient) -> None:
    tenant = api.tenant("Form Shop")
    web.login(tenant.owner_email)
    web.get("/app/programme")
    made = web.post(
        "/app/programme/campaigns",
        {"name": "Autumn", "default_destination_url": "https://shop.example/autumn", "status": "active"},
    )
    assert made.status_code == 303
    campaign_id = made.headers["location"].rsplit("/", 1)[1]
    assert "Autumn" in web.get(made.headers["location"]).text
    assert web.post("/app/programme/influencers", {"name": "Cleo", "handle": "@cleo"}).status_code == 303
    listed = api.client.get("/api/v1/influencers", headers=api.auth(tenant.owner_token)).json()["data"]
    cleo = next(i for i in listed if i["name"] == "Cleo")
    links_page = web.get("/app/programme/links")
    assert 'data-testid="empty"' in links_page.text
    link = web.post(
        "/app/programme/links",
        {"campaign_id": campaign_id, "influencer_id": cleo["id"], "forward_utms": "on", "default_utms": "on"},
    )
    assert link.status_code == 303
    links = api.client.get("/api/v1/links", headers=api.auth(tenant.owner_token)).json()["data"]
    assert len(links) == 1 and links[0]["destination_url"].startswith("https://shop.example/autumn")
    assert links[0]["tracking_url"] in web.get("/app/programme/links").text
    disabled = web.http.post(
        f"/app/programme/links/{links[0]['id']}/disable", data={"csrf_token": web.token}, headers={"hx-request": "true"}
    )
    assert disabled.status_code == 200 and disabled.text.lstrip().startswith("<tr") and ">disabled<" in disabled.text
    qr = web.get(f"/app/programme/links/{links[0]['id']}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/svg+xml" and b"<svg" in qr.content
    web.get("/app/programme/coupons")
    generated = web.post(
        "/app/programme/coupons/generate",
        {
            "count": "20",
            "prefix": "AUT-",
            "length": "6",
            "charset": "upper",
            "campaign_id": campaign_id,
            "influencer_id": cleo["id"],
            "exclude_ambiguous": "on",
        },
    )
    assert generated.status_code == 200, generated.text[:500]
    codes = re.findall(r"<code>(AUT-[A-Z]{6})</code>", generated.text.split('data-testid="generate-form"')[0])
    assert len(set(codes)) == 20
    coupons = api.client.get("/api/v1/coupons", params={"limit": 200}, headers=api.auth(tenant.owner_token)).json()[
        "data"
    ]
    assert sorted(c["code"] for c in coupons) == sorted(set(codes))


def test_an_api_key_secret_is_shown_once_and_works(api: Api, web: WebClient) -> None:
    tenant = api.tenant("Keys Shop")
    web.login(tenant.owner_email)
    web.get("/app/settings")
    created = web.post("/app/settings/api-keys", {"name": "web-made", "environment": "live"})
    assert created.status_code == 200
    secret = re.search(r'data-testid="key-secret" value="([^"]+)"|value="(sk_live_[^"]+)"', created.text)
    assert secret is not None
    key = secret.group(1) or secret.group(2)
    assert key.startswith("sk_live_")
    assert api.client.get("/api/v1/validate", headers=api.auth(key)).status_code == 200
    again = web.get("/app/settings")
    assert key not in again.text and "web-made" in again.text, "the secret is never shown again"
    key_id = next(
        k["id"]
        for k in api.client.get("/api/v1/api-keys", headers=api.auth(tenant.owner_token)).json()
        if k["name"] == "web-made"
    )
    rotated = web.post(f"/app/settings/api-keys/{key_id}/rotate")
    assert rotated.status_code == 200 and 'data-testid="new-key"' in rotated.text and key not in rotated.text
    revoked = web.post(f"/app/settings/api-keys/{key_id}/revoke")
    assert revoked.status_code == 303


def test_account_settings_change_the_time_zone_the_date_picker_uses(api: Api, web: WebClient) -> None:
    tenant = api.tenant("Zone Shop")
    web.login(tenant.owner_email)
    web.get("/app/settings")
    saved = web.post("/app/settings/account", {"timezone": "Asia/Tokyo", "currency": "JPY"})
    assert saved.status_code == 303
    assert "(Asia/Tokyo)" in web.get("/app/attribution?range=today").text
    bad = web.post("/app/settings/account", {"timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and "timezone" in bad.text


def test_platform_admins_create_and_deactivate_accounts(api: Api, web: WebClient) -> None:
    api.admin_token()
    web.login("root@multibuzz.test")
    admin = web.get("/app/admin")
    assert admin.status_code == 200
    assert web.post("/app/admin/accounts", {"name": "Fresh Co"}).status_code == 303
    accounts = api.client.get("/api/v1/accounts", headers=api.auth(api.admin_token())).json()
    fresh = next(a for a in accounts if a["name"] == "Fresh Co")
    assert web.post(f"/app/admin/accounts/{fresh['id']}/deactivate").status_code == 303
    again = api.client.get(f"/api/v1/accounts/{fresh['id']}", headers=api.auth(api.admin_token())).json()
    assert again["status"] == "deactivated"


def test_a_platform_admin_opens_an_account_and_sees_its_pages(api: Api, world: World, web: WebClient) -> None:
    api.admin_token()
    web.login("root@multibuzz.test")
    assert web.get("/app/attribution").status_code == 403, "no account selected yet"
    web.get("/app/admin")
    opened = web.post(f"/app/admin/accounts/{world.tenant.account_id}/open")
    assert opened.status_code == 303 and "mbz_session=" in opened.headers["set-cookie"]
    page = web.get("/app/conversions?range=30d")
    assert page.status_code == 200 and world.purchase_id in page.text
    assert web.post("/app/admin/accounts/acc_nope/open").status_code == 404


def test_static_assets_have_content_hash_urls_cached_for_a_year(gateway: str) -> None:
    with httpx.Client(base_url=gateway) as client:
        for name in ("vendor/htmx.min.js", "vendor/pico.min.css", "vendor/chart.umd.min.js", "app.js", "app.css"):
            url = ASSETS.url(name)
            digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
            assert digest in url
            answer = client.get(url)
            assert answer.status_code == 200 and answer.headers["cache-control"] == IMMUTABLE
            assert answer.content == (STATIC_DIR / name).read_bytes()
        assert client.get("/static/app.000000000000.js").status_code == 404, "a stale hash is not served"


def test_static_assets_come_gzipped_to_a_browser_that_accepts_it_with_the_same_bytes(gateway: str) -> None:
    with httpx.Client(base_url=gateway) as client:
        for name in ("vendor/htmx.min.js", "vendor/pico.min.css", "vendor/chart.umd.min.js", "app.js", "app.css"):
            url = ASSETS.url(name)
            raw = (STATIC_DIR / name).read_bytes()
            zipped = client.get(url, headers={"accept-encoding": "gzip, deflate, br"})
            assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["vary"] == "Accept-Encoding"
            assert zipped.headers["cache-control"] == IMMUTABLE
            assert zipped.content == raw, "httpx decodes the body: the very file's bytes"
            assert len(zipped.read()) == len(raw)
            plain = client.get(url, headers={"accept-encoding": "identity"})
            assert "content-encoding" not in plain.headers and plain.content == raw
            again = client.get(url, headers={"accept-encoding": "gzip"})
            assert int(again.headers["content-length"]) < len(raw) / 2 or len(raw) < 4000, name
        # the wire bytes themselves, undecoded: a gzip stream of the file
        with client.stream("GET", ASSETS.url("app.js"), headers={"accept-encoding": "gzip"}) as answer:
            wire = b"".join(answer.iter_raw())
        assert gzip.decompress(wire) == (STATIC_DIR / "app.js").read_bytes()


def test_pages_are_gzipped_when_the_browser_accepts_it(web: WebClient, world: World) -> None:
    web.login(world.tenant.owner_email)
    zipped = web.get("/app/attribution?range=30d", headers={"accept-encoding": "gzip"})
    plain = web.get("/app/attribution?range=30d", headers={"accept-encoding": "identity"})
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert attribution_table(zipped.text) and attribution_table(zipped.text) == attribution_table(plain.text)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("*", True),
        ("identity", False),
        ("", False),
        ("gzip;q=0", False),
        ("gzip;q=0, *", False),
        ("*;q=0, gzip", True),
        ("GZIP", True),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding_is_read_with_its_q_values(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def test_vendored_files_match_their_manifest() -> None:
    manifest = json.loads((STATIC_DIR / "vendor" / "manifest.json").read_text())
    assert set(manifest) == {"htmx.min.js", "chart.umd.min.js", "pico.min.css", "axe.min.js"}
    for name, entry in manifest.items():
        assert hashlib.sha256((STATIC_DIR / "vendor" / name).read_bytes()).hexdigest() == entry["sha256"], name
        assert entry["version"] and entry["license"] and (STATIC_DIR / "vendor" / entry["license_file"]).exists()
