"""The web app's security, HTML-level (no browser), through the local gateway on both databases:
session cookie flags, CSRF on every form, expiry back to login with the page remembered, ``next=``
open-redirect refusal, roles, and tenant isolation of every page route."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.routing import iter_route_contexts
from multibuzz.auth.tokens import issue_access_token
from multibuzz.bootstrap import Container
from multibuzz.db.models.influencer import Campaign
from multibuzz.web.app import create_web_app
from multibuzz.web.deps import csrf_form
from multibuzz.web.security import csrf_token, csrf_valid, safe_next
from sqlalchemy import func, select

from tests.conftest import Api
from tests.web.helpers import WebClient
from tests.web.world import VISITOR, World, build

ADVERTISER_PAGES = (
    "/app/home",
    "/app/shopify",
    "/app/meta",
    "/app/exports",
    "/app/settings/integrations",
    "/app/programme/overview",
    "/app/attribution",
    "/app/conversions",
    "/app/events",
    "/app/programme",
    "/app/programme/links",
    "/app/programme/coupons",
    "/app/programme/clicks",
    "/app/settings",
)


@pytest.fixture
def world(api: Api, container: Container) -> World:
    return build(api, container)


def _campaigns(container: Container) -> int:
    with container.session() as session:
        return int(session.scalar(select(func.count()).select_from(Campaign)) or 0)


def test_login_sets_an_httponly_samesite_session_cookie_and_logout_clears_it(api: Api, web: WebClient) -> None:
    tenant = api.tenant("Cookies")
    answer = web.login(tenant.owner_email)
    assert answer.status_code == 303 and answer.headers["location"] == "/app"
    cookies = [v for k, v in answer.headers.multi_items() if k == "set-cookie"]
    session_cookie = next(c for c in cookies if c.startswith("mbz_session="))
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie and "Path=/" in session_cookie
    assert "Secure" not in session_cookie, "plain http is allowed only on the local/test stages"
    assert any(c.startswith("mbz_csrf=") and "HttpOnly" in c for c in cookies), "the CSRF seed is replaced at login"
    assert web.get("/app/attribution").status_code == 200
    web.get("/app/attribution")
    out = web.post("/app/logout")
    assert out.status_code == 303 and out.headers["location"].startswith("/app/login")
    assert web.get("/app/attribution").status_code == 303, "after logout the pages ask for a login again"


def test_wrong_password_shows_the_form_again_without_a_session(api: Api, web: WebClient) -> None:
    tenant = api.tenant("Wrong")
    answer = web.login(tenant.owner_email, "not the password at all")
    assert answer.status_code == 401
    assert "Wrong e-mail or password" in answer.text
    assert "mbz_session" not in answer.headers.get("set-cookie", "")


def test_cookie_secure_outside_local_and_test() -> None:
    from multibuzz.web.security import cookie_secure

    assert [cookie_secure(s) for s in ("local", "test", "dev", "prod")] == [False, False, True, True]


def test_a_post_without_or_with_a_foreign_csrf_token_is_refused(
    api: Api, container: Container, web: WebClient, web2: WebClient
) -> None:
    tenant = api.tenant("Csrf")
    web.login(tenant.owner_email)
    web.get("/app/programme")
    before = _campaigns(container)
    missing = web.post("/app/programme/campaigns", {"name": "Evil"}, csrf=False)
    assert missing.status_code == 403 and "security token" in missing.text
    forged = web.post("/app/programme/campaigns", {"name": "Evil", "csrf_token": "0" * 64}, csrf=False)
    assert forged.status_code == 403
    web2.get("/app/login")  # another browser's token: valid for its own seed, not for this session's
    other = web.post("/app/programme/campaigns", {"name": "Evil", "csrf_token": web2.token}, csrf=False)
    assert other.status_code == 403
    assert _campaigns(container) == before, "a refused post changed nothing"
    header = web.http.post("/app/programme/campaigns", data={"name": "Via header"}, headers={"x-csrf-token": web.token})
    assert header.status_code == 303, "htmx posts may send the token as X-CSRF-Token"
    assert _campaigns(container) == before + 1
    login_without = web2.post("/app/login", {"email": tenant.owner_email, "password": "x" * 12}, csrf=False)
    assert login_without.status_code == 403, "the login form is protected as well (login CSRF)"


def test_every_post_route_of_the_web_app_checks_the_csrf_token() -> None:
    app = create_web_app()
    posts = [r for r in iter_route_contexts(app.routes) if "POST" in (r.methods or set())]
    assert len(posts) >= 14
    for route in posts:
        calls = {d.call for d in route.dependant.dependencies}
        assert csrf_form in calls, f"{route.path} does not read its form through csrf_form"


def test_csrf_token_is_bound_to_the_seed() -> None:
    token = csrf_token("secret", "seed-1")
    assert csrf_valid("secret", "seed-1", token)
    assert not csrf_valid("secret", "seed-2", token)
    assert not csrf_valid("other", "seed-1", token)
    assert not csrf_valid("secret", None, token) and not csrf_valid("secret", "seed-1", None)


@pytest.mark.parametrize(
    "value",
    [
        "//evil.example/app",
        "https://evil.example/app",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/app",
        "/app\r\nSet-Cookie: x=1",
        "javascript:alert(1)",
        "/api/v1/accounts",
        "/app/login",
        "app/attribution",
        "",
    ],
)
def test_next_refuses_anything_but_a_path_into_the_app(value: str) -> None:
    assert safe_next(value) == "/app"


def test_next_keeps_a_page_of_the_app_with_its_query() -> None:
    assert safe_next("/app/conversions?range=7d&status=attributed") == "/app/conversions?range=7d&status=attributed"


def test_login_honours_a_same_site_next_and_refuses_an_open_redirect(api: Api, web: WebClient, web2: WebClient) -> None:
    tenant = api.tenant("Next")
    bounced = web.get("/app/conversions?range=7d")
    assert bounced.status_code == 303
    assert bounced.headers["location"] == "/app/login?next=/app/conversions%3Frange%3D7d"
    form = web.get(bounced.headers["location"])
    assert 'name="next" value="/app/conversions?range=7d"' in form.text
    answer = web.post(
        "/app/login",
        {"email": tenant.owner_email, "password": "correct horse battery staple", "next": "/app/conversions?range=7d"},
    )
    assert answer.headers["location"] == "/app/conversions?range=7d"
    evil = web2.login(tenant.owner_email, next_path="//evil.example/steal")
    assert evil.status_code == 303 and evil.headers["location"] == "/app"


def test_an_expired_session_goes_back_to_login_with_the_page_remembered(
    api: Api, container: Container, web: WebClient
) -> None:
    tenant = api.tenant("Expiry")
    web.login(tenant.owner_email)
    with container.session() as session:
        from multibuzz.db.models import User

        user = session.scalar(select(User).where(User.email == tenant.owner_email))
        assert user is not None
        expired = issue_access_token(
            user_id=user.id,
            account_id=tenant.account_id,
            secret=container.settings.jwt_secret.get_secret_value(),
            now=container.clock.now() - timedelta(hours=2),
            expires_in=timedelta(minutes=30),
            generation=user.token_generation,
        )
    web.http.cookies.set("mbz_session", expired, domain="127.0.0.1")
    answer = web.get("/app/events?range=today")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/app/login?next=/app/events%3Frange%3Dtoday"
    htmx = web.http.get("/app/events", headers={"hx-request": "true"})
    assert htmx.headers.get("hx-redirect", "").startswith("/app/login?next=")


def test_influencer_users_get_403_on_advertiser_pages_and_see_their_dashboard(
    api: Api, world: World, web: WebClient
) -> None:
    web.login(world.influencer_email)
    for path in (*ADVERTISER_PAGES, f"/app/visitors/{VISITOR}", f"/app/programme/campaigns/{world.campaign_id}"):
        assert web.get(path).status_code == 403, path
    me = web.get("/app/me")
    assert me.status_code == 200 and "Ben" in me.text and "BEN10" in me.text
    own = web.get(f"/app/conversions/{world.coupon_purchase_id}")
    assert own.status_code == 200, "an influencer sees a conversion credited to them"
    assert web.get(f"/app/conversions/{world.purchase_id}").status_code == 404, "not one credited to nobody"
    assert web.get("/app/admin").status_code == 403


def test_owners_get_403_on_the_influencer_dashboard_and_the_admin_page(api: Api, world: World, web: WebClient) -> None:
    web.login(world.tenant.owner_email)
    assert web.get("/app/me").status_code == 403
    assert web.get("/app/admin").status_code == 403


def test_an_owner_of_b_cannot_open_a_s_pages(api: Api, world: World, container: Container, web: WebClient) -> None:
    other = api.tenant("Other Shop")
    web.login(other.owner_email)
    for path in (
        f"/app/conversions/{world.purchase_id}",
        f"/app/visitors/{VISITOR}",
        f"/app/programme/campaigns/{world.campaign_id}",
        f"/app/programme/links/{world.link_id}/qr.svg",
    ):
        answer = web.get(path)
        assert answer.status_code in (403, 404), path
        assert "Spring" not in answer.text and "99.00" not in answer.text
    web.get("/app/programme/links")
    assert web.post(f"/app/programme/links/{world.link_id}/disable").status_code == 404
    for path in ADVERTISER_PAGES:
        page = web.get(path + ("?range=30d" if "programme" not in path and "settings" not in path else ""))
        assert page.status_code == 200, path
        assert world.purchase_id not in page.text and "Anna" not in page.text and "BEN10" not in page.text, path
