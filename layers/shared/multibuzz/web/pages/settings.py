"""Settings: account (time zone, currency, session timeout, lookback), members and invitations, API keys.

API keys: the secret appears once, in the answer to the create/rotate form, and is never stored in clear.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from multibuzz.api.schemas import AccountSettingsIn, ApiKeyIn, MemberIn
from multibuzz.http.deps import ContainerDep, SessionDep, TenancyDep
from multibuzz.services.context import Actor
from multibuzz.services.invitations import Invitations
from multibuzz.services.tenancy import Tenancy
from multibuzz.web.deps import Advertiser, Form, Owner, account_of
from multibuzz.web.forms import checkbox, pick, validated
from multibuzz.web.render import render

router = APIRouter(include_in_schema=False)


def invitations(session: SessionDep, container: ContainerDep, tenancy: Tenancy) -> Invitations:
    return Invitations(
        session,
        container.clock,
        container.ids,
        container.outbox,
        tenancy,
        timedelta(hours=container.settings.invitation_ttl_hours),
        container.settings.base_url,
    )


def _context(actor: Actor, session: SessionDep, tenancy: Tenancy, container: ContainerDep) -> dict[str, Any]:
    assert actor.account_id is not None
    owner = actor.is_owner
    return {
        "account": account_of(session, actor),
        "is_owner": owner,
        "members": tenancy.list_members(actor, actor.account_id),
        "invitations": invitations(session, container, tenancy).list(actor, actor.account_id) if owner else [],
        "keys": tenancy.list_api_keys(actor, actor.account_id),
        "created_key": None,
        "invitation_token": None,
    }


@router.get("/app/settings", response_class=HTMLResponse)
def settings_page(
    request: Request, actor: Advertiser, session: SessionDep, tenancy: TenancyDep, container: ContainerDep
) -> Response:
    return render(request, "settings.html", **_context(actor, session, tenancy, container))


@router.post("/app/settings/account", response_class=HTMLResponse)
def update_account(form: Form, actor: Owner, tenancy: TenancyDep) -> Response:
    assert actor.account_id is not None
    body = validated(AccountSettingsIn, pick(form, "timezone", "currency", "session_timeout_minutes", "lookback_days"))
    tenancy.update_account_settings(actor, actor.account_id, body.model_dump(exclude_none=True))
    return RedirectResponse("/app/settings?saved=account", status_code=303)


@router.post("/app/settings/members", response_class=HTMLResponse)
def invite(
    request: Request, form: Form, actor: Owner, session: SessionDep, tenancy: TenancyDep, container: ContainerDep
) -> Response:
    assert actor.account_id is not None
    body = validated(MemberIn, pick(form, "email", "role", "influencer_id"))
    _invitation, token = invitations(session, container, tenancy).invite(
        actor, actor.account_id, email=body.email, role=body.role, influencer_id=body.influencer_id
    )
    context = _context(actor, session, tenancy, container)
    if container.settings.invitation_tokens_in_responses:
        context["invitation_token"] = token
    return render(request, "settings.html", **context)


@router.post("/app/settings/api-keys", response_class=HTMLResponse)
def create_key(
    request: Request, form: Form, actor: Owner, session: SessionDep, tenancy: TenancyDep, container: ContainerDep
) -> Response:
    assert actor.account_id is not None
    scopes = ["ingest", *(["read"] if checkbox(form, "scope_read") else [])]
    body = validated(
        ApiKeyIn,
        {
            **pick(form, "name", "environment"),
            "with_signing_secret": checkbox(form, "with_signing_secret"),
            "scopes": scopes,
        },
    )
    key, plaintext, signing = tenancy.create_api_key(
        actor,
        actor.account_id,
        name=body.name,
        environment=body.environment,
        with_signing_secret=body.with_signing_secret,
        scopes=tuple(body.scopes),
    )
    context = _context(actor, session, tenancy, container)
    context["created_key"] = {"id": key.id, "name": key.name, "secret": plaintext, "signing_secret": signing}
    return render(request, "settings.html", **context)


@router.post("/app/settings/api-keys/{key_id}/rotate", response_class=HTMLResponse)
def rotate_key(
    key_id: str,
    request: Request,
    form: Form,
    actor: Owner,
    session: SessionDep,
    tenancy: TenancyDep,
    container: ContainerDep,
) -> Response:
    assert actor.account_id is not None
    key, plaintext, signing = tenancy.rotate_api_key(actor, actor.account_id, key_id)
    context = _context(actor, session, tenancy, container)
    context["created_key"] = {"id": key.id, "name": key.name, "secret": plaintext, "signing_secret": signing}
    return render(request, "settings.html", **context)


@router.post("/app/settings/api-keys/{key_id}/revoke", response_class=HTMLResponse)
def revoke_key(key_id: str, form: Form, actor: Owner, tenancy: TenancyDep) -> Response:
    assert actor.account_id is not None
    tenancy.revoke_api_key(actor, actor.account_id, key_id)
    return RedirectResponse("/app/settings?saved=key", status_code=303)
