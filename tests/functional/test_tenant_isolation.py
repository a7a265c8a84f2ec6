"""A member of account A can neither see nor change account B's resources."""

from __future__ import annotations

from tests.conftest import Api


def test_owner_of_a_cannot_touch_account_b(api: Api) -> None:
    a = api.tenant("Alpha")
    b = api.tenant("Beta")
    b_keys = api.client.get("/api/v1/api-keys", headers=api.auth(b.owner_token)).json()
    b_key_id = b_keys[0]["id"]
    as_a = api.auth(a.owner_token)

    assert api.client.get(f"/api/v1/accounts/{b.account_id}", headers=as_a).status_code == 404
    assert [acc["id"] for acc in api.client.get("/api/v1/accounts", headers=as_a).json()] == [a.account_id]
    assert (
        api.client.patch(
            f"/api/v1/accounts/{b.account_id}/settings", json={"lookback_days": 1}, headers=as_a
        ).status_code
        == 404
    )
    assert api.client.post(f"/api/v1/accounts/{b.account_id}/deactivate", headers=as_a).status_code == 403

    a_keys = api.client.get("/api/v1/api-keys", headers=as_a).json()
    assert b_key_id not in {k["id"] for k in a_keys}
    assert api.client.post(f"/api/v1/api-keys/{b_key_id}/revoke", headers=as_a).status_code == 404
    assert api.client.post(f"/api/v1/api-keys/{b_key_id}/rotate", headers=as_a).status_code == 404
    assert api.client.delete(f"/api/v1/api-keys/{b_key_id}", headers=as_a).status_code == 404
    assert api.client.get("/api/v1/validate", headers=api.auth(b.api_key)).json()["account_id"] == b.account_id

    b_members = api.client.get("/api/v1/members", headers=api.auth(b.owner_token)).json()
    b_owner_id = b_members[0]["user_id"]
    a_members = api.client.get("/api/v1/members", headers=as_a).json()
    assert b.owner_email not in {m["email"] for m in a_members}
    assert api.client.delete(f"/api/v1/members/{b_owner_id}", headers=as_a).status_code == 404

    # Logging in to B as A's owner is refused.
    denied = api.client.post(
        "/api/v1/auth/login", json={"email": a.owner_email, "password": Api.PASSWORD, "account_id": b.account_id}
    )
    assert denied.status_code == 401


def test_roles_inside_an_account(api: Api) -> None:
    a = api.tenant("Gamma")
    member = api.add_member(a, "member@gamma.test", "member")
    influencer = api.add_member(a, "creator@gamma.test", "influencer", influencer_id="inf_1")
    for token in (member, influencer):
        headers = api.auth(token)
        assert api.client.get("/api/v1/api-keys", headers=headers).status_code == 403
        assert api.client.post("/api/v1/api-keys", json={}, headers=headers).status_code == 403
        assert (
            api.client.post("/api/v1/members", json={"email": "x@y.z", "role": "owner"}, headers=headers).status_code
            == 403
        )
        assert api.client.post("/api/v1/accounts", json={"name": "Mine"}, headers=headers).status_code == 403
    me = api.client.get("/api/v1/me", headers=api.auth(influencer)).json()
    assert (me["role"], me["influencer_id"]) == ("influencer", "inf_1")
    removed = api.client.get("/api/v1/members", headers=api.auth(a.owner_token)).json()
    member_id = next(m["user_id"] for m in removed if m["email"] == "member@gamma.test")
    assert api.client.delete(f"/api/v1/members/{member_id}", headers=api.auth(a.owner_token)).status_code == 204
    assert api.client.get("/api/v1/me", headers=api.auth(member)).status_code == 401, "removal applies at once"
