"""Admin (platform admins): accounts (create, open, deactivate, reactivate), platform totals, recent sign-ups,
dead-letter queues with redrive, recent ingestion errors.

Totals, queues, dead letters, redrive and ingestion errors are the functions behind ``GET /api/v1/admin/
overview``, ``/admin/dlq/{queue}``, ``POST /admin/dlq/{queue}/redrive`` and ``/admin/ingestion-errors``,
called in-process; a redrive is a CSRF-checked form post.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from multibuzz.api.routers.admin import dead_letters, ingestion_errors, redrive
from multibuzz.api.routers.admin import overview as platform_overview
from multibuzz.api.schemas import AccountIn
from multibuzz.db.models import Account, User
from multibuzz.errors import NotFoundError
from multibuzz.http.deps import ContainerDep, SessionDep, TenancyDep
from multibuzz.web.deps import Form, PlatformAdmin
from multibuzz.web.forms import pick, validated
from multibuzz.web.render import render
from multibuzz.web.security import SESSION_COOKIE, cookie_secure

router = APIRouter(include_in_schema=False)


RECENT = 10
LETTERS = 20


def _dead_letters(actor: Any, container: Any, queues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every queue holding dead letters, with the first few of them (one unreadable queue hides no other)."""
    out = []
    for entry in queues:
        if not entry.get("dead_letters"):
            continue
        try:
            letters = dead_letters(entry["queue"], actor, container, limit=LETTERS)["data"]
        except Exception:  # shown as unreadable; the page still renders
            letters = None
        out.append({"queue": entry["queue"], "count": entry["dead_letters"], "letters": letters})
    return out


@router.get("/app/admin", response_class=HTMLResponse)
def admin_page(
    request: Request, actor: PlatformAdmin, tenancy: TenancyDep, session: SessionDep, container: ContainerDep
) -> Response:
    totals = platform_overview(actor, session, container)
    signups = list(session.scalars(select(Account).order_by(Account.created_at.desc(), Account.id).limit(RECENT)))
    return render(
        request,
        "admin.html",
        accounts=tenancy.list_accounts(actor),
        totals=totals,
        signups=signups,
        dlq=_dead_letters(actor, container, totals["queues"]),
        errors=ingestion_errors(actor, session, limit=RECENT)["data"],
        redriven=request.query_params.get("redriven"),
    )


@router.post("/app/admin/dlq/{queue}/redrive", response_class=HTMLResponse)
def redrive_queue(queue: str, form: Form, actor: PlatformAdmin, container: ContainerDep) -> Response:
    moved = redrive(queue, actor, container)
    return RedirectResponse(f"/app/admin?redriven={moved['redriven']}", status_code=303)


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
