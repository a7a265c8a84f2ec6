"""The exportable datasets. Adding one is one ``Dataset`` entry in ``DATASETS``.

Each query is account-scoped, bounded by ``[from, to)`` on the dataset's time column and by ``as_of`` (the
moment the export was requested) on the time the row was received, and ordered by a unique key: a retried
export reads exactly the rows and the order of the first attempt, so its bytes and sha256 are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Numeric,
    Select,
    String,
    Text,
    and_,
    cast,
    func,
    select,
    type_coerce,
)
from sqlalchemy.engine import Connection

from multibuzz.db.models import AttributionCredit, Conversion, Event, ModelFit, Visitor, VisitSession
from multibuzz.db.models.commerce import DailySummary, FactOrder
from multibuzz.db.models.influencer import Click

Kind = Literal["string", "integer", "decimal", "boolean", "timestamp", "json"]


@dataclass(frozen=True)
class ExportColumn:
    name: str
    kind: Kind
    expression: ColumnElement[Any]
    description: str = ""

    def selectable(self) -> ColumnElement[Any]:
        """The column as read: JSON as its stored text (no parse and re-dump), timestamps without time zone."""
        if self.kind == "json":
            return type_coerce(self.expression, Text).label(self.name)
        if self.kind == "timestamp":
            return type_coerce(self.expression, DateTime()).label(self.name)
        if self.kind == "boolean":
            return type_coerce(self.expression, Boolean()).label(self.name)
        if self.kind == "decimal":
            return type_coerce(self.expression, Numeric(18, 8, asdecimal=True)).label(self.name)
        return self.expression.label(self.name)

    def schema(self) -> dict[str, str]:
        return {"name": self.name, "type": self.kind, **({"description": self.description} if self.description else {})}


@dataclass(frozen=True)
class ExportFilter:
    account_id: str
    start: datetime
    end: datetime
    as_of: datetime
    model: str | None = None
    zone: str = "UTC"  # the account's: datasets keyed by day (daily_summary) take the days [from, to) covers

    def days(self) -> tuple[date, date]:
        """``[first, stop)``: the account-zone days whose whole start lies in ``[start, end)``."""
        tz = ZoneInfo(self.zone)
        start, end = self.start.astimezone(tz), self.end.astimezone(tz)
        first = start.date() if start.timetz().replace(tzinfo=None) == time() else start.date() + timedelta(days=1)
        stop = end.date() if end.timetz().replace(tzinfo=None) == time() else end.date() + timedelta(days=1)
        return first, stop


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    time_column: str  # rows whose <time_column> is in [from, to)
    columns: tuple[ExportColumn, ...]
    where: Callable[[ExportFilter], list[ColumnElement[bool]]]
    order_by: tuple[ColumnElement[Any], ...]
    joins: Callable[[Select[Any]], Select[Any]] = lambda query: query
    uses_model: bool = False
    manifest_extra: Callable[[Connection, ExportFilter], dict[str, Any]] | None = None

    def query(self, filters: ExportFilter) -> Select[Any]:
        base = select(*(column.selectable() for column in self.columns))
        return self.joins(base).where(and_(*self.where(filters))).order_by(*self.order_by)

    def count(self, filters: ExportFilter) -> Select[Any]:
        return select(func.count()).select_from(self.query(filters).order_by(None).subquery())

    def schema(self) -> list[dict[str, str]]:
        return [column.schema() for column in self.columns]


def _c(name: str, kind: Kind, expression: Any, description: str = "") -> ExportColumn:
    return ExportColumn(name, kind, expression, description)


E, V, S, C, A, K = (
    Event.__table__.c,
    Visitor.__table__.c,
    VisitSession.__table__.c,
    Conversion.__table__.c,
    AttributionCredit.__table__.c,
    Click.__table__.c,
)
_VISITORS = Visitor.__table__


def _outer_visitor(on: Any) -> Callable[[Select[Any]], Select[Any]]:
    return lambda query: query.select_from(on.table.outerjoin(_VISITORS, on == V.id))


def _window(account: Any, at: Any, received: Any) -> Callable[[ExportFilter], list[ColumnElement[bool]]]:
    return lambda f: [account == f.account_id, at >= f.start, at < f.end, received <= f.as_of]


EVENTS = Dataset(
    name="events",
    description="Raw events (page views, add-to-carts, purchases, custom events)",
    time_column="occurred_at",
    columns=(
        _c("id", "string", E.id),
        _c("occurred_at", "timestamp", E.occurred_at, "UTC"),
        _c("received_at", "timestamp", E.received_at, "UTC"),
        _c("event_type", "string", E.event_type),
        _c("visitor_id", "string", V.visitor_key, "the client's visitor id (_mbuzz_vid)"),
        _c("session_id", "string", E.session_id),
        _c("identity_id", "string", E.identity_id),
        _c("url", "string", E.url),
        _c("funnel", "string", E.funnel),
        _c("funnel_step", "string", E.funnel_step),
        _c("funnel_position", "integer", E.funnel_position),
        _c("properties", "json", E.properties),
    ),
    joins=_outer_visitor(E.visitor_id),
    where=_window(E.account_id, E.occurred_at, E.received_at),
    order_by=(E.occurred_at, E.id),
)

SESSIONS = Dataset(
    name="sessions",
    description="Visits with their first hit's UTMs, referrer, landing URL and channel",
    time_column="started_at",
    columns=(
        _c("id", "string", S.id),
        _c("visitor_id", "string", V.visitor_key, "the client's visitor id (_mbuzz_vid)"),
        _c("client_session_id", "string", S.client_session_id),
        _c("started_at", "timestamp", S.started_at, "UTC"),
        _c("last_activity_at", "timestamp", S.last_activity_at, "UTC"),
        _c("channel", "string", S.channel),
        _c("landing_url", "string", S.landing_url),
        _c("referrer", "string", S.referrer),
        _c("referrer_host", "string", S.referrer_host),
        _c("utm_source", "string", S.utm_source),
        _c("utm_medium", "string", S.utm_medium),
        _c("utm_campaign", "string", S.utm_campaign),
        _c("utm_content", "string", S.utm_content),
        _c("utm_term", "string", S.utm_term),
        _c("click_id_type", "string", S.click_id_type),
        _c("click_id", "string", S.click_id),
        _c("ref_code", "string", S.ref_code),
        _c("page_view_count", "integer", S.page_view_count),
        _c("device_type", "string", S.device_type),
        _c("browser", "string", S.browser),
        _c("os", "string", S.os),
        _c("is_bot", "boolean", S.is_bot),
        _c("country", "string", S.country),
        _c("city", "string", S.city),
    ),
    joins=_outer_visitor(S.visitor_id),
    where=_window(S.account_id, S.started_at, S.created_at),
    order_by=(S.started_at, S.id),
)

CONVERSIONS = Dataset(
    name="conversions",
    description="Conversions with revenue, status and the influencer waterfall's result",
    time_column="occurred_at",
    columns=(
        _c("id", "string", C.id),
        _c("conversion_type", "string", C.conversion_type),
        _c("occurred_at", "timestamp", C.occurred_at, "UTC"),
        _c("received_at", "timestamp", C.received_at, "UTC"),
        _c("visitor_id", "string", V.visitor_key, "the client's visitor id (_mbuzz_vid)"),
        _c("identity_id", "string", C.identity_id),
        _c("event_id", "string", C.event_id),
        _c("revenue", "decimal", C.revenue, "in currency"),
        _c("currency", "string", C.currency, "ISO 4217"),
        _c("is_acquisition", "boolean", C.is_acquisition),
        _c("inherit_acquisition", "boolean", C.inherit_acquisition),
        _c("status", "string", C.status, "pending | attributed | failed"),
        _c("attribution_version", "integer", C.attribution_version),
        _c("influencer_id", "string", C.influencer_id),
        _c("influencer_campaign_id", "string", C.influencer_campaign_id),
        _c("influencer_method", "string", C.influencer_method),
        _c("influencer_code", "string", C.influencer_code),
        _c("properties", "json", C.properties),
    ),
    joins=_outer_visitor(C.visitor_id),
    where=_window(C.account_id, C.occurred_at, C.received_at),
    order_by=(C.occurred_at, C.id),
)

_CONVERSIONS = Conversion.__table__
_CREDITS = AttributionCredit.__table__


def _attribution_where(f: ExportFilter) -> list[ColumnElement[bool]]:
    clauses = _window(C.account_id, C.occurred_at, C.received_at)(f)
    clauses.append(A.account_id == f.account_id)
    if f.model is not None:
        clauses.append(A.model == f.model)
    return clauses


def _attribution_models(conn: Connection, f: ExportFilter) -> dict[str, Any]:
    """The data-driven models' fits in use (latest version per model) and the heuristic parameters."""
    from multibuzz.domain.attribution import MODELS

    fits = conn.execute(
        select(ModelFit.model, ModelFit.version, ModelFit.fitted_at, ModelFit.window_days, ModelFit.params)
        .where(ModelFit.account_id == f.account_id)
        .order_by(ModelFit.model, ModelFit.version.desc())
    ).all()
    latest: dict[str, dict[str, Any]] = {}
    for model, version, fitted_at, window_days, params in fits:
        if model not in latest and (f.model is None or f.model == model):
            latest[model] = {
                "version": version,
                "fitted_at": fitted_at.isoformat() if isinstance(fitted_at, datetime) else str(fitted_at),
                "window_days": window_days,
                "params": params or {},
            }
    return {
        "models": [f.model] if f.model else list(MODELS),
        "model_parameters": {"time_decay": {"half_life_days": 7.0}, "lookback_days_default": 30},
        "model_fits": latest,
        "attribution_version": "each conversion's current version (conversions.attribution_version)",
    }


