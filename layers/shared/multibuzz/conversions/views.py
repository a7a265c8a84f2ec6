"""JSON shapes of a conversion and its attribution (decimals as strings, to stay exact)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from multibuzz.db.models import AttributionCredit, Conversion, Visitor
from multibuzz.domain.attribution import MODELS, minor_units


def money(value: Decimal, currency: str) -> str:
    return str(Decimal(value).quantize(Decimal(1).scaleb(-minor_units(currency))))


def fraction(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f") if value else "0"


def visitor_keys(session: Session, conversions: list[Conversion]) -> dict[str, str]:
    """Our visitor ids → the client's own visitor ids (the only visitor id a public answer shows)."""
    ids = {c.visitor_id for c in conversions if c.visitor_id}
    if not ids:
        return {}
    rows = session.execute(select(Visitor.id, Visitor.visitor_key).where(Visitor.id.in_(ids))).all()
    return {row[0]: row[1] for row in rows}


def failure_reason(conversion: Conversion) -> str | None:
    failure = (conversion.attribution_meta or {}).get("failure")
    return str(failure.get("reason")) if isinstance(failure, dict) and conversion.status == "failed" else None


def conversion_view(conversion: Conversion, visitor_key: str | None) -> dict[str, Any]:
    """``visitor_key``: the client's visitor id for ``conversion.visitor_id`` (see :func:`visitor_keys`)."""
    properties = {k: v for k, v in (conversion.properties or {}).items() if not k.startswith("_")}
    return {
        "id": conversion.id,
        "conversion_type": conversion.conversion_type,
        "status": conversion.status,
        "revenue": money(conversion.revenue, conversion.currency),
        "currency": conversion.currency,
        "occurred_at": conversion.occurred_at.isoformat(),
        "visitor_id": visitor_key,
        "identity_id": conversion.identity_id,
        "event_id": conversion.event_id,
        "is_acquisition": conversion.is_acquisition,
        "inherit_acquisition": conversion.inherit_acquisition,
        "properties": properties,
        "failure_reason": failure_reason(conversion),
        "request_id": conversion.request_id,
    }


def conversion_answer(
    conversion: Conversion, visitor_key: str | None, attribution: dict[str, Any] | None
) -> dict[str, Any]:
    """Both shapes clients read: ``{"conversion": {…}, "attribution": …}`` and the flat seed-004 fields
    (``id``, ``visitor_id``, ``conversion_type``, ``revenue``, ``converted_at``, ``status``,
    ``failure_reason``) at the top."""
    view = conversion_view(conversion, visitor_key)
    return {
        "id": view["id"],
        "visitor_id": view["visitor_id"],
        "conversion_type": view["conversion_type"],
        "revenue": view["revenue"],
        "currency": view["currency"],
        "converted_at": view["occurred_at"],
        "status": view["status"],
        "failure_reason": view["failure_reason"],
        "conversion": view,
        "attribution": attribution,
    }


def influencer_view(conversion: Conversion) -> dict[str, Any] | None:
    if conversion.influencer_method is None:
        return None
    stored = (conversion.attribution_meta or {}).get("influencer") or {}
    return {
        "session_id": stored.get("session_id"),
        "influencer_id": conversion.influencer_id,
        "campaign_id": conversion.influencer_campaign_id,
        "link_id": conversion.influencer_link_id,
        "coupon_id": conversion.influencer_coupon_id,
        "code": conversion.influencer_code,
        "method": conversion.influencer_method,
        "confidence": float(conversion.influencer_confidence or 0),
        "credit": "1",
    }


def attribution_view(session: Session, conversion: Conversion, version: int | None = None) -> dict[str, Any] | None:
    if conversion.status != "attributed":
        return None
    version = version or conversion.attribution_version
    credits = session.scalars(
        select(AttributionCredit)
        .where(AttributionCredit.conversion_id == conversion.id, AttributionCredit.version == version)
        .order_by(AttributionCredit.model, AttributionCredit.position)
    ).all()
    models: dict[str, list[dict[str, Any]]] = {m: [] for m in MODELS}
    for credit in credits:
        models.setdefault(credit.model, []).append(
            {
                "session_id": credit.session_id,
                "channel": credit.channel,
                "utm_source": credit.utm_source,
                "utm_medium": credit.utm_medium,
                "utm_campaign": credit.utm_campaign,
                "touch_at": credit.touch_at.isoformat() if credit.touch_at else None,
                "credit": fraction(credit.credit),
                "revenue_credit": money(credit.revenue_credit, conversion.currency),
            }
        )
    meta = conversion.attribution_meta or {}
    lookbacks = meta.get("lookback_days") or {}
    return {
        "version": version,
        "lookback_days": max(lookbacks.values()) if lookbacks else None,
        "lookback_days_by_model": lookbacks,
        "sessions_analyzed": conversion.sessions_analyzed,
        "models": models,
        "notes": meta.get("models", {}),
        "inherited_from": meta.get("inherited_from"),
        "influencer": influencer_view(conversion),
    }
