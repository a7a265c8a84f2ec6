"""Integrations (Shopify stores; Meta ad accounts share the list), orders, sync status and manual syncs.

Reads need a logged-in member of the account (influencer users see no store data); connecting and
disconnecting a store is for owners; a manual sync for owners and members. Tokens are never returned.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select

from multibuzz.api.routers.campaigns import Limit
from multibuzz.api.schemas import Strict
from multibuzz.commerce import integrations as svc
from multibuzz.commerce.jobs import request_sync
from multibuzz.commerce.shopify import connect as shopify_connect
from multibuzz.commerce.shopify.sync import tools_of
from multibuzz.db.models.commerce import FactOrder, Integration
from multibuzz.errors import InvalidInputError, PermissionDeniedError
from multibuzz.http.deps import AccountActor, ContainerDep, SessionDep, WriterActor
from multibuzz.http.openapi import ErrorBody
from multibuzz.http.params import Cursor
from multibuzz.services.context import Actor
from multibuzz.services.pagination import Page

router = APIRouter(tags=["commerce"])

SYNC_TYPES_BY_INTEGRATION = {"shopify": ("shopify_7d_fill", "shopify_fresh"), "meta": ("meta_7d_fill", "meta_fresh")}


def _reader(actor: Actor) -> str:
    if actor.role == "influencer" and not actor.is_platform_admin:
        raise PermissionDeniedError("influencer users cannot read store or ad data")
    assert actor.account_id is not None
    return actor.account_id


def _owner(actor: Actor) -> str:
    if not (actor.is_owner or actor.is_platform_admin):
        raise PermissionDeniedError("only account owners connect or disconnect integrations")
    assert actor.account_id is not None
    return actor.account_id


class IntegrationOut(BaseModel):
    id: str
    type: str
    status: str
    external_id: str = Field(description="Shop domain (Shopify) or ad account id (Meta)")
    display_name: str | None
    connect_method: str | None
    last_error: str | None
    connected_at: datetime | None
    disconnected_at: datetime | None
    created_at: datetime


def _integration_out(row: Integration) -> IntegrationOut:
    return IntegrationOut(
        id=row.id,
        type=row.type,
        status=row.status,
        external_id=row.external_id,
        display_name=row.display_name,
        connect_method=row.connect_method,
        last_error=row.last_error,
        connected_at=row.connected_at,
        disconnected_at=row.disconnected_at,
        created_at=row.created_at,
    )


class IntegrationList(BaseModel):
    data: list[IntegrationOut]


@router.get("/api/v1/integrations", response_model=IntegrationList)
def list_integrations(actor: AccountActor, session: SessionDep) -> IntegrationList:
    account_id = _reader(actor)
    return IntegrationList(data=[_integration_out(r) for r in svc.list_integrations(session, account_id)])


class ShopifyTokenIn(Strict):
    shop: str = Field(min_length=1, max_length=255, description="example.myshopify.com")
    access_token: str = Field(min_length=1, max_length=255, description="The custom app's Admin API access token")
    api_secret: str | None = Field(
        default=None, max_length=255, description="The custom app's API secret key: verifies its webhooks"
    )


@router.post("/api/v1/integrations/shopify", response_model=IntegrationOut, status_code=status.HTTP_201_CREATED)
def connect_shopify_token(
    body: ShopifyTokenIn, actor: WriterActor, session: SessionDep, container: ContainerDep
) -> IntegrationOut:
    account_id = _owner(actor)
    shop = shopify_connect.normalize_shop(body.shop)
    integration = shopify_connect.complete(
        container, session, account_id, shop, body.access_token, method="token", webhook_secret=body.api_secret
    )
    return _integration_out(integration)


class InstallOut(BaseModel):
    authorize_url: str


@router.get(
    "/api/v1/integrations/shopify/install",
    response_model=InstallOut,
    responses={302: {"description": "Redirect to Shopify's authorize page (with ?redirect=true)"}},
)
def shopify_install(
    actor: WriterActor,
    container: ContainerDep,
    shop: Annotated[str, Query(min_length=1, max_length=255)],
    redirect: bool = False,
) -> Any:
    account_id = _owner(actor)
    url = shopify_connect.install_url(container, account_id, shop)
    if redirect:
        return RedirectResponse(url, status_code=302)
    return InstallOut(authorize_url=url)


@router.get(
    "/api/v1/integrations/shopify/callback",
    response_model=IntegrationOut,
    responses={401: {"model": ErrorBody, "description": "The hmac, the state or the code was refused"}},
)
def shopify_callback(request: Request, session: SessionDep, container: ContainerDep) -> IntegrationOut:
    """Where Shopify sends the browser back: the query HMAC, the state and the shop are verified first."""
    params = dict(request.query_params.items())
    integration = shopify_connect.oauth_complete(container, session, params)
    return _integration_out(integration)


@router.post("/api/v1/integrations/{integration_id}/disconnect", response_model=IntegrationOut)
def disconnect_integration(
    integration_id: str, actor: WriterActor, session: SessionDep, container: ContainerDep
) -> IntegrationOut:
    account_id = _owner(actor)
    integration = svc.get_integration(session, account_id, integration_id)
    svc.disconnect(session, tools_of(container), integration)
    session.commit()
    from multibuzz.commerce.shopify.webhooks import directory

    directory.forget(integration.external_id)
    return _integration_out(integration)


# -- orders -----------------------------------------------------------------------------------------


class OrderOut(BaseModel):
    id: str = Field(description="The Shopify order id")
    integration_id: str
    name: str | None
    currency: str
    gross: Decimal
    discounts: Decimal
    refunds: Decimal
    net: Decimal
    total_price: Decimal
    financial_status: str | None
    fulfillment_status: str | None
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    processed_at: datetime | None
    order_date: date = Field(description="The day the order counts on, in the account's time zone")
    landing_site: str | None
    referring_site: str | None
    discount_codes: list[str]
    customer_ref: str | None
    conversion_id: str | None


def _order_out(row: FactOrder) -> OrderOut:
    return OrderOut(
        id=row.shopify_order_id,
        integration_id=row.integration_id,
        name=row.order_name,
        currency=row.currency,
        gross=row.gross,
        discounts=row.discounts,
        refunds=row.refunds,
        net=row.net,
        total_price=row.total_price,
        financial_status=row.financial_status,
        fulfillment_status=row.fulfillment_status,
        cancelled_at=row.cancelled_at,
        created_at=row.order_created_at,
        updated_at=row.order_updated_at,
        processed_at=row.processed_at,
        order_date=row.order_date,
        landing_site=row.landing_site,
        referring_site=row.referring_site,
        discount_codes=[str(c) for c in row.discount_codes or []],
        customer_ref=row.customer_ref,
        conversion_id=row.conversion_id,
    )


def _order_cursor(row: FactOrder) -> str:
    text = f"o1:{row.order_created_at.strftime('%Y%m%d%H%M%S%f')}:{row.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _read_order_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, stamp, row_id = text.split(":")
        if prefix != "o1":
            raise ValueError(prefix)
        from datetime import UTC

        return datetime.strptime(stamp, "%Y%m%d%H%M%S%f").replace(tzinfo=UTC), int(row_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInputError("cursor is not valid", field="cursor") from exc


@router.get("/api/v1/orders", response_model=Page[OrderOut])
def list_orders(
    actor: AccountActor,
    session: SessionDep,
    integration_id: Annotated[str | None, Query(max_length=40)] = None,
    financial_status: Annotated[str | None, Query(max_length=30)] = None,
    date_from: Annotated[date | None, Query(alias="from", description="First order day (account time zone)")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="Last order day (account time zone)")] = None,
    discount_code: Annotated[str | None, Query(max_length=100)] = None,
    cancelled: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[OrderOut]:
    account_id = _reader(actor)
    if date_from and date_to and date_from > date_to:
        raise InvalidInputError("from must not be after to", field="from")
    query = select(FactOrder).where(FactOrder.account_id == account_id)
    if integration_id:
        query = query.where(FactOrder.integration_id == integration_id)
    if financial_status:
        query = query.where(FactOrder.financial_status == financial_status.lower())
    if date_from:
        query = query.where(FactOrder.order_date >= date_from)
    if date_to:
        query = query.where(FactOrder.order_date <= date_to)
    if cancelled is not None:
        query = query.where(FactOrder.cancelled_at.is_not(None) if cancelled else FactOrder.cancelled_at.is_(None))
    if cursor:
        at, row_id = _read_order_cursor(cursor)
        query = query.where(
            or_(FactOrder.order_created_at < at, and_(FactOrder.order_created_at == at, FactOrder.id < row_id))
        )
    rows = list(
        session.scalars(
            query.order_by(FactOrder.order_created_at.desc(), FactOrder.id.desc()).limit(
                limit + 1 if not discount_code else 10_000
            )
        )
    )
    if discount_code:  # JSON column: filtered here, within the page window
        wanted = discount_code.strip().lower()
        rows = [r for r in rows if any(str(c).lower() == wanted for c in r.discount_codes or [])][: limit + 1]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[OrderOut](
        data=[_order_out(r) for r in rows], next_cursor=_order_cursor(rows[-1]) if more and rows else None
    )


# -- sync status and manual syncs ---------------------------------------------------------------------


class SyncStatusOut(BaseModel):
    integration_id: str
    type: str = Field(description="Integration type: shopify | meta")
    external_id: str
    status: str = Field(description="connected | disconnected | error")
    sync_type: str
    last_successful_sync: datetime | None
    last_attempted_sync: datetime | None
    last_run_status: str | None
    data_fresh_to: datetime | None
    last_error: str | None
    rows_last_run: int | None


class SyncStatusList(BaseModel):
    data: list[SyncStatusOut]


@router.get("/api/v1/settings/sync-status", response_model=SyncStatusList)
def sync_status(actor: AccountActor, session: SessionDep) -> SyncStatusList:
    account_id = _reader(actor)
    out = []
    integrations = svc.list_integrations(session, account_id)
    runs = svc.latest_runs_of(
        session, [(i.id, t) for i in integrations for t in SYNC_TYPES_BY_INTEGRATION.get(i.type, ())]
    )
    for integration in integrations:
        for sync_type in SYNC_TYPES_BY_INTEGRATION.get(integration.type, ()):
            entry = runs.get((integration.id, sync_type), {})
            attempted, succeeded = entry.get("attempted"), entry.get("succeeded")
            error = attempted.error_message if attempted and attempted.status == "failed" else None
            out.append(
                SyncStatusOut(
                    integration_id=integration.id,
                    type=integration.type,
                    external_id=integration.external_id,
                    status=integration.status,
                    sync_type=sync_type,
                    last_successful_sync=succeeded.finished_at if succeeded else None,
                    last_attempted_sync=attempted.started_at if attempted else None,
                    last_run_status=attempted.status if attempted else None,
                    data_fresh_to=succeeded.data_fresh_to if succeeded else None,
                    last_error=error or integration.last_error,
                    rows_last_run=attempted.rows if attempted else None,
                )
            )
    return SyncStatusList(data=out)


class ManualSyncIn(Strict):
    type: Literal["shopify_7d_fill", "shopify_fresh", "meta_7d_fill", "meta_fresh"]
    integration_id: str | None = Field(default=None, max_length=40, description="Default: every matching one")


class ManualSyncOut(BaseModel):
    queued: list[str] = Field(description="Integration ids a run was queued for")


@router.post("/api/v1/settings/manual-sync", response_model=ManualSyncOut, status_code=status.HTTP_202_ACCEPTED)
def manual_sync(body: ManualSyncIn, actor: WriterActor, session: SessionDep, container: ContainerDep) -> ManualSyncOut:
    assert actor.account_id is not None
    kind = body.type.split("_", 1)[0]
    if body.integration_id:
        targets = [svc.get_integration(session, actor.account_id, body.integration_id)]
        if targets[0].type != kind:
            raise InvalidInputError(f"{body.type} runs on a {kind} integration", field="type")
    else:
        targets = list(svc.list_integrations(session, actor.account_id, type=kind))
    targets = [t for t in targets if t.status != "disconnected"]
    if not targets:
        raise InvalidInputError(f"no connected {kind} integration to sync", field="type")
    queued = [t.id for t in targets if request_sync(container, t, body.type, "manual")]
    return ManualSyncOut(queued=queued)
