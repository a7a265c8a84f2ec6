"""A generated BOLA (broken object-level authorisation) sweep over every route of the real apps.

Every route of the FastAPI apps (``multibuzz.apps``) and every route of ``multibuzz.topology``
must have an entry in the matrices below; a route without one fails the suite, so a new
route cannot ship unclassified. For each route that names an account or an object:

- every credential of ANOTHER tenant B — its owner, a member, an influencer user, its API key
  (scopes ingest+read), and B's owner who also holds an influencer role in A (token for B) —
  aims at tenant A's object and is refused: 403 or 404 (an API key on a login-only route may
  also get 401), never 2xx, nothing in A's answer leaks, and nothing in the database changes;
- routes whose only scope is the caller's own account are listed with the reason, and those
  with id *filters* in the query are probed with A's ids: the answer must not contain them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi.routing import iter_route_contexts
from multibuzz import topology
from multibuzz.apps import create_api_app, create_events_app, create_exports_app
from multibuzz.bootstrap import Container
from multibuzz.db.base import Base
from sqlalchemy import select

from tests.conftest import Api, Tenant
from tests.functional.test_conversions import seed_visitor

ALL_CREDENTIALS = ("owner", "member", "influencer", "api_key", "owner_with_role_in_a")


@dataclass(frozen=True)
class Target:
    """The route names one of A's objects (path parameters filled from A's world); B must be refused."""

    body: dict[str, Any] | None = None
    credentials: tuple[str, ...] = ALL_CREDENTIALS


@dataclass(frozen=True)
class OwnAccount:
    """No account or object id: the credential's own account is the only scope.

    ``probe``: query parameters (A's ids filled in) to read the route with as B; None: not probed.
    ``refs``: a body naming A's objects; B's writers must be refused (404/422) and nothing stored.
    """

    reason: str
    probe: dict[str, str] | None = None
    refs: dict[str, Any] | None = None


@dataclass(frozen=True)
class Public:
    reason: str


Entry = Target | OwnAccount | Public

# fmt: off
MATRIX: dict[str, Entry] = {
    # documentation and health
    "GET /api/v1/openapi.json": Public("the API description"),
    "GET /api/v1/docs": Public("Swagger UI"),
    "GET /api/v1/docs/assets/{name}": Public("Swagger UI assets (vendored swagger-ui-dist)"),
    "GET /api/health-lite": Public("database round trip, no data"),
    # auth
    "POST /api/v1/auth/login": Public("credentials in the body; throttled"),
    "GET /api/v1/me": OwnAccount("the caller themselves"),
    "POST /api/v1/auth/password": OwnAccount("the caller's own password"),
    "POST /api/v1/auth/password-reset": Public("same answer for every address"),
    "POST /api/v1/auth/password-reset/confirm": Public("the one-time token is the credential"),
    # accounts
    "POST /api/v1/accounts": OwnAccount("platform admins only"),
    "GET /api/v1/accounts": OwnAccount("the caller's memberships"),
    # operations
    "GET /api/v1/admin/metrics": OwnAccount("platform admins only: process-wide counters, no tenant rows", {}),
    "GET /api/v1/accounts/{account_id}": Target(),
    "PATCH /api/v1/accounts/{account_id}/settings": Target({"require_signature": True}),
    "POST /api/v1/accounts/{account_id}/deactivate": Target(),
    "POST /api/v1/accounts/{account_id}/activate": Target(),
    # members and invitations
    "GET /api/v1/members": OwnAccount("the token's account", {}),
    "POST /api/v1/members": OwnAccount(
        "invites into the token's account", refs={"email": "x@evil.test", "role": "influencer",
                                                  "influencer_id": "{influencer_id}"}),
    "DELETE /api/v1/members/{user_id}": Target(),
    "GET /api/v1/invitations": OwnAccount("the token's account", {"include_closed": "true"}),
    "DELETE /api/v1/invitations/{invitation_id}": Target(),
    "POST /api/v1/invitations/accept": Public("the one-time token is the credential"),
    # API keys
    "POST /api/v1/api-keys": OwnAccount("creates in the token's account"),
    "GET /api/v1/api-keys": OwnAccount("the token's account", {}),
    "POST /api/v1/api-keys/{key_id}/rotate": Target(),
    "POST /api/v1/api-keys/{key_id}/revoke": Target(),
    "DELETE /api/v1/api-keys/{key_id}": Target(),
    # attribution reads
    "GET /api/v1/conversions/{conversion_id}": Target(),
    "GET /api/v1/conversions": OwnAccount("the token's account", {"visitor_id": "{visitor_id}"}),
    "GET /api/v1/attributions": OwnAccount("the token's account", {"visitor_id": "{visitor_id}"}),
    "GET /api/v1/analytics/recurring": OwnAccount("the token's account"),
    "POST /api/v1/models/refit": OwnAccount("refits the token's account"),
    "GET /api/v1/models": OwnAccount("the token's account"),
    # influencer side
    "POST /api/v1/campaigns": OwnAccount("creates in the token's account"),
    "GET /api/v1/campaigns": OwnAccount("the token's account", {"influencer_id": "{influencer_id}"}),
    "GET /api/v1/campaigns/{campaign_id}": Target(),
    "PATCH /api/v1/campaigns/{campaign_id}": Target({"name": "pwned"}),
    "GET /api/v1/campaigns/{campaign_id}/influencers": Target(),
    "POST /api/v1/campaigns/{campaign_id}/influencers": Target({"influencer_id": "{influencer_id}"}),
    "DELETE /api/v1/campaigns/{campaign_id}/influencers/{influencer_id}": Target(),
    "POST /api/v1/influencers": OwnAccount("creates in the token's account"),
    "GET /api/v1/influencers": OwnAccount("the token's account", {}),
    "GET /api/v1/influencers/{influencer_id}": Target(),
    "PATCH /api/v1/influencers/{influencer_id}": Target({"name": "pwned"}),
    "POST /api/v1/influencers/{influencer_id}/login": Target({"email": "attacker@evil.test"}),
    "POST /api/v1/coupons": OwnAccount(
        "creates in the token's account", refs={"code": "STEAL10", "campaign_id": "{campaign_id}"}),
    "POST /api/v1/coupons/generate": OwnAccount(
        "creates in the token's account", refs={"influencer_id": "{influencer_id}", "count": 1}),
    "GET /api/v1/coupons": OwnAccount("the token's account", {"influencer_id": "{influencer_id}"}),
    "GET /api/v1/coupons/{coupon_id}": Target(),
    "POST /api/v1/coupons/{coupon_id}/regenerate": Target(),
    "POST /api/v1/coupons/{coupon_id}/invalidate": Target(),
    "POST /api/v1/links": OwnAccount(
        "creates in the token's account", refs={"campaign_id": "{campaign_id}", "influencer_id": "{influencer_id}",
                                                "destination_url": "https://evil.example/"}),
    "GET /api/v1/links": OwnAccount("the token's account", {"campaign_id": "{campaign_id}"}),
    "GET /api/v1/links/{link_id}": Target(),
    "POST /api/v1/links/{link_id}/regenerate": Target(),
    "POST /api/v1/links/{link_id}/disable": Target(),
    "POST /api/v1/links/{link_id}/enable": Target(),
    "GET /api/v1/links/{link_id}/qr.svg": Target(),
    "GET /api/v1/clicks": OwnAccount("the token's account", {"link_id": "{link_id}"}),
    "GET /api/v1/clicks/summary": OwnAccount("the token's account", {"link_id": "{link_id}"}),
    # tracking reads
    "GET /api/v1/events": OwnAccount("the token's account", {"visitor": "{visitor_id}"}),
    "GET /api/v1/visitors/{visitor_id}": Target(),
    # privacy requests (owners, or keys with the privacy scope); the subject is the caller's account's
    "POST /api/v1/privacy/erasures": OwnAccount("erases in the caller's account"),
    "GET /api/v1/privacy/erasures/{erasure_id}": Target(),
    "POST /api/v1/privacy/access-requests": OwnAccount("reads the caller's account"),
    # commerce: Meta ad accounts and the dashboards (h/meta)
    "POST /api/v1/integrations/meta": OwnAccount(
        "connects to the token's account (owners); Meta's token proves access to the ad account"),
    "GET /api/v1/dashboard/home": OwnAccount("the token's account", {"from": "2026-01-01", "to": "2026-01-31"}),
    "GET /api/v1/dashboard/shopify": OwnAccount("the token's account", {"from": "2026-01-01", "to": "2026-01-31"}),
    "GET /api/v1/dashboard/meta": OwnAccount("the token's account", {"from": "2026-01-01", "to": "2026-01-31"}),
    # ingestion (API key; every write lands in the key's own account)
    "GET /api/v1/validate": OwnAccount("the key itself"),
    "POST /api/v1/events": OwnAccount("writes to the key's account"),
    "POST /api/v1/event/{action}": OwnAccount("{action} is an event kind, not an object"),
    "POST /api/v1/sessions": OwnAccount("writes to the key's account"),
    "POST /api/v1/identify": OwnAccount("writes to the key's account"),
    "POST /api/v1/conversions": OwnAccount("writes to the key's account"),
    # commerce: integrations, orders, syncs
    "GET /api/v1/integrations": OwnAccount("the token's account", {}),
    "POST /api/v1/integrations/shopify": OwnAccount("connects a store to the token's account"),
    "GET /api/v1/integrations/shopify/install": OwnAccount("the OAuth state is bound to the token's account"),
    "GET /api/v1/integrations/shopify/callback": Public("Shopify's query HMAC and our signed, account-bound state"),
    "POST /api/v1/integrations/{integration_id}/disconnect": Target(),
    "GET /api/v1/orders": OwnAccount("the token's account", {"integration_id": "{integration_id}"}),
    "GET /api/v1/settings/sync-status": OwnAccount("the token's account", {}),
    "POST /api/v1/settings/manual-sync": OwnAccount(
        "the token's account", refs={"type": "shopify_fresh", "integration_id": "{integration_id}"}),
    # exports (the exports function)
    "POST /api/v1/exports": OwnAccount("exports the token's (or read key's) account"),
    "GET /api/v1/exports": OwnAccount("the token's account", {}),
    "GET /api/v1/exports/{export_id}": Target(),
    "GET /api/v1/events/export.csv": OwnAccount("the token's account", {"from": "2000-01-01", "to": "2100-01-01"}),
    # reports (rollups of the token's account; owners and members, JWT only)
    "GET /api/v1/stats/overview": OwnAccount("the token's account", {}),
    "GET /api/v1/stats/chart": OwnAccount("the token's account", {}),
    "GET /api/v1/stats/per-influencer": OwnAccount("the token's account", {}),
    "GET /api/v1/stats/per-campaign": OwnAccount("the token's account", {}),
    "GET /api/v1/stats/channels": OwnAccount("the token's account", {"model": "all"}),
    "GET /api/v1/funnels/{funnel}": OwnAccount("{funnel} is an event property value in the token's account", {}),
    "GET /api/v1/influencer/stats/overview": OwnAccount("the influencer user's own influencer", {}),
    "GET /api/v1/influencer/stats/chart": OwnAccount("the influencer user's own influencer", {}),
    "GET /api/v1/campaigns/{campaign_id}/commission": Target(),
    "PUT /api/v1/campaigns/{campaign_id}/commission": Target({"kind": "rate", "value": "0.5"}),
    # platform operations (platform admins only; every tenant credential is refused)
    "GET /api/v1/admin/overview": OwnAccount("platform admins only"),
    "GET /api/v1/admin/ingestion-errors": OwnAccount("platform admins only"),
    "GET /api/v1/admin/dlq/{queue}": Target(),
    "POST /api/v1/admin/dlq/{queue}/redrive": Target(),
    "POST /api/v1/admin/accounts/{account_id}/coupons/generate": Target({"count": 1}),
}

# Routes of multibuzz.topology served by something other than the two FastAPI apps.
TOPOLOGY: dict[str, str] = {
    "GET /r/{code}": "public redirect: the link code is the capability",
    "HEAD /r/{code}": "public redirect: the link code is the capability",
    "POST /webhooks/shopify/{topic+}": "Shopify HMAC over the body, no tenant credential",
    "POST /api/v1/exports": "the exports app: covered by MATRIX",
    "GET /api/v1/exports": "the exports app: covered by MATRIX",
    "GET /api/v1/exports/{export_id}": "the exports app: covered by MATRIX",
    "GET /api/v1/events/export.csv": "the exports app: covered by MATRIX",
    "GET /api/health-lite": "covered by MATRIX",
    "ANY /api/v1/{proxy+}": "the api app: covered by MATRIX",
    "GET /": "web: the public home page, no tenant data",
    "GET /app": "web: redirects to the actor's landing page",
    "ANY /app/{proxy+}": "web pages: tenant isolation in tests/web/test_web_security.py (session cookie, not the API)",
    "GET /static/{proxy+}": "web: public hashed static assets",
}
# fmt: on

_SKIP_METHODS = {"HEAD", "OPTIONS"}


def app_routes() -> list[str]:
    keys = []
    for app in (create_api_app(), create_events_app(), create_exports_app()):
        for route in iter_route_contexts(app.routes):
            for method in sorted(set(route.methods or ()) - _SKIP_METHODS):
                keys.append(f"{method} {route.path}")
    return keys


def test_every_route_has_an_entry_in_the_matrix() -> None:
    routes = app_routes()
    missing = sorted(set(routes) - set(MATRIX))
    stale = sorted(set(MATRIX) - set(routes))
    assert not missing, f"routes without a BOLA entry (add one to MATRIX): {missing}"
    assert not stale, f"entries for routes that no longer exist: {stale}"
    with_params = [r for r in routes if "{" in r and not isinstance(MATRIX[r], Target)]
    assert with_params == [
        "GET /api/v1/docs/assets/{name}",
        "GET /api/v1/funnels/{funnel}",
        "POST /api/v1/event/{action}",
    ], "a route with an id parameter must be a Target"
    topo = {route for route, _function in topology.all_routes()}
    unclassified = sorted(topo - set(TOPOLOGY) - set(MATRIX))
    assert not unclassified, f"topology routes without an entry in TOPOLOGY or MATRIX: {unclassified}"
    assert not set(TOPOLOGY) - topo, "entries in TOPOLOGY for routes that no longer exist"


# -- the two tenants ------------------------------------------------------------------------------------


@dataclass
class World:
    a: Tenant
    ids: dict[str, str]  # path parameter name → A's object
    secrets: list[str]  # strings of A's that must never appear in an answer to B
    credentials: dict[str, dict[str, str]]  # B's credentials as headers


def _post(api: Api, path: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.client.post(path, json=body or {}, headers=api.auth(token))
    assert response.status_code in (200, 201, 202), (path, response.text)
    return dict(response.json())


def build_world(api: Api, container: Container) -> World:
    a = api.tenant("Alpha target")
    b = api.tenant("Beta attacker")
    campaign = _post(api, "/api/v1/campaigns", a.owner_token, {"name": "Alpha spring"})
    influencer = _post(api, "/api/v1/influencers", a.owner_token, {"name": "Alpha Anna", "handle": "alpha-anna"})
    _post(api, f"/api/v1/campaigns/{campaign['id']}/influencers", a.owner_token, {"influencer_id": influencer["id"]})
    coupon = _post(api, "/api/v1/coupons", a.owner_token, {"code": "ALPHA10", "influencer_id": influencer["id"]})
    link = _post(
        api,
        "/api/v1/links",
        a.owner_token,
        {"campaign_id": campaign["id"], "influencer_id": influencer["id"], "destination_url": "https://alpha.example/"},
    )
    seed_visitor(container, a.account_id, "alpha-visitor-1", [("email", 2)])
    conversion = api.client.post(
        "/api/v1/conversions",
        json={"conversion_type": "purchase", "visitor_id": "alpha-visitor-1", "revenue": "42"},
        headers=api.auth(a.api_key),
    )
    assert conversion.status_code == 202, conversion.text
    erasure = _post(api, "/api/v1/privacy/erasures", a.owner_token, {"visitor_id": "alpha-nobody"})
    api.add_member(a, "member@alpha-target.test", "member")
    from multibuzz.commerce import integrations as commerce

    with container.session() as session:
        tools = commerce.Tools(container.clock, container.ids, container.secret_box)
        shop = commerce.connect(
            session, tools, account_id=a.account_id, type="shopify", external_id="alpha.myshopify.com"
        )
        commerce.store_secret(session, tools, shop, "shpat_alpha_secret_token")
        session.commit()
        integration_id = shop.id
    invitation = _post(api, "/api/v1/members", a.owner_token, {"email": "pending@alpha-target.test", "role": "member"})
    export = _post(
        api, "/api/v1/exports", a.owner_token, {"dataset": "events", "from": "2026-01-01", "to": "2026-01-02"}
    )
    keys = api.client.get("/api/v1/api-keys", headers=api.auth(a.owner_token)).json()
    members = api.client.get("/api/v1/members", headers=api.auth(a.owner_token)).json()
    member_id = next(m["user_id"] for m in members if m["email"] == "member@alpha-target.test")

    # B's credentials, including a second owner of B holding a read-only influencer role in A (token for B).
    b_influencer = _post(api, "/api/v1/influencers", b.owner_token, {"name": "Beta Bo", "handle": "beta-bo"})
    second_owner = api.add_member(b, "owner2@beta-attacker.test", "owner")
    into_a = _post(
        api,
        "/api/v1/members",
        a.owner_token,
        {"email": "owner2@beta-attacker.test", "role": "influencer", "influencer_id": influencer["id"]},
    )
    api.accept(into_a["token"], token=second_owner)
    credentials = {
        "owner": api.auth(b.owner_token),
        "member": api.auth(api.add_member(b, "member@beta-attacker.test", "member")),
        "influencer": api.auth(
            api.add_member(b, "creator@beta-attacker.test", "influencer", influencer_id=b_influencer["id"])
        ),
        "api_key": api.auth(b.api_key),
        "owner_with_role_in_a": api.auth(second_owner),
    }
    ids = {
        "account_id": a.account_id,
        "user_id": member_id,
        "invitation_id": str(invitation["id"]),
        "key_id": str(keys[0]["id"]),
        "conversion_id": str(conversion.json()["conversion"]["id"]),
        "campaign_id": str(campaign["id"]),
        "influencer_id": str(influencer["id"]),
        "coupon_id": str(coupon["id"]),
        "link_id": str(link["id"]),
        "visitor_id": "alpha-visitor-1",
        "erasure_id": str(erasure["id"]),
        "integration_id": integration_id,
        "export_id": str(export["id"]),
        "queue": "clicks",
        "funnel": "checkout",
    }
    names = {"queue", "funnel"}  # path values that are names, not A's data
    secrets = [
        *(v for k, v in ids.items() if k not in names),
        "ALPHA10",
        "alpha.example",
        "member@alpha-target.test",
        link["code"],
        "shpat_alpha_secret_token",
    ]
    return World(a, ids, secrets, credentials)


def snapshot(container: Container) -> dict[str, list[str]]:
    """Every row of every table (login throttles aside), as sorted JSON lines."""
    rows: dict[str, list[str]] = {}
    with container.session() as session:
        for table in Base.metadata.sorted_tables:
            if table.name == "login_throttles":
                continue
            rows[table.name] = sorted(
                json.dumps(dict(r._mapping), default=str, sort_keys=True) for r in session.execute(select(table))
            )
    return rows


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _leaks(text: str, world: World, allowed: str) -> list[str]:
    return [s for s in world.secrets if s and s in text and s not in allowed]


def test_no_credential_of_another_tenant_reaches_an_object_of_tenant_a(api: Api, container: Container) -> None:
    world = build_world(api, container)
    for name, headers in world.credentials.items():  # the refusals are not an artefact of dead credentials
        own = "/api/v1/validate" if name == "api_key" else "/api/v1/me"
        assert api.client.get(own, headers=headers).status_code == 200, name
    before = snapshot(container)
    failures: list[str] = []
    attempts = 0
    for route, entry in MATRIX.items():
        if not isinstance(entry, Target):
            continue
        method, path = route.split(" ", 1)
        url = _fill(path, world.ids)
        body = _fill(entry.body, world.ids)
        for name in entry.credentials:
            attempts += 1
            response = api.client.request(method, url, json=body, headers=world.credentials[name])
            refused = {403, 404} | ({401} if name == "api_key" else set())
            if response.status_code not in refused:
                failures.append(f"{name} {method} {url} → {response.status_code} {response.text[:200]}")
            elif leaked := _leaks(response.text, world, url):
                failures.append(f"{name} {method} {url} leaks {leaked}")
    assert attempts == 5 * sum(isinstance(e, Target) for e in MATRIX.values())
    for route, entry in MATRIX.items():  # bodies that reference A's objects from B's own account
        if not isinstance(entry, OwnAccount) or entry.refs is None:
            continue
        method, path = route.split(" ", 1)
        for name in ("owner", "owner_with_role_in_a"):
            response = api.client.request(
                method, path, json=_fill(entry.refs, world.ids), headers=world.credentials[name]
            )
            if response.status_code not in (404, 422):
                failures.append(
                    f"{name} {route} with A's ids in the body → {response.status_code} {response.text[:200]}"
                )
    assert not failures, "\n".join(failures)
    assert snapshot(container) == before, "a refused request changed the database"


# Which API-key scopes may call a route (data; every other non-public route refuses keys of any scope).
INGEST_ROUTES = {
    "GET /api/v1/validate",
    "POST /api/v1/events",
    "POST /api/v1/event/{action}",
    "POST /api/v1/sessions",
    "POST /api/v1/identify",
    "POST /api/v1/conversions",
}
READ_ROUTES = {
    "GET /api/v1/conversions/{conversion_id}",
    "GET /api/v1/conversions",
    # exports: the SDK's exports.create/download (a read-scoped key; ingest-only keys are refused)
    "POST /api/v1/exports",
    "GET /api/v1/exports",
    "GET /api/v1/exports/{export_id}",
    "GET /api/v1/events/export.csv",
}
PRIVACY_ROUTES = {
    "POST /api/v1/privacy/erasures",
    "GET /api/v1/privacy/erasures/{erasure_id}",
    "POST /api/v1/privacy/access-requests",
}


def test_api_key_scopes_on_every_route_of_the_own_account(api: Api, container: Container) -> None:
    """Keys of tenant A itself: an ``ingest``-only, a ``read``-only and a ``privacy``-only key on every
    non-public route."""
    world = build_world(api, container)
    keys = {}
    for scope in ("ingest", "read", "privacy"):
        made = api.client.post(
            "/api/v1/api-keys", json={"name": scope, "scopes": [scope]}, headers=api.auth(world.a.owner_token)
        )
        assert made.status_code == 201, made.text
        keys[scope] = made.json()["key"]
    ids = {**world.ids, "action": "signup"}
    failures = []
    for route, entry in MATRIX.items():
        if isinstance(entry, Public):
            continue
        method, path = route.split(" ", 1)
        for scope, key in keys.items():
            allowed = route in {"ingest": INGEST_ROUTES, "read": READ_ROUTES, "privacy": PRIVACY_ROUTES}[scope]
            response = api.client.request(method, _fill(path, ids), headers=api.auth(key))
            refused = response.status_code in (401, 403)
            if refused == allowed:
                failures.append(f"{scope} key {route} → {response.status_code} (allowed: {allowed})")
    assert not failures, "\n".join(failures)


def test_id_filters_never_reveal_another_tenants_rows(api: Api, container: Container) -> None:
    world = build_world(api, container)
    failures = []
    for route, entry in MATRIX.items():
        if not isinstance(entry, OwnAccount) or entry.probe is None:
            continue
        method, path = route.split(" ", 1)
        params = {k: _fill(v, world.ids) for k, v in entry.probe.items()}
        for name, headers in world.credentials.items():
            response = api.client.request(method, path, params=params, headers=headers)
            if response.status_code >= 500:
                failures.append(f"{name} {route} → {response.status_code}")
            elif leaked := _leaks(response.text, world, str(params)):
                failures.append(f"{name} {route} {params} leaks {leaked}")
    assert not failures, "\n".join(failures)
