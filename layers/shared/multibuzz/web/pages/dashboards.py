"""Home, Shopify and Meta: KPI cards and daily charts from the #11 dashboards, recent orders, Meta campaigns.

The numbers come from the very functions that answer ``GET /api/v1/dashboard/{home,shopify,meta}`` and
``GET /api/v1/orders`` (called in-process for the picked days), so the pages and the JSON API agree. Sync
health comes from ``GET /api/v1/settings/sync-status``: nothing synced yet → "We are still syncing your
Shopify data"; the last run failed → "Sync failing: <reason>, see details" linking to the integrations page.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from multibuzz.api.routers.commerce import list_orders, sync_status
from multibuzz.api.routers.dashboards import home_dashboard, meta_dashboard, shopify_dashboard
from multibuzz.domain.attribution import MODELS
from multibuzz.errors import InvalidInputError
from multibuzz.http.deps import ContainerDep, SessionDep
from multibuzz.services.context import Actor
from multibuzz.web.dates import RANGES, DateRange
from multibuzz.web.deps import Advertiser, account_of, reader_of
from multibuzz.web.pages.common import date_range
from multibuzz.web.render import render

router = APIRouter(include_in_schema=False)


def sync_health(actor: Actor, session: SessionDep) -> dict[str, Any]:
    """``connected``: any integration; ``synced``: any successful run; ``failing``: the failed runs' reasons."""
    rows = sync_status(actor, session).data
    live = [r for r in rows if r.status != "disconnected"]
    failing = [
        {"type": r.type, "external_id": r.external_id, "reason": r.last_error or "the last run failed"}
        for r in live
        if r.last_run_status == "failed" or r.status == "error"
    ]
    return {
        "connected": bool(live),
        "synced": any(r.last_successful_sync is not None for r in live),
        "shopify_synced": any(r.last_successful_sync is not None for r in live if r.type == "shopify"),
        "failing": failing,
    }


def _window(request: Request, actor: Actor, session: SessionDep, container: ContainerDep) -> DateRange:
    return date_range(request, account_of(session, actor), container)


def _num(value: Any) -> float:
    return float(value) if value not in (None, "") else 0.0


def _gap(value: Any) -> float | None:
    """A ratio of a day without a denominator is a gap in the line, not a zero."""
    return float(value) if value not in (None, "") else None


def chart(labels: list[str], *datasets: dict[str, Any]) -> str:
    """The canvas's data: bars and lines, a dataset with ``axis: "y1"`` on a right-hand axis (ratios)."""
    return json.dumps({"labels": labels, "datasets": list(datasets)})


@router.get("/app/home", response_class=HTMLResponse)
def home_page(request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    window = _window(request, actor, session, container)
    data = home_dashboard(reader_of(actor), session, container, window.first_day, window.last_day)
    series = data["series"]
    labels = [str(d["date"]) for d in series]
    return render(
        request,
        "dashboard_home.html",
        window=window,
        ranges=RANGES,
        data=data,
        health=sync_health(actor, session),
        chart_json=chart(
            labels,
            {"label": f"Revenue (net, {data['currency']})", "values": [_num(d["revenue_net"]) for d in series]},
            {"label": f"Meta spend ({data['currency']})", "values": [_num(d["spend"]) for d in series]},
            {"label": "MER", "values": [_gap(d["mer"]) for d in series], "type": "line", "axis": "y1"},
        ),
    )


@router.get("/app/shopify", response_class=HTMLResponse)
def shopify_page(request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    window = _window(request, actor, session, container)
    data = shopify_dashboard(reader_of(actor), session, container, window.first_day, window.last_day)
    orders = list_orders(
        actor,
        session,
        integration_id=None,
        financial_status=None,
        date_from=window.first_day,
        date_to=window.last_day,
        discount_code=None,
        cancelled=None,
        cursor=None,
        limit=20,
    ).data
    series = data["series"]
    return render(
        request,
        "dashboard_shopify.html",
        window=window,
        ranges=RANGES,
        data=data,
        orders=orders,
        health=sync_health(actor, session),
        chart_json=chart(
            [str(d["date"]) for d in series],
            {"label": f"Revenue (net, {data['currency']})", "values": [_num(d["revenue_net"]) for d in series]},
            {"label": "Orders", "values": [d["orders"] for d in series], "type": "line", "axis": "y1"},
        ),
    )


@router.get("/app/meta", response_class=HTMLResponse)
def meta_page(request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    window = _window(request, actor, session, container)
    model = request.query_params.get("model", "linear")
    if model not in MODELS:
        raise InvalidInputError(f"model must be one of {', '.join(MODELS)}", field="model")
    data = meta_dashboard(reader_of(actor), session, container, window.first_day, window.last_day)
    series = data["series"]
    return render(
        request,
        "dashboard_meta.html",
        window=window,
        ranges=RANGES,
        data=data,
        model=model,
        models=MODELS,
        health=sync_health(actor, session),
        chart_json=chart(
            [str(d["date"]) for d in series],
            {"label": f"Spend ({data['currency']})", "values": [_num(d["spend"]) for d in series]},
            {"label": f"Purchase value ({data['currency']})", "values": [_num(d["purchase_value"]) for d in series]},
            {"label": "ROAS", "values": [_gap(d["roas"]) for d in series], "type": "line", "axis": "y1"},
        ),
    )