ATTRIBUTIONS = Dataset(
    name="attributions",
    description="Attribution credits: one row per conversion, model and touch (the conversion's current version)",
    time_column="conversion_occurred_at",
    columns=(
        _c("conversion_id", "string", A.conversion_id),
        _c("conversion_type", "string", C.conversion_type),
        _c("conversion_occurred_at", "timestamp", C.occurred_at, "UTC"),
        _c("currency", "string", C.currency, "ISO 4217"),
        _c("version", "integer", A.version),
        _c("model", "string", A.model),
        _c("position", "integer", A.position),
        _c("session_id", "string", A.session_id),
        _c("channel", "string", A.channel),
        _c("utm_source", "string", A.utm_source),
        _c("utm_medium", "string", A.utm_medium),
        _c("utm_campaign", "string", A.utm_campaign),
        _c("touch_at", "timestamp", A.touch_at, "UTC"),
        _c("credit", "decimal", A.credit, "fraction of the conversion"),
        _c("revenue_credit", "decimal", A.revenue_credit, "in currency"),
    ),
    joins=lambda query: query.select_from(
        _CREDITS.join(_CONVERSIONS, and_(A.conversion_id == C.id, A.version == C.attribution_version))
    ),
    where=_attribution_where,
    order_by=(C.occurred_at, A.conversion_id, A.model, A.position),
    uses_model=True,
    manifest_extra=_attribution_models,
)

