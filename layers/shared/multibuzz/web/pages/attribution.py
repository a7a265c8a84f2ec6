"""Attribution: channels (or campaigns, sources) by the ten models side by side, table and chart.

The numbers come from the very function that answers ``GET /api/v1/attributions`` (called in-process with
the same reader and window), so the page and the JSON API cannot disagree.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, cast

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from multibuzz.api.routers.conversions import GroupBy
from multibuzz.api.routers.conversions import attributions as attributions_report
from multibuzz.domain.attribution import MODELS
from multibuzz.errors import InvalidInputError
from multibuzz.http.deps import ContainerDep, SessionDep
from multibuzz.services.lookback import check_lookback
from multibuzz.web.dates import RANGES
from multibuzz.web.deps import Advertiser, account_of, reader_of
from multibuzz.web.pages.common import date_range
from multibuzz.web.render import render

router = APIRouter(include_in_schema=False)
GROUPS = ("channel", "campaign", "source")
LOOKBACKS = (7, 14, 30, 60, 90)  # the picker's choices; "" is the account default (the stored credits)


def pivot(report: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """{model: [rows]} → currencies and rows ``{group, currency, models: {model: {revenue, conversions}}}``."""
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for model, rows in report["models"].items():
        for row in rows:
            key = (str(row["group"]), str(row["currency"]))
            entry = table.setdefault(key, {"group": key[0], "currency": key[1], "models": {}})
            entry["models"][model] = {"revenue": row["revenue"], "conversions": row["conversions"]}
    ordered = sorted(
        table.values(),
        key=lambda e: (e["currency"], -Decimal(e["models"].get("linear", {}).get("revenue", "0")), e["group"]),
    )
    return sorted({e["currency"] for e in ordered}), ordered


@router.get("/app/attribution", response_class=HTMLResponse)
def attribution_page(request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    account = account_of(session, actor)
    window = date_range(request, account, container)
    group_by = request.query_params.get("group_by", "channel")
    if group_by not in GROUPS:
        raise InvalidInputError("group_by must be channel, campaign or source", field="group_by")
    model = request.query_params.get("model", "linear")
    if model not in MODELS:
        raise InvalidInputError(f"model must be one of {', '.join(MODELS)}", field="model")
    lookback = check_lookback(request.query_params.get("lookback_days"))
    report = attributions_report(
        reader_of(actor),
        session,
        model=None,
        group_by=cast(GroupBy, group_by),
        visitor_id=None,
        start=window.start,
        end=window.end,
        lookback_days=lookback,
    )
    currencies, rows = pivot(report)
    chart = {
        "labels": [f"{r['group']} ({r['currency']})" if len(currencies) > 1 else r["group"] for r in rows],
        "values": [float(r["models"].get(model, {}).get("revenue", 0)) for r in rows],
        "label": f"Revenue credited by {model}",
    }
    return render(
        request,
        "attribution.html",
        window=window,
        ranges=RANGES,
        models=MODELS,
        model=model,
        group_by=group_by,
        groups=GROUPS,
        rows=rows,
        currencies=currencies,
        lookbacks=LOOKBACKS,
        lookback=lookback,
        picker_extra={"group_by": group_by, "model": model, **({"lookback_days": lookback} if lookback else {})},
        recomputed=report["recomputed_conversions"],
        chart_json=json.dumps(chart),
    )
