"""Read side of attribution: conversions, attribution reports, recurring revenue, model fits."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, and_, func, or_, select, tuple_

from multibuzz.conversions.schema import (
    AttributionsOut,
    ConversionDetailOut,
    ConversionPageOut,
    FitsOut,
    RecurringOut,
)
from multibuzz.conversions.views import (
    attribution_view,
    conversion_answer,
    conversion_view,
    fraction,
    money,
    visitor_keys,
)
from multibuzz.db.models import AttributionCredit, Conversion, ModelFit, Visitor
from multibuzz.domain.attribution import MODELS
from multibuzz.domain.attribution.types import ModelName
from multibuzz.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from multibuzz.http.deps import ContainerDep, SessionDep
from multibuzz.http.params import Cursor
from multibuzz.http.readers import AccountReader, Reader, SdkReader
from multibuzz.services.lookback import MAX_RECOMPUTED, check_lookback, lookback_totals, stored_sums
from multibuzz.services.model_fits import refit_account

router = APIRouter(prefix="/api/v1", tags=["attribution"])
GroupBy = Literal["channel", "campaign", "source"]


def _scoped(query: Any, reader: Reader) -> Any:
    query = query.where(Conversion.account_id == reader.account_id)
    if reader.influencer_id is not None:
        query = query.where(Conversion.influencer_id == reader.influencer_id)
    return query


def _window(query: Select[Any], start: datetime | None, end: datetime | None) -> Select[Any]:
    if start is not None:
        query = query.where(Conversion.occurred_at >= start)
    if end is not None:
        query = query.where(Conversion.occurred_at < end)
    return query


def _encode_cursor(conversion: Conversion) -> str:
    raw = json.dumps([conversion.occurred_at.isoformat(), conversion.id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, ident = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), str(ident)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError("cursor is not valid", field="cursor") from exc


@router.get(
    "/conversions/{conversion_id}",
    summary="A conversion with its attribution under every model",
    response_model=None,
    responses={200: {"model": ConversionDetailOut}},
)
def get_conversion(
    conversion_id: str, reader: SdkReader, session: SessionDep, version: int | None = Query(default=None, ge=1)
) -> dict[str, Any]:
    conversion = session.scalar(_scoped(select(Conversion).where(Conversion.id == conversion_id), reader))
    if conversion is None:
        raise NotFoundError("Conversion not found")
    if version is not None and version > conversion.attribution_version:
        raise NotFoundError("that attribution version does not exist")
    key = visitor_keys(session, [conversion]).get(conversion.visitor_id or "")
    return {
        **conversion_answer(conversion, key, attribution_view(session, conversion, version)),
        "versions": list(range(1, conversion.attribution_version + 1)),
    }


@router.get(
    "/conversions",
    summary="Conversions, newest first, with filters and a cursor",
    response_model=None,
    responses={200: {"model": ConversionPageOut}},
)
def list_conversions(
    reader: SdkReader,
    session: SessionDep,
    conversion_type: str | None = None,
    status: Literal["pending", "attributed", "failed"] | None = None,
    visitor_id: str | None = None,
    start: datetime | None = Query(default=None, alias="from"),
    end: datetime | None = Query(default=None, alias="to"),
    limit: int = Query(default=50, ge=1, le=200),
    cursor: Cursor = None,
) -> dict[str, Any]:
    query = _window(_scoped(select(Conversion), reader), start, end)
    if conversion_type:
        query = query.where(Conversion.conversion_type == conversion_type)
    if status:
        query = query.where(Conversion.status == status)
    if visitor_id:  # the client's visitor id (also our internal vis_ id, as older answers showed it)
        query = query.join(Visitor, Visitor.id == Conversion.visitor_id).where(
            or_(Visitor.visitor_key == visitor_id, Visitor.id == visitor_id)
        )
    if cursor:
        at, ident = _decode_cursor(cursor)
        query = query.where(tuple_(Conversion.occurred_at, Conversion.id) < tuple_(at, ident))
    rows = session.scalars(query.order_by(Conversion.occurred_at.desc(), Conversion.id.desc()).limit(limit + 1)).all()
    page = list(rows[:limit])
    keys = visitor_keys(session, page)
    return {
        "data": [conversion_view(c, keys.get(c.visitor_id or "")) for c in page],
        "next_cursor": _encode_cursor(page[-1]) if len(rows) > limit else None,
    }


def _group_column(group_by: GroupBy) -> Any:
    return {
        "channel": AttributionCredit.channel,
        "campaign": AttributionCredit.utm_campaign,
        "source": AttributionCredit.utm_source,
    }[group_by]


@router.get(
    "/attributions",
    summary="Attributed conversions and revenue per channel/campaign/source, per model",
    response_model=None,
    responses={200: {"model": AttributionsOut}},
)
def attributions(
    reader: AccountReader,
    session: SessionDep,
    model: ModelName | None = Query(default=None, description="One model; all side by side when omitted"),
    group_by: GroupBy = "channel",
    visitor_id: str | None = None,
    start: datetime | None = Query(default=None, alias="from"),
    end: datetime | None = Query(default=None, alias="to"),
    lookback_days: int | None = Query(
        default=None,
        description=(
            "Recompute the ten models with each conversion's touches restricted to this many days (1-365) "
            f"before it; at most {MAX_RECOMPUTED} conversions in the window. Omitted: the stored credits "
            "(the account's lookback at attribution time)."
        ),
    ),
) -> dict[str, Any]:
    if model is not None and model not in MODELS:
        raise InvalidInputError(f"model must be one of {', '.join(MODELS)}", field="model")
    days = check_lookback(lookback_days)
    if days is not None:
        return _lookback_report(session, reader, model, group_by, visitor_id, start, end, days)
    column = _group_column(group_by)
    query = (
        stored_sums(column)
        .group_by(AttributionCredit.model, Conversion.currency, column)
        .having(func.sum(AttributionCredit.credit) != 0)
    )
    query = _window(_scoped(query, reader), start, end)
    if model:
        query = query.where(AttributionCredit.model == model)
    if visitor_id:
        query = query.join(Visitor, Visitor.id == Conversion.visitor_id).where(
            or_(Visitor.visitor_key == visitor_id, Visitor.id == visitor_id)
        )
    rows = ((m, cur, g, c, r, t) for m, cur, g, c, r, t in session.execute(query))
    return {**_report(rows, group_by, model), "lookback_days": None, "recomputed_conversions": 0}


def _report(rows: Any, group_by: str, model: str | None) -> dict[str, Any]:
    result: dict[str, list[dict[str, Any]]] = {m: [] for m in ([model] if model else MODELS)}
    for row_model, currency, group, credits, revenue, touched in rows:
        result.setdefault(row_model, []).append(
            {
                "group": group if group is not None else "(none)",
                "currency": currency,
                "conversions": fraction(Decimal(credits)),
                "revenue": money(Decimal(revenue), currency),
                "conversions_touched": int(touched),
            }
        )
    for entries in result.values():
        entries.sort(key=lambda r: (r["currency"], -Decimal(r["revenue"]), str(r["group"])))
    return {"group_by": group_by, "models": result}


def _lookback_report(
    session: Any,
    reader: Reader,
    model: str | None,
    group_by: GroupBy,
    visitor_id: str | None,
    start: datetime | None,
    end: datetime | None,
    days: int,
) -> dict[str, Any]:
    """The same report, the ten models recomputed with an N-day lookback (services.lookback)."""
    query = _window(_scoped(select(Conversion), reader), start, end)
    if visitor_id:
        query = query.join(Visitor, Visitor.id == Conversion.visitor_id).where(
            or_(Visitor.visitor_key == visitor_id, Visitor.id == visitor_id)
        )
    found, recomputed = lookback_totals(session, query, reader.account_id, days, group_by, model)
    rows = ((m, cur, g, c, r, t) for (m, cur, g), (c, r, t) in found.items())
    return {**_report(rows, group_by, model), "lookback_days": days, "recomputed_conversions": recomputed}


@router.get(
    "/analytics/recurring",
    summary="Acquisition and recurring (inherited) revenue per channel and model",
    response_model=None,
    responses={200: {"model": RecurringOut}},
)
def recurring_revenue(
    reader: AccountReader,
    session: SessionDep,
    container: ContainerDep,
    model: ModelName = "first_touch",
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """MRR = recurring (inherit_acquisition) revenue credited in the 30 days up to ``as_of``; ARR = 12 * MRR."""
    if model not in MODELS:
        raise InvalidInputError(f"model must be one of {', '.join(MODELS)}", field="model")
    end = as_of or container.clock.now()
    start = end - timedelta(days=30)
    query = _scoped(
        select(
            AttributionCredit.channel,
            Conversion.currency,
            Conversion.is_acquisition,
            Conversion.inherit_acquisition,
            Conversion.occurred_at,
            AttributionCredit.revenue_credit,
        )
        .join(
            Conversion,
            and_(
                Conversion.id == AttributionCredit.conversion_id,
                Conversion.attribution_version == AttributionCredit.version,
            ),
        )
        .where(AttributionCredit.model == model, Conversion.occurred_at < end),
        reader,
    )
    table: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: {"acquisition_revenue": Decimal(0), "recurring_revenue": Decimal(0), "mrr": Decimal(0)}
    )
    for channel, currency, is_acq, inherits, at, amount in session.execute(query):
        entry = table[(channel, currency)]
        if is_acq:
            entry["acquisition_revenue"] += amount
        if inherits:
            entry["recurring_revenue"] += amount
            if at >= start:
                entry["mrr"] += amount
    rows = [
        {
            "channel": channel,
            "currency": currency,
            "acquisition_revenue": money(v["acquisition_revenue"], currency),
            "recurring_revenue": money(v["recurring_revenue"], currency),
            "mrr": money(v["mrr"], currency),
            "arr": money(v["mrr"] * 12, currency),
        }
        for (channel, currency), v in sorted(table.items())
    ]
    return {"model": model, "as_of": end.isoformat(), "channels": rows}


class RefitIn(BaseModel):
    models: list[Literal["markov", "shapley"]] = Field(default=["markov", "shapley"], min_length=1)
    window_days: int = Field(default=90, ge=1, le=730)


@router.post(
    "/models/refit",
    summary="Fit the data-driven models (Markov, Shapley) on this account's journeys",
    response_model=None,
    responses={200: {"model": FitsOut}},
)
def refit(body: RefitIn, reader: AccountReader, session: SessionDep, container: ContainerDep) -> dict[str, Any]:
    if not reader.can_write or reader.influencer_id is not None:
        raise PermissionDeniedError("only owners and members refit models")
    fits = refit_account(session, container, reader.account_id, models=body.models, window_days=body.window_days)
    return {"fits": [_fit_view(f) for f in fits]}


@router.get(
    "/models",
    summary="The latest fit of each data-driven model",
    response_model=None,
    responses={200: {"model": FitsOut}},
)
def list_fits(reader: AccountReader, session: SessionDep) -> dict[str, Any]:
    latest = (
        select(ModelFit.model, func.max(ModelFit.version))
        .where(ModelFit.account_id == reader.account_id)
        .group_by(ModelFit.model)
    )
    keys = [(m, v) for m, v in session.execute(latest)]
    fits = [
        session.scalar(
            select(ModelFit).where(ModelFit.account_id == reader.account_id, ModelFit.model == m, ModelFit.version == v)
        )
        for m, v in keys
    ]
    return {"fits": [_fit_view(f) for f in fits if f is not None]}


def _fit_view(fit: ModelFit) -> dict[str, Any]:
    return {
        "model": fit.model,
        "version": fit.version,
        "fitted_at": fit.fitted_at.isoformat(),
        "window_days": fit.window_days,
        "journeys": fit.journeys,
        "conversions": fit.conversions,
        "channel_weights": (fit.weights or {}).get("weights", {}),
    }
