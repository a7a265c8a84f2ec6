"""Admin (platform admins): accounts — create, deactivate, reactivate.

Platform totals, recent sign-ups, dead-letter queues and ingestion errors come with the #12/#16 admin APIs.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from multibuzz.api.schemas import AccountIn
from multibuzz.http.deps import TenancyDep
from multibuzz.web.deps import Form, PlatformAdmin
from multibuzz.web.forms import pick, validated
from multibuzz.web.render import render

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
