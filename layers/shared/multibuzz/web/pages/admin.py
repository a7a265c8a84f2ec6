"""Admin (platform admins): accounts — create, deactivate, reactivate.

Platform totals, recent sign-ups, dead-letter queues and ingestion errors come with the #12/#16 admin APIs.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from multibuzz.api.schemas import AccountIn
from multibuzz.db.models import User
from multibuzz.errors import NotFoundError
from multibuzz.http.deps import ContainerDep, SessionDep, TenancyDep
from multibuzz.web.deps import Form, PlatformAdmin
from multibuzz.web.forms import pick, validated
from multibuzz.web.render import render
from multibuzz.web.security import SESSION_COOKIE, cookie_secure

router = APIRouter(include_in_schema=False)


@router.get("/app/admin", response_class=HTMLResponse)
def admin_page(request: Request, actor: PlatformAdmin, tenancy: TenancyDep) -> Response:
    return render(request, "admin.html", accounts=tenancy.list_accounts(actor))


@router.post("/app/admin/accounts", response_class=HTMLResponse)
def create_account(form: Form, actor: PlatformAdmin, tenancy: TenancyDep) -> Response:
    body = validated(AccountIn, pick(form, "name", "slug"))
    tenancy.create_account(actor, body.name, body.slug)
    return RedirectResponse("/app/admin", status_code=303)


@router.post("/app/admin/accounts/{account_id}/deactivate", response_class=HTMLResponse)
def deactivate(account_id: str, form: Form, actor: PlatformAdmin, tenancy: TenancyDep) -> Response:
    tenancy.set_account_status(actor, account_id, False)
    return RedirectResponse("/app/admin", status_code=303)


@router.post("/app/admin/accounts/{account_id}/activate", response_class=HTMLResponse)
def activate(account_id: str, form: Form, actor: PlatformAdmin, tenancy: TenancyDep) -> Response:
    tenancy.set_account_status(actor, account_id, True)
    return RedirectResponse("/app/admin", status_code=303)


@router.post("/app/admin/accounts/{account_id}/open", response_class=HTMLResponse)
def open_account(
    account_id: str, form: Form, actor: PlatformAdmin, tenancy: TenancyDep, session: SessionDep, container: ContainerDep
) -> Response:
    """Work inside an account: the session's token is re-issued for it (as the API's login with account_id)."""
    account = tenancy.get_account(actor, account_id)
    if account.status != "active":
        raise NotFoundError("that account is deactivated")
    user = session.get(User, actor.user_id)
    assert user is not None
    settings = container.settings
    expires = timedelta(minutes=settings.jwt_expiry_minutes)
    token = tenancy.issue_token(user, account.id, jwt_secret=settings.jwt_secret.get_secret_value(), expires_in=expires)
    response = RedirectResponse("/app", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(expires.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=cookie_secure(settings.stage),
        path="/",
    )
    return response
