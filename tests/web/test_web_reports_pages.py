"""Exports, the influencer programme overview, the influencer dashboard's stats and the admin page,
HTML-level through the local gateway on both databases, against the JSON API's answers."""

from __future__ import annotations

import gzip
import re
from typing import Any

import httpx
import pytest
from multibuzz.adapters.objects.local import LocalObjectStore
from multibuzz.adapters.queue.base import OutgoingMessage
from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope

from functions.exports.handler import lambda_handler as export_handler
from infra.local.dispatch import deliver_once
from tests.conftest import Api
from tests.web.helpers import WebClient
from tests.web.pages import cards
from tests.web.world import World, build

NEW_ADVERTISER_PAGES = (
    "/app/home",
    "/app/shopify",
    "/app/meta",
    "/app/exports",
    "/app/settings/integrations",
    "/app/programme/overview",
)


@pytest.fixture
def world(api: Api, container: Container) -> World:
    object.__setattr__(container.settings, "reports_refresh_min_seconds", 0.0)  # rollups after every batch
    return build(api, container)


@pytest.fixture
def objects(container: Container, gateway: str) -> LocalObjectStore:
    """The local object store, its presigned URLs served by the local gateway (as ``make serve`` does)."""
    store = LocalObjectStore(container.settings.resolved_object_dir, gateway, b"test-signing-key")
    container.__dict__["objects"] = store
    return store


def _api(api: Api, token: str, path: str, **params: Any) -> dict[str, Any]:
    answer = api.client.get(path, params=params, headers=api.auth(token))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _deliver_export(container: Container) -> None:
    deliver_once(container.local_queue, "exports", export_handler, function="exports", batch_size=1, backoff_seconds=0)


def _status(html: str) -> str:
    found = re.search(r'data-testid="export-status" data-status="([a-z]+)"', html)
    assert found, html[:800]
    return found.group(1)


def test_request_an_export_through_the_page_follow_it_and_download_it(
    api: Api, world: World, container: Container, objects: LocalObjectStore, web: WebClient
) -> None:
    web.login(world.tenant.owner_email)
    page = web.get("/app/exports")
    assert page.status_code == 200 and 'data-testid="empty"' in page.text
    assert "attributions" in page.text and "clicks" in page.text, "every dataset can be picked"
    bad = web.post("/app/exports", {"dataset": "secrets", "format": "csv", "from": "2026-01-01", "to": "2026-01-02"})
    assert bad.status_code == 422 and "dataset" in bad.text
    made = web.post(
        "/app/exports",
        {"dataset": "conversions", "format": "csv", "gzip": "on", "from": "2000-01-01", "to": "2099-12-31"},
    )
    assert made.status_code == 303, made.text[:500]
    export_id = made.headers["location"].rsplit("/", 1)[1]
    queued = web.get(made.headers["location"])
    assert _status(queued.text) == "queued"
    assert f'hx-get="/app/exports/{export_id}/status"' in queued.text and 'hx-trigger="every 1s"' in queued.text
    _deliver_export(container)
    fragment = web.get(f"/app/exports/{export_id}/status", headers={"hx-request": "true"})
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<div id="export-status"')
    assert _status(fragment.text) == "ready" and "hx-get" not in fragment.text, "polling stops once ready"
    api_view = _api(api, world.tenant.owner_token, f"/api/v1/exports/{export_id}")
    assert api_view["status"] == "ready" and f'data-testid="rows">{api_view["rows"]}<' in fragment.text
    url = re.search(r'href="([^"]+)" data-testid="download"', fragment.text)
    assert url is not None
    download = httpx.get(url.group(1).replace("&amp;", "&"), timeout=30)
    assert download.status_code == 200
    body = gzip.decompress(download.content).decode()
    assert world.purchase_id in body and world.signup_id in body and len(body.splitlines()) == 1 + api_view["rows"]
    listed = web.get("/app/exports")
    assert export_id in listed.text and 'data-testid="exports-table"' in listed.text


def test_programme_overview_numbers_equal_the_stats_api(api: Api, world: World, web: WebClient) -> None:
    web.login(world.tenant.owner_email)
    page = web.get("/app/programme/overview?range=30d")
    assert page.status_code == 200
    shown = cards(page.text)
    days = {"from": page.text.split('data-start="')[1][:10]}
    overview = _api(api, world.tenant.owner_token, "/api/v1/stats/overview", **{"from": days["from"]})
    current = overview["current"]
    assert shown["clicks"] == str(current["clicks"])
    assert shown["purchases"] == str(current["events"].get("purchase", 0))
    assert shown["add_to_carts"] == str(current["events"].get("add_to_cart", 0))
    assert shown["drop_offs"] == str(current["events"].get("drop_off", 0))
    per_influencer = _api(api, world.tenant.owner_token, "/api/v1/stats/per-influencer", **{"from": days["from"]})
    rows = re.findall(r'<tr data-influencer="([^"]*)">.*?data-testid="revenue">([^<]*)<', page.text, re.S)
    assert [r[0] for r in rows] == [r["influencer_id"] or "" for r in per_influencer["data"]]
    assert world.influencer_id in [r[0] for r in rows], "Ben's coupon sale is credited to Ben"
    ben = next(r for r in per_influencer["data"] if r["influencer_id"] == world.influencer_id)
    assert ben["revenue"] == "50.00" and "50.00" in dict(rows)[world.influencer_id]
    assert 'data-testid="per-campaign"' in page.text and "Spring" in page.text
    old = web.get("/app/programme/overview?range=custom&from=2020-01-01&to=2020-01-31")
    assert old.status_code == 200 and 'data-testid="empty"' in old.text