CLICKS = Dataset(
    name="clicks",
    description="Tracking-link clicks (bots flagged), without IP or user agent",
    time_column="occurred_at",
    columns=(
        _c("id", "string", K.id),
        _c("occurred_at", "timestamp", K.occurred_at, "UTC"),
        _c("link_id", "string", K.link_id),
        _c("campaign_id", "string", K.campaign_id),
        _c("influencer_id", "string", K.influencer_id),
        _c("code", "string", K.code),
        _c("method", "string", K.method),
        _c("device_type", "string", K.device_type),
        _c("browser", "string", K.browser),
        _c("os", "string", K.os),
        _c("is_bot", "boolean", K.is_bot),
        _c("bot_reason", "string", K.bot_reason),
        _c("unique_click", "boolean", K.unique_click),
        _c("referrer", "string", K.referrer),
        _c("country", "string", K.country),
        _c("city", "string", K.city),
        _c("destination_url", "string", K.destination_url),
        _c("outside_live_window", "boolean", K.outside_live_window),
        _c("used_fallback", "boolean", K.used_fallback),
    ),
    where=_window(K.account_id, K.occurred_at, K.received_at),
    order_by=(K.occurred_at, K.id),
)

F_, D = FactOrder.__table__.c, DailySummary.__table__.c

