"""The influencer management API through the local gateway: campaigns, influencers, coupons, links."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from multibuzz.bootstrap import Container
from multibuzz.db.models.influencer import Coupon
from sqlalchemy import func, select

from tests.conftest import Api, Tenant


@dataclass
class Setup:
    tenant: Tenant
    headers: dict[str, str]
    campaign: dict[str, Any]
    influencer: dict[str, Any]
    link: dict[str, Any]


def post(api: Api, path: str, headers: dict[str, str], body: dict[str, Any] | None = None, status: int = 201) -> Any:
    response = api.client.post(path, json=body or {}, headers=headers)
    assert response.status_code == status, response.text
    return response.json()


def setup_influencer(
    api: Api,
    name: str,
    *,
    tenant: Tenant | None = None,
    handle: str = "anna",
    campaign: dict[str, Any] | None = None,
    destination: str = "https://shop.example/spring?color=red#top",
) -> Setup:
    tenant = tenant or api.tenant(name)
    headers = api.auth(tenant.owner_token)
    campaign_body = {"name": "Spring 24", "slug": "spring-24", **(campaign or {})}
    created_campaign = post(api, "/api/v1/campaigns", headers, campaign_body)
    influencer = post(api, "/api/v1/influencers", headers, {"name": handle.title(), "handle": f"@{handle}"})
    link = post(
        api,
        "/api/v1/links",
        headers,
        {"campaign_id": created_campaign["id"], "influencer_id": influencer["id"], "destination_url": destination},
    )
    return Setup(tenant, headers, created_campaign, influencer, link)


def test_campaign_influencer_and_link_lifecycle(api: Api) -> None:
    s = setup_influencer(api, "Lifecycle")
    assert s.influencer["handle"] == "anna"
    link = s.link
    assert link["tracking_url"].endswith(f"/r/{link['code']}") and len(link["code"]) == 8
    assert link["destination_url"] == (
        "https://shop.example/spring?color=red&utm_source=anna&utm_medium=affiliate&utm_campaign=spring-24#top"
    )
    # The link assigned the influencer to the campaign.
    assigned = api.client.get(f"/api/v1/campaigns/{s.campaign['id']}/influencers", headers=s.headers).json()
    assert [i["id"] for i in assigned] == [s.influencer["id"]]

    regenerated = post(api, f"/api/v1/links/{link['id']}/regenerate", s.headers)
    assert regenerated["replaced"]["status"] == "disabled"
    assert regenerated["replaced"]["replaced_by_id"] == regenerated["link"]["id"]
    assert regenerated["link"]["code"] != link["code"]
    assert regenerated["link"]["destination_url"] == link["destination_url"]
    disabled = post(api, f"/api/v1/links/{regenerated['link']['id']}/disable", s.headers, status=200)
    assert disabled["status"] == "disabled" and disabled["disabled_at"]
    refused = api.client.post(f"/api/v1/links/{link['id']}/enable", headers=s.headers)
    assert refused.status_code == 409, "a regenerated link stays retired"

    patched = api.client.patch(
        f"/api/v1/campaigns/{s.campaign['id']}",
        json={"status": "paused", "fallback_url": "https://shop.example/ended"},
        headers=s.headers,
    )
    assert patched.status_code == 200 and patched.json()["status"] == "paused"
    bad_dates = api.client.patch(
        f"/api/v1/campaigns/{s.campaign['id']}",
        json={"starts_at": "2026-05-01T00:00:00Z", "ends_at": "2026-04-01T00:00:00Z"},
        headers=s.headers,
    )
    assert bad_dates.status_code == 422 and bad_dates.json()["errors"][0]["field"] == "ends_at"

    duplicate = api.client.post("/api/v1/campaigns", json={"name": "Again", "slug": "spring-24"}, headers=s.headers)
    assert duplicate.status_code == 409
    same_handle = api.client.post("/api/v1/influencers", json={"name": "A", "handle": "ANNA"}, headers=s.headers)
    assert same_handle.status_code == 409


def test_link_destination_validation(api: Api) -> None:
    tenant = api.tenant("Validation")
    headers = api.auth(tenant.owner_token)
    campaign = post(api, "/api/v1/campaigns", headers, {"name": "No default"})
    influencer = post(api, "/api/v1/influencers", headers, {"name": "Ben", "handle": "ben"})
    base = {"campaign_id": campaign["id"], "influencer_id": influencer["id"]}
    for url, reason in (
        ("javascript:alert(1)", "http or https"),
        ("data:text/html,<script>alert(1)</script>", "http or https"),
        ("https://admin:hunter2@shop.example/", "credentials"),
    ):
        response = api.client.post("/api/v1/links", json={**base, "destination_url": url}, headers=headers)
        assert response.status_code == 422, url
        body = response.json()
        assert reason in body["message"] and body["errors"][0]["field"] == "destination_url"
    missing = api.client.post("/api/v1/links", json=base, headers=headers)
    assert missing.status_code == 422 and "campaign has no default destination" in missing.json()["message"]
    own_utms = post(
        api, "/api/v1/links", headers, {**base, "destination_url": "https://shop.example/?utm_source=newsletter"}
    )
    assert own_utms["destination_url"] == "https://shop.example/?utm_source=newsletter"
    bad_campaign = api.client.post(
        "/api/v1/campaigns", json={"name": "x", "fallback_url": "javascript:void(0)"}, headers=headers
    )
    assert bad_campaign.status_code == 422 and bad_campaign.json()["errors"][0]["field"] == "fallback_url"


def test_coupons_rules_and_collisions(api: Api, container: Container) -> None:
    s = setup_influencer(api, "Coupons")
    h = s.headers
    first = post(api, "/api/v1/coupons", h, {"code": "Anna10", "influencer_id": s.influencer["id"]})
    assert first["code"] == "Anna10" and first["status"] == "active"
    clash = api.client.post("/api/v1/coupons", json={"code": "ANNA10"}, headers=h)
    assert clash.status_code == 409 and "case-insensitive" in clash.json()["message"]
    generic = post(api, "/api/v1/coupons", h, {"code": "WELCOME", "campaign_id": s.campaign["id"]})
    assert generic["influencer_id"] is None

    # Too small a space for the count: a 422 that says why, not a loop.
    too_many = api.client.post(
        "/api/v1/coupons/generate", json={"prefix": "X", "length": 2, "charset": "digits", "count": 50}, headers=h
    )
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "length" and "possible codes" in too_many.json()["message"]
    bad_prefix = api.client.post(
        "/api/v1/coupons/generate", json={"prefix": "SUMMER 24!", "length": 6, "count": 1}, headers=h
    )
    assert bad_prefix.status_code == 422 and bad_prefix.json()["errors"][0]["field"] == "prefix"

    made = post(
        api,
        "/api/v1/coupons/generate",
        h,
        {"prefix": "ANNA-", "length": 6, "charset": "upper", "exclude_ambiguous": True, "count": 25,
         "campaign_id": s.campaign["id"], "influencer_id": s.influencer["id"]},
    )  # fmt: skip
    assert made["count"] == 25
    codes = [c["code"] for c in made["data"]]
    assert len({c.lower() for c in codes}) == 25
    assert all(c.startswith("ANNA-") and len(c) == 11 and not set(c[5:]) & set("OI") for c in codes)

    regenerated = post(api, f"/api/v1/coupons/{first['id']}/regenerate", h, {"code": "anna-new"})
    assert regenerated["replaced"]["status"] == "invalidated"
    assert regenerated["replaced"]["replaced_by_id"] == regenerated["coupon"]["id"]
    assert regenerated["coupon"]["influencer_id"] == s.influencer["id"]
    reused = api.client.post("/api/v1/coupons", json={"code": "anna10"}, headers=h)
    assert reused.status_code == 409, "an invalidated code is never handed out again"
    invalidated = post(api, f"/api/v1/coupons/{generic['id']}/invalidate", h, status=200)
    assert invalidated["status"] == "invalidated" and invalidated["invalidated_at"]
    again = api.client.post(f"/api/v1/coupons/{generic['id']}/regenerate", headers=h)
    assert again.status_code == 409

    active = api.client.get("/api/v1/coupons", params={"status": "active", "limit": 200}, headers=h).json()
    assert len(active["data"]) == 26 and active["next_cursor"] is None
    mine = api.client.get("/api/v1/coupons", params={"generic": "true"}, headers=h).json()
    assert [c["code"] for c in mine["data"]] == ["WELCOME"]
    found = api.client.get("/api/v1/coupons", params={"code": "ANNA-NEW"}, headers=h).json()
    assert [c["code"] for c in found["data"]] == ["anna-new"]


def test_ten_thousand_generated_codes_are_unique_in_the_database(api: Api, container: Container) -> None:
    tenant = api.tenant("Bulk")
    h = api.auth(tenant.owner_token)
    body = {"prefix": "B", "length": 5, "charset": "alnum", "exclude_ambiguous": True, "count": 10_000}
    made = post(api, "/api/v1/coupons/generate", h, body)
    assert made["count"] == 10_000
    codes = {c["code"].lower() for c in made["data"]}
    assert len(codes) == 10_000
    with container.session() as session:
        stored = session.scalar(
            select(func.count(func.distinct(Coupon.code_normalized))).where(Coupon.account_id == tenant.account_id)
        )
    assert stored == 10_000
    # The next batch with the same shape must avoid all 10 000 (32^5 = 33.5M: room for it).
    more = post(api, "/api/v1/coupons/generate", h, {**body, "count": 500})
    assert not {c["code"].lower() for c in more["data"]} & codes


def test_lists_paginate_and_filter(api: Api) -> None:
    s = setup_influencer(api, "Paging")
    h = s.headers
    for n in range(4):
        post(api, "/api/v1/influencers", h, {"name": f"Extra {n}", "handle": f"extra{n}", "status": "inactive"})
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.client.get("/api/v1/influencers", params=params, headers=h).json()
        seen.extend(i["id"] for i in page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5
    inactive = api.client.get("/api/v1/influencers", params={"status": "inactive"}, headers=h).json()
    assert len(inactive["data"]) == 4
    in_campaign = api.client.get("/api/v1/influencers", params={"campaign_id": s.campaign["id"]}, headers=h).json()
    assert [i["handle"] for i in in_campaign["data"]] == ["anna"]
    links = api.client.get("/api/v1/links", params={"influencer_id": s.influencer["id"]}, headers=h).json()
    assert [link["id"] for link in links["data"]] == [s.link["id"]]
    assert api.client.get("/api/v1/links", params={"status": "disabled"}, headers=h).json()["data"] == []
    garbage = api.client.get("/api/v1/influencers", params={"cursor": "!!!"}, headers=h)
    assert garbage.status_code == 422 and garbage.json()["errors"][0]["field"] == "cursor"


def test_qr_code_of_the_tracking_url(api: Api) -> None:
    s = setup_influencer(api, "Qr")
    response = api.client.get(f"/api/v1/links/{s.link['id']}/qr.svg", headers=s.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.lstrip().startswith("<svg") and "<path" in response.text


def test_tenant_isolation_on_every_influencer_endpoint(api: Api) -> None:
    a = setup_influencer(api, "Iso A")
    b = setup_influencer(api, "Iso B", handle="bea")
    b_coupon = post(api, "/api/v1/coupons", b.headers, {"code": "BEA5", "influencer_id": b.influencer["id"]})
    member_a = api.auth(api.add_member(a.tenant, "member@iso-a.test", "member"))
    cid, iid, lid, kid = b.campaign["id"], b.influencer["id"], b.link["id"], b_coupon["id"]
    for headers in (a.headers, member_a):
        for method, path, body in (
            ("GET", f"/api/v1/campaigns/{cid}", None),
            ("PATCH", f"/api/v1/campaigns/{cid}", {"name": "mine"}),
            ("GET", f"/api/v1/campaigns/{cid}/influencers", None),
            ("POST", f"/api/v1/campaigns/{cid}/influencers", {"influencer_id": a.influencer["id"]}),
            ("POST", f"/api/v1/campaigns/{a.campaign['id']}/influencers", {"influencer_id": iid}),
            ("DELETE", f"/api/v1/campaigns/{cid}/influencers/{iid}", None),
            ("GET", f"/api/v1/influencers/{iid}", None),
            ("PATCH", f"/api/v1/influencers/{iid}", {"name": "mine"}),
            ("GET", f"/api/v1/coupons/{kid}", None),
            ("POST", f"/api/v1/coupons/{kid}/invalidate", None),
            ("POST", f"/api/v1/coupons/{kid}/regenerate", None),
            ("POST", "/api/v1/coupons", {"code": "X1", "influencer_id": iid}),
            ("POST", "/api/v1/coupons/generate", {"count": 1, "length": 8, "campaign_id": cid}),
            ("GET", f"/api/v1/links/{lid}", None),
            ("GET", f"/api/v1/links/{lid}/qr.svg", None),
            ("POST", f"/api/v1/links/{lid}/disable", None),
            ("POST", f"/api/v1/links/{lid}/enable", None),
            ("POST", f"/api/v1/links/{lid}/regenerate", None),
            ("POST", "/api/v1/links", {"campaign_id": cid, "influencer_id": a.influencer["id"]}),
        ):
            response = api.client.request(method, path, json=body, headers=headers)
            assert response.status_code == 404, (method, path, response.status_code, response.text)
        for path in ("/api/v1/campaigns", "/api/v1/influencers", "/api/v1/coupons", "/api/v1/links", "/api/v1/clicks"):
            ids = {row["id"] for row in api.client.get(path, headers=headers).json()["data"]}
            assert not ids & {cid, iid, lid, kid}, path
        for path in (f"/api/v1/links?campaign_id={cid}", f"/api/v1/coupons?influencer_id={iid}"):
            assert api.client.get(path, headers=headers).json()["data"] == []
        summary = api.client.get(f"/api/v1/clicks/summary?link_id={lid}", headers=headers).json()
        assert summary == {"clicks": 0, "unique_clicks": 0, "bot_hits": 0}
    assert api.client.get(f"/api/v1/links/{lid}", headers=b.headers).status_code == 200, "B still sees its own"


def test_influencer_user_reads_only_its_own_and_cannot_write(api: Api) -> None:
    s = setup_influencer(api, "Creators")
    other = post(api, "/api/v1/influencers", s.headers, {"name": "Other", "handle": "other"})
    other_link = post(api, "/api/v1/links", s.headers, {"campaign_id": s.campaign["id"], "influencer_id": other["id"]
                                                         , "destination_url": "https://shop.example/"})  # fmt: skip
    other_coupon = post(api, "/api/v1/coupons", s.headers, {"code": "OTHER1", "influencer_id": other["id"]})
    own_coupon = post(api, "/api/v1/coupons", s.headers, {"code": "ANNA1", "influencer_id": s.influencer["id"]})
    post(api, "/api/v1/coupons", s.headers, {"code": "GENERIC1"})
    unassigned = post(api, "/api/v1/campaigns", s.headers, {"name": "Elsewhere"})

    login = post(api, f"/api/v1/influencers/{s.influencer['id']}/login", s.headers, {"email": "anna@creators.test"})
    assert login["role"] == "influencer" and login["influencer_id"] == s.influencer["id"]
    api.accept(login["token"])  # an invitation: anna becomes a member when she accepts
    anna = api.auth(api.login("anna@creators.test", s.tenant.account_id))

    assert [c["id"] for c in api.client.get("/api/v1/coupons", headers=anna).json()["data"]] == [own_coupon["id"]]
    assert [x["id"] for x in api.client.get("/api/v1/links", headers=anna).json()["data"]] == [s.link["id"]]
    assert [i["id"] for i in api.client.get("/api/v1/influencers", headers=anna).json()["data"]] == [s.influencer["id"]]
    assert [c["id"] for c in api.client.get("/api/v1/campaigns", headers=anna).json()["data"]] == [s.campaign["id"]]
    assert api.client.get(f"/api/v1/links/{s.link['id']}", headers=anna).status_code == 200
    assert api.client.get(f"/api/v1/links/{s.link['id']}/qr.svg", headers=anna).status_code == 200
    for path in (
        f"/api/v1/links/{other_link['id']}",
        f"/api/v1/coupons/{other_coupon['id']}",
        f"/api/v1/influencers/{other['id']}",
        f"/api/v1/campaigns/{unassigned['id']}",
    ):
        assert api.client.get(path, headers=anna).status_code == 404, path
    assert api.client.get(f"/api/v1/clicks?influencer_id={other['id']}", headers=anna).json()["data"] == []
    for method, path, body in (
        ("POST", "/api/v1/campaigns", {"name": "Mine"}),
        ("PATCH", f"/api/v1/campaigns/{s.campaign['id']}", {"name": "Mine"}),
        ("POST", "/api/v1/influencers", {"name": "Me2", "handle": "me2"}),
        ("PATCH", f"/api/v1/influencers/{s.influencer['id']}", {"name": "Me"}),
        ("POST", "/api/v1/coupons", {"code": "FREE100"}),
        ("POST", "/api/v1/coupons/generate", {"count": 5, "length": 8}),
        ("POST", f"/api/v1/coupons/{own_coupon['id']}/invalidate", None),
        ("POST", f"/api/v1/coupons/{own_coupon['id']}/regenerate", None),
        ("POST", "/api/v1/links", {"campaign_id": s.campaign["id"], "influencer_id": s.influencer["id"]}),
        ("POST", f"/api/v1/links/{s.link['id']}/disable", None),
        ("POST", f"/api/v1/links/{s.link['id']}/regenerate", None),
        ("POST", f"/api/v1/campaigns/{s.campaign['id']}/influencers", {"influencer_id": other["id"]}),
        ("POST", f"/api/v1/influencers/{s.influencer['id']}/login", {"email": "x@y.test"}),
    ):
        response = api.client.request(method, path, json=body, headers=anna)
        assert response.status_code == 403, (method, path, response.status_code)
