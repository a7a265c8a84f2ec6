"""Issue #10 defects 1-4, 9 and 16(b, c): roles read in the target account, invitations instead of
captured users, influencer users see only themselves, API-key scopes, login throttling, the
X-API-KEY header, and changing or resetting a password. All through the real local gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from multibuzz.adapters.outbox import FileOutbox
from multibuzz.bootstrap import Container
from multibuzz.db.models import Invitation, LoginThrottle, Membership, PasswordReset, User
from sqlalchemy import func, select

from tests.conftest import Api, Tenant, make_settings
from tests.functional.test_conversions import seed_visitor


def outbox(container: Container) -> list[dict[str, str]]:
    box = container.outbox
    assert isinstance(box, FileOutbox)
    return box.messages()


def field(response: Any) -> str:
    """The field the (first) error names."""
    return str(response.json()["errors"][0]["field"])


def count(container: Container, model: Any, *where: Any) -> int:
    with container.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def influencer(api: Api, tenant: Tenant, handle: str) -> str:
    created = api.client.post(
        "/api/v1/influencers", json={"name": handle, "handle": handle}, headers=api.auth(tenant.owner_token)
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


# -- defect 1: the owner check reads the role in the TARGET account ---------------------------------


def test_an_owner_elsewhere_cannot_change_an_account_where_they_are_only_an_influencer(api: Api) -> None:
    a = api.tenant("Victim")
    b = api.tenant("Attacker")
    inf = influencer(api, a, "creator")
    invited = api.client.post(
        "/api/v1/members",
        json={"email": b.owner_email, "role": "influencer", "influencer_id": inf},
        headers=api.auth(a.owner_token),
    )
    api.accept(invited.json()["token"], token=b.owner_token)  # B's owner now holds a read-only role in A

    for token in (b.owner_token, api.login(b.owner_email, a.account_id)):  # token for B, then for A
        headers = api.auth(token)
        patched = api.client.patch(
            f"/api/v1/accounts/{a.account_id}/settings", json={"require_signature": True}, headers=headers
        )
        assert patched.status_code in (403, 404), patched.text
    settings = api.client.get(f"/api/v1/accounts/{a.account_id}", headers=api.auth(a.owner_token)).json()["settings"]
    assert "require_signature" not in settings
    assert api.client.get("/api/v1/validate", headers=api.auth(a.api_key)).status_code == 200
    # Owning B with a token for B still changes B.
    own = api.client.patch(
        f"/api/v1/accounts/{b.account_id}/settings", json={"lookback_days": 7}, headers=api.auth(b.owner_token)
    )
    assert own.status_code == 200 and own.json()["settings"]["lookback_days"] == 7


# -- defect 2: invitations ---------------------------------------------------------------------------


def test_inviting_answers_the_same_for_known_and_unknown_emails_and_captures_nobody(
    api: Api, container: Container
) -> None:
    a = api.tenant("Inviter")
    b = api.tenant("Other shop")
    answers = {}
    for email in (b.owner_email, "nobody-yet@example.test"):
        response = api.client.post(
            "/api/v1/members", json={"email": email, "role": "member"}, headers=api.auth(a.owner_token)
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert "user_id" not in body and "name" not in body
        answers[email] = (response.status_code, sorted(body), body["status"], body["role"])
    assert answers[b.owner_email] == answers["nobody-yet@example.test"]
    # Nobody became a member of A, and B's owner is not listed.
    with container.session() as session:
        b_owner = session.scalar(select(User.id).where(User.email == b.owner_email))
    assert count(container, Membership, Membership.account_id == a.account_id, Membership.user_id == b_owner) == 0
    members = api.client.get("/api/v1/members", headers=api.auth(a.owner_token)).json()
    assert b.owner_email not in {m["email"] for m in members}
    # The tokens went to the invitees through the outbox, never into the logs.
    sent = [m for m in outbox(container) if m["kind"] == "invitation"]
    assert {m["to"] for m in sent} >= {b.owner_email, "nobody-yet@example.test"}
    with container.session() as session:
        digests = set(session.scalars(select(Invitation.token_digest)))
    assert all(m["token"] not in digests for m in sent), "only digests are stored"


def test_an_existing_user_accepts_only_with_their_own_login(api: Api) -> None:
    a = api.tenant("Joinable")
    b = api.tenant("Home shop")
    invited = api.client.post(
        "/api/v1/members", json={"email": b.owner_email, "role": "member"}, headers=api.auth(a.owner_token)
    ).json()
    token = invited["token"]
    # Without a login, or with somebody else's login, the invitation is not accepted.
    anonymous = api.client.post("/api/v1/invitations/accept", json={"token": token, "password": "x" * 12})
    assert anonymous.status_code == 401
    as_a_owner = api.client.post("/api/v1/invitations/accept", json={"token": token}, headers=api.auth(a.owner_token))
    assert as_a_owner.status_code == 422 and field(as_a_owner) == "token"
    login_to_a = api.client.post(
        "/api/v1/auth/login", json={"email": b.owner_email, "password": Api.PASSWORD, "account_id": a.account_id}
    )
    assert login_to_a.status_code == 401
    # B's owner accepts with their own token: now a member of A, with their password unchanged.
    assert api.accept(token, token=b.owner_token)
    assert api.login(b.owner_email, a.account_id)
    again = api.client.post("/api/v1/invitations/accept", json={"token": token}, headers=api.auth(b.owner_token))
    assert again.status_code == 422, "single use"


def test_a_new_user_sets_a_password_when_accepting(api: Api) -> None:
    a = api.tenant("Newcomers")
    invited = api.client.post(
        "/api/v1/members", json={"email": "new@newcomers.test", "role": "member"}, headers=api.auth(a.owner_token)
    ).json()
    missing = api.client.post("/api/v1/invitations/accept", json={"token": invited["token"]})
    assert missing.status_code == 422 and field(missing) == "password"
    short = api.client.post("/api/v1/invitations/accept", json={"token": invited["token"], "password": "short"})
    assert short.status_code == 422
    accepted = api.client.post(
        "/api/v1/invitations/accept", json={"token": invited["token"], "password": Api.PASSWORD, "name": "Nia"}
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["created_user"] is True and accepted.json()["account_id"] == a.account_id
    me = api.client.get("/api/v1/me", headers=api.auth(api.login("new@newcomers.test", a.account_id))).json()
    assert me["role"] == "member"


def test_owners_list_and_revoke_pending_invitations_and_tokens_expire(api: Api, container: Container) -> None:
    a = api.tenant("Pending")
    owner = api.auth(a.owner_token)
    first = api.client.post("/api/v1/members", json={"email": "p1@x.test", "role": "member"}, headers=owner).json()
    second = api.client.post("/api/v1/members", json={"email": "p2@x.test", "role": "member"}, headers=owner).json()
    listed = api.client.get("/api/v1/invitations", headers=owner).json()
    assert {i["id"] for i in listed} == {first["id"], second["id"]} and all("token" not in i for i in listed)
    revoked = api.client.delete(f"/api/v1/invitations/{first['id']}", headers=owner)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused = api.client.post("/api/v1/invitations/accept", json={"token": first["token"], "password": Api.PASSWORD})
    assert refused.status_code == 422
    assert [i["id"] for i in api.client.get("/api/v1/invitations", headers=owner).json()] == [second["id"]]
    # Expired: move the invitation's expiry into the past.
    with container.session() as session:
        row = session.get(Invitation, second["id"])
        assert row is not None
        row.expires_at = container.clock.now().replace(year=2000)
        session.commit()
    late = api.client.post("/api/v1/invitations/accept", json={"token": second["token"], "password": Api.PASSWORD})
    assert late.status_code == 422 and field(late) == "token"
    closed = api.client.get("/api/v1/invitations?include_closed=true", headers=owner).json()
    statuses = {i["id"]: i["status"] for i in closed}
    assert (statuses.pop(first["id"]), statuses.pop(second["id"])) == ("revoked", "expired")
    assert list(statuses.values()) == ["accepted"], "the owner's own, accepted invitation"
    member = api.add_member(a, "m@pending.test", "member")
    for path in ("/api/v1/invitations", f"/api/v1/invitations/{second['id']}"):
        method = "GET" if path.endswith("invitations") else "DELETE"
        assert api.client.request(method, path, headers=api.auth(member)).status_code == 403


@pytest.mark.parametrize(
    "body_of",
    [
        lambda other_inf: {"role": "influencer", "influencer_id": other_inf},  # another account's influencer
        lambda other_inf: {"role": "influencer", "influencer_id": "inf_missing"},  # no such influencer
        lambda other_inf: {"role": "influencer"},  # none given
        lambda other_inf: {"role": "member", "influencer_id": other_inf},  # not for this role
    ],
    ids=["other-account", "missing", "absent", "wrong-role"],
)
def test_referenced_influencer_ids_must_belong_to_the_account(api: Api, container: Container, body_of: Any) -> None:
    a = api.tenant("Refs A")
    b = api.tenant("Refs B")
    other_inf = influencer(api, b, "not-yours")
    response = api.client.post(
        "/api/v1/members", json={"email": "c@refs.test", **body_of(other_inf)}, headers=api.auth(a.owner_token)
    )
    assert response.status_code == 422 and field(response) == "influencer_id", response.text
    assert count(container, Invitation, Invitation.email == "c@refs.test") == 0


# -- defect 3: influencer users see only themselves ---------------------------------------------------


def test_an_influencer_user_lists_only_themselves(api: Api) -> None:
    a = api.tenant("Listing")
    api.add_member(a, "member@listing.test", "member")
    creator = api.add_member(a, "creator@listing.test", "influencer", influencer_id="inf_listing")
    seen = api.client.get("/api/v1/members", headers=api.auth(creator))
    assert seen.status_code == 200
    assert [m["email"] for m in seen.json()] == ["creator@listing.test"]
    everyone = api.client.get("/api/v1/members", headers=api.auth(a.owner_token)).json()
    assert len(everyone) == 3


# -- defect 4: API-key scopes -------------------------------------------------------------------------


def _keys(api: Api, tenant: Tenant) -> dict[str, str]:
    owner = api.auth(tenant.owner_token)
    made = {}
    for name, scopes in (("ingest", None), ("read", ["ingest", "read"]), ("read-only", ["read"])):
        body: dict[str, Any] = {"name": name} if scopes is None else {"name": name, "scopes": scopes}
        response = api.client.post("/api/v1/api-keys", json=body, headers=owner)
        assert response.status_code == 201, response.text
        assert response.json()["scopes"] == (scopes or ["ingest"])
        made[name] = response.json()["key"]
    return made


# (method, path, body) → which credentials may call it. "jwt" = the owner's login.
SCOPE_MATRIX: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("GET", "/api/v1/validate", None, {"ingest", "read"}),
    ("POST", "/api/v1/sessions", {"session": {"visitor_id": "v-scope"}}, {"ingest", "read"}),
    ("POST", "/api/v1/events", {"events": [{"event_type": "page_view", "visitor_id": "v-scope"}]}, {"ingest", "read"}),
    ("POST", "/api/v1/event/signup", {"visitor_id": "v-scope"}, {"ingest", "read"}),
    ("POST", "/api/v1/identify", {"user_id": "u-scope", "visitor_id": "v-scope"}, {"ingest", "read"}),
    ("POST", "/api/v1/conversions", {"conversion_type": "signup", "visitor_id": "v-scope"}, {"ingest", "read"}),
    ("GET", "/api/v1/conversions/{conversion_id}", None, {"read", "read-only", "jwt"}),
    ("GET", "/api/v1/conversions", None, {"read", "read-only", "jwt"}),  # the SDK's attribution(visitor_id=…)
    ("GET", "/api/v1/attributions", None, {"jwt"}),
    ("GET", "/api/v1/analytics/recurring", None, {"jwt"}),
    ("GET", "/api/v1/models", None, {"jwt"}),
    ("POST", "/api/v1/models/refit", {"models": ["markov"]}, {"jwt"}),
    ("GET", "/api/v1/events", None, {"jwt"}),
    ("GET", "/api/v1/api-keys", None, {"jwt"}),
    ("GET", "/api/v1/members", None, {"jwt"}),
]


def test_api_key_scopes_matrix(api: Api, container: Container) -> None:
    tenant = api.tenant("Scoped")
    keys = _keys(api, tenant)
    seed_visitor(container, tenant.account_id, "v-scope", [("email", 1)])
    conv = api.client.post(
        "/api/v1/conversions",
        json={"conversion_type": "purchase", "visitor_id": "v-scope", "revenue": "5"},
        headers=api.auth(keys["ingest"]),
    )
    assert conv.status_code == 202, conv.text
    conversion_id = conv.json()["conversion"]["id"]
    credentials = {**keys, "jwt": tenant.owner_token}
    for method, path, body, allowed in SCOPE_MATRIX:
        url = path.format(conversion_id=conversion_id)
        for credential, secret in credentials.items():
            if credential == "jwt" and path.startswith("/api/v1/") and method == "POST" and "jwt" not in allowed:
                continue  # ingestion is for API keys; a login there is simply not a key
            response = api.client.request(method, url, json=body, headers=api.auth(secret))
            if credential in allowed:
                assert response.status_code < 300, (credential, method, path, response.text)
            else:
                assert response.status_code in (401, 403), (credential, method, path, response.status_code)
    listed = api.client.get("/api/v1/api-keys", headers=api.auth(tenant.owner_token)).json()
    assert {k["name"]: k["scopes"] for k in listed}["read-only"] == ["read"]


def test_a_key_with_no_known_scope_is_refused_at_creation(api: Api) -> None:
    tenant = api.tenant("Bad scopes")
    for scopes in ([], ["admin"], "ingest"):
        response = api.client.post("/api/v1/api-keys", json={"scopes": scopes}, headers=api.auth(tenant.owner_token))
        assert response.status_code == 422 and field(response).startswith("scopes"), response.text


# -- defect 16(b): the X-API-KEY header ---------------------------------------------------------------


def test_the_x_api_key_header_is_accepted_beside_bearer(api: Api) -> None:
    tenant = api.tenant("Header keys")
    valid = api.client.get("/api/v1/validate", headers={"X-API-KEY": tenant.api_key})
    assert valid.status_code == 200 and valid.json()["account_id"] == tenant.account_id
    event = api.client.post(
        "/api/v1/event/add_to_cart", json={"visitor_id": "v-x"}, headers={"X-API-KEY": tenant.api_key}
    )
    assert event.status_code == 202, event.text
    assert api.client.get("/api/v1/validate", headers={"X-API-KEY": "sk_live_nope"}).status_code == 401
    assert api.client.get("/api/v1/validate").status_code == 401


# -- defect 9: login throttling ------------------------------------------------------------------------


def _login(api: Api, email: str, password: str) -> Any:
    return api.client.post("/api/v1/auth/login", json={"email": email, "password": password})


def test_failed_logins_are_throttled_per_email_alike_for_unknown_addresses(api: Api, container: Container) -> None:
    api.tenant("Guessed")
    limit = container.settings.login_max_failures_per_email
    outcomes = {}
    for email in ("owner@guessed.test", "ghost@guessed.test"):
        statuses = [_login(api, email, f"wrong-{i}").status_code for i in range(limit + 2)]
        locked = _login(api, email, Api.PASSWORD if email.startswith("owner") else "x")
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert locked.json()["error"] == "rate_limited"
        outcomes[email] = (statuses, locked.status_code, sorted(locked.json()))
    assert outcomes["owner@guessed.test"] == outcomes["ghost@guessed.test"]
    assert outcomes["owner@guessed.test"][0] == [401] * limit + [429, 429]
    # The state lives in the database: a fresh container (another Lambda instance) sees the lock.
    other = Container(container.settings, engine=container.engine)
    from multibuzz.api.access import throttle_dep
    from multibuzz.errors import RateLimitedError

    with pytest.raises(RateLimitedError):
        throttle_dep(other).attempt("owner@guessed.test", None)
    assert count(container, LoginThrottle) >= 2


def test_parallel_guesses_cannot_overshoot_the_limit(api: Api, container: Container) -> None:
    from concurrent.futures import ThreadPoolExecutor

    api.tenant("Parallel")
    limit = container.settings.login_max_failures_per_email
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda i: _login(api, "owner@parallel.test", f"guess-{i}").status_code, range(16)))
    assert sorted(statuses) == [401] * limit + [429] * (16 - limit)


def test_a_success_does_not_reset_the_ip_counter(api: Api, container: Container, tmp_path: Path) -> None:
    tenant = api.tenant("Many guesses")
    container.settings = make_settings(
        tmp_path, container.settings.resolved_database_url, login_max_failures_per_ip=4, login_max_failures_per_email=50
    )
    for i in range(3):
        assert _login(api, f"victim{i}@x.test", "guess").status_code == 401
    assert _login(api, tenant.owner_email, Api.PASSWORD).status_code == 200  # the attacker's own account
    assert _login(api, "victim9@x.test", "guess").status_code == 401  # the 4th failure from this IP
    blocked = _login(api, "victim10@x.test", "guess")
    assert blocked.status_code == 429 and "retry-after" in blocked.headers
    assert _login(api, tenant.owner_email, Api.PASSWORD).status_code == 429, "the IP is locked for everyone"


# -- defect 16(c): change and reset a password ----------------------------------------------------------


def test_changing_a_password_ends_older_tokens(api: Api) -> None:
    tenant = api.tenant("Changer")
    old_token = tenant.owner_token
    wrong = api.client.post(
        "/api/v1/auth/password",
        json={"current_password": "not-it", "new_password": "a brand new passphrase"},
        headers=api.auth(old_token),
    )
    assert wrong.status_code == 422 and field(wrong) == "current_password"
    changed = api.client.post(
        "/api/v1/auth/password",
        json={"current_password": Api.PASSWORD, "new_password": "a brand new passphrase"},
        headers=api.auth(old_token),
    )
    assert changed.status_code == 200, changed.text
    assert api.client.get("/api/v1/me", headers=api.auth(old_token)).status_code == 401
    assert api.client.get("/api/v1/me", headers=api.auth(changed.json()["access_token"])).status_code == 200
    assert _login(api, tenant.owner_email, Api.PASSWORD).status_code == 401
    assert _login(api, tenant.owner_email, "a brand new passphrase").status_code == 200


def test_password_reset_answers_alike_and_its_token_works_once(api: Api, container: Container) -> None:
    tenant = api.tenant("Forgetful")
    known = api.client.post("/api/v1/auth/password-reset", json={"email": tenant.owner_email})
    unknown = api.client.post("/api/v1/auth/password-reset", json={"email": "ghost@forgetful.test"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) and known.status_code == 202
    resets = [m for m in outbox(container) if m["kind"] == "password_reset"]
    assert [m["to"] for m in resets] == [tenant.owner_email]
    token = resets[0]["token"]
    assert count(container, PasswordReset, PasswordReset.token_digest == token) == 0, "stored hashed"
    confirm = api.client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": "reset passphrase 42"}
    )
    assert confirm.status_code == 200, confirm.text
    assert api.client.get("/api/v1/me", headers=api.auth(tenant.owner_token)).status_code == 401
    assert _login(api, tenant.owner_email, "reset passphrase 42").status_code == 200
    again = api.client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "x" * 12})
    assert again.status_code == 422 and field(again) == "token"
    bogus = api.client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": "pwr_tok_forged-token", "password": "x" * 12}
    )
    assert bogus.status_code == 422
