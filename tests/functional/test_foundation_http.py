"""The foundation through real HTTP: local gateway → API Gateway v2 event → real lambda_handler."""

from __future__ import annotations

import httpx
from multibuzz.bootstrap import Container
from multibuzz.db.engine import make_engine
from multibuzz.db.models import ApiKey
from sqlalchemy import select

from tests.conftest import Api


def test_health_lite_does_a_database_round_trip(api: Api) -> None:
    response = api.client.get("/api/health-lite")
    assert response.status_code == 200 and response.json() == {"db": "ok"}


def test_health_lite_reports_503_with_a_reason_when_the_database_is_down(api: Api, container: Container) -> None:
    container.__dict__["engine"] = make_engine("mysql+pymysql://nobody@127.0.0.1:9/none")
    response = api.client.get("/api/health-lite")
    assert response.status_code == 503
    body = response.json()
    assert body["db"] == "error" and "unreachable" in body["reason"]


def test_login_returns_a_jwt_and_wrong_passwords_do_not(api: Api) -> None:
    token = api.admin_token()
    assert token.count(".") == 2
    me = api.client.get("/api/v1/me", headers=api.auth(token))
    assert me.status_code == 200 and me.json()["is_platform_admin"] is True
    bad = api.client.post("/api/v1/auth/login", json={"email": "root@multibuzz.test", "password": "nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "unauthorized"
    unknown = api.client.post("/api/v1/auth/login", json={"email": "ghost@multibuzz.test", "password": "nope"})
    assert unknown.status_code == 401 and unknown.json()["message"] == bad.json()["message"]
    assert api.client.get("/api/v1/me").status_code == 401
    assert api.client.get("/api/v1/me", headers=api.auth("garbage")).status_code == 401


def test_errors_are_json_with_readable_messages(api: Api) -> None:
    malformed = api.client.post(
        "/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["error"] == "malformed_json"
    invalid = api.client.post("/api/v1/auth/login", json={"email": "not-an-email"})
    assert invalid.status_code == 422
    fields = {e["field"]: e["message"] for e in invalid.json()["errors"]}
    assert "email" in fields and fields["password"] == "password is required"
    for path in ("/nowhere", "/api/v1/nowhere"):
        missing = api.client.get(path)
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_openapi_document_and_docs_are_published(api: Api) -> None:
    spec = api.client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/api/v1/auth/login" in paths and "/api/v1/api-keys" in paths
    docs = api.client.get("/api/v1/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_api_key_lifecycle(api: Api, container: Container) -> None:
    tenant = api.tenant("Shop One")
    ok = api.client.get("/api/v1/validate", headers=api.auth(tenant.api_key))
    assert ok.status_code == 200 and ok.json()["account_id"] == tenant.account_id

    listed = api.client.get("/api/v1/api-keys", headers=api.auth(tenant.owner_token)).json()
    assert len(listed) == 1 and "key" not in listed[0] and listed[0]["display_hint"].startswith("sk_live_…")
    with container.session() as session:
        stored = session.scalars(select(ApiKey)).all()
        assert all(tenant.api_key not in (k.secret_digest, k.display_hint) for k in stored)

    key_id = listed[0]["id"]
    rotated = api.client.post(f"/api/v1/api-keys/{key_id}/rotate", headers=api.auth(tenant.owner_token))
    assert rotated.status_code == 201
    new_key = rotated.json()["key"]
    old = api.client.get("/api/v1/validate", headers=api.auth(tenant.api_key))
    assert old.status_code == 401 and "revoked" in old.json()["message"]
    assert api.client.get("/api/v1/validate", headers=api.auth(new_key)).status_code == 200

    revoked = api.client.post(f"/api/v1/api-keys/{rotated.json()['id']}/revoke", headers=api.auth(tenant.owner_token))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert api.client.get("/api/v1/validate", headers=api.auth(new_key)).status_code == 401

    signed = api.client.post(
        "/api/v1/api-keys",
        json={"name": "signed", "environment": "test", "with_signing_secret": True},
        headers=api.auth(tenant.owner_token),
    ).json()
    assert signed["key"].startswith("sk_test_") and signed["signing_secret"].startswith("whsec_")
    assert api.client.get("/api/v1/validate", headers=api.auth("sk_live_" + "x" * 40)).status_code == 401


def test_deactivating_an_account_locks_out_keys_and_users_at_once(api: Api) -> None:
    tenant = api.tenant("Shop Two")
    admin = api.admin_token()
    assert api.client.get("/api/v1/validate", headers=api.auth(tenant.api_key)).status_code == 200
    off = api.client.post(f"/api/v1/accounts/{tenant.account_id}/deactivate", headers=api.auth(admin))
    assert off.status_code == 200 and off.json()["status"] == "deactivated"
    assert api.client.get("/api/v1/validate", headers=api.auth(tenant.api_key)).status_code == 401
    assert api.client.get("/api/v1/api-keys", headers=api.auth(tenant.owner_token)).status_code == 401
    on = api.client.post(f"/api/v1/accounts/{tenant.account_id}/activate", headers=api.auth(admin))
    assert on.status_code == 200
    assert api.client.get("/api/v1/validate", headers=api.auth(tenant.api_key)).status_code == 200


def test_account_settings_are_validated_and_owner_only(api: Api) -> None:
    tenant = api.tenant("Shop Three")
    url = f"/api/v1/accounts/{tenant.account_id}/settings"
    ok = api.client.patch(
        url, json={"session_timeout_minutes": 45, "require_signature": True}, headers=api.auth(tenant.owner_token)
    )
    assert ok.status_code == 200 and ok.json()["settings"]["session_timeout_minutes"] == 45
    bad = api.client.patch(url, json={"session_timeout_minutes": 0}, headers=api.auth(tenant.owner_token))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "session_timeout_minutes"
    member = api.add_member(tenant, "member@shop-three.test", "member")
    assert api.client.patch(url, json={"lookback_days": 7}, headers=api.auth(member)).status_code == 403


def test_duplicate_account_slug_is_a_conflict(api: Api) -> None:
    admin = api.admin_token()
    assert api.client.post("/api/v1/accounts", json={"name": "Same"}, headers=api.auth(admin)).status_code == 201
    again = api.client.post("/api/v1/accounts", json={"name": "Same"}, headers=api.auth(admin))
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "slug"


def test_unauthenticated_ingestion_is_401_json(gateway: str, container: Container) -> None:
    response = httpx.get(f"{gateway}/api/v1/validate")
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"


def test_account_time_zone_and_currency_default_validate_and_change(api: Api) -> None:
    tenant = api.tenant("Shop Locale")
    url = f"/api/v1/accounts/{tenant.account_id}/settings"
    owner = api.auth(tenant.owner_token)
    before = api.client.get(f"/api/v1/accounts/{tenant.account_id}", headers=owner).json()
    assert (before["timezone"], before["currency"]) == ("UTC", "USD")
    changed = api.client.patch(url, json={"timezone": "Europe/Paris", "currency": "eur"}, headers=owner)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["timezone"], body["currency"]) == ("Europe/Paris", "EUR")
    assert "timezone" not in body["settings"] and "currency" not in body["settings"]
    for field, value in (("timezone", "Mars/Olympus"), ("timezone", "../../etc/passwd"), ("currency", "ZZZ")):
        bad = api.client.patch(url, json={field: value}, headers=owner)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field, bad.text
    again = api.client.get(f"/api/v1/accounts/{tenant.account_id}", headers=owner).json()
    assert (again["timezone"], again["currency"]) == ("Europe/Paris", "EUR")