def test_an_influencer_sees_only_their_numbers_and_403_elsewhere(api: Api, world: World, web: WebClient) -> None:
    web.login(world.influencer_email)
    me = web.get("/app/me?range=30d")
    assert me.status_code == 200
    shown = cards(me.text)
    first_day = me.text.split('data-start="')[1][:10]
    own = _api(api, world.influencer_token, "/api/v1/influencer/stats/overview", **{"from": first_day})
    assert own["influencer_id"] == world.influencer_id
    assert (shown["stats-sales"], shown["stats-clicks"], shown["stats-commission"]) == (
        own["sales"],
        str(own["clicks"]),
        own["commission"],
    )
    assert shown["stats-sales"] == "50.00", "Ben's coupon sale, and nothing of Anna's or the account's"
    assert 'id="traffic-chart"' in me.text and 'id="conversions-chart"' in me.text
    campaigns = re.search(r'data-testid="my-campaigns">(.*?)</ul>', me.text, re.S)
    assert campaigns and "Spring" in campaigns.group(1) and "BEN10" in campaigns.group(1), "Ben's campaign and code"
    assert [c["name"] for c in own["campaigns"]] == ["Spring"]
    for path in NEW_ADVERTISER_PAGES:
        assert web.get(path).status_code == 403, path
    assert web.get("/app/admin").status_code == 403


def test_new_pages_render_empty_for_a_new_account_and_show_nothing_of_another(
    api: Api, world: World, web: WebClient
) -> None:
    other = api.tenant("Elsewhere")
    web.login(other.owner_email)
    for path in NEW_ADVERTISER_PAGES:
        page = web.get(path + "?range=30d")
        assert page.status_code == 200, path
        assert 'data-testid="empty"' in page.text, path
        for needle in ("Anna", "Ben", "BEN10", world.purchase_id, "99.00"):
            assert needle not in page.text, (path, needle)


def test_an_export_of_another_account_is_not_found(api: Api, world: World, web: WebClient) -> None:
    owner = api.auth(world.tenant.owner_token)
    made = api.client.post(
        "/api/v1/exports", json={"dataset": "events", "from": "2000-01-01", "to": "2099-12-31"}, headers=owner
    )
    assert made.status_code == 202
    other = api.tenant("Nosy")
    web.login(other.owner_email)
    for path in (f"/app/exports/{made.json()['id']}", f"/app/exports/{made.json()['id']}/status"):
        assert web.get(path).status_code == 404, path


def test_admin_sees_totals_sign_ups_ingestion_errors_and_redrives_a_dead_letter(
    api: Api, world: World, container: Container, web: WebClient
) -> None:
    envelope = Envelope(kind="click.record", id="clk_web_1", account_id=world.tenant.account_id, payload={})
    container.local_queue.send_batch("clicks", [OutgoingMessage(envelope.dumps())])

    def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("the database is down")

    assert deliver_once(container.local_queue, "clicks", broken, max_attempts=1).dead == 1
    api.admin_token()
    web.login("root@multibuzz.test")
    page = web.get("/app/admin")
    assert page.status_code == 200
    totals = _api(api, api.admin_token(), "/api/v1/admin/overview")
    shown = cards(page.text)
    assert shown["accounts_active"] == str(totals["accounts_active"])
    assert shown["events_this_month"] == str(totals["events_this_month"])
    assert "Acme Store" in page.text.split('data-testid="signups"')[1], "the newest account is a recent sign-up"
    assert 'data-testid="dlq" data-queue="clicks"' in page.text and 'data-testid="redrive"' in page.text
    refused = web.post("/app/admin/dlq/clicks/redrive", csrf=False)
    assert refused.status_code == 403, "a redrive without the CSRF token is refused"
    assert _api(api, api.admin_token(), "/api/v1/admin/dlq/clicks")["count"] == 1
    web.get("/app/admin")
    moved = web.post("/app/admin/dlq/clicks/redrive")
    assert moved.status_code == 303 and moved.headers["location"] == "/app/admin?redriven=1"
    after = web.get(moved.headers["location"])
    assert 'data-testid="redriven"' in after.text and 'data-testid="no-dead-letters"' in after.text
    assert web.post("/app/admin/dlq/nope/redrive").status_code == 404
    owner = WebClient(web.http.base_url.__str__())
    try:
        owner.login(world.tenant.owner_email)
        owner.get("/app/settings")
        assert owner.post("/app/admin/dlq/clicks/redrive").status_code == 403
    finally:
        owner.close()