ORDERS = Dataset(
    name="orders",
    description="Shopify orders (fact rows): money, statuses and times; no customer data (no email hash, "
    "customer id, visitor id, note/cart attributes, landing or referring URL)",
    time_column="order_created_at",
    columns=(
        _c("integration_id", "string", F_.integration_id, "the Shopify store's integration"),
        _c("shopify_order_id", "string", F_.shopify_order_id),
        _c("order_name", "string", F_.order_name),
        _c("order_created_at", "timestamp", F_.order_created_at, "UTC"),
        _c("order_updated_at", "timestamp", F_.order_updated_at, "UTC"),
        _c("processed_at", "timestamp", F_.processed_at, "UTC"),
        _c("order_date", "string", cast(F_.order_date, String(10)), "the order's day in the account's time zone"),
        _c("currency", "string", F_.currency, "ISO 4217"),
        _c("gross", "decimal", F_.gross, "subtotal before discounts"),
        _c("discounts", "decimal", F_.discounts),
        _c("refunds", "decimal", F_.refunds),
        _c("net", "decimal", F_.net, "after discounts and refunds"),
        _c("total_price", "decimal", F_.total_price),
        _c("total_tax", "decimal", F_.total_tax),
        _c("shipping", "decimal", F_.shipping),
        _c("financial_status", "string", F_.financial_status),
        _c("fulfillment_status", "string", F_.fulfillment_status),
        _c("cancelled_at", "timestamp", F_.cancelled_at, "UTC"),
        _c("source_name", "string", F_.source_name),
        _c("discount_codes", "json", F_.discount_codes),
        _c("conversion_id", "string", F_.conversion_id, "the purchase conversion the order made"),
        _c("test", "boolean", F_.test),
    ),
    # synced_at is when the row was last written: an order updated after the request leaves a retry of it.
    where=_window(F_.account_id, F_.order_created_at, F_.synced_at),
    order_by=(F_.order_created_at, F_.id),
)


def _summary_days(f: ExportFilter) -> list[ColumnElement[bool]]:
    first, stop = f.days()
    return [D.account_id == f.account_id, D.date >= first, D.date < stop]


DAILY_SUMMARY = Dataset(
    name="daily_summary",
    description="Per day (the account's time zone): revenue of all stores beside spend of all ad accounts, "
    "ROAS and MER — the rollup as it stands when the export runs",
    time_column="date",
    columns=(
        _c("date", "string", cast(D.date, String(10)), "the account's time zone"),
        _c("currency", "string", D.currency, "ISO 4217"),
        _c("revenue_net", "decimal", D.revenue_net),
        _c("refunds", "decimal", D.refunds),
        _c("orders", "integer", D.orders),
        _c("aov", "decimal", D.aov),
        _c("spend", "decimal", D.spend),
        _c("purchases", "decimal", D.purchases),
        _c("purchase_value", "decimal", D.purchase_value),
        _c("roas", "decimal", D.roas, "platform ROAS: Meta purchase value / spend"),
        _c("mer", "decimal", D.mer, "revenue_net / spend"),
        _c("updated_at", "timestamp", D.updated_at, "UTC"),
    ),
    where=_summary_days,
    order_by=(D.date,),
)

DATASETS: dict[str, Dataset] = {
    d.name: d for d in (EVENTS, SESSIONS, CONVERSIONS, ATTRIBUTIONS, CLICKS, ORDERS, DAILY_SUMMARY)
}
