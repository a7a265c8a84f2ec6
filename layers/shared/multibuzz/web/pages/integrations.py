"""Settings → Integrations: connect Shopify (pasted custom-app token, or the OAuth install) and Meta (ad account
id + token), sync status per integration with "Sync last 7 days" / "Run fresh sync", disconnect.

Every action calls the JSON API's own route function in-process (``POST /api/v1/integrations/shopify``,
``/integrations/meta``, ``/integrations/{id}/disconnect``, ``/settings/manual-sync``) with the page's actor,
and the form is validated by the API's input model, so the page and the API enforce the same rules
(connect and disconnect: owners; manual syncs: owners and members). Tokens are never shown back.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from multibuzz.api.routers.commerce import (
    SYNC_TYPES_BY_INTEGRATION,
    ManualSyncIn,
    ShopifyTokenIn,
    connect_shopify_token,
    disconnect_integration,
    list_integrations,
    manual_sync,
    sync_status,
)
from multibuzz.api.routers.meta import MetaConnectIn, connect_meta
from multibuzz.commerce.shopify import connect as shopify_connect
from multibuzz.errors import PermissionDeniedError
from multibuzz.http.deps import ContainerDep, SessionDep
from multibuzz.services.context import Actor
from multibuzz.web.deps import Advertiser, Form, Owner
from multibuzz.web.forms import pick, validated
from multibuzz.web.render import render

router = APIRouter(include_in_schema=False)
PAGE = "/app/settings/integrations"
SYNC_LABELS = {
    "shopify_7d_fill": "Sync last 7 days",
    "shopify_fresh": "Run fresh sync",
    "meta_7d_fill": "Sync last 7 days",
    "meta_fresh": "Run fresh sync",
}


def _context(actor: Actor, session: SessionDep) -> dict[str, Any]:
    integrations = list_integrations(actor, session).data
    status: dict[str, list[Any]] = {}
    for row in sync_status(actor, session).data:
        status.setdefault(row.integration_id, []).append(row)
    return {
        "integrations": integrations,
        "status": status,
        "is_owner": actor.is_owner or actor.is_platform_admin,
        "sync_types": SYNC_TYPES_BY_INTEGRATION,
        "sync_labels": SYNC_LABELS,
        "message": None,
    }


@router.get(PAGE, response_class=HTMLResponse)
def integrations_page(request: Request, actor: Advertiser, session: SessionDep) -> Response:
    context = _context(actor, session)
    context["message"] = {"queued": "Sync queued.", "connected": "Connected.", "disconnected": "Disconnected."}.get(
        request.query_params.get("done", "")
    )
    return render(request, "integrations.html", **context)


@router.post(PAGE + "/shopify", response_class=HTMLResponse)
def connect_shopify(form: Form, actor: Owner, session: SessionDep, container: ContainerDep) -> Response:
    body = validated(ShopifyTokenIn, pick(form, "shop", "access_token", "api_secret"))
    connect_shopify_token(body, actor, session, container)
    return RedirectResponse(PAGE + "?done=connected", status_code=303)


@router.post(PAGE + "/shopify/install", response_class=HTMLResponse)
def install_shopify(form: Form, actor: Owner, container: ContainerDep) -> Response:
    """The OAuth install: off to Shopify's authorize page; Shopify sends the browser back to the API's callback."""
    assert actor.account_id is not None
    shop = shopify_connect.normalize_shop(form.get("shop", "").strip())
    return RedirectResponse(shopify_connect.install_url(container, actor.account_id, shop), status_code=303)


@router.post(PAGE + "/meta", response_class=HTMLResponse)
def connect_meta_account(form: Form, actor: Owner, session: SessionDep, container: ContainerDep) -> Response:
    body = validated(MetaConnectIn, pick(form, "ad_account_id", "access_token"))
    connect_meta(body, actor, session, container)
    return RedirectResponse(PAGE + "?done=connected", status_code=303)


@router.post(PAGE + "/{integration_id}/sync", response_class=HTMLResponse)
def sync_now(
    integration_id: str, form: Form, actor: Advertiser, session: SessionDep, container: ContainerDep
) -> Response:
    body = validated(ManualSyncIn, {"type": form.get("type", ""), "integration_id": integration_id})
    if not actor.can_write:
        raise PermissionDeniedError("this login cannot start a sync")
    manual_sync(body, actor, session, container)
    return RedirectResponse(PAGE + "?done=queued", status_code=303)


@router.post(PAGE + "/{integration_id}/disconnect", response_class=HTMLResponse)
def disconnect(integration_id: str, form: Form, actor: Owner, session: SessionDep, container: ContainerDep) -> Response:
    disconnect_integration(integration_id, actor, session, container)
    return RedirectResponse(PAGE + "?done=disconnected", status_code=303)
